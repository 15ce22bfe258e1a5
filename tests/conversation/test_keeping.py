"""Keeping people's place: "stop" asks before deleting (keep first), "pause" and "later" keep at once, a kept
report or privacy check resumes where it stopped, skipped privacy items can be done at the end, and asking for
something else in the middle of a flow offers to pause it and go there."""

from __future__ import annotations

import json

import pytest

from testing.chat import Chat, walk
from tests.conftest import stored_rows
from tests.conversation.test_privacy_check import start_check
from tests.process.test_cli import chat_json, choice_ids, keys


async def conversation(bot, chat: Chat):
    return await bot.store.load_conversation(chat._turn().conversation_key)


# --- "stop" asks, with keep first ------------------------------------------------------------------


async def test_stop_mid_report_asks_to_keep_or_delete_with_keep_first(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("stop")
    assert chat.keys == ["keeping.keep_or_delete"]
    assert chat.choice_ids() == ["menu:keep", "menu:delete"]
    assert "your report" in chat.text
    # Nothing is lost by asking: the report is still there, at the same question.
    state = await conversation(bot, chat)
    assert state.active.flow == "report_concern" and state.active.step == "description"


async def test_keeping_a_report_then_carrying_on_resumes_where_it_stopped(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("stop")
    await chat.say("1")  # the first choice, keep
    assert chat.keys == ["keeping.kept", "menu.ask"]
    assert 'say "carry on"' in chat.reply("keeping.kept").text
    assert chat.choice_ids()[0] == "menu:resume"
    assert "Carry on with my report" in chat.reply("menu.ask").choices[0].label
    assert await bot.store.list_cases("default") == []

    await chat.say("carry on")
    assert chat.keys == ["common.welcome_back", "report_concern.description.ask"]
    assert "your report" in chat.reply("common.welcome_back").text
    await walk(chat, report_steps[6:])
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    assert case.answers["platforms"] == ["instagram"] and case.answers["first_seen"]


async def test_delete_after_stop_discards_the_report(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("stop")
    await chat.pick("menu:delete")
    assert chat.keys == ["report.stopped", "menu.ask"]
    state = await conversation(bot, chat)
    assert state.frames == [] and state.paused == []
    assert await bot.store.list_cases("default") == []


async def test_stop_before_anything_is_answered_just_stops(chat: Chat, bot):
    await chat.pick("menu:report_concern")
    await chat.say("stop")
    assert chat.keys == ["report.stopped", "menu.ask"]


@pytest.mark.parametrize("words", ["pause", "later", "not now", "I'll do the rest later", "Not now."])
async def test_pause_words_keep_the_report_at_once(chat: Chat, bot, report_steps, words):
    await walk(chat, report_steps[:4])
    await chat.say(words)
    assert chat.keys == ["keeping.kept", "menu.ask"]
    state = await conversation(bot, chat)
    assert state.frames == [] and [f.step for f in state.paused] == ["accounts"]


async def test_a_kept_report_is_offered_when_the_chat_opens_again(chat: Chat, report_steps):
    await walk(chat, report_steps[:4])
    await chat.say("pause")
    await chat.open()
    assert chat.keys == ["common.resume_offer"]
    assert "Your report, started on" in chat.text
    await chat.pick("menu:resume")
    assert chat.keys == ["common.welcome_back", "report_concern.accounts.ask"]


async def test_choosing_report_from_the_menu_brings_back_the_kept_one(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:4])
    await chat.say("later")
    await chat.pick("menu:report_concern")
    assert chat.keys == ["common.already_started", "report_concern.accounts.ask"]
    assert "Your report is already in progress" in chat.text
    state = await conversation(bot, chat)
    assert state.paused == [] and state.active.answers["platforms"] == ["instagram"]


async def test_stop_at_the_keep_question_asks_again_and_keeps_nothing_twice(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:4])
    await chat.say("stop")
    await chat.say("stop")
    assert chat.keys == ["keeping.keep_or_delete"]
    await chat.pick("menu:keep")
    state = await conversation(bot, chat)
    assert len(state.paused) == 1 and state.frames == []


# --- the privacy check keeps its place ------------------------------------------------------------


async def test_privacy_check_stop_keeps_its_place_and_resumes_at_the_same_item(chat: Chat, bot):
    await start_check(chat, "x")
    await chat.pick("done")
    position = chat.reply("privacy_check.item.ask").text
    await chat.say("stop")
    assert chat.keys == ["keeping.keep_or_delete"]
    assert "your privacy check" in chat.text
    assert "Nothing has been sent" not in chat.text
    await chat.pick("menu:keep")
    assert chat.keys == ["keeping.kept", "menu.ask"]
    await chat.say("carry on")
    assert chat.keys == ["common.welcome_back", "privacy_check.item.ask"]
    assert chat.reply("privacy_check.item.ask").text == position


async def test_privacy_check_pause_keeps_its_place(chat: Chat, bot):
    await start_check(chat, "x")
    await chat.say("I'll do the rest later")
    assert chat.keys == ["keeping.kept", "menu.ask"]
    assert "your privacy check" in chat.text
    await chat.pick("menu:resume")
    assert chat.keys == ["common.welcome_back", "privacy_check.item.ask"]
    assert "(1 of" in chat.text


async def test_skipped_privacy_items_can_be_done_at_the_end(chat: Chat, bot, content):
    total = len(content.facts.platforms["x"].privacy)
    await start_check(chat, "x")
    await chat.pick("skip")
    for _ in range(total - 1):
        await chat.pick("done")
    assert chat.keys == ["privacy.summary_left", "privacy_check.reminder.ask"]
    assert chat.choice_ids()[0] == "skipped_now"
    await chat.say("Do the skipped ones now")
    assert chat.keys == ["privacy_check.item.ask"]
    assert "(1 of 1)" in chat.text
    await chat.pick("done")
    assert chat.keys == ["privacy.summary_all_done", "privacy_check.reminder.ask"]
    assert "skipped_now" not in chat.choice_ids()
    await chat.pick("no_thanks")
    (row,) = stored_rows(bot.store, "privacy_checks")
    assert json.loads(row["skipped"]) == [] and len(json.loads(row["done"])) == total


async def test_with_nothing_skipped_the_end_offers_no_second_round(chat: Chat, content):
    await start_check(chat, "x")
    for _ in range(len(content.facts.platforms["x"].privacy)):
        await chat.pick("done")
    assert "skipped_now" not in chat.choice_ids()


# --- the main intents in the middle of a flow -----------------------------------------------------


@pytest.mark.parametrize(("words", "target"), [
    ("my cases", "my_cases"),
    ("I need to talk to someone", "get_support"),
    ("privacy", "privacy_check"),
])
async def test_a_main_intent_mid_report_offers_to_pause_and_go(chat: Chat, bot, report_steps, words, target):
    await walk(chat, report_steps[:6])  # at the description, a free-text question
    await chat.say(words)
    assert chat.keys == ["keeping.switch_offer"]
    assert chat.choice_ids() == [f"menu:go:{target}", "menu:resume"]
    assert "pause your report" in chat.text
    state = await conversation(bot, chat)
    assert state.active.step == "description" and "description" not in state.active.answers


async def test_report_mid_privacy_check_offers_to_pause_it(chat: Chat):
    await start_check(chat, "x")
    await chat.say("report")
    assert chat.keys == ["keeping.switch_offer"]
    assert "pause your privacy check" in chat.text and "a new report" in chat.text


async def test_an_intent_inside_a_sentence_at_a_question_with_options(chat: Chat, report_steps):
    await walk(chat, report_steps[:2])  # the images question: yes / not sure / no
    await chat.say("actually can I see my cases first")
    assert chat.keys == ["keeping.switch_offer"]


async def test_an_intent_inside_a_free_text_answer_is_just_the_answer(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("They reported me to the head and posted my privacy settings")
    assert chat.keys == ["report_concern.who_appears.ask"]


async def test_carry_on_after_the_offer_asks_the_same_question(chat: Chat, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("my cases")
    await chat.say("2")
    assert chat.keys == ["common.welcome_back", "report_concern.description.ask"]


async def test_pause_and_go_to_my_cases_keeps_the_report_and_offers_it_back(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("my cases")
    await chat.say("1")
    assert chat.keys[0] == "keeping.kept_for_now"
    assert "case.list_reported_none" in chat.keys
    assert chat.choice_ids()[0] == "menu:resume"
    await chat.pick("menu:resume")
    assert chat.keys == ["common.welcome_back", "report_concern.description.ask"]


async def test_pause_and_go_to_support_then_back_to_the_report(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("I need to talk to someone")
    await chat.pick("menu:go:get_support")
    assert chat.keys[0] == "keeping.kept_for_now"
    assert "get_support.topic.ask" in chat.keys
    await chat.pick("finished")
    assert chat.keys == ["support.bye", "common.resume_offer"]
    await chat.pick("menu:resume")
    assert chat.keys == ["common.welcome_back", "report_concern.description.ask"]
    await walk(chat, report_steps[6:])
    await chat.pick("send")
    assert chat.reply("report.sent")


async def test_a_dsl_in_a_report_by_accident_reaches_their_cases(chat_as, report_steps):
    dsl = chat_as("console:dsl")
    await walk(dsl, report_steps[:3])
    await dsl.say("my cases")
    assert dsl.keys == ["keeping.switch_offer"]
    await dsl.pick("menu:go:my_cases")
    assert "case.list_handling_none" in dsl.keys


async def test_asking_again_at_the_offer_goes_there(chat: Chat, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("my cases")
    await chat.say("my cases please")
    assert chat.keys[0] == "keeping.kept_for_now"
    assert "case.list_reported_none" in chat.keys


async def test_from_support_which_keeps_nothing_a_report_starts_at_once(chat: Chat, bot):
    await chat.pick("menu:get_support")
    await chat.say("i think i need to report it")
    assert chat.keys[-1] == "report_concern.categories.ask"
    state = await conversation(bot, chat)
    assert [f.flow for f in state.frames] == ["report_concern"] and state.paused == []


# --- through chat --json, as a real process ---------------------------------------------------------


def test_stop_keep_and_carry_on_through_the_command_line(tmp_path):
    turns = chat_json(tmp_path / "bot.db", [
        "menu:report_concern", "targeting_me", "no", "stop", "1", "carry on", "pause", "my cases", "carry on",
    ])
    assert keys(turns[4]) == ["keeping.keep_or_delete"]
    assert choice_ids(turns[4]) == ["menu:keep", "menu:delete"]
    assert keys(turns[5]) == ["keeping.kept", "menu.ask"]
    assert keys(turns[6]) == ["common.welcome_back", "report_concern.platforms.ask"]
    assert keys(turns[7]) == ["keeping.kept", "menu.ask"]
    assert "case.list_reported_none" in keys(turns[8])  # with nothing running, "my cases" just goes there
    assert keys(turns[9]) == ["common.welcome_back", "report_concern.platforms.ask"]


def test_a_main_intent_mid_report_through_the_command_line(tmp_path):
    turns = chat_json(tmp_path / "bot.db", ["menu:report_concern", "targeting_me", "I need to talk to someone", "2"],
                      env={"OSB_NOW": "2026-11-18T11:00"})
    assert keys(turns[3]) == ["keeping.switch_offer"]
    assert choice_ids(turns[3]) == ["menu:go:get_support", "menu:resume"]
    assert keys(turns[4]) == ["common.welcome_back", "report_concern.images.ask"]


@pytest.mark.parametrize(("words", "kept"), [("keep it", True), ("save it for later", True), ("delete", False),
                                             ("Delete it.", False), ("discard", False)])
async def test_the_keep_question_can_be_answered_in_words(chat: Chat, bot, report_steps, words, kept):
    await walk(chat, report_steps[:4])
    await chat.say("stop")
    await chat.say(words)
    assert chat.keys[0] == ("keeping.kept" if kept else "report.stopped")
    state = await conversation(bot, chat)
    assert state.frames == [] and len(state.paused) == int(kept)


async def test_delete_means_nothing_at_an_ordinary_question(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("delete")  # at the description, it is the description
    assert chat.keys == ["report_concern.who_appears.ask"]
