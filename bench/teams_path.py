"""The Teams path: a bare Microsoft 365 Agents SDK echo bot against our server doing full report turns, each in
its own process, driven with activities as Teams sends them; replies arrive at the tests' fake Bot Framework
connector, which runs here with the load generator.

Both run in the SDK's anonymous mode (no Bot Framework token on requests or replies): a real token check needs
Microsoft's signing keys and token service, which a benchmark on loopback cannot reach, and in production mode
our server only sends to Microsoft's hosts. So the JWT check's cost is left out on both sides alike.

As on Slack, each conversation walks the whole report by chat and card buttons, sends it, and starts again;
the DSL and deputy have the bot installed, so every case reaches them proactively as a card: checked at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.load import (
    FULL,
    QUICK,
    Mailboxes,
    Plan,
    ScriptedConversation,
    Server,
    cards_delivered,
    clean_env,
    compare,
    end_checks,
    seed_staff,
    summarise,
)
from testing.fakes.connector import FakeConnector
from testing.server_process import HttpClient
from testing.teams_harness import TeamsHarness, card_of

HANDLERS = {"d5100000-0000-4000-8000-000000000001": ("dsl", "Dana Lee"),
            "d5200000-0000-4000-8000-000000000002": ("deputy_dsl", "Sam Patel")}
DESCRIPTION = (
    "Bare: an Agents SDK agent behind `CloudAdapter` that answers each message with its text (the SDK's defaults: "
    "a new connector client and connection per turn); pooled: the same echo as production would run it, its "
    "connector clients kept between turns, on uvloop, the plumbing ours has. Ours: "
    "`online-safety-bot serve` doing a full report turn (de-duplication, per-conversation lock, engine, SQLite "
    "write, Adaptive Card reply; card buttons also update the answered card) through the whole report, each report "
    "sent and its case card delivered proactively to the DSL and deputy. Both in the SDK's anonymous mode (no Bot "
    "Framework token checked or sent, on either side: a real check needs Microsoft's keys). A turn's latency runs "
    "from posting the activity to its reply reaching the fake connector.")


class BenchConnector(FakeConnector):
    """The tests' fake connector, also handing each posted activity to the conversation waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.mail = Mailboxes()

    async def _activity(self, request: web.Request) -> web.Response:
        response = await super()._activity(request)
        self.calls.clear()  # nothing reads them here, and a long run would keep every body
        if request.method == "POST" and response.status == 201:
            activity = await request.json()  # aiohttp keeps the body it read
            activity["id"] = json.loads(response.body)["id"]
            self.mail.arrived(request.match_info["conversation"], activity)
        return response


class BenchTeamsHarness(TeamsHarness):
    """The tests' activity builder, sending only: replies are awaited from the connector's mailboxes."""

    async def send(self, user: str, activity: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.post(activity)
        if response.status not in (200, 202):
            raise AssertionError(f"the server answered {response.status}")
        return []


class TeamsConversation(ScriptedConversation):
    """A personal chat with the bot: messages as Teams sends them, card buttons and ticked boxes as submits."""

    def __init__(self, harness: BenchTeamsHarness, mail: Mailboxes, user: str, report: bool):
        super().__init__(mail, harness.conversation(user), report)
        self.harness, self.user = harness, user

    async def say(self, text: str) -> None:
        await self.harness.say(self.user, text)

    async def answer(self, step: str | list[str]) -> None:
        if isinstance(step, str):
            await self.harness.say(self.user, step)
        elif any(e.get("type") == "Input.ChoiceSet" for e in card_of(self.last)["body"]):
            await self.harness.tick(self.user, self.last, step)
        else:
            await self.harness.press(self.user, self.last, step[0])


class TeamsTarget:
    def __init__(self, ours: bool, workdir: Path, pooled: bool = False):
        self.ours = ours
        self.name = "ours" if ours else "pooled" if pooled else "bare"
        self.db = workdir / f"teams-{self.name}.db"
        self.connector = BenchConnector()
        self.people: list[TeamsConversation] = []
        self._levels = itertools.count(1)
        self._greetings: dict[str, int] = {}
        args = (["-m", "bot", "serve", "--db", str(self.db)] if ours
                else ["-m", "bench.bare_agents", *(["--pooled"] if pooled else [])])
        self.server = Server(args, clean_env(TEAMS_ALLOW_ANONYMOUS="true"), workdir / f"teams-{self.name}.log")

    async def start(self) -> None:
        await self.connector.start()
        if self.ours:
            await seed_staff(self.db, {f"teams:{u}": r for u, r in HANDLERS.items()})
        await self.server.start()
        self.http = HttpClient(self.server.url, connections=0)
        self.harness = BenchTeamsHarness(self.http, None, self.connector)
        if self.ours:  # the DSL and deputy add the bot, so their cases reach them (its greeting is counted out)
            for user in HANDLERS:
                await self.harness.install(user)
                await self.connector.mail.next(self.harness.conversation(user))
                self._greetings[user] = self.connector.mail.counts[self.harness.conversation(user)]

    def conversations(self, n: int) -> list[TeamsConversation]:
        level = next(self._levels)
        users = [f"{level:02d}{i:06d}-0000-4000-8000-000000000000" for i in range(n)]
        people = [TeamsConversation(self.harness, self.connector.mail, u, self.ours) for u in users]
        self.people += people
        return people

    def unexpected(self, conversations: list[TeamsConversation]) -> int:
        return self.connector.mail.unexpected([c.key for c in conversations])

    def _cards(self) -> dict[str, int]:
        counts = self.connector.mail.counts
        return {u: counts.get(self.harness.conversation(u), 0) - n for u, n in self._greetings.items()}

    async def finish(self) -> dict[str, Any]:
        reports = sum(p.reports for p in self.people)
        delivery = await cards_delivered(self._cards, reports) if self.ours and self._greetings else None
        if hasattr(self, "http"):
            await self.http.close()
        self.server.stop()
        await self.connector.close()
        cards = self._cards() if self._greetings else {}
        return await end_checks(self.server, self.db if self.ours else None, reports, cards if self.ours else None,
                                delivery)


async def measure(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="osb-bench-teams-") as tmp:
        workdir = Path(tmp)
        return await compare({"bare": TeamsTarget(False, workdir), "pooled": TeamsTarget(False, workdir, pooled=True),
                              "ours": TeamsTarget(True, workdir)}, plan)


def run(quick: bool, plan: Plan | None = None) -> dict[str, Any]:
    return summarise(asyncio.run(measure(plan or (QUICK if quick else FULL))),
                     "Teams: bare Agents SDK echo vs our full report turn", "bare Agents SDK echo", DESCRIPTION)
