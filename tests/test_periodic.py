"""The background loop `serve` uses for delivery and reminders: it survives failures and logs no content."""

from __future__ import annotations

import asyncio
import logging

from bot.periodic import Periodic


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
