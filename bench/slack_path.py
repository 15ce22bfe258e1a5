"""The Slack path: a bare slack-bolt echo (the floor any Bolt app pays) against our server doing full report
turns, each in its own process, driven with real signed requests; replies arrive at the tests' fake Web API,
which runs here with the load generator.

Our server is `online-safety-bot serve` itself, on a fresh SQLite database with a DSL and a deputy in the
staff directory. Each conversation walks the whole report (the tests' STANDARD_REPORT; buttons pressed as
Slack sends block_actions), sends it, and starts again. Every report must open a case and put a case card in
the DSL's and the deputy's DMs: that is checked at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import tempfile
from pathlib import Path
from typing import Any

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
from testing.fakes.slack_api import FakeSlackApi
from testing.server_process import HttpClient
from testing.slack_harness import SECRET, SlackHarness, find_button

TOKEN = "xoxb-bench-token"
HANDLERS = {"UDSL": ("dsl", "Dana Lee"), "UDEPUTY": ("deputy_dsl", "Sam Patel")}
DESCRIPTION = (
    "Bare: a slack-bolt `AsyncApp` that acks a DM event and echoes it with `chat.postMessage` (slack-sdk's "
    "defaults: a new connection per call); pooled: the same echo as production would run it, with one pooled Web "
    "API session, orjson bodies and uvloop, the plumbing ours has. Ours: `online-safety-bot serve` doing a full "
    "report turn: signature check, de-duplication, "
    "per-conversation lock, engine, SQLite write, reply; DMs and button presses (`block_actions`, which also update "
    "the answered message) in the order of a real report, each report sent, opening a case whose card goes to the "
    "DSL and deputy. A turn's latency runs from sending the signed request to its reply reaching the fake Web API.")


class BenchSlackApi(FakeSlackApi):
    """The tests' fake Web API, also handing each posted message to the conversation waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.mail = Mailboxes()

    def _answer(self, method: str, body: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = super()._answer(method, body, *args, **kwargs)
        if method == "chat.postMessage":
            self.mail.arrived(body["channel"], body)
        self.calls.clear()  # nothing reads them here, and a long run would keep every body
        return answer


class SlackConversation(ScriptedConversation):
    """A DM with the bot: messages as Events API events, buttons and ticked boxes as block_actions."""

    def __init__(self, harness: SlackHarness, mail: Mailboxes, user: str, report: bool):
        super().__init__(mail, f"D{user}", report)
        self.harness, self.user = harness, user

    async def say(self, text: str) -> None:
        self._ok(await self.harness.dm(self.user, text))

    async def answer(self, step: str | list[str]) -> None:
        if isinstance(step, str):
            response = await self.harness.dm(self.user, step)
        elif any(e.get("type") == "checkboxes" for b in self.last["blocks"] for e in b.get("elements", [])):
            response = await self.harness.tick_and_continue(self.user, self.last, step)
        else:
            block, element = find_button(self.last, step[0])
            response = await self.harness.interaction(self.harness.block_actions(self.user, self.last, block, element))
        self._ok(response)

    @staticmethod
    def _ok(response) -> None:
        if response.status != 200:
            raise AssertionError(f"the server answered {response.status}")


class SlackTarget:
    """A Slack server under test: the bare Bolt echo, or ours (`profile_to`: ours under pyinstrument)."""

    def __init__(self, ours: bool, workdir: Path, profile_to: Path | None = None, profile_after: float = 0.0,
                 pooled: bool = False):
        self.ours, self.profile_to, self.profile_after = ours, profile_to, profile_after
        self.name = "ours" if ours else "pooled" if pooled else "bare"
        self.db = workdir / f"slack-{self.name}.db"
        self.api = BenchSlackApi()
        self.people: list[SlackConversation] = []
        self._levels = itertools.count(1)
        if not ours:
            args = ["-m", "bench.bare_bolt", *(["--pooled"] if pooled else [])]
        elif profile_to:
            args = ["-m", "bench.hot_path", "--out", str(profile_to), "serve", "--db", str(self.db)]
        else:
            args = ["-m", "bot", "serve", "--db", str(self.db)]
        self.server = Server(args, {}, workdir / f"slack-{self.name}.log")

    async def start(self) -> None:
        await self.api.start()
        self.server.env = clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=self.api.url)
        if self.ours:
            await seed_staff(self.db, {f"slack:{u}": r for u, r in HANDLERS.items()})
        await self.server.start()
        self.http = HttpClient(self.server.url, connections=0)
        self.harness = SlackHarness(self.http, None, self.api)  # the tests' request builder and signer

    def conversations(self, n: int) -> list[SlackConversation]:
        level = next(self._levels)
        if self.profile_to and level == 1:  # sample the first level's measured window only
            asyncio.get_running_loop().call_later(self.profile_after, self.server.signal, signal.SIGUSR1)
        people = [SlackConversation(self.harness, self.api.mail, f"UL{level}C{i}", self.ours) for i in range(n)]
        self.people += people
        return people

    def unexpected(self, conversations: list[SlackConversation]) -> int:
        return self.api.mail.unexpected([c.key for c in conversations])

    def _cards(self) -> dict[str, int]:
        return {u: self.api.mail.counts.get(f"D{u}", 0) for u in HANDLERS}

    async def finish(self) -> dict[str, Any]:
        reports = sum(p.reports for p in self.people)
        delivery = await cards_delivered(self._cards, reports) if self.ours else None
        if hasattr(self, "http"):
            await self.http.close()
        self.server.stop(signal.SIGINT if self.profile_to else None)
        await self.api.close()
        return await end_checks(self.server, self.db if self.ours else None, reports,
                                self._cards() if self.ours else None, delivery)


async def measure(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="osb-bench-slack-") as tmp:
        workdir = Path(tmp)
        return await compare({"bare": SlackTarget(False, workdir), "pooled": SlackTarget(False, workdir, pooled=True),
                              "ours": SlackTarget(True, workdir)}, plan)


def run(quick: bool, plan: Plan | None = None) -> dict[str, Any]:
    return summarise(asyncio.run(measure(plan or (QUICK if quick else FULL))),
                     "Slack: bare Bolt echo vs our full report turn", "bare Bolt echo", DESCRIPTION)


def profile(out: Path, plan: Plan) -> dict[str, Any]:
    """Our server under pyinstrument at the plan's (first) level; the profile's text and digest go to `out`."""

    async def measure_profiled() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="osb-bench-profile-") as tmp:
            target = SlackTarget(True, Path(tmp), profile_to=out, profile_after=plan.warmup)
            return await compare({"ours": target}, plan)

    return asyncio.run(measure_profiled())
