"""`online-safety-bot serve` as a real process, for the tests that need one: started on a free loopback port with
Slack pointed at a fake Web API and Teams at a fake connector, killed with SIGKILL, started again on the same
database. `HttpClient` lets the Slack and Teams harnesses drive it as they drive the in-process server, and
`SlackPerson` / `TeamsPerson` walk a report through either channel, one message per step."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.models import Role, StaffMember
from bot.store import SQLiteStore
from testing.chat import STANDARD_REPORT
from testing.keys import TEST_RECORD_KEY_HEX
from testing.slack_harness import SECRET, SlackHarness
from testing.teams_harness import TeamsHarness, card_of

ROOT = Path(__file__).resolve().parents[1]

# A whole report, up to and including pressing Send on its summary; each step brings exactly one message.
FULL_REPORT: list[str | list[str]] = [*STANDARD_REPORT, ["send"]]
REFERENCE = re.compile(r"OSB-\d{4}-\d{4}")


def reference_in(message: dict[str, Any]) -> str:
    """The case reference a message gives (the reply to Send, a case card)."""
    found = REFERENCE.search(json.dumps(message))
    assert found, json.dumps(message)[:500]
    return found.group(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(slack_api_url: str | None = None, teams: bool = False) -> dict[str, str]:
    """The environment for `serve`: this one without any bot setting, plus Slack at a fake Web API and/or Teams
    in anonymous local mode (its replies go to each activity's serviceUrl: a fake connector)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_", "CONNECTIONS__", "TEAMS_"))}
    if slack_api_url:
        env.update(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api_url)
    if teams:
        env["TEAMS_ALLOW_ANONYMOUS"] = "true"
    return env


async def add_staff(db: Path, members: list[tuple[str, Role, str]]) -> None:
    """Write the staff directory before the server starts (as `online-safety-bot staff add` would)."""
    store = SQLiteStore(db)
    await store.open()
    try:
        for user, role, name in members:
            await store.upsert_staff(StaffMember(user=user, role=role, name=name))
    finally:
        await store.close()


def read_db(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the server's database, read as an operator would, through a read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class ServerProcess:
    """`python -m bot serve` on a fixed loopback port and database; its log goes to a file beside the database."""

    def __init__(self, db: Path | str, env: dict[str, str], log: Path | None = None):
        """`db`: a SQLite file (the log goes beside it) or a postgresql:// URL (then give `log`)."""
        self.db = db
        # PostgreSQL keeps no record-key file: each process is given the same key (as in production).
        self.env = {**env, "OSB_RECORD_KEY": TEST_RECORD_KEY_HEX} if str(db).startswith("postgres") else env
        self.port = free_port()
        self.log = log or Path(db).with_suffix(".log")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> dict[str, Any]:
        """Start it and wait until /healthz answers; returns what /healthz said."""
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--db", str(self.db),
                cwd=ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        return await response.json()
                except aiohttp.ClientError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise AssertionError(f"serve did not start:\n{self.log_tail()}") from None
                    await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, whatever it was doing."""
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class HttpClient:
    """What the harnesses use of aiohttp's TestClient (`post(path, ...)`), for a server in another process.
    Each response's body is read before it is returned, so it can be looked at after."""

    def __init__(self, base_url: str, connections: int = 100):
        self.base_url = base_url
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        async with self.session.post(self.base_url + path, **kwargs) as response:
            await response.read()
            return response

    async def close(self) -> None:
        await self.session.close()


# --- people walking a report through a channel -------------------------------------------------


class SlackPerson:
    """Someone in Slack: typed answers as DMs, choices by pressing the buttons on the bot's last message (ticking
    the boxes first where it asks for several)."""

    def __init__(self, slack: SlackHarness, user: str, timeout: float = 10.0):
        self.slack = slack
        self.user = user
        self.channel = f"D{user}"
        self.timeout = timeout
        self.last: dict[str, Any] | None = None

    async def answer(self, step: str | list[str]) -> dict[str, Any]:
        """Send one step and return the one message it brings."""
        before = len(self.slack.api.delivered_to(self.channel))
        if isinstance(step, str):
            response = await self.slack.dm(self.user, step)
        elif self.last is None:
            raise AssertionError(f"nothing to press {step} on yet")
        elif any(e.get("type") == "checkboxes" for b in self.last["blocks"] for e in b.get("elements", [])):
            response = await self.slack.tick_and_continue(self.user, self.last, step)
        else:
            response = await self.slack.click(self.user, self.last, step[0])
        assert response.status == 200, (response.status, await response.text())
        self.last = (await self.slack.api.wait_delivered(self.channel, before + 1, self.timeout))[before]
        return self.last

    async def walk(self, steps: list[str | list[str]]) -> dict[str, Any]:
        for step in steps:
            await self.answer(step)
        assert self.last is not None
        return self.last


class TeamsPerson:
    """Someone in Teams: typed answers as messages, choices by pressing the buttons on the bot's last card (ticking
    the boxes first where it asks for several). Teams waits for the whole turn, so its reply is there at once."""

    def __init__(self, teams: TeamsHarness, user: str):
        self.teams = teams
        self.user = user
        self.last: dict[str, Any] | None = None

    async def answer(self, step: str | list[str]) -> dict[str, Any]:
        if isinstance(step, str):
            sent = await self.teams.say(self.user, step)
        elif self.last is None:
            raise AssertionError(f"nothing to press {step} on yet")
        elif any(e["type"] == "Input.ChoiceSet" for e in card_of(self.last)["body"]):
            sent = await self.teams.tick(self.user, self.last, step)
        else:
            sent = await self.teams.press(self.user, self.last, step[0])
        assert len(sent) == 1, [json.dumps(s)[:200] for s in sent]
        self.last = sent[0]
        return self.last

    async def walk(self, steps: list[str | list[str]]) -> dict[str, Any]:
        for step in steps:
            await self.answer(step)
        assert self.last is not None
        return self.last
