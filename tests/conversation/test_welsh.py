"""A message in Welsh gets a short bilingual reply, Welsh first, that says what the bot can do and how to reach
the DSL; English is never mistaken for Welsh. The Welsh is marked in content as needing a Welsh speaker's review."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.welsh import looks_welsh
from bot.core.content import DEFAULT_CONTENT_DIR
from testing.chat import Chat, walk
from tests.process.test_cli import chat_json, keys, message

WELSH = [
    "helo",
    "Helo!",
    "Bore da",
    "diolch",
    "Mae rhywun yn fy nhargedu",
    "mae cyfrif ffug am ein ysgol ni",
    "Shwmae, dw i angen help",
    "Oes modd siarad yn Gymraeg?",
]
ENGLISH = [
    "I'm being targeted",
    "hello",
    "some kids made a page about me on tiktok i think",
    "I am worried about a fake account",
    "Mae West quote page",  # one Welsh-looking word in an English message is not enough
    "report",
    "my cases",
]


@pytest.mark.parametrize("text", WELSH)
def test_common_welsh_words_and_greetings_are_recognised(content, text):
    assert looks_welsh(text, content.phrases.welsh)


@pytest.mark.parametrize("text", ENGLISH)
def test_english_is_not_taken_for_welsh(content, text):
    assert not looks_welsh(text, content.phrases.welsh)


def test_the_welsh_is_marked_for_review_by_a_welsh_speaker(content):
    assert content.phrases.welsh.review == "needs Welsh speaker"
    words = (Path(DEFAULT_CONTENT_DIR) / "messages" / "welsh.yaml").read_text(encoding="utf-8")
    assert "review: needs Welsh speaker" in words


async def test_a_welsh_message_gets_the_bilingual_reply_welsh_first_with_the_dsl(chat: Chat):
    await chat.say("Mae rhywun yn fy nhargedu")
    assert chat.keys == ["welsh.reply", "menu.ask"]
    text = chat.reply("welsh.reply").text
    assert text.index("Helo") < text.index("Hello")
    assert "Hillside Academy" in text
    assert "Dana Lee" in text and "Sam Patel" in text  # how to reach the DSL, in both languages
    assert text.count("999") == 2
    assert "Sorry, I'm not sure" not in chat.text


async def test_without_a_staff_list_the_reply_still_says_who_to_go_to(content, store, settings, clock):
    from bot.conversation.engine import Engine

    chat = Chat(Engine(content, store, settings, clock=clock))
    await chat.say("helo")
    assert "person diogelu dynodedig" in chat.reply("welsh.reply").text


async def test_welsh_inside_a_report_is_kept_as_the_answer_with_the_bilingual_reply(chat: Chat, bot, report_steps):
    await walk(chat, report_steps[:6])
    await chat.say("Mae rhywun yn postio lluniau ohona i")
    assert chat.keys == ["welsh.reply", "report_concern.who_appears.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["description"] == "Mae rhywun yn postio lluniau ohona i"


async def test_welsh_at_a_question_with_options_gets_the_reply_and_the_same_question(chat: Chat, bot):
    await chat.say("I'm being targeted")
    await chat.pick("targeting_me")
    await chat.say("Shwmae, dw i angen help")
    assert chat.keys == ["welsh.reply", "report_concern.images.ask"]  # the report keeps its place
    await chat.say("no")
    assert chat.keys == ["report_concern.platforms.ask"]


def test_welsh_through_the_command_line(tmp_path):
    turns = chat_json(tmp_path / "bot.db", ["Bore da", "diolch"])
    assert keys(turns[1]) == ["welsh.reply", "menu.ask"]
    assert "Hello" in message(turns[1], "welsh.reply")["text"]
    assert keys(turns[2]) == ["welsh.reply", "menu.ask"]
