"""A profile of our Slack full turn under load: `serve` under pyinstrument while the Slack benchmark drives it.

pyinstrument samples one thread per profiler, so two run: one in the event loop's thread (Bolt, aiohttp, the
engine, the adapter) and one in the store's SQLite thread (sqlite-utils and SQLite itself). Sampling starts on
SIGUSR1 (after the warm-up) and stops on SIGINT. As a suite, `run` returns where each thread's own time goes,
by module or library and by function, and what in `bot/` takes longest including what it calls.

`python -m bench.hot_path --out DIR serve --db ... --port N` is the profiled server itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 0.0005
THREADS = {"event_loop_thread": "the event loop's thread", "store_thread": "the store's SQLite thread"}


# --- the suite ---------------------------------------------------------------------------


def run(quick: bool, plan: Any = None) -> dict[str, Any]:
    from bench.load import Plan, problems
    from bench.slack_path import profile

    if plan is None:
        plan = Plan(levels=(20,), warmup=0.2, seconds=1.0) if quick else Plan(levels=(20,), warmup=2.0, seconds=10.0)
    with tempfile.TemporaryDirectory(prefix="osb-bench-profile-") as tmp:
        out = Path(tmp)
        load = profile(out, plan)
        digests = json.loads((out / "digest.json").read_text())
        texts = {name: (out / f"{name}.txt").read_text() for name in THREADS if (out / f"{name}.txt").exists()}
    level = load["targets"]["ours"]["levels"][0]
    result = {"plan": plan.__dict__, "load": level, "threads": digests, "problems": problems(load)}
    result["summary_md"] = summary_md(digests, level)
    result["files"] = {"hot_path_profile.txt": result["summary_md"] + "\n\n" + "\n\n".join(
        f"## {THREADS[name]} (pyinstrument, % of sampled time)\n{text}" for name, text in texts.items())}
    return result


def summary_md(digests: dict[str, Any], level: dict[str, Any]) -> str:
    lines = ["### Profile of our Slack full turn", "",
             f"`serve` under pyinstrument at {level['conversations']} concurrent conversations "
             f"({level['turns_per_s']:g} turns/s while profiled). Own time: where each thread spends its samples, "
             "by module or library; *in bot/* is a function's time including what it calls.", ""]
    for name, digest in digests.items():
        lines += [f"**{THREADS[name]}** ({digest['seconds']:g} s sampled)", "",
                  "| own time | % | | in bot/ (inclusive) | % |", "| --- | ---: | --- | --- | ---: |"]
        own, ours = digest["by_module"][:12], digest["in_bot"][:12]
        for i in range(max(len(own), len(ours))):
            a = own[i] if i < len(own) else {"where": "", "percent": ""}
            b = ours[i] if i < len(ours) else {"where": "", "percent": ""}
            lines.append(f"| {a['where']} | {a['percent']} | | {b['where']} | {b['percent']} |")
        lines.append("")
    return "\n".join(lines)


# --- the profiled server -----------------------------------------------------------------


def _category(path: str | None, function: str) -> str:
    """Where a sample's own time goes: our module, a library, the standard library, or waiting."""
    if function in ("epoll.poll", "select") or function == "SimpleQueue.get":
        return "idle (waiting for I/O or work)"
    if not path:
        return "other"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(str(ROOT)):
        return str(Path(path).relative_to(ROOT))
    if "/lib/python3" in path:
        rest = path.split("/lib/python3", 1)[1].split("/", 1)[1]
        return "stdlib: " + rest.split("/", 1)[0].removesuffix(".py")
    if path == "<built-in>":
        return f"built-in: {function}"
    return path


def digest(profiler: Any, top: int = 25) -> dict[str, Any]:
    """Own time per module or library and per function, and inclusive time of functions in bot/, as % of the
    sampled time."""
    session = profiler.last_session
    root = session.root_frame(trim_stem=False) if session else None
    if root is None:
        return {"seconds": 0.0, "by_module": [], "by_function": [], "in_bot": []}
    by_module: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)
    in_bot: dict[str, float] = defaultdict(float)
    stack = [(root, frozenset())]
    while stack:
        frame, outer = stack.pop()
        if frame.is_synthetic:
            continue
        name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        ours = frame.file_path and frame.file_path.startswith(str(ROOT / "bot")) and "bot/cli/" not in frame.file_path
        if ours and name not in outer:  # (`serve` itself, in bot/cli/, is all of it)
            in_bot[name] += frame.time  # counted once on each path, however deep it recurses
        stack.extend((child, outer | {name}) for child in frame.children)
        own = frame.total_self_time  # its time less its real children's ("[self]" and "[await]" are its own)
        if own > 0:
            by_module[_category(frame.file_path, frame.function)] += own
            by_function[name] += own
    total = root.time

    def ranked(table: dict[str, float]) -> list[dict[str, Any]]:
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:top]
        return [{"where": k, "percent": round(100 * v / total, 1)} for k, v in rows]

    return {"seconds": round(total, 2), "by_module": ranked(by_module), "by_function": ranked(by_function),
            "in_bot": ranked(in_bot)}


class Profiled:
    """Two profilers: started on SIGUSR1, the store's in its own thread; stopped when `serve` ends.

    SIGUSR1 is handled by the event loop (once the store is open), not by a plain signal handler: one could run
    while the loop thread holds the store executor's lock, and deadlock on it."""

    def __init__(self) -> None:
        from pyinstrument import Profiler

        from bot.store.sqlite import SQLiteStore

        self.loop_thread = Profiler(interval=INTERVAL, async_mode="disabled")
        self.store_thread = Profiler(interval=INTERVAL, async_mode="disabled")
        self.store: SQLiteStore | None = None
        open_, close = SQLiteStore.open, SQLiteStore.close
        profiled = self

        async def _open(store: SQLiteStore) -> None:
            await open_(store)
            profiled.store = store
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, profiled.start)

        async def _close(store: SQLiteStore) -> None:
            if profiled.store_thread.is_running:
                await store._run(profiled.store_thread.stop)  # a profiler stops in the thread it samples
            await close(store)

        SQLiteStore.open, SQLiteStore.close = _open, _close

    def start(self) -> None:
        self.loop_thread.start()
        if self.store is not None:
            self.store._executor.submit(self.store_thread.start).result()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    args, rest = parser.parse_known_args()
    profiled = Profiled()
    from bot.cli import main as cli

    code = cli(rest)  # SIGINT ends `serve`: the store closes (stopping its profiler), then this returns
    if profiled.loop_thread.is_running:
        profiled.loop_thread.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, profiler in (("event_loop_thread", profiled.loop_thread), ("store_thread", profiled.store_thread)):
        if profiler.last_session is None:
            continue
        (args.out / f"{name}.txt").write_text(profiler.output_text(unicode=True, time="percent_of_total"))
        profiler.last_session.save(str(args.out / f"{name}.pyisession"))  # for `pyinstrument --load`
        report[name] = digest(profiler)
    (args.out / "digest.json").write_text(json.dumps(report, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
