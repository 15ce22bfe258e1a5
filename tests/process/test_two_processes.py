"""Two real `serve` processes on one PostgreSQL database, driven at once, as behind a load balancer: each person's
messages land on either process, Slack's retries land on the other one, one process is killed with SIGKILL part-way
and comes back, and still every report opens exactly one case and every DSL gets exactly one card per case.

Runs when OSB_TEST_POSTGRES_URL is set (CI sets it); each run has a schema of its own."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from bot.core.models import Role, StaffMember
from bot.store import PostgresStore
from testing.fakes.slack_api import FakeSlackApi
from testing.keys import TEST_RECORD_KEY
from testing.server_process import FULL_REPORT, REFERENCE, HttpClient, ServerProcess, reference_in, serve_env
from testing.slack_harness import SlackHarness
from tests.conftest import POSTGRES_URL, postgres_schema

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL: set OSB_TEST_POSTGRES_URL"),
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
]

PEOPLE = 24
DSL, DEPUTY = "UDSL", "UDEP"


class Person:
    """Someone in Slack whose every message goes to whichever process the load balancer picks: here, turn about."""

    def __init__(self, front: list[SlackHarness], user: str, first: int):
        self.front, self.user, self.channel = front, user, f"D{user}"
        self.turn = first
        self.last: dict[str, Any] | None = None

    def harness(self) -> SlackHarness:
        self.turn += 1
        return self.front[self.turn % len(self.front)]

    async def answer(self, step: str | list[str]) -> dict[str, Any]:
        api = self.front[0].api
        before = len(api.delivered_to(self.channel))
        slack = self.harness()
        if isinstance(step, str):
            event_id = f"Ev{self.user}{before:03d}"
            response = await slack.dm(self.user, step, event_id=event_id)
            # Slack did not hear back in time and sends the same event again; the other process gets it.
            retry = await self.harness().dm(self.user, step, event_id=event_id, retry=1)
            assert retry.status == 200
        elif any(e.get("type") == "checkboxes" for b in self.last["blocks"] for e in b.get("elements", [])):
            response = await slack.tick_and_continue(self.user, self.last, step)
        else:
            response = await slack.click(self.user, self.last, step[0])
        assert response.status == 200, response.status
        self.last = (await api.wait_delivered(self.channel, before + 1, 30))[before]
        return self.last


async def test_two_processes_share_one_database_and_each_report_opens_one_case_and_reaches_each_dsl_once(tmp_path):
    async with postgres_schema() as schema:
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        store = PostgresStore(POSTGRES_URL, schema=schema, record_key=TEST_RECORD_KEY)
        await store.open()
        for user, role, name in ((DSL, Role.DSL, "Dana Lee"), (DEPUTY, Role.DEPUTY_DSL, "Sam Patel")):
            await store.upsert_staff(StaffMember(user=f"slack:{user}", role=role, name=name))
        api = FakeSlackApi()
        await api.start()
        env = {**serve_env(slack_api_url=api.url), "OSB_DELIVERY_LEASE_SECONDS": "3"}
        servers = [ServerProcess(url, env, log=tmp_path / f"serve-{n}.log") for n in (1, 2)]
        clients: list[HttpClient] = []
        try:
            await asyncio.gather(*(s.start() for s in servers))  # both migrate the fresh schema at once
            clients = [HttpClient(s.url, connections=PEOPLE) for s in servers]
            front = [SlackHarness(c, None, api) for c in clients]
            people = [Person(front, f"U2P{i:03d}", first=i) for i in range(PEOPLE)]

            async def walk(steps: list[str | list[str]]) -> list[dict[str, Any]]:
                return await asyncio.wait_for(asyncio.gather(*(p_walk(p, steps) for p in people)), 120)

            await walk(FULL_REPORT[:6])
            await servers[0].kill()  # SIGKILL: whatever it held (locks, leases) goes with it
            alive = front[1:]
            for p in people:
                p.front = alive
            await walk(FULL_REPORT[6:9])  # carrying on where they were, on the other process
            await servers[0].start()  # back, on the same database
            for p in people:
                p.front = front
            sent = await walk(FULL_REPORT[9:])

            given = {f"slack:{p.user}": reference_in(m) for p, m in zip(people, sent, strict=True)}
            cases = {c.reporter: c.reference for c in await store.list_cases("default")}
            assert cases == given  # one case per person, the one they were told of
            assert len(set(cases.values())) == PEOPLE

            expected = Counter({ref: 1 for ref in cases.values()})
            for handler in (DSL, DEPUTY):
                channel = f"D{handler}"
                await api.wait_delivered(channel, PEOPLE, 60)
                await asyncio.sleep(4)  # longer than a lease: a second copy would have come by now
                cards = Counter(ref for m in api.delivered_to(channel) for ref in set(REFERENCE.findall(json.dumps(m))))
                assert cards == expected, handler
            for server in servers:
                assert "Traceback" not in server.log_tail(100_000)
        finally:
            for c in clients:
                await c.close()
            for s in servers:
                await s.stop()
            await api.close()
            await store.close()


async def p_walk(person: Person, steps: list[str | list[str]]) -> dict[str, Any]:
    for step in steps:
        await person.answer(step)
    assert person.last is not None
    return person.last
