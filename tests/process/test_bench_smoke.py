"""The channel benchmarks still run: each server in its own process, one conversation through a whole report and
into the next, every reply received and checked, every case in the store and on the DSL's and deputy's cards;
and the profile of our server still samples both its threads. (Speed is the benchmarks' business, not the tests':
nothing here is timed.)"""

from __future__ import annotations

import math

import pytest

from bench import hot_path, slack_path, teams_path
from bench.load import REPORT, Plan

TURNS = len(REPORT) + 2  # one whole report sent, then the next one begun
TINY = Plan(levels=(1,), warmup=0.0, seconds=0.0, turns=TURNS, growth_reports=1, growth_window=0.5,
            growth_conversations=1)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")]


@pytest.mark.parametrize("channel", [slack_path, teams_path], ids=["slack", "teams"])
def test_channel_benchmark_runs_and_every_reply_arrives(channel):
    result = channel.run(quick=True, plan=TINY)

    assert result["problems"] == []
    for name in ("bare", "pooled", "ours"):
        (level,) = result["targets"][name]["levels"]
        assert level["conversations"] == 1 and level["turns"] == TURNS and level["errors"] == 0
        assert level["unexpected_replies"] == 0
        assert level["turns_per_s"] > 0 and 0 < level["p50_ms"] <= level["p99_ms"] <= level["max_ms"]
        assert result["targets"][name]["checks"]["server_errors_logged"] == 0
    growth = result["growth"]  # then ours alone until a report is sent, CPU per turn measured in each window
    assert growth["reports_sent"] >= 1 and growth["windows"] and growth["start_cpu_ms_per_turn"] > 0
    assert "Growth: ours alone" in result["summary_md"]
    checks = result["targets"]["ours"]["checks"]
    reports = 1 + growth["reports_sent"]
    assert checks["reports_sent"] == reports and checks["cases_in_store"] == reports
    assert list(checks["case_cards"].values()) == [reports, reports]  # the DSL's and the deputy's

    (row,) = result["comparison"]
    assert math.isclose(row["ratio"], row["ours_turns_per_s"] / row["bare_turns_per_s"], abs_tol=0.01)
    assert f"| 1, flat out | {row['bare_turns_per_s']:g} |" in result["summary_md"]
    assert row["pooled_cpu_ratio"] is not None and "Ours / the pooled echo by CPU per turn" in result["summary_md"]


def test_the_profile_samples_the_event_loop_and_the_store_threads():
    result = hot_path.run(quick=True, plan=Plan(levels=(2,), warmup=0.3, seconds=1.0))

    assert result["problems"] == [] and result["load"]["turns"] > 0
    for thread in ("event_loop_thread", "store_thread"):
        digest = result["threads"][thread]
        assert digest["seconds"] > 0 and digest["by_module"]
        assert sum(row["percent"] for row in digest["by_module"]) <= 100.5
    assert any("bot/conversation/engine.py" in row["where"] for row in result["threads"]["event_loop_thread"]["in_bot"])
    assert "store's SQLite thread" in result["files"]["hot_path_profile.txt"]
