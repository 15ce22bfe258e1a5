"""The store-scale benchmark's data, built in bulk beside the store (bench/store_scale.py), is data the real
store reads as its own: a small build here, checked through the Store API, so the benchmark cannot drift
from the schema, the row shapes or the hash chain."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter

import pytest

from bench import store_scale as scale
from bot.cases.record import build_record
from bot.store import SQLiteStore

N = 200


@pytest.fixture(scope="module")
def built(tmp_path_factory, content):
    """Built once (a few seconds); each test gets its own copy."""
    path = tmp_path_factory.mktemp("scale") / "scale.db"
    dataset = asyncio.run(scale.build_sqlite(path, N, content, batch=64))  # several batches, as at full size
    return path, dataset


@pytest.fixture
async def scaled(built, tmp_path):
    path, dataset = built
    copy = tmp_path / "scale.db"
    shutil.copyfile(path, copy)
    store = SQLiteStore(copy, record_key=scale.BENCH_RECORD_KEY)  # the key the build sealed its events with
    await store.open()
    yield store, dataset
    await store.close()


async def test_the_store_lists_every_school_and_its_open_cases_as_built(scaled):
    store, dataset = scaled
    per_school = Counter(scale.school_of(i) for i in range(N))
    for school, count in per_school.items():
        cases = await store.list_cases(school)
        assert len(cases) == count
        assert len({c.reference for c in cases}) == count
        still_open = min(count, scale.OPEN_PER_SCHOOL.get(school, scale.OPEN_OTHER))  # the latest few
        assert len(await store.list_cases(school, open_only=True)) == still_open
        assert sum(c.status != "closed" for c in cases) == still_open
    mine = await store.list_cases(dataset.main_school, routed_to=dataset.dsl, open_only=True)
    assert len(mine) == dataset.open_routed_to_dsl == scale.OPEN_PER_SCHOOL[scale.MAIN]
    assert all(c.is_routed_to(dataset.dsl) for c in mine)


async def test_every_case_reads_back_with_an_intact_chain_of_about_twenty_events(scaled):
    store, dataset = scaled
    events = 0
    for school in {scale.school_of(i) for i in range(N)}:
        for case in await store.list_cases(school):
            assert await store.get_case(school, case.reference) == case
            log = await store.case_events(case.id)
            report = await store.verify_case_chain(case.id)
            assert report.intact and report.hashed == report.events == len(log), case.reference
            assert [e.kind for e in log[:2]] == ["reported", "routed"]
            assert (log[-2].kind == "closed") == (case.status == "closed")
            assert [e.at for e in log] == sorted(e.at for e in log)
            for evidence in await store.case_evidence(case.id):
                assert evidence.added_by == case.reporter
            events += len(log)
    assert events == dataset.events
    assert 15 < events / N < 25


async def test_the_store_carries_on_from_the_bulk_data_and_the_benchmark_measures_it(scaled, content):
    store, dataset = scaled
    before = {c.reference: c for c in await store.list_cases(dataset.main_school)}
    reps = scale.Reps(get=2, list=2, record=2, update=2, open=2, export_json=2, export_pdf=1, stats=1)
    timings = await scale.measure(store, dataset, reps, content)
    assert {key for key, _ in scale.ROWS} | {"case_stats"} <= timings.keys()
    assert all(t["median_ms"] > 0 and t["reps"] >= 1 for t in timings.values())
    assert timings["list_open_cases"]["cases_listed"] == dataset.open_routed_to_dsl

    # New cases continue each year's reference numbers; every appended event continues its case's chain.
    after = await store.list_cases(dataset.main_school)
    opened = [c for c in after if c.reference not in before]
    assert len(opened) >= reps.open
    for case in opened:
        year = case.reference.split("-")[1]
        earlier = [int(r.split("-")[2]) for r in before if r.split("-")[1] == year]
        assert int(case.reference.split("-")[2]) > max(earlier, default=0)
        assert case.is_routed_to(dataset.dsl)
    for case in after:
        assert (await store.verify_case_chain(case.id)).intact, case.reference

    plans = await scale.query_plans(store, scale.Operations(store, dataset, content))
    assert [p for plan in plans.values() for q in plan["queries"] for p in q["problems"]] == []
    assert any("cases_open" in line for q in plans["list_open_cases"]["queries"] for line in q["plan"])


async def test_a_bulk_built_case_makes_a_whole_safeguarding_record(scaled, content):
    store, dataset = scaled
    ops = scale.Operations(store, dataset, content)
    case = await ops.case()
    record = await build_record(
        ops.bot.store, await ops.bot.schools.scope(case.school_id), case, exported_by=dataset.dsl, fmt="json"
    )
    assert record.integrity.intact
    assert len(record.chronology) == len(await store.case_events(case.id))
    assert record.reference == case.reference and record.routed_to
