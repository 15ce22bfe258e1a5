"""The console cannot update a card in place: after a change (acknowledged, a note added) it prints the
confirmation and the card's summary with its buttons, not the whole card again, which stays a "show" away."""

from __future__ import annotations

import io
import json

from bot.channels.console import run_chat
from testing.chat import Chat, walk

REF = "OSB-2026-0001"


class Terminal(io.StringIO):
    """What the console printed, one entry a turn (it writes each turn's replies at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[str] = []

    def write(self, text: str) -> int:
        self.turns.append(text)
        return len(text)


async def console(bot, tmp_path, *lines: str, as_json: bool = False) -> list[str]:
    """What the DSL's terminal shows for each typed line (the chat's opening first)."""
    out = Terminal()
    await run_chat(bot, "console:dsl", as_json, tmp_path / "exports",
                   stdin=io.BytesIO("".join(f"{line}\n" for line in lines).encode()), stdout=out)
    assert len(out.turns) == len(lines) + 1
    return out.turns


async def test_after_a_change_the_console_shows_the_cards_summary_not_the_whole_card(bot, chat: Chat, report_steps,
                                                                                   tmp_path):
    await walk(chat, report_steps + [["send"]])
    _, opened, acknowledged, shown = await console(bot, tmp_path, f"case:{REF}:show", "acknowledge", "show")
    assert "Reported by: Jo Brown" in opened and "Acknowledge" in opened
    assert f"You've acknowledged {REF}" in acknowledged
    assert f"Case {REF} (Acknowledged)" in acknowledged and "Due next:" in acknowledged
    assert 'type "show" for the whole card' in acknowledged
    assert "Mark urgent" in acknowledged and "Close with outcome" in acknowledged  # its buttons, numbered
    assert "Reported by" not in acknowledged and "Don't contact the account holder" not in acknowledged
    assert "Reported by: Jo Brown" in shown and "Don't contact the account holder" in shown
    assert 'type "show"' not in shown


async def test_the_json_console_says_which_card_follows_a_change(bot, chat: Chat, report_steps, tmp_path):
    await walk(chat, report_steps + [["send"]])
    turns = await console(bot, tmp_path, f"case:{REF}:show", "acknowledge", as_json=True)
    opened, acknowledged = (json.loads(t)["messages"] for t in turns[1:])
    assert "after_change" not in opened[0]
    assert acknowledged[0]["key"] == "case.acknowledged" and acknowledged[0]["after_change"] is True
    assert acknowledged[0]["card"]["fields"]  # the whole card is still there for a script


async def test_a_channel_that_updates_cards_in_place_gets_the_line_alone(bot, chat: Chat, report_steps):
    await walk(chat, report_steps + [["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:show", updates_cards=True)
    await dsl.pick(f"case:{REF}:ack", updates_cards=True)
    assert dsl.keys == ["case.acknowledged"] and dsl.last[0].card is None
