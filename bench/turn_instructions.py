"""Instructions per turn of the engine and the store, in process: the standard report walked and sent by several
teachers, each turn with a platform's turn id (so de-duplication runs), on the SQLite store in a temporary folder.

Under callgrind it counts only the measured turns: `valgrind --tool=callgrind --instr-atstart=no
--callgrind-out-file=OUT python -m bench.turn_instructions` switches instrumentation on after a warm-up report
(through `callgrind_control`) and off after the last turn, then prints how many turns ran; the total in OUT
(`callgrind_annotate OUT | head`) divided by that is the count per turn. Without valgrind it simply runs the turns.
It leaves out the channels (no Slack or Teams request): it is the store and the engine's share of a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.content import load_content
from bot.core.models import Role, StaffMember, new_id
from bot.store import SQLiteStore
from testing.chat import STANDARD_REPORT, Chat

REPORT = [*STANDARD_REPORT, ["send"]]
STAFF = [StaffMember(user="console:dsl", role=Role.DSL, name="Dana Lee"),
         StaffMember(user="console:deputy", role=Role.DEPUTY_DSL, name="Sam Patel")]


def instrument(on: bool) -> None:
    if shutil.which("callgrind_control"):
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=False, capture_output=True)


async def report(bot: Engine, teacher: str) -> int:
    chat = Chat(bot, user=f"console:{teacher}")
    for step in REPORT:
        if isinstance(step, list):
            await chat.pick(*step, turn_id=new_id())
        else:
            await chat.say(step, turn_id=new_id())
    assert any(r.key == "report.sent" for r in chat.last), chat.keys
    return len(REPORT)


async def measure(folder: Path, reports: int) -> int:
    store = SQLiteStore(folder / "bot.db")
    await store.open()
    try:
        for member in STAFF:
            await store.upsert_staff(member)
        for n in range(reports + 1):
            await store.upsert_staff(StaffMember(user=f"console:teacher{n}", role=Role.STAFF, name=f"Teacher {n}"))
        bot = Engine(load_content(), store, Settings(db=str(folder / "bot.db"), school_name="Hillside Academy"))
        await report(bot, "teacher0")  # warm-up: caches, first statements prepared
        instrument(True)
        turns = 0
        for n in range(1, reports + 1):
            turns += await report(bot, f"teacher{n}")
        instrument(False)
        return turns
    finally:
        await store.close()


async def measure_slack(folder: Path, reports: int) -> int:
    """The same reports through our Slack channel in process: signed Events API and block_actions requests to
    the aiohttp app (Bolt, the engine, the store, the outbox), replies and cards to the bench's fake Web API. The
    client and the fake run in the same process, so their instructions are counted too."""
    from aiohttp.test_utils import TestClient, TestServer

    from bench.slack_path import HANDLERS, TOKEN, BenchSlackApi, SlackConversation
    from bot.app.server import build_app
    from bot.channels.slack import SlackChannel, SlackConfig
    from testing.slack_harness import SECRET, SlackHarness

    api = BenchSlackApi()
    await api.start()
    store = SQLiteStore(folder / "bot.db")
    await store.open()
    try:
        for user, (role, name) in HANDLERS.items():
            await store.upsert_staff(StaffMember(user=f"slack:{user}", role=Role(role), name=name))
        bot = Engine(load_content(), store, Settings(db=str(folder / "bot.db"), school_name="Hillside Academy"))
        channel = SlackChannel(bot, SlackConfig(bot_token=TOKEN, signing_secret=SECRET, app_token=None,
                                                api_url=api.url))
        client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
        await client.start_server()
        harness = SlackHarness(client, channel, api)
        try:
            async def walk(user: str) -> int:
                person = SlackConversation(harness, api.mail, user, report=True)
                for _ in REPORT:
                    await person.turn()
                assert person.reports == 1
                return len(REPORT)

            await walk("UWARM")
            instrument(True)
            turns = 0
            for n in range(reports):
                turns += await walk(f"UT{n}")
            instrument(False)
            return turns
        finally:
            await client.close()
    finally:
        await store.close()
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--slack", action="store_true", help="through our Slack channel, in process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="osb-bench-turns-") as tmp:
        run = measure_slack if args.slack else measure
        print(f"turns: {asyncio.run(run(Path(tmp), args.reports))}")


if __name__ == "__main__":
    main()
