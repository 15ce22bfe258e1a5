"""What a durable case costs on SQLite: opening a case (the case, its first events, its routes and the DSLs' cards
in one transaction) committed with `synchronous = FULL`, as the store does, against the same with the store's
default `NORMAL`, on a file in a temporary folder (or `--folder`, to measure the disk a deployment uses).

`python -m bench.durability [--cases 200]` prints the median and the 90th percentile milliseconds per case for
each, and the difference: the cost of the fsync of the write-ahead log at each case's commit. Wall time on a shared
machine is a pointer; the fsync is what differs, and only the disk decides how long it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.core.models import Case, CaseEvent, Notification, Reply, Role, Route, utcnow
from bot.store import SQLiteStore


def new_case(n: int) -> tuple[Case, list[CaseEvent]]:
    now = utcnow()
    case = Case(draft_id=f"draft-{n}", school_id="default", categories=["targeting_me"], reporter="console:teacher",
                answers={"platforms": ["instagram"]}, content_version="bench",
                routed_to=[Route(user="console:dsl", role=Role.DSL, reason="the DSL"),
                           Route(user="console:deputy", role=Role.DEPUTY_DSL, reason="the deputy")],
                created_at=now, updated_at=now)
    events = [CaseEvent(case_id=case.id, actor="console:teacher", kind="reported", at=now),
              CaseEvent(case_id=case.id, actor="bot", kind="routed", at=now)]
    return case, events


def cards(case: Case) -> list[Notification]:
    return [Notification(school_id=case.school_id, recipient=r.user, case_id=case.id,
                         replies=[Reply(key="case.new_card", text=f"New case {case.reference}")])
            for r in case.routed_to]


async def per_case(folder: Path, cases: int, durable: bool) -> list[float]:
    store = SQLiteStore(folder / f"{'full' if durable else 'normal'}.db")
    await store.open()
    database = store.database
    write = database.write

    async def as_measured(script: Any, **kwargs: Any) -> Any:
        return await write(script, **{**kwargs, "durable": durable and kwargs.get("durable", False)})

    database.write = as_measured  # type: ignore[method-assign]
    try:
        times = []
        for n in range(cases):
            case, events = new_case(n)
            started = time.perf_counter()
            await store.create_case(case, events, [], cards, "OSB")
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        await store.close()


def summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times), 3),
            "p90_ms": round(statistics.quantiles(times, n=10)[-1], 3)}


async def measure(folder: Path, cases: int) -> dict[str, Any]:
    normal = summary(await per_case(folder, cases, durable=False))
    full = summary(await per_case(folder, cases, durable=True))
    return {"cases": cases, "normal": normal, "full": full,
            "cost_per_case_ms": round(full["median_ms"] - normal["median_ms"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--folder", type=Path, help="where to make the databases (default: a temporary folder)")
    args = parser.parse_args()
    if args.folder:
        result = asyncio.run(measure(args.folder, args.cases))
    else:
        with tempfile.TemporaryDirectory(prefix="osb-bench-durability-") as tmp:
            result = asyncio.run(measure(Path(tmp), args.cases))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
