"""Scale-out: the Slack report-turn workload (bench/slack_path.py) on one process with SQLite, one process with
PostgreSQL, and two processes sharing one PostgreSQL database behind a round-robin "load balancer" (each request
to the next process, as a balancer without sticky sessions does: a person's turns land on either).

PostgreSQL comes from OSB_BENCH_POSTGRES_URL, else OSB_TEST_POSTGRES_URL, else the project machines' default
(postgresql://postgres@127.0.0.1:5432/test); each run uses a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import FULL, QUICK, Plan, Server, clean_env, compare, problems
from bench.slack_path import HANDLERS, TOKEN, BenchSlackApi, SlackConversation, SlackTarget
from testing.slack_harness import SECRET, SlackHarness

POSTGRES_URL = (os.environ.get("OSB_BENCH_POSTGRES_URL") or os.environ.get("OSB_TEST_POSTGRES_URL")
                or "postgresql://postgres@127.0.0.1:5432/test")
RECORD_KEY = bytes(range(32))  # the servers and the bench's own store share it: cases are sealed with it
# Flat out at 20 and 100 conversations, and 100 pausing ~1 s between turns.
PLAN = Plan(levels=(20, 100), warmup=FULL.warmup, seconds=FULL.seconds, paced=(100,), think=1.0)


class Servers:
    """Several `serve` processes on one database, measured together (CPU summed, logs joined)."""

    def __init__(self, servers: list[Server]):
        self.servers = servers

    async def start(self) -> None:
        await asyncio.gather(*(s.start() for s in self.servers))

    def stop(self, sig: int | None = None) -> None:
        for s in self.servers:
            s.stop(sig)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    def log_lines(self, level: str) -> list[str]:
        return [line for s in self.servers for line in s.log_lines(level)]


class RoundRobin:
    """Each request to the next process in turn."""

    def __init__(self, urls: list[str]):
        self.urls = itertools.cycle(urls)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        async with self.session.post(next(self.urls) + path, **kwargs) as response:
            await response.read()
            return response

    async def close(self) -> None:
        await self.session.close()


class ScaleOutTarget(SlackTarget):
    """Our server on `store` ("sqlite" or "postgres") in `processes` processes, with the Slack fakes."""

    def __init__(self, name: str, workdir: Path, store: str, processes: int):
        self.ours, self.profile_to, self.profile_after, self.name = True, None, 0.0, name
        self.schema = f"osb_bench_{uuid.uuid4().hex[:10]}" if store == "postgres" else None
        self.db = (f"{POSTGRES_URL}?options=-csearch_path%3D{self.schema}" if self.schema
                   else str(workdir / f"{name}.db"))
        self.api = BenchSlackApi()
        self.people: list[SlackConversation] = []
        self._levels = itertools.count(1)
        self.server = Servers([Server(["-m", "bot", "serve", "--db", self.db], {}, workdir / f"{name}-{i}.log")
                               for i in range(processes)])

    async def _store(self):
        from bot.store import PostgresStore, SQLiteStore

        store = (PostgresStore(POSTGRES_URL, schema=self.schema, record_key=RECORD_KEY) if self.schema
                 else SQLiteStore(self.db, record_key=RECORD_KEY))
        await store.open()
        return store

    async def start(self) -> None:
        await self.api.start()
        if self.schema:
            async with await _connect() as conn:
                await conn.execute(f"CREATE SCHEMA {self.schema}")
        from bot.core.models import Role, StaffMember

        store = await self._store()  # seeded with the servers' record key, or they refuse the database
        for user, (role, name) in HANDLERS.items():
            await store.upsert_staff(StaffMember(user=f"slack:{user}", role=Role(role), name=name))
        await store.close()
        env = clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=self.api.url,
                        OSB_RECORD_KEY=RECORD_KEY.hex())  # the same record key for every process
        for server in self.server.servers:
            server.env = env
        await self.server.start()
        self.http = RoundRobin([s.url for s in self.server.servers])
        self.harness = SlackHarness(self.http, None, self.api)

    async def finish(self) -> dict[str, Any]:
        from bench.load import cards_delivered

        reports = sum(p.reports for p in self.people)
        if not hasattr(self, "http"):  # start failed: its own error is the one to see, not this
            self.server.stop()
            await self.api.close()
            return {"problems": ["the servers did not start"]}
        await cards_delivered(self._cards, reports)
        await self.http.close()
        self.server.stop()
        await self.api.close()
        store = await self._store()
        try:
            cases = len(await store.list_cases("default"))
        finally:
            await store.close()
        if self.schema:
            async with await _connect() as conn:
                await conn.execute(f"DROP SCHEMA {self.schema} CASCADE")
        cards = self._cards()
        found = [f"{n} errors in the servers' logs" for n in [len(self.server.log_lines("ERROR"))] if n]
        if cases != reports:
            found.append(f"{reports} reports sent but {cases} cases in the store")
        found += [f"{u} has {n} case cards for {reports} cases" for u, n in cards.items() if n != reports]
        return {"reports_sent": reports, "cases_in_store": cases, "case_cards": cards, "problems": found}


async def _connect():
    import psycopg

    return await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True)


async def measure(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="osb-bench-scale-") as tmp:
        workdir = Path(tmp)
        return await compare({
            "SQLite, 1 process": ScaleOutTarget("sqlite-1", workdir, "sqlite", 1),
            "PostgreSQL, 1 process": ScaleOutTarget("postgres-1", workdir, "postgres", 1),
            "PostgreSQL, 2 processes": ScaleOutTarget("postgres-2", workdir, "postgres", 2),
        }, plan)


def run(quick: bool, plan: Plan | None = None) -> dict[str, Any]:
    result = asyncio.run(measure(plan or (QUICK if quick else PLAN)))
    result["problems"] = problems(result)
    result["summary_md"] = summary_md(result)
    return result


def summary_md(result: dict[str, Any]) -> str:
    names = list(result["targets"])
    levels = [(lv["conversations"], lv["think_s"]) for lv in result["targets"][names[0]]["levels"]]
    lines = ["### One process or two, SQLite or PostgreSQL", "",
             "| concurrent conversations | " + " | ".join(f"{n}: turns/s, p50 / p99 ms, CPU ms/turn" for n in names)
             + " |", "| --- |" + " ---: |" * len(names)]
    for i, (n, think) in enumerate(levels):
        cells = []
        for name in names:
            lv = result["targets"][name]["levels"][i]
            cells.append(f"{lv['turns_per_s']}, {lv['p50_ms']:g} / {lv['p99_ms']:g}, {lv['server_cpu_ms_per_turn']:g}")
        label = f"{n}, pausing ~{think:g} s" if think else f"{n}, flat out"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    checks = {name: result["targets"][name]["checks"] for name in names}
    lines += ["", "The Slack report-turn workload of the channel benchmark (full reports, each sent, its case card "
              "delivered to the DSL and deputy), against `serve` on each store; two processes share one PostgreSQL "
              "database, each request going to the next process in turn. CPU ms per turn adds up every server "
              "process. Checked: " + "; ".join(
                  f"{name}: {c['reports_sent']} reports, {c['cases_in_store']} cases, cards {c['case_cards']}"
                  for name, c in checks.items()) + ".",
              "", f"Load average when the run ended: {result['load_average_1min']:.2f} (2 cores; the database "
              "server, the load generator and the fake Slack API share them with the bot's processes)."]
    if result.get("problems"):
        lines += ["", "Problems: " + "; ".join(result["problems"])]
    return "\n".join(lines)
