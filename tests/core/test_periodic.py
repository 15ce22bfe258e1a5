"""The background loop `serve` uses for delivery and reminders: it survives failures and logs no content."""

from __future__ import annotations

import asyncio
import logging

from bot.core.periodic import Periodic


async def test_a_failing_run_is_logged_by_type_only_and_the_loop_carries_on(caplog):
    runs = []

    async def work():
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("Mocking posts using my photo")

    loop = Periodic("test work", 0.01, work)
    loop.start()
    for _ in range(200):
        if len(runs) >= 3:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    assert len(runs) >= 3 and not loop.running
    assert "test work failed: ValueError" in caplog.text
    assert "Mocking posts" not in caplog.text
    with caplog.at_level(logging.ERROR):
        await loop.stop()  # stopping twice is harmless


async def test_stop_ends_the_loop_even_when_the_work_reports_its_cancellation_as_an_error():
    """psycopg can turn a cancelled query into an error of its own: the loop must still end, not log it and go
    to sleep for its interval (an hour, for pruning), leaving `stop` and the server's shutdown waiting."""
    started = asyncio.Event()

    async def query() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("canceling statement due to user request") from None

    loop = Periodic("pruning", 3600, query)
    loop.start()
    await started.wait()
    stopping = asyncio.ensure_future(loop.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # a guard against a hang, not a speed goal
    assert stopping in done and not loop.running
