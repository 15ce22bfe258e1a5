"""One `serve` per SQLite file (redteam §11): its conversation locks and retry checks live in the process, so a
second server on the same file would run Slack's retries twice and lose answers. The second one refuses to
start, saying why and pointing to PostgreSQL; the lock goes with the first process, however it ends."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.store import SQLiteStore, StoreError
from testing.server_process import ROOT, ServerProcess, free_port, serve_env

pytestmark = pytest.mark.slow  # real `serve` processes


async def test_a_second_server_store_on_one_sqlite_file_is_refused_until_the_first_closes(db_path):
    first, second = SQLiteStore(db_path), SQLiteStore(db_path)
    await first.claim_server()
    await first.open()
    with pytest.raises(StoreError, match="one SQLite file takes one server process.*PostgreSQL"):
        await second.claim_server()
    # Other commands (staff add, cases export) still open the file as before.
    await second.open()
    await second.close()
    await first.close()
    again = SQLiteStore(db_path)
    await again.claim_server()
    await again.close()


async def refused_serve(db_path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(free_port()), "--db", str(db_path), cwd=ROOT,
        env=serve_env(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, stderr.decode()


async def test_a_second_serve_process_on_the_same_sqlite_file_stops_with_a_clear_message(tmp_path):
    db = tmp_path / "data" / "bot.db"
    first = ServerProcess(db, serve_env(), log=tmp_path / "first.log")
    await first.start()
    try:
        code, message = await refused_serve(db)
        assert code == 2
        assert "already using" in message and f"process {first.process.pid}" in message
        assert "PostgreSQL" in message and "Traceback" not in message
    finally:
        await first.kill()  # SIGKILL: no clean-up, and still the lock is gone with the process
    second = ServerProcess(db, serve_env(), log=tmp_path / "second.log")
    assert (await second.start())["ok"] is True
    await second.stop()
