"""Issue 18, done means: the unsure teacher's report, typed in free text the whole way, from "some kids made a
page about me on tiktok i think" to a sent case in at most 15 messages, with TikTok and the @handle on the case
and nothing like "ok" or "no" kept as evidence or names; in the in-process chat and through `chat --json`."""

from __future__ import annotations

from bot.core.models import Role, StaffMember
from testing.chat import Chat
from tests.process.test_cli import chat_json, keys, run_cli

UNSURE_TEACHER = [
    "some kids made a page about me on tiktok i think",
    "yeah",
    "no i dont think so",
    "its @hillside.roasts i think",
    "a few days ago",
    "no",
    "how do i send screenshots?",
    "i havent got anything",
    "no one knows yet",
    "not sure",
    "ok send it",
]
NOISE = {"ok", "no", "none", "nothing", "nope", "yeah", "i havent got anything", "not sure"}


def noise_in(answers: dict) -> list[str]:
    kept = [answers.get("names") or "", answers.get("behind_it_detail") or "", *answers["evidence"]["notes"]]
    return [k for k in kept if k.strip().lower() in NOISE or "screenshots" in k]


async def test_the_unsure_teacher_reaches_a_sent_case_in_free_text(chat: Chat, bot):
    await chat.open()
    for said in UNSURE_TEACHER:
        await chat.say(said)
        assert not {"common.not_understood", "common.not_understood_multi", "common.not_understood_idle",
                    "common.bad_date"} & set(chat.keys), (said, chat.keys)
    assert "report.sent" in chat.keys
    assert len(UNSURE_TEACHER) <= 15
    (case,) = await bot.store.list_cases("default")
    assert case.answers["platforms"] == ["tiktok"]
    assert case.answers["accounts"] == [{"kind": "handle", "value": "@hillside.roasts", "platform": None}]
    assert case.answers["categories"] == ["targeting_me"] and case.answers["behind_it"] == "learner"
    assert case.answers["first_seen"] == "2026-11-17"  # "a few days ago" from Friday 20 November
    assert case.answers["description"] == UNSURE_TEACHER[0]
    assert case.answers["names"] is None and noise_in(case.answers) == []


def test_the_unsure_teacher_through_chat_json(tmp_path):
    db = tmp_path / "bot.db"
    staff = StaffMember(user="console:dsl", role=Role.DSL, name="Dana Lee")
    run_cli("staff", "add", staff.user, "--role", "dsl", "--name", staff.name, "--db", db)
    turns = chat_json(db, UNSURE_TEACHER, env={"OSB_NOW": "2026-11-20T21:30"})
    assert keys(turns[1]) == ["report.understood_kept"]
    assert "TikTok, possibly made by learners" in turns[1][0]["text"]
    assert [c["id"] for c in turns[1][0]["choices"]] == ["yes", "no"]
    assert keys(turns[7]) == ["report.evidence_how.console"]
    assert "report.sent" in keys(turns[-1])
    shown = run_cli("cases", "show", "OSB-2026-0001", "--json", "--db", db).stdout.decode()
    assert "@hillside.roasts" in shown and "tiktok" in shown
    assert "i havent got anything" not in shown and '"names": null' in shown


def test_my_cases_monday_and_a_long_paste_through_chat_json(tmp_path):
    db = tmp_path / "bot.db"
    paste = "They keep posting about me. " * 180  # about 5,000 characters
    turns = chat_json(db, ["my cases", "pupils made a TikTok mocking me", "yes", "no", "skip", "monday", paste])
    assert keys(turns[1])[0] == "case.list_reported_none"
    assert keys(turns[2]) == ["report.understood_kept"]
    assert keys(turns[4]) == ["report_concern.accounts.ask"]
    assert keys(turns[5]) == ["report_concern.first_seen.ask"]
    assert keys(turns[6]) == ["report_concern.names.ask"]  # "monday" on the optional question; description kept
    assert keys(turns[7]) == ["common.long_kept", "report_concern.evidence.ask"]
