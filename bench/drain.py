"""How fast the outbox drains a backlog: notifications queued for two recipients with many each and twenty others
with one each, sent by the Slack channel's real sender to the fake Slack Web API on 127.0.0.1 (one process).

`python -m bench.drain [--notes 800]` prints the seconds from the first `deliver()` until every notification is
marked delivered, and how many claims it took. Wall time on a shared machine is a pointer, not a result: what
matters is that it is one delivery, not one batch of 100 per 2-s round (bench/README.md: perf.md 6.1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.channels.slack import SlackChannel, SlackConfig
from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.content import load_content
from bot.core.models import Notification, Reply
from bot.store import SQLiteStore
from testing.fakes.slack_api import FakeSlackApi


async def drain(notes: int, folder: Path) -> dict[str, Any]:
    api = FakeSlackApi()
    await api.start()
    store = SQLiteStore(folder / "bot.db")
    await store.open()
    try:
        settings = Settings(db=str(folder / "bot.db"), school_name="Hillside Academy")
        bot = Engine(load_content(), store, settings)
        channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-bench", signing_secret="0" * 32, app_token=None,
                                                api_url=api.url))
        others = [f"slack:UOTHER{n:02d}" for n in range(20)]
        heavy = (notes - len(others)) // 2
        recipients = ["slack:UDSL"] * heavy + ["slack:UDEPUTY"] * heavy + others
        queued = [Notification(recipient=r, replies=[Reply(key="bench.note", text=f"Note {n}")])
                  for n, r in enumerate(recipients)]
        await store.queue_notifications(queued)
        claims = 0
        claim = store.claim_notifications

        async def counted(*args: Any, **kwargs: Any) -> list[Notification]:
            nonlocal claims
            claims += 1
            return await claim(*args, **kwargs)

        store.claim_notifications = counted  # type: ignore[method-assign]
        started = time.perf_counter()
        await channel.outbox.deliver()
        seconds = time.perf_counter() - started
        left = len(await store.pending_notifications("slack", limit=10_000))
        await channel.stop()
        return {"notes": len(queued), "seconds": round(seconds, 3), "claims": claims, "left": left,
                "posted": len([c for c in api.calls if c[0] == "chat.postMessage"])}
    finally:
        await store.close()
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="osb-bench-drain-") as tmp:
        result = asyncio.run(drain(args.notes, Path(tmp)))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
