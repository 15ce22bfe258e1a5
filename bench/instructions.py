"""`python -m bench --instructions [--only slack|teams]`: instructions per turn, counted by callgrind, for the bare
echo, the pooled echo and our full report turn, on Slack and Teams.

CPU time on a shared two-core machine moves by several percent between identical runs; an instruction count
moves by well under one, so a change worth 1-2% shows here when it cannot in CPU time. Each server runs under
`valgrind --tool=callgrind` with counting off (`--instr-atstart=no`) through start-up; then each of
CONVERSATIONS conversations is driven through one whole report as a warm-up; counting is switched on
(`callgrind_control -i on`); each conversation goes through one more whole report (a fixed number of turns, so a
report's own work, the case and its two cards, weighs in once per report, as in the timed suites), our case cards
are waited for, and the counters are dumped (`callgrind_control -d`). Instructions per turn are the dump's total
(every thread: the event loop's and the store's) over the turns driven. User-space instructions only: the
kernel's work (system calls, futex waits) is not counted, and neither is time.

Under callgrind a server runs some fifty times slower, so a run takes minutes; `--quick` drives 2 conversations.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import slack_path, teams_path
from bench.load import REPORT, cards_delivered, drive

CONVERSATIONS = 20
KINDS = ("bare", "pooled", "ours")
SLOWER = 30.0  # replies may take this many times the usual timeout under valgrind
START_SECONDS = 600.0
TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.M)


def target_for(channel: str, kind: str, workdir: Path) -> Any:
    ours, pooled = kind == "ours", kind == "pooled"
    if channel == "slack":
        return slack_path.SlackTarget(ours, workdir, pooled=pooled)
    return teams_path.TeamsTarget(ours, workdir, pooled=pooled)


def callgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]


def control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


async def count(channel: str, kind: str, workdir: Path, conversations: int) -> dict[str, Any]:
    target = target_for(channel, kind, workdir)
    out = workdir / f"callgrind.{channel}.{kind}.out"
    target.server.prefix = callgrind(out)
    target.server.start_timeout = START_SECONDS
    mail = target.api.mail if channel == "slack" else target.connector.mail
    mail.slower = SLOWER
    turns = len(REPORT)
    await target.start()
    try:
        pid = str(target.server.process.pid)
        people = target.conversations(conversations)
        failed: set[Any] = set()
        await drive(people, 0.0, 0.0, turns, target.server, failed)  # the warm-up: one whole report each
        if target.ours:
            await cards_delivered(target._cards, sum(p.reports for p in people), timeout=120)
        control("-i", "on", pid)
        sample = await drive(people, 0.0, 0.0, turns, target.server, failed)
        if target.ours:
            await cards_delivered(target._cards, sum(p.reports for p in people), timeout=120)
        control("-d", pid)
        control("-i", "off", pid)
        dumps = sorted(workdir.glob(f"{out.name}.*"), key=lambda p: p.stat().st_mtime)
        totals = TOTALS.findall(dumps[-1].read_bytes()) if dumps else []
    finally:
        checks = await target.finish()
    if failed or sample.errors or not totals:
        raise RuntimeError(f"{channel} {kind}: {sample.errors[:1] or 'no callgrind dump'}")
    instructions = int(totals[-1])
    return {"turns": sample.turns, "instructions": instructions,
            "million_per_turn": round(instructions / sample.turns / 1e6, 3), "problems": checks["problems"]}


async def measure(channels: list[str], conversations: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for channel in channels:
        with tempfile.TemporaryDirectory(prefix=f"osb-bench-instructions-{channel}-") as tmp:
            results[channel] = {kind: await count(channel, kind, Path(tmp), conversations) for kind in KINDS}
        per_turn = {kind: results[channel][kind]["million_per_turn"] for kind in KINDS}
        results[channel]["ours_over_bare"] = round(per_turn["bare"] / per_turn["ours"], 3)
        results[channel]["ours_over_pooled"] = round(per_turn["pooled"] / per_turn["ours"], 3)
    return results


def run(quick: bool, channels: list[str] | None = None) -> dict[str, Any]:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind (with callgrind_control) is needed for --instructions")
    conversations = 2 if quick else CONVERSATIONS
    counted = asyncio.run(measure(channels or ["slack", "teams"], conversations))
    lines = ["### Instructions per turn (callgrind)", "",
             f"{conversations} conversations, each through one whole report of {len(REPORT)} turns after one as a "
             "warm-up; user-space instructions of every thread, in millions per turn (bench/instructions.py).", "",
             "| channel | bare echo | pooled echo | our full turn | bare / ours | pooled / ours |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for channel, result in counted.items():
        lines.append(f"| {channel} | {result['bare']['million_per_turn']} | {result['pooled']['million_per_turn']} "
                     f"| {result['ours']['million_per_turn']} | {result['ours_over_bare']} "
                     f"| {result['ours_over_pooled']} |")
    problems = [f"{channel} {kind}: {p}" for channel, result in counted.items() for kind in KINDS
                for p in result[kind]["problems"]]
    return {"conversations": conversations, "channels": counted, "problems": problems,
            "summary_md": "\n".join(lines) + "\n"}
