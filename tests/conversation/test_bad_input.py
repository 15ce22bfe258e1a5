"""Bad input: each is answered kindly, the same question is asked again, and nothing is lost.

Most tests use the in-process `Chat`; a few feed the same kind of input to `chat --json` as a real
process. Each one then finishes the report and checks that exactly one, complete case was opened.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.conversation.engine import Engine
from bot.core.models import Attachment
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.process.test_cli import chat_json, choice_ids, keys, message

# The question asked after walking STANDARD_REPORT[:n] turns.
QUESTION_AFTER = {
    1: "report_concern.categories.ask",
    2: "report_concern.images.ask",
    3: "report_concern.platforms.ask",
    4: "report_concern.accounts.ask",
    5: "report_concern.first_seen.ask",
    6: "report_concern.description.ask",
    7: "report_concern.who_appears.ask",
    8: "report_concern.names.ask",
    9: "report_concern.evidence.ask",
}
DESCRIPTION = STANDARD_REPORT[6]


async def reach(chat: Chat, n: int) -> str:
    """Walk the standard report up to its n-th question; return that question's key."""
    await walk(chat, STANDARD_REPORT[:n])
    assert chat.keys == [QUESTION_AFTER[n]]
    return QUESTION_AFTER[n]


async def finish(chat: Chat, bot: Engine, n: int):
    """Answer the rest of the standard report from question n, send it, and return the one case."""
    await walk(chat, STANDARD_REPORT[n:])
    assert chat.keys == ["report_concern.summary.ask"]
    await chat.pick("send")
    assert "OSB-2026-0001" in chat.reply("report.sent").text
    (case,) = await bot.store.list_cases("default")
    return case


async def answers_so_far(chat: Chat, bot: Engine) -> dict:
    state = await bot.store.load_conversation(chat._turn().conversation_key)
    return dict(state.active.answers)


def database_text(db_path: Path) -> str:
    """Everything in the database, as SQL text (a second connection also sees what is still in the WAL)."""
    with sqlite3.connect(db_path) as conn:
        return "\n".join(conn.iterdump())


def shot(size: int, name: str = "shot.png") -> Attachment:
    return Attachment(name=name, ref=f"file:///tmp/{name}", size=size, sha256="ab" * 32, content_type="image/png")


# --- empty and over-long messages ------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\t \n  \r\n", "\u200b\u2060\ufeff"],
                         ids=["empty", "spaces", "whitespace", "invisible"])
async def test_empty_or_invisible_message_is_noticed_and_the_same_question_asked_again(chat: Chat, bot, blank):
    question = await reach(chat, 6)
    await chat.say(blank)
    assert chat.keys == ["common.empty", question]
    assert "description" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 6)
    assert case.answers["description"] == DESCRIPTION


async def test_empty_message_with_nothing_running_shows_the_menu(chat: Chat):
    await chat.say("  ")
    assert chat.keys == ["common.empty", "menu.ask"]
    assert "menu:report_concern" in chat.choice_ids()


@pytest.mark.sqlite_only
async def test_hundred_kilobyte_message_is_refused_kindly_and_nothing_is_lost(chat: Chat, bot, db_path):
    question = await reach(chat, 6)
    marker = "ZQXJ-unique-marker"
    huge = (marker + " ") * (100_000 // (len(marker) + 1))
    assert len(huge) > 99_000

    await chat.say(huge)
    assert chat.keys == ["common.too_long", question]
    assert "4000" in chat.reply("common.too_long").text  # the limit is stated
    assert "description" not in await answers_so_far(chat, bot)
    assert marker not in database_text(db_path)

    case = await finish(chat, bot, 6)
    assert case.answers["description"] == DESCRIPTION
    stored = database_text(db_path)
    assert DESCRIPTION in stored and marker not in stored  # the dump does see what was kept


async def test_message_exactly_at_the_length_limit_is_accepted(chat: Chat, bot):
    await reach(chat, 6)
    longest = "a" * bot.settings.max_text_chars
    await chat.say(longest)
    assert chat.keys == ["report_concern.who_appears.ask"]
    assert (await answers_so_far(chat, bot))["description"] == longest


# --- choices that are not among those offered ------------------------------------------------


async def test_unknown_choice_id_on_a_choice_step_is_not_understood_and_asked_again(chat: Chat, bot):
    question = await reach(chat, 2)
    await chat.pick("maybe")
    assert chat.keys == ["common.not_understood", question]
    assert chat.choice_ids() == ["yes", "not_sure", "no"]
    assert "images" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 2)
    assert case.answers["images"] == "no" and not case.urgent


async def test_unknown_choice_id_among_good_ones_on_a_multi_step_is_not_taken(chat: Chat, bot):
    question = await reach(chat, 1)
    await chat.pick("targeting_me", "made_up")
    assert chat.keys == ["common.not_understood_multi", question]
    assert "categories" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 1)
    assert case.categories == ["targeting_me"]


@pytest.mark.parametrize("number", ["4", "0", "99", "-1"])
async def test_out_of_range_number_on_a_choice_step_is_not_understood(chat: Chat, bot, number):
    question = await reach(chat, 2)  # three options
    await chat.say(number)
    assert chat.keys == ["common.not_understood", question]
    assert "images" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 2)
    assert case.answers["images"] == "no"


@pytest.mark.parametrize("numbers", ["9", "1, 10", "0"])
async def test_out_of_range_number_on_a_multi_step_picks_nothing(chat: Chat, bot, numbers):
    question = await reach(chat, 1)  # seven options, and "Yes, that's right" to what the first message said
    await chat.say(numbers)
    assert chat.keys == ["common.not_understood_multi", question]
    assert "categories" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 1)
    assert case.categories == ["targeting_me"]


# --- attachments ---------------------------------------------------------------------------------


async def test_attachment_that_cannot_be_found_is_not_added(chat: Chat, bot):
    await reach(chat, 9)
    await chat.attach(Attachment(name="gone.png", ref="/no/such/gone.png", missing=True))
    assert chat.keys[0] == "common.file_missing"
    assert "gone.png" in chat.last[0].text
    gathered = (await answers_so_far(chat, bot)).get("evidence") or {"files": []}
    assert gathered["files"] == []

    case = await finish(chat, bot, 9)
    assert await bot.store.case_evidence(case.id) == []
    assert case.answers["evidence"] == {"files": [], "notes": [STANDARD_REPORT[9]]}


async def test_attachment_over_the_size_limit_is_refused_and_one_at_the_limit_is_kept(chat: Chat, bot):
    await reach(chat, 9)
    limit = bot.settings.max_attachment_bytes
    await chat.attach(shot(limit + 1, "huge.mov"))
    assert chat.keys[0] == "common.file_too_large"
    assert "huge.mov" in chat.last[0].text and "25 MB" in chat.last[0].text

    await chat.attach(shot(limit, "just_fits.png"))
    assert chat.keys == ["common.evidence_received"]
    assert "1 so far" in chat.last[0].text
    case = await finish(chat, bot, 9)
    (evidence,) = await bot.store.case_evidence(case.id)
    assert (evidence.name, evidence.size) == ("just_fits.png", limit)


REFUSED_FILES = {
    "missing": Attachment(name="gone.png", ref="/no/such/gone.png", missing=True),
    "too_large": shot(10**12, "huge.mov"),
}


@pytest.mark.parametrize("refused", REFUSED_FILES.values(), ids=REFUSED_FILES.keys())
async def test_after_a_refused_file_the_evidence_question_is_asked_again(chat: Chat, bot, refused):
    question = await reach(chat, 9)
    await chat.attach(refused)
    assert chat.keys[0] in ("common.file_missing", "common.file_too_large")
    assert chat.keys == [chat.keys[0], question]
    assert "done" in chat.choice_ids()


@pytest.mark.parametrize("refused", REFUSED_FILES.values(), ids=REFUSED_FILES.keys())
async def test_after_a_refused_file_picking_done_by_number_still_moves_on(chat: Chat, bot, refused):
    await reach(chat, 9)
    assert chat.choice_ids() == ["done"]
    await chat.attach(refused)
    await chat.say("1")  # "Done" was option 1 of the evidence question
    assert chat.keys == ["report_concern.others_know.ask"]
    assert "1" not in (await answers_so_far(chat, bot)).get("evidence", {}).get("notes", [])


async def test_a_limit_under_one_megabyte_is_not_described_as_zero(content, staffed, settings, clock):
    bot = Engine(content, staffed, settings.model_copy(update={"max_attachment_mb": 0.5}), clock=clock)
    chat = Chat(bot)
    await reach(chat, 9)
    await chat.attach(shot(600 * 1024))
    too_large = chat.reply("common.file_too_large").text
    assert "0 MB" not in too_large.replace("0.5 MB", "")  # "the limit is 0 MB" would be untrue


async def test_a_file_sent_at_a_step_that_takes_no_files_is_refused(chat: Chat, bot):
    question = await reach(chat, 4)
    await chat.attach(shot(2048))
    assert chat.keys == ["common.no_files_here", question]
    assert "accounts" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 4)
    assert await bot.store.case_evidence(case.id) == []
    assert case.answers["accounts"][0]["value"] == "https://instagram.com/fake_hillside"


async def test_a_file_sent_with_nothing_running_is_refused_and_the_menu_shown(chat: Chat, bot):
    await chat.attach(shot(2048))
    assert chat.keys == ["common.no_files_here", "common.not_understood_idle", "menu.ask"]
    assert await bot.store.list_cases("default") == []


# --- answers that do not fit the question ----------------------------------------------------------


@pytest.mark.parametrize("text, refusal", [
    ("https://not a link at all", "common.bad_links"),
    ("http://", "common.bad_links"),
    ("https://instagram.com@evil.example/login", "common.bad_links"),
    ("it was called something rude", "common.no_accounts_found"),
    ("!!!", "common.no_accounts_found"),
])
async def test_text_that_is_not_a_handle_or_link_at_the_accounts_step_is_asked_again(chat: Chat, bot, text, refusal):
    question = await reach(chat, 4)
    await chat.say(text)
    assert chat.keys == [refusal, question]
    assert "accounts" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 4)
    assert [a["value"] for a in case.answers["accounts"]] == ["https://instagram.com/fake_hillside", "@fake_hillside"]


@pytest.mark.parametrize("text, refusal", [
    ("the day after the party", "common.bad_date"),
    ("31/02/2026", "common.bad_date"),
    ("01/01/1999", "common.bad_date"),
    ("25/12/2026", "common.future_date"),  # the test clock says 20 November 2026
    ("2027-01-01", "common.future_date"),
])
async def test_a_date_that_is_not_a_date_or_is_in_the_future_is_asked_again(chat: Chat, bot, text, refusal):
    question = await reach(chat, 5)
    await chat.say(text)
    assert chat.keys == [refusal, question]
    assert "first_seen" not in await answers_so_far(chat, bot)

    case = await finish(chat, bot, 5)
    assert case.answers["first_seen"] == "2026-11-19"


# --- commands out of place -------------------------------------------------------------------------


async def test_back_at_the_first_question_stays_there(chat: Chat, bot):
    question = await reach(chat, 1)
    await chat.say("back")
    assert chat.keys == ["common.back_at_start", question]

    case = await finish(chat, bot, 1)
    assert case.categories == ["targeting_me"]


async def test_stop_with_nothing_running_says_so_and_shows_the_menu(chat: Chat, bot):
    await chat.say("stop")
    assert chat.keys == ["common.nothing_to_stop", "menu.ask"]
    await reach(chat, 1)
    await finish(chat, bot, 1)

    # Stopping after the report was sent cancels nothing: the case stays as it was.
    await chat.say("stop")
    assert chat.keys == ["common.nothing_to_stop", "menu.ask"]
    (case,) = await bot.store.list_cases("default")
    assert case.status.value == "new"


# --- stale buttons ---------------------------------------------------------------------------------


async def test_a_button_from_a_question_that_has_moved_on_changes_nothing(chat: Chat, bot):
    question = await reach(chat, 3)
    await chat.pick("targeting_staff", answering="report_concern.categories")
    assert chat.keys == ["common.moved_on", question]
    assert (await answers_so_far(chat, bot))["categories"] == ["targeting_me"]

    # A button from the current question is taken as usual.
    await chat.pick("instagram", answering="report_concern.platforms")
    assert chat.keys == ["report_concern.accounts.ask"]
    case = await finish(chat, bot, 4)
    assert case.categories == ["targeting_me"]
    assert [r.user for r in case.routed_to] == ["console:dsl", "console:deputy"]


async def test_pressing_send_again_on_an_old_summary_opens_no_second_case(chat: Chat, bot):
    await reach(chat, 1)
    await finish(chat, bot, 1)
    await chat.pick("send", answering="report_concern.summary")
    assert chat.keys == ["common.moved_on", "menu.ask"]
    assert len(await bot.store.list_cases("default")) == 1


# --- the same through `chat --json`, as a real process -------------------------------------------

TO_DESCRIPTION = ["menu:report_concern", "targeting_me", "no", "instagram", "skip", "skip"]


def test_blank_lines_on_stdin_are_noticed_and_the_question_repeated(tmp_path):
    lines = b"\n" + b"menu:report_concern\n" + b"   \n" + b"\t\n" + b"\r\n" + b"2\r\n"
    proc_turns = chat_json(tmp_path / "bot.db", lines)
    assert [keys(t) for t in proc_turns] == [
        ["common.greeting", "menu.ask_first"],
        ["common.empty", "menu.ask"],
        ["report_concern.categories.ask"],
        ["common.empty", "report_concern.categories.ask"],
        ["common.empty", "report_concern.categories.ask"],
        ["common.empty", "report_concern.categories.ask"],
        ["report_concern.images.ask"],  # "2" with a Windows line ending still picks the second option
    ]


def test_a_hundred_kilobyte_line_on_stdin_is_refused_and_not_stored(tmp_path):
    db = tmp_path / "bot.db"
    marker = "ZQXJ-unique-marker"
    huge = (marker + " ") * (100_000 // (len(marker) + 1))
    turns = chat_json(db, [*TO_DESCRIPTION, huge, "A short description."])
    assert keys(turns[-3]) == ["report_concern.description.ask"]
    assert keys(turns[-2]) == ["common.too_long", "report_concern.description.ask"]
    assert keys(turns[-1]) == ["report_concern.who_appears.ask"]
    assert marker not in database_text(db)
    assert "A short description." in database_text(db)


def test_binary_junk_on_stdin_is_answered_line_by_line_and_the_process_exits_0(tmp_path):
    junk = (
        b"\xff\xfe\x00\x01garbage\n"   # invalid UTF-8 and control bytes around a word
        b"menu:report_concern\n"
        b"\xc3\x28\x80\n"               # a broken UTF-8 sequence
        b"\x00\x00\x00\n"               # nothing but NUL bytes
        b"2\n"
        b"\xfe\xff\xc0\xc1"             # no newline before end of input, no valid UTF-8 at all
    )
    turns = chat_json(tmp_path / "bot.db", junk)
    assert [keys(t) for t in turns] == [
        ["common.greeting", "menu.ask_first"],
        ["common.listening", "menu.ask"],
        ["report_concern.categories.ask"],
        ["common.not_understood_multi", "report_concern.categories.ask"],
        ["common.empty", "report_concern.categories.ask"],
        ["report_concern.images.ask"],
        ["common.empty", "report_concern.images.ask"],
    ]


def test_missing_and_oversized_files_via_attach_are_refused_and_a_good_one_kept(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 5000)          # over a 0.001 MB (1048 byte) limit
    small = tmp_path / "small.png"
    small.write_bytes(b"x" * 500)
    turns = chat_json(tmp_path / "bot.db", [
        *TO_DESCRIPTION, "words", "me", "skip",
        "/attach /no/such/file.png", f"/attach {big}", f"/attach {small}", "done", "nobody", "no_idea",
    ], env={"OSB_MAX_ATTACHMENT_MB": "0.001"})
    assert keys(turns[9]) == ["report_concern.evidence.ask"]
    missing = message(turns[10], "common.file_missing")
    assert "file.png" in missing["text"]
    too_large = message(turns[11], "common.file_too_large")
    assert "big.png" in too_large["text"]
    received = message(turns[12], "common.evidence_received")
    assert "1 so far" in received["text"]
    assert "done" in choice_ids(turns[12])
    summary = message(turns[-1], "report_concern.summary.ask")["text"]
    assert "small.png" in summary and "big.png" not in summary and "file.png" not in summary


async def test_a_report_listing_more_accounts_than_one_report_takes_is_asked_for_fewer(bot, chat):
    limit = bot.settings.max_accounts_per_report
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"], ["instagram"]])
    await chat.say(" ".join(f"@fake_page_{n}" for n in range(limit + 1)))
    assert chat.keys == ["common.too_many_accounts", "report_concern.accounts.ask"]
    assert f"{limit + 1} handles" in chat.text and str(limit) in chat.text
    await chat.say(" ".join(f"@fake_page_{n}" for n in range(limit)))
    assert chat.keys == ["report_concern.first_seen.ask"]
