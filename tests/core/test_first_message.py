"""The first message is the start of the report (issue 18): it starts one unless it clearly asks for something
else, pre-fills what it says, and the bot confirms rather than asks again."""

from __future__ import annotations

from datetime import date

import pytest

from bot.core.first_message import read_first_message, starts_a_report
from testing.chat import STANDARD_REPORT, Chat, walk

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


GREETINGS = ["hello", "hi there", "thanks", "hi sorry to bother u this late", "sorry to message so late, are you there",
             "um hi, i'm not sure if this is the right place"]


@pytest.mark.parametrize("text", GREETINGS)
def test_a_greeting_does_not_start_a_report(content, text):
    assert not starts_a_report(content, text, read(content, text))


@pytest.mark.parametrize("text", GREETINGS)
async def test_a_greeting_or_an_apology_is_answered_warmly_and_starts_nothing(chat: Chat, bot, text):
    await chat.say(text)
    assert chat.keys == ["common.listening", "menu.ask"]
    assert "You're not bothering anyone" in chat.text
    state = await bot.store.load_conversation(chat._turn().conversation_key)
    assert state.frames == [] and state.paused == []  # nothing started, so no greeting kept as a description


def test_a_handle_is_read_as_an_account_not_for_the_words_in_it(content):
    reading = read(content, "some yr 9s have made an insta page mocking me, its called @mr_davies_fanz")
    assert reading.answers["who_appears"] == ["me"]  # no "mr" from the handle: no other staff
    assert reading.answers["accounts"] == [{"kind": "handle", "value": "@mr_davies_fanz", "platform": None}]


FACTS = "some yr 9s have made an insta page mocking me, its called @mr_davies_fanz"


async def answers(bot, chat: Chat) -> dict:
    return (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers


async def test_after_a_greeting_the_next_message_is_read_as_the_first(chat: Chat, bot):
    await chat.say("hi sorry to bother u this late")
    await chat.say(FACTS)
    said = chat.reply("report.understood_kept")
    assert "an account targeting you on Instagram (@mr\\_davies\\_fanz), possibly made by learners" in said.text
    await chat.say("yes")
    await chat.say("no")
    assert chat.keys == ["report_concern.first_seen.ask"]  # where, the account and the description are kept
    told = await answers(bot, chat)
    assert told["categories"] == ["targeting_me"] and told["platforms"] == ["instagram"]
    assert told["accounts"] == [{"kind": "handle", "value": "@mr_davies_fanz", "platform": None}]
    assert told["description"] == FACTS and told["who_appears"] == ["me"] and told["behind_it"] == "learner"


async def test_at_what_is_happening_a_message_that_tells_more_is_read_as_a_first_message(chat: Chat, bot):
    await chat.say("report")
    assert chat.keys == ["report_concern.categories.ask"]
    await chat.say(FACTS)
    assert chat.keys == ["report.understood_kept"]
    await chat.say("yeah")
    await chat.say("no")
    assert chat.keys == ["report_concern.first_seen.ask"]
    told = await answers(bot, chat)
    assert told["platforms"] == ["instagram"] and told["accounts"][0]["value"] == "@mr_davies_fanz"
    assert told["description"] == FACTS


async def test_at_where_a_message_that_tells_more_fills_the_report_and_asks_only_what_is_missing(chat: Chat, bot):
    await walk(chat, ["report", ["targeting_me"], ["no"]])
    assert chat.keys == ["report_concern.platforms.ask"]
    await chat.say(FACTS)
    assert chat.keys == ["report.understood_more", "report_concern.first_seen.ask"]
    assert "Instagram (@mr\\_davies\\_fanz)" in chat.reply("report.understood_more").text
    told = await answers(bot, chat)
    assert told["categories"] == ["targeting_me"] and told["platforms"] == ["instagram"]
    assert told["accounts"][0]["value"] == "@mr_davies_fanz" and told["description"] == FACTS
    await walk(chat, ["last week"])
    assert chat.keys == ["report_concern.names.ask"]  # who appears (me) was said too: not asked


async def test_at_who_appears_a_handle_said_late_is_kept_and_the_question_asked_again(chat: Chat, bot):
    await walk(chat, ["report", ["targeting_me"], ["no"], ["tiktok"], "skip", "skip",
                      "they keep posting videos of me"])
    assert chat.keys == ["report_concern.who_appears.ask"]
    await chat.say("its on insta as well, its called @mr_davies_fanz")
    assert chat.keys == ["report.understood_more", "report_concern.who_appears.ask"]
    told = await answers(bot, chat)
    assert told["accounts"][0]["value"] == "@mr_davies_fanz"
    assert told["platforms"] == ["tiktok"] and told["description"] == "they keep posting videos of me"


async def test_an_ordinary_answer_at_an_early_question_is_just_the_answer(chat: Chat, bot):
    await walk(chat, ["report", "mocking me", ["no"], "insta i think"])
    assert chat.keys == ["report_concern.accounts.ask"]


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


async def test_a_category_alone_is_said_back_with_the_question_and_yes_takes_it(chat: Chat, bot):
    await chat.say("I'm being targeted")
    assert chat.keys == ["report_concern.categories.ask"]  # one message: the question and what it was told
    assert "it sounds like **an account targeting you**" in chat.text
    assert chat.choice_ids()[-1] == "yes"
    await chat.say("yes")
    assert chat.keys == ["report_concern.images.ask"]
    assert (await answers(bot, chat))["categories"] == ["targeting_me"]


async def test_a_category_alone_can_still_be_corrected_by_picking(chat: Chat, bot):
    await walk(chat, ["I'm being targeted", ["targeting_staff"]])
    assert chat.keys == ["report_concern.images.ask"]
    assert (await answers(bot, chat))["categories"] == ["targeting_staff"]


async def test_fake_account_asks_only_whose_it_is(chat: Chat, bot):
    await chat.say("fake account")
    assert chat.keys == ["report_concern.categories.ask"]
    assert ("is it **an account pretending to be the school, an account targeting you or an account targeting "
            "other staff**?") in chat.text
    await chat.say("me")
    assert chat.keys == ["report_concern.images.ask"]
    assert (await answers(bot, chat))["categories"] == ["targeting_me"]


def test_fake_account_of_me_is_about_me(content):
    assert read(content, "fake account of me").answers["categories"] == ["targeting_me"]
    assert sorted(read(content, "fake account").unsure) == ["school_impersonation", "targeting_me", "targeting_staff"]
    assert read(content, "a fake page pretending to be the school").answers["categories"] == ["school_impersonation"]


async def test_a_feeling_message_is_read_once(chat: Chat, monkeypatch):
    from bot.conversation import engine

    calls = []

    def counted(*args, **kwargs):
        calls.append(args[1])
        return read_first_message(*args, **kwargs)

    monkeypatch.setattr(engine, "read_first_message", counted)
    await chat.say("someone made a fake instagram of me and im really upset")
    assert chat.keys[0] == "support.feeling_heard" and "report.understood" in chat.keys[-1]
    assert len(calls) == 1


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


async def test_why_they_may_be_behind_it_says_who_the_first_message_named(chat: Chat):
    await walk(chat, [FACTS, "yes", "no", "last week", "no", "no", "no"])
    assert chat.keys == ["report_concern.behind_it_detail.ask"]
    assert chat.text.startswith("You said who may be behind it: **Possibly a learner or learners**.")


async def test_why_they_may_be_behind_it_is_asked_plainly_when_they_answered_who(chat: Chat):
    await walk(chat, STANDARD_REPORT[:12])
    await chat.pick("learner")
    assert chat.keys == ["report_concern.behind_it_detail.ask"]
    assert chat.text.startswith("**What makes you think so?**")
