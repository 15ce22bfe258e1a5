"""Issue 18, done means: the unsure teacher's report, typed in free text the whole way, from "some kids made a
page about me on tiktok i think" to a sent case in at most 15 messages, with TikTok and the @handle on the case
and nothing like "ok" or "no" kept as evidence or names; in the in-process chat and through `chat --json`."""

from __future__ import annotations

import json

import pytest

from bot.core.models import Role, StaffMember
from testing.chat import Chat, walk
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


# --- not knowing, wherever a question can be unsure ---------------------------------------------------------


@pytest.mark.parametrize("said", ["no", "dont know", "not sure", "not sure where", "cant remember", "no idea tbh"])
async def test_not_knowing_where_picks_somewhere_else_or_not_sure(chat: Chat, bot, said):
    await walk(chat, ["report", ["targeting_me"], ["no"]])
    await chat.say(said)
    assert chat.keys == ["report_concern.accounts.ask"], said
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["platforms"] == ["other"]


async def test_a_rough_date_among_other_words_is_read(chat: Chat, bot):
    await walk(chat, ["report", ["targeting_me"], ["no"], ["tiktok"], "skip"])
    await chat.say("not sure when, maybe last week")
    assert chat.keys == ["report_concern.description.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["first_seen"] == "2026-11-13"


@pytest.mark.parametrize("said", ["not sure when", "i dont know when it started", "cant remember when"])
async def test_not_knowing_when_skips_the_optional_question(chat: Chat, bot, said):
    await walk(chat, ["report", ["targeting_me"], ["no"], ["tiktok"], "skip"])
    await chat.say(said)
    assert chat.keys == ["report_concern.description.ask"], said
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["first_seen"] is None


@pytest.mark.parametrize("said", ["not sure what its called", "i dont have the name sorry", "havent got a link"])
async def test_not_knowing_the_accounts_name_skips_it(chat: Chat, bot, said):
    await walk(chat, ["report", ["targeting_me"], ["no"], ["tiktok"]])
    await chat.say(said)
    assert chat.keys == ["report_concern.first_seen.ask"], said
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["accounts"] is None


@pytest.mark.parametrize("said", ["it was called something rude", "it has my name in it"])
async def test_words_that_are_not_an_account_are_still_asked_again(chat: Chat, said):
    await walk(chat, ["report", ["targeting_me"], ["no"], ["tiktok"]])
    await chat.say(said)
    assert chat.keys == ["common.no_accounts_found", "report_concern.accounts.ask"], said


# --- the teacher who starts with an apology at 10 pm, through `chat --json` -------------------------------

APOLOGETIC_TEACHER = [
    "hi sorry to bother u this late",
    "some yr 9s have made an insta page mocking me, its called @mr_davies_fanz",
    "yes",
    "no",
    "not sure when, maybe last week",
    "no",
    "i havent got anything",
    "no",
    "i teach them and one of them said something in class",
    "ok send it",
]


@pytest.mark.slow
def test_the_apologetic_teacher_through_chat_json(tmp_path):
    db = tmp_path / "bot.db"
    run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--db", db)
    turns = chat_json(db, APOLOGETIC_TEACHER, env={"OSB_NOW": "2026-11-20T22:00"})
    assert len(APOLOGETIC_TEACHER) <= 15
    assert keys(turns[1]) == ["common.listening", "menu.ask"]
    assert keys(turns[2]) == ["report.understood_kept"]
    said_back = turns[2][0]["text"].replace("\\", "")  # as the console shows it, or as markdown
    assert "an account targeting you on Instagram (@mr_davies_fanz), possibly made by learners" in said_back
    for turn in turns[1:]:
        assert not {"common.not_understood", "common.not_understood_multi", "common.bad_date"} & set(keys(turn))
    assert "report.sent" in keys(turns[-1])
    shown = json.loads(run_cli("cases", "show", "OSB-2026-0001", "--json", "--db", db).stdout)
    answers = shown["answers"] if "answers" in shown else shown["case"]["answers"]
    assert answers["platforms"] == ["instagram"]
    assert answers["accounts"] == [{"kind": "handle", "value": "@mr_davies_fanz", "platform": None}]
    assert answers["first_seen"] == "2026-11-13"
    assert answers["description"] == APOLOGETIC_TEACHER[1]  # never the greeting
    assert answers["names"] is None and noise_in(answers) == []
    assert answers["behind_it"] == "learner" and answers["others_know"] == ["nobody"]
