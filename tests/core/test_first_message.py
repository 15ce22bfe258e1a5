"""The first message is the start of the report (issue 18): it starts one unless it clearly asks for something
else, pre-fills what it says, and the bot confirms rather than asks again."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.first_message import read_first_message, starts_a_report
from testing.chat import Chat

TODAY = date(2026, 11, 20)  # a Friday


def read(content, text: str):
    return read_first_message(content, text, TODAY)


def test_a_tiktok_page_about_me_made_by_kids(content):
    reading = read(content, "some kids made a page about me on tiktok i think")
    assert reading.answers["categories"] == ["targeting_me"]
    assert reading.answers["platforms"] == ["tiktok"]
    assert reading.answers["who_appears"] == ["me"]
    assert reading.answers["behind_it"] == "learner"
    assert reading.answers["description"] == "some kids made a page about me on tiktok i think"


def test_platforms_from_links_and_accounts_from_handles(content):
    reading = read(content, "fake acount of me on instagram @hillside_fake and https://www.tiktok.com/@other_one")
    assert reading.answers["platforms"] == ["instagram", "tiktok"]
    assert [a["value"] for a in reading.answers["accounts"]] == ["https://tiktok.com/@other_one", "@hillside_fake"]


def test_the_school_the_head_and_learners(content):
    reading = read(content, "someone is using our logo and posting photos of pupils, and saying the head is useless")
    assert set(reading.answers["categories"]) == {"school_impersonation", "showing_learners"}
    assert set(reading.answers["who_appears"]) == {"school_brand", "learners", "headteacher"}


def test_when_it_was_first_seen(content):
    assert read(content, "a fake account of me on snapchat since monday").answers["first_seen"] == "2026-11-16"
    assert read(content, "pupils made a tiktok mocking me a couple of days ago").answers["first_seen"] == "2026-11-18"


def test_a_single_word_is_not_an_account(content):
    assert "accounts" not in read(content, "report").answers


@pytest.mark.parametrize("text", ["report", "fake acount of me on instagram", "im being targetted",
                                  "pupils made a TikTok mocking me", "repot a concern",
                                  "some kids made a page about me on tiktok i think",
                                  "there's something on insta about one of my year 9s"])
async def test_how_staff_write_it_starts_a_report(bot, text):
    chat = Chat(bot, "console:someone")
    await chat.say(text)
    assert chat.keys[-1] in ("report_concern.categories.ask", "report.understood", "report.understood_kept"), text


@pytest.mark.parametrize("text, goes_to", [
    ("my cases", "case.list_reported_none"), ("privacy", "privacy_check.platforms.ask"),
    ("I need support", "support.topic.ask"), ("help", "common.help_idle"),
])
async def test_menu_words_still_go_where_they_go(bot, text, goes_to):
    chat = Chat(bot, "console:someone")
    await chat.say(text)
    assert goes_to in " ".join(chat.keys), (text, chat.keys)


@pytest.mark.parametrize("text", ["hello", "hi there", "thanks"])
def test_a_greeting_does_not_start_a_report(content, text):
    assert not starts_a_report(content, text, read(content, text))


async def test_it_says_back_what_it_understood_and_yes_keeps_it(chat: Chat, bot):
    await chat.open()
    await chat.say("fake acount of me on instagram @fake_me_123")
    said = chat.reply("report.understood_kept")
    assert said.text.startswith("I'm sorry this is happening. It sounds like an account targeting you on Instagram")
    assert "(@fake\\_me\\_123)" in said.text
    assert chat.choice_ids() == ["yes", "no"]
    await chat.say("yes thats right")
    assert chat.keys == ["report_concern.images.ask"]
    await chat.say("no")
    # where it is, the account and the description are not asked again: next is when it was first seen
    assert chat.keys == ["report_concern.first_seen.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["categories"] == ["targeting_me"] and frame.answers["platforms"] == ["instagram"]
    assert frame.answers["accounts"] == [{"kind": "handle", "value": "@fake_me_123", "platform": None}]
    assert frame.answers["description"] == "fake acount of me on instagram @fake_me_123"


async def test_not_quite_keeps_the_facts_and_asks_what_is_happening(chat: Chat, bot):
    await chat.say("pupils made a TikTok mocking me")
    assert chat.keys == ["report.understood_kept"]
    await chat.say("not quite")
    assert chat.keys == ["report.understood_not_quite", "report_concern.categories.ask"]
    await chat.pick("targeting_staff")
    await chat.pick("no")
    assert chat.keys == ["report_concern.accounts.ask"]  # TikTok was kept
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["categories"] == ["targeting_staff"] and frame.answers["platforms"] == ["tiktok"]
    assert "who_appears" not in frame.answers and "behind_it" not in frame.answers


async def test_a_short_category_phrase_just_starts_the_report(chat: Chat):
    await chat.say("I'm being targeted")
    assert chat.keys == ["report_concern.categories.ask"]


async def test_words_with_no_category_keep_the_facts_and_ask_what_is_happening(chat: Chat, bot):
    await chat.say("there is something on snapchat i need to tell someone about")
    assert chat.keys == ["report_concern.categories.ask"]
    await chat.pick("something_else")
    await chat.pick("no")
    assert chat.keys == ["report_concern.accounts.ask"]


async def test_the_safety_check_still_reads_the_first_message_first(chat: Chat, bot):
    await chat.say("a fake account of me on instagram and someone is in danger right now")
    assert chat.keys[0] != "report.understood"
    assert any(r.urgent for r in chat.last)
