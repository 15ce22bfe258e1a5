"""Footprint: the memory of a real `online-safety-bot serve` holding many conversations, and how fast it starts.

(a) Memory. `serve` runs in its own process with Slack configured against the tests' fake Web API (in this
process). Thousands of people each DM the bot and get part-way through a report (they say what is happening,
tick a category and answer the images question, then stop), with real signed requests. The process's resident
memory (VmRSS, and its peak VmHWM, from /proc) is read when idle and after each batch, and the database is
read to check that every one of those reports is there: their state lives in the store, not in the server.

(b) Cold start: from spawning `serve` to its first 200 from /healthz (polled every 50 ms), a few times.

`python -m bench.footprint [--quick]`, or through `python -m bench`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import Server, clean_env
from bench.slack_path import TOKEN, BenchSlackApi, SlackConversation
from testing.server_process import HttpClient
from testing.slack_harness import SECRET, SlackHarness

TURNS = 3  # "I'm being targeted", a category ticked, the images question answered: a report in progress
TARGET_MB = 150
TARGET_CONVERSATIONS = 10_000
FULL = {"checkpoints": (1_000, TARGET_CONVERSATIONS), "workers": 40, "starts": 5}
QUICK = {"checkpoints": (100, 500), "workers": 20, "starts": 2}


def memory(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def serve(db: Path, api: BenchSlackApi, log: Path) -> Server:
    env = clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api.url)
    return Server(["-m", "bot", "serve", "--db", str(db)], env, log)


async def converse(harness: SlackHarness, api: BenchSlackApi, users: range, workers: int) -> list[str]:
    """Each user starts a report and gets `TURNS` turns into it, `workers` conversations at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for k in users:
        queue.put_nowait(k)
    errors: list[str] = []

    async def worker() -> None:
        while not queue.empty():
            person = SlackConversation(harness, api.mail, f"UF{queue.get_nowait():06d}", report=True)
            try:
                for _ in range(TURNS):
                    await person.turn()
            except Exception as exc:  # a lost or wrong reply: counted
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    await asyncio.gather(*(worker() for _ in range(workers)))
    return errors


def in_progress(db: Path) -> int:
    """Conversations stored with a report under way (read beside the running server: WAL lets it)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT count(*) FROM conversations WHERE json_extract(state, '$.frames[0].flow') = "
            "'report_concern' AND json_extract(state, '$.frames[0].step') != 'categories'"
        ).fetchone()[0]
    finally:
        conn.close()


async def settle(seconds: float = 2.0) -> None:
    """Let the server finish what it is doing (replies go out after the ack) before its memory is read."""
    await asyncio.sleep(seconds)


async def measure_memory(checkpoints: tuple[int, ...], workers: int, work: Path) -> dict[str, Any]:
    api = BenchSlackApi()
    await api.start()
    db = work / "footprint.db"
    server = serve(db, api, work / "footprint.log")
    points: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        await server.start()
        http = HttpClient(server.url, connections=0)
        try:
            harness = SlackHarness(http, None, api)
            await settle()
            points.append({"conversations": 0, **memory(server.process.pid), "stored_in_progress": 0})
            done, began = 0, time.perf_counter()
            for target in checkpoints:
                errors += await converse(harness, api, range(done, target), workers)
                done = target
                await settle()
                points.append({"conversations": target, **memory(server.process.pid),
                               "stored_in_progress": in_progress(db)})
            seconds = time.perf_counter() - began
        finally:
            await http.close()
    finally:
        server.stop()
        await api.close()
    return {"points": points, "turns_per_conversation": TURNS, "seconds_driving": round(seconds, 1),
            "errors": len(errors), "first_errors": errors[:3], "server_errors_logged": len(server.log_lines("ERROR"))}


async def cold_starts(runs: int, work: Path) -> dict[str, Any]:
    """Seconds from spawning `serve` to its first 200 from /healthz; the first run also creates the database."""
    api = BenchSlackApi()
    await api.start()
    times, idle = [], []
    try:
        for _ in range(runs):
            server = serve(work / "cold.db", api, work / "cold.log")
            began = time.perf_counter()
            try:
                await server.start()
                times.append(round(time.perf_counter() - began, 3))
                idle.append(memory(server.process.pid)["rss_mb"])
            finally:
                server.stop()
    finally:
        await api.close()
    return {"seconds": times, "median_s": round(statistics.median(times), 3), "rss_at_ready_mb": idle}


def growth_kb(points: list[dict[str, Any]]) -> float | None:
    """RSS added per conversation between the last two checkpoints, in KB."""
    (a, b) = points[-2:]
    if b["conversations"] == a["conversations"]:
        return None
    return round((b["rss_mb"] - a["rss_mb"]) * 1024 / (b["conversations"] - a["conversations"]), 2)


def summary(result: dict[str, Any]) -> str:
    mem, cold = result["memory"], result["cold_start"]
    points = mem["points"]
    last = points[-1]
    lines = ["### Footprint", "",
             "| conversations in progress | RSS, MB | peak RSS, MB | reports in progress in the store |",
             "| ---: | ---: | ---: | ---: |"]
    lines += [f"| {p['conversations']:,} | {p['rss_mb']} | {p['peak_rss_mb']} | {p['stored_in_progress']:,} |"
              for p in points]
    met = last["rss_mb"] < TARGET_MB and last["stored_in_progress"] == last["conversations"]
    judged = (f"{'met' if met else 'missed'} ({last['rss_mb']} MB)" if last["conversations"] >= TARGET_CONVERSATIONS
              else f"not judged: this run stopped at {last['conversations']:,}")
    lines += [
        "",
        f"Growth between the last two: {result['growth_kb_per_conversation']} KB of RSS per conversation. "
        f"Target (under {TARGET_MB} MB with {TARGET_CONVERSATIONS:,} conversations in progress, their state in "
        f"the store): {judged}. {mem['errors']} lost or wrong replies, "
        f"{mem['server_errors_logged']} errors in the server's log.",
        "",
        f"Cold start of `serve` (spawn to the first 200 from /healthz, polled every 50 ms): median "
        f"{cold['median_s']:.2f} s over {len(cold['seconds'])} runs "
        f"({', '.join(f'{s:.2f}' for s in cold['seconds'])} s; "
        f"the first also creates the database); RSS when ready {statistics.median(cold['rss_at_ready_mb']):.1f} MB.",
        "",
        f"Each conversation: a Slack DM and {mem['turns_per_conversation']} turns of a report (signed Events API and "
        f"block_actions requests, {result['workers']} conversations at a time), then silence. RSS read from "
        "/proc/PID/status two seconds after each batch.",
    ]
    return "\n".join(lines) + "\n"


async def run_async(quick: bool) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="osb-bench-footprint-") as tmp:
        work = Path(tmp)
        result = {"memory": await measure_memory(plan["checkpoints"], plan["workers"], work),
                  "cold_start": await cold_starts(plan["starts"], work), "workers": plan["workers"]}
    result["growth_kb_per_conversation"] = growth_kb(result["memory"]["points"])
    result["summary_md"] = summary(result)
    return result


def run(quick: bool) -> dict[str, Any]:
    return asyncio.run(run_async(quick))


if __name__ == "__main__":
    outcome = run(quick="--quick" in sys.argv)
    print(outcome["summary_md"])
    if "--json" in sys.argv:
        print(json.dumps(outcome, indent=2))
