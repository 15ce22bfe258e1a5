"""The console channel: talk to the bot in a terminal, or drive it line by line from a script (--json).

It only translates: a typed line becomes a `Turn`, replies become printed text or one JSON line.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import re
import shlex
import sys
from pathlib import Path
from typing import IO, Any

from bot.conversation.engine import Engine
from bot.core.content import Content
from bot.core.models import Attachment, CaseCard, Reply, Turn
from bot.core.private import write_private


def save_files(replies: list[Reply], folder: Path) -> dict[int, Path]:
    """Files the bot sends (safeguarding records) are written where only this user can read them (0600 files in
    0700 folders the bot creates; see bot/core/private.py)."""
    saved = {}
    for n, reply in enumerate(replies):
        if reply.file:
            saved[n] = write_private(folder / Path(reply.file.name).name, reply.file.content)
    return saved


def to_turn(line: str, platform: str, user_id: str, school_id: str = "default", max_bytes: int | None = None) -> Turn:
    """A typed line as a turn. `/attach PATH` shares a file (one over `max_bytes` is not read); anything else is
    text."""
    stripped = line.strip()
    if stripped.startswith("/attach"):
        raw = stripped[len("/attach"):].strip()
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw]
        return Turn(platform=platform, user_id=user_id, conversation_id=user_id, files=True, school_id=school_id,
                    attachments=[describe_file(p, max_bytes) for p in parts]
                    or [Attachment(name="(no file named)", ref="", missing=True)])
    return Turn(platform=platform, user_id=user_id, conversation_id=user_id, text=line, files=True, school_id=school_id)


def describe_file(path_text: str, max_bytes: int | None = None) -> Attachment:
    """What the bot records of a local file: name, where it is, size and a checksum (never its bytes). A file
    over `max_bytes` is described by its size alone, without reading it: the report refuses it as too large."""
    path = Path(path_text).expanduser()
    try:
        resolved = path.resolve(strict=True)
        if not resolved.is_file():
            raise FileNotFoundError(path_text)
        size = resolved.stat().st_size
    except (OSError, RuntimeError):
        return Attachment(name=path.name or path_text, ref=path_text, missing=True)
    if max_bytes is not None and size > max_bytes:
        return Attachment(name=resolved.name, ref=resolved.as_uri(), size=size)
    digest = hashlib.sha256()
    with resolved.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Attachment(name=resolved.name, ref=resolved.as_uri(), size=size, sha256=digest.hexdigest(),
                      content_type=mimetypes.guess_type(resolved.name)[0])


def to_json(replies: list[Reply], saved: dict[int, Path] | None = None) -> str:
    messages = []
    for n, r in enumerate(replies):
        message: dict[str, Any] = {"key": r.key, "text": unescape(r.text),
                                   "choices": [c.model_dump() for c in r.choices]}
        if saved and n in saved and r.file is not None:  # saved holds only replies with a file
            message["file"] = {"name": r.file.name, "media_type": r.file.media_type, "path": str(saved[n])}
        if r.multiple:
            message["multiple"] = True
        if r.urgent:
            message["urgent"] = True
        if r.card:
            message["card"] = r.card.model_dump()
        if r.after_change:
            message["after_change"] = True
        messages.append(message)
    return json.dumps({"messages": messages}, ensure_ascii=False)


def unescape(text: str) -> str:
    """The bot's light markdown shows as it is in a terminal, less its escapes."""
    return re.sub(r"\\(.)", r"\1", text)


def to_text(replies: list[Reply], content: Content, bold: bool = False, saved: dict[int, Path] | None = None) -> str:
    """Replies for a person at a terminal; with `bold`, **bold** is shown in bold (ANSI)."""
    out = []
    for n, r in enumerate(replies):
        text = r.text.strip()
        if bold:
            text = re.sub(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", "\033[1m\\1\033[0m", text)
        out.append(unescape(text))
        if r.card:
            out.extend(card_lines(r.card, content, brief=r.after_change))
        if saved and n in saved:
            out.append("  " + unescape(content.text("console.file_saved", value=str(saved[n]))))
        for number, choice in enumerate(r.choices, start=1):
            out.append(f"  {number}. {choice.label}")
        if r.multiple:
            out.append("  " + content.text("console.pick_several"))
        out.append("")
    return "\n".join(out)


def card_lines(card: CaseCard, content: Content, brief: bool = False) -> list[str]:
    """A case card as a box of lines. `brief`, after a change the person has just made (the terminal cannot update
    the card shown before): its summary and what the reader must do alone, and how to see the whole card."""
    lines = [f"  ┌ {card.title} ({card.status})"]
    lines += [f"  │ {unescape(line.strip())}" for line in card.summary]
    lines += [f"  │ » {n.strip()}" for n in card.notice]
    if brief:
        return [*lines, "  └ " + content.text("console.whole_card")]
    lines += [f"  │ {label}: {value}" for label, value in card.fields]
    lines += [f"  │ ! {g.strip()}" for g in card.guidance]
    return [*lines, "  └"]


async def _read_line(stream: IO[bytes]) -> str | None:
    raw = await asyncio.get_running_loop().run_in_executor(None, stream.readline)
    if not raw:
        return None
    return raw.decode("utf-8", errors="replace").rstrip("\n")


async def run_chat(bot: Engine, user: str, as_json: bool, exports: Path, stdin: IO[bytes] | None = None,
                   stdout: IO[str] | None = None) -> None:
    """Chat until end of input. Files the bot sends are saved in `exports`."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    platform, _, user_id = user.partition(":")
    interactive = not as_json and stdin.isatty()

    def emit(replies: list[Reply]) -> None:
        saved = save_files(replies, exports)
        text = to_json(replies, saved) if as_json else to_text(replies, bot.content, bold=interactive, saved=saved)
        stdout.write(text + "\n")
        stdout.flush()

    school = bot.settings.school_id  # the command line's --school, or the only school
    emit(await bot.handle(Turn(platform=platform, user_id=user_id, conversation_id=user_id, kind="open", files=True,
                               school_id=school)))
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await _read_line(stdin)
        if line is None:
            break
        emit(await bot.handle(to_turn(line, platform, user_id, school, bot.settings.max_attachment_bytes)))
