"""Engine-wide guarantees: one turn at a time per conversation, kind failure, every key worded, the README true."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot.conversation.engine import Engine
from bot.core.models import Turn
from bot.store import StoreError
from testing.chat import Chat, walk

ROOT = Path(__file__).resolve().parents[2]


async def test_concurrent_presses_of_send_open_one_case(chat: Chat, bot, report_steps):
    await walk(chat, report_steps)
    turn = chat._turn(choices=["send"])
    results = await asyncio.gather(*(bot.handle(turn) for _ in range(5)))
    sent = [r for replies in results for r in replies if r.key == "report.sent"]
    assert len(sent) == 1
    assert len(await bot.store.list_cases("default")) == 1


class FailingSaves:
    """Wraps a store so that saving a conversation fails, as on a full disk."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def save_conversation(self, *args, **kwargs):
        raise StoreError("database or disk is full")


async def test_a_store_failure_gets_a_kind_reply_and_loses_the_earlier_answers_of_nothing(
    content, settings, clock, staffed, report_steps, caplog
):
    good = Chat(Engine(content, staffed, settings, clock=clock))
    await walk(good, report_steps[:4])
    failing = Chat(Engine(content, FailingSaves(staffed), settings, clock=clock))
    await failing.say("@secret_handle_123")
    assert failing.keys == ["common.store_error"]
    assert "secret_handle_123" not in caplog.text
    await good.say("@secret_handle_123")  # the conversation is still at the same question
    assert good.keys == ["report_concern.first_seen.ask"]


def test_every_message_key_the_code_uses_is_worded_in_content(content):
    used: set[str] = set()
    # Every key the code looks wording up by (say, text, choice); a Reply's own key may also name a composite reply.
    pattern = re.compile(r'(?:say|text|choice)\(\s*(?:"[^"]*",\s*)?"([a-z_]+\.[a-z_.]+)"')
    for path in (ROOT / "bot").rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            used.add(match.group(1))
    assert len(used) > 40
    step_keys = {f"{f.id}.{s.id}.{part}" for f in content.flows.values() for s in f.steps for part in ("ask", "help")}
    missing = sorted(k for k in used if k not in content.messages and k not in step_keys)
    assert missing == []


def test_no_platform_sdk_is_imported_outside_the_adapters():
    for path in (ROOT / "bot").rglob("*.py"):
        if "channels" in path.parts:
            continue
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(slack_bolt|slack_sdk|microsoft_agents|botbuilder)", source, re.M), (
            path
        )


def test_ci_runs_the_test_command_the_readme_gives():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme


async def test_what_a_user_typed_is_escaped_so_it_cannot_become_markup(chat: Chat, report_steps):
    """User text reaches every reply escaped in the bot's light markdown: no link, mention or bold survives."""
    await walk(chat, report_steps[:6])
    await chat.say("<!channel> @here [click](https://evil.example) *bold*")
    await walk(chat, [["me"], "skip", ["done"], ["nobody"], ["no_idea"]])
    summary = chat.reply("report_concern.summary.ask").text
    assert r"\<!channel\> @here \[click\](https\://evil.example) \*bold\*" in summary
    assert "**What it shows or says:**" in summary  # the bot's own markup is kept


def test_turn_keys_keep_conversations_apart():
    a = Turn(platform="slack", user_id="U1", conversation_id="D1", school_id="one")
    b = Turn(platform="slack", user_id="U1", conversation_id="D1", school_id="two")
    assert a.conversation_key != b.conversation_key


async def test_a_menu_button_from_an_old_message_still_works_mid_flow(chat: Chat, report_steps):
    await walk(chat, report_steps[:3])
    await chat.pick("menu:get_support", answering="menu")
    assert chat.keys[-1] == "get_support.topic.ask"
    await chat.pick("finished")
    assert chat.keys == ["support.bye", "common.carry_on", "report_concern.platforms.ask"]


async def test_an_unexpected_error_is_answered_kindly_and_logs_no_content(
    chat: Chat, bot, report_steps, caplog, monkeypatch
):
    await walk(chat, report_steps[:6])

    async def broken(*args, **kwargs):
        raise KeyError("Mocking posts using my photo")

    monkeypatch.setattr(bot.dialogs["report_concern"], "answer_text", broken)
    await chat.say("Mocking posts using my photo")
    assert chat.keys == ["common.store_error"]
    assert "KeyError" in caplog.text and "Mocking posts" not in caplog.text
    monkeypatch.undo()
    await chat.say("Mocking posts using my photo")  # nothing was half-saved: the same question takes the answer
    assert chat.keys == ["report_concern.who_appears.ask"]
