"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, write bench/results/NAME.json for each and
bench/results/summary.md (every suite's section, from whichever results are there).

`--instructions` counts instructions per turn under callgrind instead (bench/instructions.py), for the channels
named by `--only slack|teams` (both by default), into bench/results/instructions.json.

`--quick` runs a small version of each, for a smoke check, into bench/results/quick/ instead, so it never
overwrites the full results. Each suite is a module with `run(quick) -> dict` whose `summary_md` is its section
of the summary; a `files` entry ({name: text}) is written beside the JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from bench.load import RESULTS, ROOT

SUITES = {  # name -> module, in the order they run and appear in the summary
    "slack": "bench.slack_path",
    "teams": "bench.teams_path",
    "hot_path": "bench.hot_path",
    "store_scale": "bench.store_scale",
    "footprint": "bench.footprint",
    "scale_out": "bench.scale_out",
}
INSTRUCTIONS = "instructions"  # only with --instructions: minutes under callgrind


def available() -> dict[str, str]:
    """The suites whose module is present (some are written separately)."""
    return {name: module for name, module in SUITES.items()
            if (ROOT / (module.replace(".", "/") + ".py")).exists()}


def about_this_run(quick: bool) -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""

    commit = git("rev-parse", "--short", "HEAD") or None
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": quick, "commit": commit,
            "python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count()}


def write_summary(folder: Path) -> Path:
    sections = []
    for name in [*SUITES, INSTRUCTIONS]:
        path = folder / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            meta = result.get("meta", {})
            sections.append(result["summary_md"].rstrip()
                            + f"\n\n_Run {meta.get('when')} at commit {meta.get('commit')}, {meta.get('python')} on "
                              f"{meta.get('machine')} with {meta.get('cpus')} CPUs, in {meta.get('seconds')} s._\n")
    summary = folder / "summary.md"
    summary.write_text("## Measured\n\nFrom `python -m bench` (see bench/README.md).\n\n" + "\n".join(sections))
    return summary


def main(argv: list[str] | None = None) -> int:
    suites = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small version of each suite, for a smoke check")
    parser.add_argument("--only", action="append", choices=sorted(suites), metavar="NAME",
                        help=f"run only this suite (repeatable): {', '.join(suites)}")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per turn under callgrind, for the channels --only names (slack, teams)")
    args = parser.parse_args(argv)
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    if args.instructions:
        channels = [name for name in args.only or ["slack", "teams"] if name in ("slack", "teams")]
        runs = {INSTRUCTIONS: lambda: importlib.import_module("bench.instructions").run(args.quick, channels)}
    else:
        runs = {name: partial(lambda module: importlib.import_module(module).run(args.quick), suites[name])
                for name in args.only or suites}
    for name, run in runs.items():
        print(f"bench: {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        began = time.monotonic()
        try:
            result = run()
        except Exception as exc:  # one suite's failure leaves the others to run; the exit code tells
            failed.append(name)
            print(f"bench: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        result["meta"] = about_this_run(args.quick) | {"seconds": round(time.monotonic() - began)}
        for filename, text in result.pop("files", {}).items():
            (folder / filename).write_text(text)
        (folder / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        if result.get("problems"):
            failed.append(name)
            print(f"bench: {name} found problems: {result['problems']}", file=sys.stderr)
        print(result["summary_md"], flush=True)
    print(f"bench: results in {folder}, summary in {write_summary(folder)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
