"""The console channel saves a file the bot sends (a safeguarding record) privately, and says where."""

from __future__ import annotations

import io
import json
import stat

from bot.adapters.console import run_chat
from tests.conftest import Chat, walk


async def test_the_record_asked_for_in_the_console_is_saved_privately(bot, chat: Chat, report_steps, tmp_path):
    await walk(chat, report_steps + [["send"]])
    out = io.StringIO()
    await run_chat(bot, "console:dsl", True, tmp_path / "exports",
                   stdin=io.BytesIO(b"case:OSB-2026-0001:record\n"), stdout=out)
    turns = [json.loads(line) for line in out.getvalue().splitlines()]
    (message,) = [m for m in turns[-1]["messages"] if m["key"] == "case.record.ready"]
    path = tmp_path / "exports" / "OSB-2026-0001.pdf"
    assert message["file"] == {"name": "OSB-2026-0001.pdf", "media_type": "application/pdf", "path": str(path)}
    assert path.read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
