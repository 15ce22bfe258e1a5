"""Get support through the in-process test chat: each topic, the staff directory, and returning to a report."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.conversation.engine import Engine
from testing.chat import Chat, walk

TOPICS = ["posh", "wellbeing", "in_school", "emergency", "learners", "finished"]


@pytest.fixture(autouse=True)
def school_hours(clock):
    """These tests are in school hours, when POSH is open; support out of hours is in test_support_now.py."""
    clock.now = datetime(2026, 11, 18, 11, 0, tzinfo=timezone.utc)  # a Wednesday in term


async def start_support(chat: Chat) -> None:
    await chat.pick("menu:get_support")
    assert chat.keys == ["get_support.topic.ask"]


@pytest.fixture
def unstaffed_chat(content, store, settings, clock) -> Chat:
    """A school that has not set up its staff directory."""
    return Chat(Engine(content, store, settings, clock=clock))


# --- starting --------------------------------------------------------------------------------


async def test_menu_choice_offers_the_support_topics(chat: Chat):
    await chat.open()
    assert "menu:get_support" in chat.choice_ids()
    await start_support(chat)
    assert chat.choice_ids() == TOPICS


async def test_phrase_starts_support(chat: Chat):
    await chat.say("I need some support")
    assert chat.keys == ["get_support.topic.ask"]
    assert chat.choice_ids() == TOPICS


# --- each topic ------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["posh", "wellbeing", "in_school", "learners"])
async def test_each_topic_answers_with_its_key_then_offers_the_topics_again(chat: Chat, topic):
    await start_support(chat)
    await chat.pick(topic)
    assert chat.keys == [f"support.{topic}", "get_support.topic.ask"]
    assert chat.last[-1].choices and [c.id for c in chat.last[-1].choices] == TOPICS


async def test_posh_gives_its_phone_email_and_hours(chat: Chat, content):
    posh = content.facts.helplines["posh"]
    await start_support(chat)
    await chat.pick("posh")
    text = chat.reply("support.posh").text
    assert posh.phone in text
    assert posh.email in text
    assert posh.hours in text
    assert "0344 381 4772" in text
    assert "helpline@saferinternet.org.uk" in text
    assert "{" not in text  # every placeholder was filled


async def test_posh_can_be_picked_by_typing_its_number_or_label(chat: Chat):
    await start_support(chat)
    await chat.say("1")
    assert chat.keys[0] == "support.posh"
    await chat.say("advice on getting content removed")
    assert chat.keys[0] == "support.posh"


async def test_wellbeing_gives_education_supports_number(chat: Chat, content):
    await start_support(chat)
    await chat.pick("wellbeing")
    text = chat.reply("support.wellbeing").text
    assert content.facts.helplines["education_support"].phone in text
    assert "08000 562 561" in text


async def test_learners_topic_gives_childline_and_nspcc(chat: Chat, content):
    await start_support(chat)
    await chat.pick("learners")
    text = chat.reply("support.learners").text
    assert content.facts.helplines["childline"].phone in text
    assert content.facts.helplines["nspcc"].phone in text
    assert str(content.facts.helplines["report_remove"].url) in text


async def test_in_school_names_the_dsl_and_deputy_from_the_directory(chat: Chat):
    await start_support(chat)
    await chat.pick("in_school")
    text = chat.reply("support.in_school").text
    assert "Dana Lee" in text and "Sam Patel" in text
    assert "Jo Brown" not in text  # a plain member of staff is not someone to turn to for safeguarding
    assert "DSL" in text and "deputy DSL" in text


async def test_in_school_with_an_empty_directory_falls_back_kindly(unstaffed_chat: Chat, content):
    await start_support(unstaffed_chat)
    await unstaffed_chat.pick("in_school")
    assert unstaffed_chat.keys == ["support.in_school", "get_support.topic.ask"]
    text = unstaffed_chat.reply("support.in_school").text
    assert content.text("support.no_directory") in text
    assert "Designated Safeguarding Lead" in text
    assert "Dana Lee" not in text
    assert not text.startswith("**In school, you can talk to:** .")  # never an empty list of people


async def test_emergency_topic_says_999_first(chat: Chat):
    await start_support(chat)
    await chat.pick("emergency")
    assert chat.keys == ["common.emergency", "get_support.topic.ask"]
    emergency = chat.reply("common.emergency")
    assert "999" in emergency.text
    assert emergency.urgent
    assert "Dana Lee" in emergency.text


async def test_emergency_with_an_empty_directory_still_says_999(unstaffed_chat: Chat, content):
    await start_support(unstaffed_chat)
    await unstaffed_chat.pick("emergency")
    text = unstaffed_chat.reply("common.emergency").text
    assert "999" in text
    assert content.text("common.your_dsl") in text


async def test_several_topics_can_be_looked_at_in_turn(chat: Chat):
    await start_support(chat)
    for topic in ["wellbeing", "posh", "in_school"]:
        await chat.pick(topic)
        assert chat.keys == [f"support.{topic}", "get_support.topic.ask"]


# --- ending ----------------------------------------------------------------------------------


async def test_thats_all_ends_the_flow(chat: Chat, bot):
    await start_support(chat)
    await chat.pick("posh")
    await chat.pick("finished")
    assert chat.keys == ["support.bye"]
    state = await bot.store.load_conversation(chat._turn().conversation_key)
    assert state.frames == []
    # With nothing running, a typed number is no longer a support topic.
    await chat.say("1")
    assert "support.posh" not in chat.keys


async def test_typing_thats_all_thanks_ends_the_flow(chat: Chat, bot):
    await start_support(chat)
    await chat.say("That's all, thanks")
    assert chat.keys == ["support.bye"]
    assert (await bot.store.load_conversation(chat._turn().conversation_key)).frames == []


async def test_typing_just_thats_all_ends_the_flow(chat: Chat, bot):
    """ "that's all" is one of the "done" words in content/phrases.yaml; here it should end support."""
    await start_support(chat)
    await chat.pick("wellbeing")
    await chat.say("That's all")
    assert chat.keys == ["support.bye"]
    assert (await bot.store.load_conversation(chat._turn().conversation_key)).frames == []


async def test_stop_ends_support_too(chat: Chat, bot):
    await start_support(chat)
    await chat.say("stop")
    assert chat.keys[0] == "common.stopped"
    assert (await bot.store.load_conversation(chat._turn().conversation_key)).frames == []


# --- support in the middle of a report -------------------------------------------------------


async def test_support_mid_report_returns_to_the_reports_question(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:4])
    assert chat.keys == ["report_concern.accounts.ask"]

    await chat.pick("menu:get_support")
    assert chat.keys == ["get_support.topic.ask"]
    await chat.pick("posh")
    assert chat.keys == ["support.posh", "get_support.topic.ask"]
    await chat.pick("finished")
    assert chat.keys == ["support.bye", "common.carry_on", "report_concern.accounts.ask"]
    assert "your report" in chat.reply("common.carry_on").text

    # The report carries on where it was, with its earlier answers intact.
    await walk(chat, report_steps[4:])
    assert chat.keys == ["report_concern.summary.ask"]
    await chat.pick("send")
    assert chat.reply("report.sent")
    (case,) = await bot.store.list_cases("default")
    assert case.categories == ["targeting_me"] and case.answers["platforms"] == ["instagram"]


async def test_stopping_support_mid_report_returns_to_the_report(chat: Chat, report_steps):
    await walk(chat, report_steps[:4])
    await chat.pick("menu:get_support")
    await chat.say("stop")
    assert chat.keys == ["common.stopped", "common.carry_on", "report_concern.accounts.ask"]
