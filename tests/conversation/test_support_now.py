"""Support that knows the time and listens first: out of school hours, the services open now come first and POSH
is shown with when it opens; a feeling is acknowledged before any options. Through the in-process chat and
`chat --json` at 10 pm on a Friday."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.conversation.support_now import is_open, next_opening
from testing.chat import Chat, walk
from tests.process.test_cli import chat_json, choice_ids, keys, message

FRIDAY_10PM = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)  # GMT in November: 10 pm in the UK
SUNDAY_9PM = datetime(2026, 11, 22, 21, 0, tzinfo=timezone.utc)
MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # school has opened; POSH opens at 10am
WEDNESDAY_11AM = datetime(2026, 11, 18, 11, 0, tzinfo=timezone.utc)
SUMMER_SATURDAY_9AM = datetime(2027, 6, 12, 8, 0, tzinfo=timezone.utc)  # 9 am British Summer Time


# --- the hours as data --------------------------------------------------------------------------------


def test_posh_hours_are_facts_with_a_source_and_a_checked_date(content):
    posh = content.facts.helplines["posh"]
    assert posh.open_hours and posh.open_hours.days == ["monday", "tuesday", "wednesday", "thursday", "friday"]
    assert posh.source and posh.checked
    assert posh.unconfirmed and "bank holidays" in posh.unconfirmed
    assert content.facts.helplines["education_support"].open_hours.always


@pytest.mark.parametrize(("moment", "open_"), [
    (FRIDAY_10PM, False), (SUNDAY_9PM, False), (MONDAY_8AM, False), (WEDNESDAY_11AM, True),
    (datetime(2026, 11, 18, 16, 0, tzinfo=timezone.utc), False),  # closes at 4pm
    (datetime(2027, 6, 9, 9, 30, tzinfo=timezone.utc), True),  # 10:30 in summer time
])
def test_posh_is_open_monday_to_friday_ten_to_four_uk_time(content, moment, open_):
    assert is_open(content.facts.helplines["posh"], moment) is open_


def test_posh_next_opens_on_monday_at_ten_after_a_friday_night(content):
    opens = next_opening(content.facts.helplines["posh"], FRIDAY_10PM)
    assert opens.strftime("%A %H:%M") == "Monday 10:00"
    assert next_opening(content.facts.helplines["education_support"], FRIDAY_10PM) is None


# --- support at night and at weekends ---------------------------------------------------------------


async def test_on_a_friday_night_support_opens_with_who_answers_now_then_posh_and_when_it_opens(chat: Chat, clock):
    clock.now = FRIDAY_10PM
    await chat.pick("menu:get_support")
    assert chat.keys == ["support.open_now", "get_support.topic.ask"]
    text = chat.reply("support.open_now").text
    assert "Friday evening" in text and "school is closed" in text
    assert text.index("Education Support") < text.index("Samaritans") < text.index("POSH")
    assert "08000 562 561" in text and "116 123" in text
    assert "is closed now and opens on Monday at 10am" in text
    # Someone to talk to comes first among the options.
    assert chat.choice_ids()[0] == "wellbeing"


async def test_on_sunday_night_posh_opens_tomorrow(chat: Chat, clock):
    clock.now = SUNDAY_9PM
    await chat.pick("menu:get_support")
    assert "Sunday evening" in chat.text and "opens tomorrow at 10am" in chat.text


async def test_on_a_school_morning_before_ten_support_is_as_in_the_day(chat: Chat, clock):
    clock.now = MONDAY_8AM  # school is open: no out-of-hours list, but POSH itself says it opens at 10am
    await chat.pick("menu:get_support")
    assert chat.keys == ["get_support.topic.ask"]
    await chat.pick("posh")
    assert chat.keys == ["support.posh", "support.posh_closed", "get_support.topic.ask"]
    assert "opens today at 10am" in chat.text


async def test_a_summer_saturday_morning_in_british_summer_time(chat: Chat, clock):
    clock.now = SUMMER_SATURDAY_9AM
    await chat.pick("menu:get_support")
    assert "It's Saturday and school is closed" in chat.text
    assert "opens on Monday at 10am" in chat.text


async def test_posh_picked_at_night_says_when_it_opens_and_who_answers_meanwhile(chat: Chat, clock):
    clock.now = FRIDAY_10PM
    await chat.pick("menu:get_support")
    await chat.pick("posh")
    assert chat.keys == ["support.posh", "support.posh_closed", "get_support.topic.ask"]
    closed = chat.reply("support.posh_closed").text
    assert "opens on Monday at 10am" in closed and "08000 562 561" in closed


async def test_in_school_hours_posh_is_open_and_nothing_extra_is_said(chat: Chat, clock):
    clock.now = WEDNESDAY_11AM
    await chat.pick("menu:get_support")
    assert chat.keys == ["get_support.topic.ask"]
    assert chat.choice_ids()[0] == "posh"
    await chat.pick("posh")
    assert chat.keys == ["support.posh", "get_support.topic.ask"]


# --- feelings are acknowledged first ------------------------------------------------------------------


@pytest.mark.parametrize("words", [
    "I can't stop thinking about it",
    "i feel sick about it",
    "it's sunday night and I can't stop thinking about it, I need to talk to someone",
    "im so upset",
])
async def test_a_feeling_is_acknowledged_before_any_options(chat: Chat, clock, words):
    clock.now = SUNDAY_9PM
    await chat.say(words)
    assert chat.keys == ["support.feeling_heard", "support.open_now", "get_support.topic.ask"]
    assert "Sorry" not in chat.text


async def test_a_feeling_with_a_report_in_it_is_acknowledged_then_the_report_starts(chat: Chat):
    await chat.say("someone made a fake account of me and I feel sick about it")
    assert chat.keys == ["support.feeling_heard", "report.understood_kept"]  # the report starts from their words
    assert "an account targeting you" in chat.text


@pytest.mark.parametrize("words", [
    "someone made a fake instagram of me and im really upset",
    "theres a tiktok of our pupils and i feel sick about it",
])
async def test_a_feeling_that_says_what_happened_is_heard_and_the_report_starts_from_it(chat: Chat, words):
    await chat.say(words)
    assert chat.keys == ["support.feeling_heard", "report.understood_kept"]
    await chat.say("yes")
    assert chat.keys[-1].startswith("report_concern.") and "common.not_understood" not in chat.keys


@pytest.mark.parametrize("words", [
    "i just need someone to talk to",
    "i need someone to talk to, theres a page about me on insta",
    "i just need someone to talk to, this page about me is making me feel awful",
])
async def test_asked_for_someone_to_talk_to_support_comes_first_whatever_else_is_said(chat: Chat, clock, words):
    """Who answers now, before any report; what the message says of a page is kept to start the report later."""
    clock.now = SUNDAY_9PM
    await chat.say(words)
    assert "support.open_now" in chat.keys and chat.keys[-1] == "get_support.topic.ask"
    assert not any(k.startswith("report") for k in chat.keys if k != "support.report_kept")
    if "page" in words:
        assert "support.report_kept" in chat.keys
        await chat.pick("finished")
        await chat.pick("menu:report_concern")
        assert chat.keys[0] == "report.earlier_words" and words in chat.text  # offered as the report's start
    else:
        assert "support.report_kept" not in chat.keys


async def test_a_feeling_mid_report_at_a_question_with_options_offers_support(chat: Chat, report_steps):
    await walk(chat, report_steps[:2])  # the images question
    await chat.say("sorry i feel sick about it")
    assert chat.keys == ["support.feeling_heard", "keeping.switch_offer"]
    assert chat.choice_ids() == ["menu:go:get_support", "menu:resume"]


async def test_crisis_words_still_go_to_the_safety_check_first(chat: Chat):
    await chat.say("I can't stop thinking about it and I want to kill myself")
    assert chat.keys[0] == "safety.crisis"


# --- through chat --json at 10 pm on a Friday -------------------------------------------------------


def test_an_upset_teacher_at_ten_on_a_friday_through_the_command_line(tmp_path):
    turns = chat_json(tmp_path / "bot.db", ["I can't stop thinking about it", "1"], env={"OSB_NOW": "2026-11-20T22:00"})
    assert keys(turns[1]) == ["support.feeling_heard", "support.open_now", "get_support.topic.ask"]
    assert "opens on Monday at 10am" in message(turns[1], "support.open_now")["text"]
    assert choice_ids(turns[1])[0] == "wellbeing"
    assert keys(turns[2]) == ["support.wellbeing", "get_support.topic.ask"]


@pytest.mark.parametrize("words", ["is anyone there now?", "I can't stop thinking about it"])
async def test_inside_support_someone_to_talk_to_answers_instead_of_sorry(chat: Chat, clock, words):
    clock.now = SUNDAY_9PM
    await chat.pick("menu:get_support")
    await chat.say(words)
    assert "support.wellbeing" in chat.keys and "common.not_understood" not in chat.keys
    assert chat.keys[-1] == "get_support.topic.ask"
    assert ("support.feeling_heard" in chat.keys) == ("thinking" in words)
