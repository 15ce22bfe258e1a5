"""The privacy-settings check end to end through the in-process test chat.

The checklist is read from content/facts/platforms.yaml, so these tests take item titles and
reasons from the `content` fixture rather than repeating them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from bot.conversation.engine import Engine
from testing.chat import Chat
from tests.conftest import stored_rows

EXPECTED_PLATFORMS = {"facebook", "instagram", "tiktok", "x", "linkedin", "snapchat", "whatsapp"}


def items(content, platform_id: str):
    return content.facts.platforms[platform_id].privacy


def position(chat: Chat) -> tuple[int, int]:
    """The "(n of total)" of the item being asked."""
    match = re.search(r"\((\d+) of (\d+)\)", chat.reply("privacy_check.item.ask").text)
    assert match, chat.reply("privacy_check.item.ask").text
    return int(match.group(1)), int(match.group(2))


def asked_item(chat: Chat) -> str:
    """The first line of the item question: "**Platform: Title** (n of total)"."""
    return chat.reply("privacy_check.item.ask").text.splitlines()[0]


async def start_check(chat: Chat, *platforms: str) -> None:
    await chat.pick("menu:privacy_check")
    assert chat.keys == ["privacy_check.platforms.ask"]
    await chat.pick(*platforms)


async def answer_all(chat: Chat, answers: list[str]) -> None:
    for answer in answers:
        assert chat.keys[-1] == "privacy_check.item.ask", chat.keys
        await chat.pick(answer)


# --- starting --------------------------------------------------------------------------------


async def test_phrase_starts_the_check_and_offers_the_platforms(chat: Chat, content):
    await chat.open()
    await chat.say("check my privacy settings")
    assert chat.keys == ["privacy_check.platforms.ask"]
    ask = chat.last[0]
    assert ask.multiple
    ids = [c.id for c in ask.choices]
    assert EXPECTED_PLATFORMS <= set(ids)
    # Only platforms with a checklist are offered, in the order of the facts file.
    assert ids == [p.id for p in content.facts.platforms.values() if p.privacy]
    assert "youtube" not in ids
    labels = {c.id: c.label for c in ask.choices}
    assert labels["x"] == content.facts.platforms["x"].name


async def test_menu_choice_starts_the_check(chat: Chat):
    await chat.open()
    assert "menu:privacy_check" in chat.choice_ids()
    await chat.pick("menu:privacy_check")
    assert chat.keys == ["privacy_check.platforms.ask"]
    assert EXPECTED_PLATFORMS <= set(chat.choice_ids())


async def test_platforms_can_be_typed_by_name(chat: Chat):
    await chat.pick("menu:privacy_check")
    await chat.say("Instagram and LinkedIn")
    assert chat.keys[-1] == "privacy_check.item.ask"
    assert asked_item(chat).startswith("**Instagram:")


# --- walking the checklist -------------------------------------------------------------------


async def test_walk_two_platforms_item_by_item_with_done_skip_and_explain(chat: Chat, bot, content, clock):
    insta, x = items(content, "instagram"), items(content, "x")
    total = len(insta) + len(x)
    # Picked in any order, the platforms are walked in the order they were offered.
    await start_check(chat, "x", "instagram")
    assert chat.keys == ["privacy.limits", "privacy_check.item.ask"]
    limits = chat.reply("privacy.limits").text
    assert "Instagram" in limits
    for limit in content.facts.platforms["instagram"].always_public:
        assert limit.text in limits

    walked = []
    answers = {"instagram.private_account": "done", "instagram.manual_tags": "skip", "instagram.two_factor": "done",
               "x.protect_posts": "skip", "x.discoverability": "done", "x.two_factor": "done"}
    for n, (platform_id, item) in enumerate([("instagram", i) for i in insta] + [("x", i) for i in x], start=1):
        name = content.facts.platforms[platform_id].name
        assert position(chat) == (n, total)
        assert asked_item(chat).startswith(f"**{name}: {item.title}**")
        assert item.how in chat.reply("privacy_check.item.ask").text
        assert [c.id for c in chat.reply("privacy_check.item.ask").choices] == ["done", "skip", "explain"]
        if n > 1:  # "Why?" on a first item is covered by its own test below
            # "Why?" on an item gives that item's reason, then asks the same item again.
            await chat.pick("explain")
            assert chat.keys == ["privacy.why", "privacy_check.item.ask"]
            assert item.why in chat.reply("privacy.why").text
            assert item.title in chat.reply("privacy.why").text
            assert position(chat) == (n, total)
            assert asked_item(chat).startswith(f"**{name}: {item.title}**")
        walked.append(f"{platform_id}.{item.id}")
        await chat.pick(answers[f"{platform_id}.{item.id}"])

    assert walked == list(answers)
    assert chat.keys == ["privacy.summary_left", "privacy_check.reminder.ask"]
    assert [c.id for c in chat.reply("privacy_check.reminder.ask").choices] == [
        "skipped_now", "three_months", "six_months", "twelve_months", "no_thanks",
    ]

    await chat.say("no thanks")
    assert chat.keys == ["privacy.no_reminder"]
    (row,) = stored_rows(bot.store, "privacy_checks")
    assert row["user"] == "console:teacher" and row["school_id"] == "default"
    assert json.loads(row["platforms"]) == ["instagram", "x"]
    assert sorted(json.loads(row["done"])) == sorted(k for k, v in answers.items() if v == "done")
    assert sorted(json.loads(row["skipped"])) == sorted(k for k, v in answers.items() if v == "skip")
    assert row["completed_at"] == clock.now.isoformat()
    assert await bot.store.list_reminders("default") == []
    state = await bot.store.load_conversation(chat._turn().conversation_key)
    assert state.frames == []


async def test_platform_limits_are_shown_once_before_its_first_item(chat: Chat, content):
    """TikTok has things that stay public; X has none, so X's first item comes with no limits."""
    assert content.facts.platforms["tiktok"].always_public and not content.facts.platforms["x"].always_public
    await start_check(chat, "tiktok", "x")
    shown = [chat.keys]
    while chat.keys[-1] == "privacy_check.item.ask":
        await chat.pick("done")
        shown.append(chat.keys)
    limits_turns = [n for n, keys in enumerate(shown) if "privacy.limits" in keys]
    assert limits_turns == [0]
    assert shown[0] == ["privacy.limits", "privacy_check.item.ask"]
    first_x = len(items(content, "tiktok"))
    assert shown[first_x] == ["privacy_check.item.ask"]  # X's first item: no limits


async def test_limits_come_before_the_second_platform_when_it_has_them(chat: Chat, content):
    await start_check(chat, "x", "whatsapp")
    assert chat.keys == ["privacy_check.item.ask"]  # X first, no limits
    for _ in items(content, "x")[:-1]:
        await chat.pick("done")
        assert chat.keys == ["privacy_check.item.ask"]
    await chat.pick("done")
    assert chat.keys == ["privacy.limits", "privacy_check.item.ask"]
    assert "WhatsApp" in chat.reply("privacy.limits").text
    assert asked_item(chat).startswith(f"**WhatsApp: {items(content, 'whatsapp')[0].title}**")


async def test_explain_on_a_platforms_first_item_does_not_repeat_its_limits(chat: Chat, content):
    first = items(content, "instagram")[0]
    await start_check(chat, "instagram")
    assert chat.keys == ["privacy.limits", "privacy_check.item.ask"]
    await chat.pick("explain")
    assert first.why in chat.reply("privacy.why").text
    assert position(chat) == (1, len(items(content, "instagram")))
    # The limits were shown once, just before; answering "Why?" should not show them again.
    assert chat.keys == ["privacy.why", "privacy_check.item.ask"]


async def test_typed_why_and_done_work_like_the_buttons(chat: Chat, content):
    insta = items(content, "instagram")
    await start_check(chat, "instagram")
    await chat.pick("done")
    await chat.say("why?")
    assert chat.keys == ["privacy.why", "privacy_check.item.ask"]
    assert insta[1].why in chat.reply("privacy.why").text
    await chat.say("Done")
    assert position(chat) == (3, len(insta))


async def test_unclear_answer_repeats_the_same_item(chat: Chat, content):
    await start_check(chat, "x")
    await chat.pick("done")
    await chat.say("hmm, the blue one")
    assert chat.keys == ["common.not_understood", "privacy_check.item.ask"]
    assert position(chat) == (2, len(items(content, "x")))


# --- back and restart ------------------------------------------------------------------------


async def test_back_goes_to_the_previous_item(chat: Chat, content):
    x = items(content, "x")
    await start_check(chat, "x")
    await chat.pick("skip")
    await chat.pick("done")
    assert position(chat) == (3, 3)
    await chat.say("back")
    assert chat.keys == ["privacy_check.item.ask"]
    assert position(chat) == (2, 3)
    assert asked_item(chat).startswith(f"**X (formerly Twitter): {x[1].title}**")
    await chat.say("back")
    assert position(chat) == (1, 3)
    # Changing the first answer from skip to done is what the summary reflects.
    await chat.pick("done")
    await chat.pick("done")
    await chat.pick("done")
    assert chat.keys == ["privacy.summary_all_done", "privacy_check.reminder.ask"]


async def test_back_from_the_first_item_returns_to_the_platform_question(chat: Chat):
    await start_check(chat, "x")
    await chat.say("back")
    assert chat.keys == ["privacy_check.platforms.ask"]


async def test_back_from_the_reminder_returns_to_the_last_item(chat: Chat, content):
    x = items(content, "x")
    await start_check(chat, "x")
    await answer_all(chat, ["done", "done", "skip"])
    assert chat.keys[-1] == "privacy_check.reminder.ask"
    await chat.say("back")
    assert chat.keys == ["privacy_check.item.ask"]
    assert position(chat) == (3, 3)
    assert asked_item(chat).startswith(f"**X (formerly Twitter): {x[2].title}**")
    await chat.pick("done")
    assert chat.keys == ["privacy.summary_all_done", "privacy_check.reminder.ask"]


async def test_progress_survives_a_restart(content, settings, clock, staffed, another_store):
    insta = items(content, "instagram")
    first = Chat(Engine(content, staffed, settings, clock=clock))
    await start_check(first, "instagram", "x")
    await first.pick("done")
    await first.pick("skip")
    assert position(first) == (3, 6)
    await staffed.close()

    reopened = await another_store()
    try:
        second = Chat(Engine(content, reopened, settings, clock=clock))
        await second.open()
        assert second.keys == ["common.welcome_back", "privacy_check.item.ask"]
        assert position(second) == (3, 6)
        assert asked_item(second).startswith(f"**Instagram: {insta[2].title}**")
        await answer_all(second, ["done", "done", "done", "done"])
        assert second.keys == ["privacy.summary_left", "privacy_check.reminder.ask"]
        assert f"- Instagram: {insta[1].title}" in second.reply("privacy.summary_left").text
        await second.pick("no_thanks")
        (row,) = stored_rows(reopened, "privacy_checks")
        assert json.loads(row["skipped"]) == ["instagram.manual_tags"]
    finally:
        await reopened.close()


# --- summary and reminders -------------------------------------------------------------------


async def test_summary_lists_exactly_the_skipped_items(chat: Chat, content):
    tiktok = items(content, "tiktok")
    linkedin = items(content, "linkedin")
    await start_check(chat, "tiktok", "linkedin")
    answers = ["skip", "done", "done", "skip", "done"] + ["done", "skip", "done"]
    assert len(answers) == len(tiktok) + len(linkedin)
    await answer_all(chat, answers)
    summary = chat.reply("privacy.summary_left").text
    listed = [line for line in summary.splitlines() if line.startswith("- ")]
    assert listed == [
        f"- TikTok: {tiktok[0].title}", f"- TikTok: {tiktok[3].title}", f"- LinkedIn: {linkedin[1].title}",
    ]
    assert "5 setting(s) checked" in summary and "3 still to do" in summary
    assert "privacy.summary_all_done" not in chat.keys


async def test_summary_when_everything_is_done(chat: Chat, content):
    await start_check(chat, "snapchat")
    await answer_all(chat, ["done"] * len(items(content, "snapchat")))
    assert chat.keys == ["privacy.summary_all_done", "privacy_check.reminder.ask"]
    text = chat.reply("privacy.summary_all_done").text
    assert f"{len(items(content, 'snapchat'))} setting(s) checked" in text
    assert not re.search(r"^- ", text, re.M)


@pytest.mark.parametrize("choice, days, due_text", [
    ("three_months", 91, "19 February 2027"),
    ("six_months", 182, "21 May 2027"),
    ("twelve_months", 365, "20 November 2027"),
])
async def test_choosing_a_reminder_stores_it(chat: Chat, bot, content, clock, choice, days, due_text):
    await start_check(chat, "x", "instagram")
    await answer_all(chat, ["done", "skip", "done", "done", "done", "done"])
    await chat.pick(choice)
    assert chat.keys == ["privacy.reminder_set"]
    assert due_text in chat.reply("privacy.reminder_set").text

    (reminder,) = await bot.store.list_reminders("default", "console:teacher")
    assert reminder.kind == "privacy_check"
    assert reminder.recipient == "console:teacher"
    assert reminder.due_at == clock.now + timedelta(days=days)
    assert reminder.due_at.date() == datetime.strptime(due_text, "%d %B %Y").date()
    assert reminder.sent_at is None
    assert reminder.detail == {"platforms": ["instagram", "x"]}

    (row,) = stored_rows(bot.store, "privacy_checks")
    assert json.loads(row["skipped"]) == ["instagram.manual_tags"]
    assert len(json.loads(row["done"])) == 5


async def test_no_thanks_stores_no_reminder_but_records_the_check(chat: Chat, bot, content):
    await start_check(chat, "whatsapp")
    await answer_all(chat, ["done"] * len(items(content, "whatsapp")))
    await chat.pick("no_thanks")
    assert chat.keys == ["privacy.no_reminder"]
    assert await bot.store.list_reminders("default") == []
    assert stored_rows(bot.store, "reminders") == []
    (row,) = stored_rows(bot.store, "privacy_checks")
    assert json.loads(row["platforms"]) == ["whatsapp"]
    assert json.loads(row["skipped"]) == []
    assert len(json.loads(row["done"])) == len(items(content, "whatsapp"))


async def test_an_unfinished_check_is_not_recorded(chat: Chat, bot):
    await start_check(chat, "x")
    await chat.pick("done")
    await chat.say("stop")
    await chat.pick("menu:delete")
    assert chat.keys[0] == "privacy.stopped"
    assert stored_rows(bot.store, "privacy_checks") == []
    assert await bot.store.list_reminders("default") == []


async def test_a_completed_check_is_recorded_for_each_run(chat: Chat, bot, content, clock):
    for _ in range(2):
        await start_check(chat, "x")
        await answer_all(chat, ["done"] * len(items(content, "x")))
        await chat.pick("no_thanks")
        clock.advance(days=1)
    rows = stored_rows(bot.store, "privacy_checks")
    assert len(rows) == 2
    assert [datetime.fromisoformat(r["completed_at"]).date() for r in rows] == [
        (clock.now - timedelta(days=2)).date(), (clock.now - timedelta(days=1)).date(),
    ]
    assert all(r["completed_at"].endswith("+00:00") for r in rows)
    assert all(datetime.fromisoformat(r["completed_at"]).tzinfo == timezone.utc for r in rows)


async def test_a_step_not_confirmed_at_the_platforms_pages_says_so(chat: Chat, content):
    await start_check(chat, "instagram")
    first = items(content, "instagram")[0]
    assert first.unconfirmed  # Instagram's "Settings and activity" label
    text = chat.reply("privacy_check.item.ask").text
    assert "Settings and activity" in text and "Not confirmed at the platform's own pages" in text
