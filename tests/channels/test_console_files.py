"""The console channel saves a file the bot sends (a safeguarding record) privately, and says where."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

from bot.channels.console import run_chat, to_turn
from testing.chat import Chat, walk


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


async def test_attach_refuses_a_file_over_the_limit_without_reading_it(bot, chat: Chat, report_steps, tmp_path,
                                                                        monkeypatch):
    huge = tmp_path / "huge.mov"
    with huge.open("wb") as handle:  # sparse: 30 MB that take no disk
        handle.truncate(30 * 1024 * 1024)
    await walk(chat, report_steps[:9])
    assert chat.keys == ["report_concern.evidence.ask"]

    def never(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", never)
    turn = to_turn(f"/attach {huge}", "console", "teacher", max_bytes=bot.settings.max_attachment_bytes)
    (attachment,) = turn.attachments
    assert (attachment.size, attachment.sha256) == (30 * 1024 * 1024, None)
    await chat.attach(attachment)
    assert chat.keys[0] == "common.file_too_large"
