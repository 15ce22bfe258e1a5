"""Load: many staff reporting at once, half in Slack and half in Teams, through one real `serve` process on
loopback. Every request is answered, nobody gets the store-error reply, each conversation opens exactly one case,
and each DSL and deputy (two in each channel: every case goes to all four) gets exactly one card per case.

CI size: 200 conversations, one whole report each (3,000 turns). `OSB_LOAD_SCALE=5` runs five times as many
(bench/ can run it so); the time allowed grows with it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from typing import Any

import pytest

from bot.core.content import load_content
from bot.core.models import Role
from testing.fakes.connector import FakeConnector
from testing.fakes.slack_api import FakeSlackApi
from testing.fakes.waiting import wait_until
from testing.server_process import (
    FULL_REPORT,
    REFERENCE,
    HttpClient,
    ServerProcess,
    SlackPerson,
    TeamsPerson,
    add_staff,
    read_db,
    reference_in,
    serve_env,
)
from testing.slack_harness import SlackHarness
from testing.teams_harness import TeamsHarness

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")]

SCALE = float(os.environ.get("OSB_LOAD_SCALE", "1"))
CONVERSATIONS = max(2, round(200 * SCALE))
SECONDS_ALLOWED = 120 * max(1.0, SCALE)  # a bound on the run, so a stall fails rather than hangs; not a speed goal
DSL, DEPUTY = "UDSL", "UDEP"
HANDLERS = [(f"{platform}:{user}", role, name) for platform in ("slack", "teams")
            for user, role, name in ((DSL, Role.DSL, "Dana Lee"), (DEPUTY, Role.DEPUTY_DSL, "Sam Patel"))]


def references(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(ref for m in messages for ref in set(REFERENCE.findall(json.dumps(m))))


async def test_hundreds_of_reports_at_once_on_both_channels_each_open_one_case_and_reach_each_dsl_once(tmp_path):
    api, connector = FakeSlackApi(), FakeConnector()
    await api.start()
    await connector.start()
    db = tmp_path / "bot.db"
    await add_staff(db, HANDLERS)
    server = ServerProcess(db, serve_env(slack_api_url=api.url, teams=True))
    client = None
    try:
        assert (await server.start())["channels"] == ["slack", "teams"]
        client = HttpClient(server.url, connections=CONVERSATIONS)
        slack, teams = SlackHarness(client, None, api), TeamsHarness(client, None, connector)
        for handler in (DSL, DEPUTY):
            await teams.install(handler)
        people: list[SlackPerson | TeamsPerson] = [
            SlackPerson(slack, f"UL{i:05d}", timeout=SECONDS_ALLOWED) if i % 2 else TeamsPerson(teams, f"tl-{i:05d}")
            for i in range(CONVERSATIONS)
        ]

        started = time.monotonic()
        sent = await asyncio.wait_for(asyncio.gather(*(p.walk(FULL_REPORT) for p in people)), SECONDS_ALLOWED)
        walked = time.monotonic() - started
        await wait_until(lambda: not read_db(db, "SELECT 1 FROM outbox WHERE delivered_at IS NULL LIMIT 1"),
                         SECONDS_ALLOWED, lambda: read_db(db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"))
        delivered = time.monotonic() - started

        # One case per conversation, and the reference each person was given is theirs.
        given = {("slack:" if isinstance(p, SlackPerson) else "teams:") + p.user: reference_in(m)
                 for p, m in zip(people, sent, strict=True)}
        cases = dict(read_db(db, "SELECT reporter, reference FROM cases"))
        assert len(cases) == len(read_db(db, "SELECT id FROM cases")) == CONVERSATIONS
        assert cases == given

        # Each DSL and deputy, in each channel, has exactly one card for every case.
        expected = Counter({ref: 1 for ref in cases.values()})
        for handler in (DSL, DEPUTY):
            assert references(api.delivered_to(f"D{handler}")) == expected, f"slack:{handler}"
            assert references(teams.to(handler)) == expected, f"teams:{handler}"

        # No one was told something went wrong, and the server logged no error.
        sorry = load_content().text("common.store_error").splitlines()[0][:50]
        said = [m for p in people for m in (api.delivered_to(f"D{p.user}") if isinstance(p, SlackPerson)
                                            else teams.to(p.user))]
        assert len(said) == CONVERSATIONS * len(FULL_REPORT)  # one message for each step, none lost or doubled
        assert not [m for m in said if sorry in json.dumps(m, ensure_ascii=False)]
        log = server.log_tail(10**9)
        assert not re.search(r"\b(ERROR|CRITICAL)\b|Traceback", log), log[-3000:]

        turns = CONVERSATIONS * len(FULL_REPORT)
        print(f"\n{CONVERSATIONS} conversations, {turns} turns in {walked:.1f} s ({turns / walked:.0f} turns/s); "
              f"all {4 * CONVERSATIONS} cards delivered after {delivered:.1f} s")
    finally:
        await server.stop()
        if client:
            await client.close()
        await api.close()
        await connector.close()
