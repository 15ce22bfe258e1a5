"""Trends across cases (`cases stats`, bot/cases/stats.py): cases built through the in-process chat on a clock the
test controls, then every figure checked exactly, in process and through the command-line process."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.cases.stats import account_key, case_stats, compute_stats, median, percentile, stats_reply
from bot.core.markup import to_plain
from testing.chat import Chat, walk
from testing.cli_runner import out, run_cli

HOUR = 3600


# --- the command line as a real process (the pattern of tests/process/test_cli.py) ---------------------------------

ROOT = Path(__file__).resolve().parents[2]








def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def report(bot, clock, when: datetime, categories: list[str], platforms: list[str], accounts: str,
                 description: str, *, about: str | None = None, user: str = "console:teacher") -> str:
    """One report through the engine at `when`; returns its reference."""
    clock.now = when
    chat = Chat(bot, user)
    steps: list[str | list[str]] = ["I'm being targeted", categories, ["no"]]
    if about:
        steps.append([about])
    steps += [platforms, accounts, "skip", description, ["other_staff"], "skip", ["done"], ["nobody"], ["no_idea"],
              ["send"]]
    await walk(chat, steps)
    sent = chat.reply("report.sent")
    case = next(c for c in await bot.store.list_cases("default") if c.reference in sent.text)
    return case.reference


async def close(handler: Chat, reference: str, outcome: str) -> None:
    await handler.pick(f"case:{reference}:close")
    await handler.pick(outcome)
    await handler.say("skip")
    if "case_close.open_items_reason.ask" in handler.keys:  # the case plan may still have required items open
        await handler.say("Dealt with; recorded for the test.")
    assert handler.keys[0] == "case.closed", handler.keys


@pytest.fixture
async def cases(bot, clock):
    """Four cases over three months:

    1. Sep: targeting_me on Instagram, @fake_hillside (and its profile link); a note after 1 h, acknowledged
       after 2 h, closed after 72 h.
    2. Oct: school_impersonation + showing_learners on Instagram and TikTok, the same Instagram account by a
       link in other letter case, and a TikTok profile link; acknowledged after 30 min, an action after 1 h,
       closed after 240 h.
    3. Oct: an allegation on TikTok naming the TikTok account by handle; picked up by an action after 5 h; open.
    4. Nov: targeting_me on X, no account given; never picked up.
    """
    dsl = Chat(bot, "console:dsl")
    refs = []

    refs.append(await report(bot, clock, at(2026, 9, 10, 9), ["targeting_me"], ["instagram"],
                             "@fake_hillside https://www.instagram.com/fake_hillside/",
                             "Private words that stats must never repeat."))
    clock.advance(hours=1)
    await dsl.pick(f"case:{refs[0]}:note")
    await dsl.say("A note, which is not picking the case up.")
    clock.advance(hours=1)
    await dsl.pick(f"case:{refs[0]}:ack")
    clock.now = at(2026, 9, 13, 9)
    await close(dsl, refs[0], "content_removed")

    refs.append(await report(bot, clock, at(2026, 10, 5, 10), ["school_impersonation", "showing_learners"],
                             ["instagram", "tiktok"],
                             "https://instagram.com/Fake_Hillside?igsh=xyz https://www.tiktok.com/@hillside.muggies",
                             "More private words."))
    clock.advance(minutes=30)
    await dsl.pick(f"case:{refs[1]}:ack")
    clock.advance(minutes=30)
    await dsl.pick(f"case:{refs[1]}:action")
    await dsl.pick("posh_contacted")
    await dsl.say("skip")
    clock.now = at(2026, 10, 15, 10)
    await close(dsl, refs[1], "resolved_in_school")

    refs.append(await report(bot, clock, at(2026, 10, 20, 14), ["allegation"], ["tiktok"], "@hillside.muggies",
                             "An allegation, in words.", about="other_staff"))
    clock.advance(hours=5)
    await dsl.pick(f"case:{refs[2]}:action")
    await dsl.pick("lado_informed")
    await dsl.say("skip")

    refs.append(await report(bot, clock, at(2026, 11, 20, 21, 30), ["targeting_me"], ["x"], "skip", "On X."))
    clock.advance(days=2)
    return refs


async def test_the_cases_were_built_as_intended(bot, cases):
    assert cases == ["OSB-2026-0001", "OSB-2026-0002", "OSB-2026-0003", "OSB-2026-0004"]
    statuses = {c.reference: c.status.value for c in await bot.store.list_cases("default")}
    assert statuses == {cases[0]: "closed", cases[1]: "closed", cases[2]: "in_progress", cases[3]: "new"}


async def test_counts_by_category_platform_month_and_outcome(bot, clock, cases):
    stats = await case_stats(bot.store, "default", now=clock.now)
    assert (stats.total, stats.open, stats.closed, stats.urgent) == (4, 2, 2, 0)
    assert stats.by_category == {"targeting_me": 2, "allegation": 1, "school_impersonation": 1, "showing_learners": 1}
    assert stats.by_platform == {"instagram": 2, "tiktok": 2, "x": 1}
    assert stats.by_month == {"2026-09": 1, "2026-10": 2, "2026-11": 1}
    assert stats.by_outcome == {"content_removed": 1, "resolved_in_school": 1}


async def test_time_to_acknowledge_and_to_close_from_the_events(bot, clock, cases):
    stats = await case_stats(bot.store, "default", now=clock.now)
    ack = stats.time_to_acknowledge  # 2 h (a note does not count), 30 min (the later action does not either), 5 h
    assert (ack.count, ack.pending) == (3, 1)
    assert ack.median_seconds == 2 * HOUR
    assert ack.p90_seconds == 5 * HOUR  # nearest rank: the 3rd of 3
    closing = stats.time_to_close  # 72 h and 240 h
    assert (closing.count, closing.pending) == (2, 2)
    assert closing.median_seconds == (72 + 240) / 2 * HOUR
    assert closing.p90_seconds == 240 * HOUR


async def test_accounts_reported_more_than_once_with_their_cases(bot, clock, cases):
    stats = await case_stats(bot.store, "default", now=clock.now)
    repeated = {r.account: (r.platforms, r.references) for r in stats.repeated_accounts}
    assert repeated == {
        "@fake_hillside": (["instagram"], [cases[0], cases[1]]),  # handle, profile link, link in other case
        "@hillside.muggies": (["tiktok"], [cases[1], cases[2]]),  # a TikTok profile link, then the bare handle
    }


async def test_since_counts_only_cases_reported_from_that_day(bot, clock, cases):
    stats = await case_stats(bot.store, "default", since=date(2026, 10, 1), now=clock.now)
    assert stats.total == 3
    assert stats.by_month == {"2026-10": 2, "2026-11": 1}
    assert stats.by_platform == {"tiktok": 2, "instagram": 1, "x": 1}
    assert [r.account for r in stats.repeated_accounts] == ["@hillside.muggies"]
    assert stats.time_to_acknowledge.median_seconds == (0.5 * HOUR + 5 * HOUR) / 2
    assert stats.time_to_close.count == 1


async def test_stats_carry_no_reporter_name_or_free_text(bot, clock, cases):
    stats = await case_stats(bot.store, "default", now=clock.now)
    dumped = stats.model_dump_json()
    reply = stats_reply(bot.content, stats)
    for secret in ("console:teacher", "Jo Brown", "Private words", "More private words", "An allegation, in words",
                   "A note, which", "console:dsl", "Dana Lee", "Dealt with"):
        assert secret not in dumped and secret not in reply.text


async def test_stats_reply_is_a_neutral_reply_in_the_content_wording(bot, clock, cases):
    reply = stats_reply(bot.content, await case_stats(bot.store, "default", now=clock.now))
    assert reply.key == "stats.summary" and reply.card is None and not reply.choices
    text = to_plain(reply.text)
    assert "All cases so far: 4 (2 still open)" in text
    assert "Targeting the reporter 2" in text and "Instagram 2" in text and "TikTok 2" in text
    assert "Sep 2026 1, Oct 2026 2, Nov 2026 1" in text
    assert "Time to pick up a case: median 2 hours; 9 in 10 within 5 hours (3 picked up, 1 waiting)" in text
    assert "Time to close a case: median 6.5 days; 9 in 10 within 10 days (2 closed, 2 open)" in text
    assert "@fake_hillside: 2 cases (OSB-2026-0001, OSB-2026-0002)" in text
    assert "@fake\\_hillside" in reply.text  # what was reported is escaped in the bot's markup


async def test_stats_of_no_cases(store, content):
    stats = await case_stats(store, "default", now=at(2026, 11, 1))
    assert stats.total == 0 and stats.by_month == {} and stats.repeated_accounts == []
    assert stats.time_to_acknowledge.median_seconds is None
    assert "no cases" in stats_reply(content, stats).text.lower()


def test_months_without_cases_are_listed_as_zero():
    stats = compute_stats("default", [], {}, since=date(2026, 7, 15), now=at(2026, 9, 2))
    assert stats.by_month == {"2026-07": 0, "2026-08": 0, "2026-09": 0}


def test_median_and_nearest_rank_percentile():
    assert median([]) is None and percentile([], 90) is None
    assert median([5]) == 5 and percentile([5], 90) == 5
    assert median([1, 3, 2, 4]) == 2.5
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 12)), 90) == 10


@pytest.mark.parametrize("entry, expected", [
    ({"kind": "handle", "value": "@Fake_Hillside"}, ("@fake_hillside", None)),
    ({"kind": "url", "value": "https://instagram.com/fake_hillside", "platform": "instagram"},
     ("@fake_hillside", "instagram")),
    ({"kind": "url", "value": "https://tiktok.com/@hillside.muggies/video/123", "platform": "tiktok"},
     ("@hillside.muggies", "tiktok")),
    ({"kind": "url", "value": "https://x.com/fakeschool/status/1799", "platform": "x"}, ("@fakeschool", "x")),
    ({"kind": "url", "value": "https://linkedin.com/in/jane-fake", "platform": "linkedin"}, ("@jane-fake", "linkedin")),
    ({"kind": "url", "value": "https://instagram.com/p/C0dE", "platform": "instagram"},
     ("https://instagram.com/p/C0dE", "instagram")),  # a post, not an account: the link itself
    ({"kind": "url", "value": "https://facebook.com/profile.php?id=1000", "platform": "facebook"},
     ("https://facebook.com/profile.php?id=1000", "facebook")),
    ({"kind": "url", "value": "https://example.org/muggies", "platform": None}, ("https://example.org/muggies", None)),
])
def test_accounts_are_normalised_to_a_handle_where_a_link_names_one(entry, expected):
    assert account_key(entry) == expected


@pytest.mark.sqlite_only
async def test_cases_stats_through_the_command_line(bot, clock, cases, db_path):
    proc = run_cli("cases", "stats", "--json", "--db", db_path)
    stats = json.loads(out(proc))
    assert stats["total"] == 4
    assert stats["by_category"] == {"targeting_me": 2, "allegation": 1, "school_impersonation": 1,
                                    "showing_learners": 1}
    assert stats["by_platform"] == {"instagram": 2, "tiktok": 2, "x": 1}
    assert {m: n for m, n in stats["by_month"].items() if n} == {"2026-09": 1, "2026-10": 2, "2026-11": 1}
    assert stats["time_to_acknowledge"]["median_seconds"] == 2 * HOUR
    assert stats["time_to_close"]["p90_seconds"] == 240 * HOUR
    assert [(r["account"], r["references"]) for r in stats["repeated_accounts"]] == [
        ("@fake_hillside", cases[:2]), ("@hillside.muggies", cases[1:3])]
    assert "console:teacher" not in out(proc) and "private words" not in out(proc).lower()

    since = json.loads(out(run_cli("cases", "stats", "--json", "--since", "2026-10-01", "--db", db_path)))
    assert since["total"] == 3 and since["since"] == "2026-10-01"

    text = out(run_cli("cases", "stats", "--db", db_path))
    assert text.startswith("All cases so far: 4 (2 still open)")
    assert "@fake_hillside: 2 cases (OSB-2026-0001, OSB-2026-0002)" in text
    assert "\\" not in text and "**" not in text

    bad = run_cli("cases", "stats", "--since", "last week", "--db", db_path, expect=2)
    assert "YYYY-MM-DD" in bad.stderr.decode()


# --- the trends as a chart (bot/charts.py) ------------------------------------------------------------------


async def chart_of(bot, clock):
    from bot.cases.charts import chart_data
    from bot.cases.stats import MILESTONES

    stats = await case_stats(bot.store, "default", now=clock.now)
    all_cases = await bot.store.list_cases("default")
    return stats, chart_data(all_cases, await bot.store.events_of_cases([c.id for c in all_cases], MILESTONES),
                             list(stats.by_month))


async def test_the_charts_data_counts_each_category_by_month_and_each_time_to_pick_up(bot, clock, cases):
    stats, data = await chart_of(bot, clock)
    assert data.months == list(stats.by_month)
    monthly = {category: {m: n for m, n in zip(data.months, counts, strict=True) if n}
               for category, counts in data.by_category.items()}
    assert monthly == {"targeting_me": {"2026-09": 1, "2026-11": 1}, "school_impersonation": {"2026-10": 1},
                       "showing_learners": {"2026-10": 1}, "allegation": {"2026-10": 1}}
    # Picked up after 2 hours, 30 minutes and 5 hours (the note after 1 hour does not count); one never.
    assert data.pick_up == {"within_hour": 1, "within_4_hours": 1, "within_day": 1, "within_3_days": 0,
                            "longer": 0, "waiting": 1}
    assert sum(data.pick_up.values()) == stats.total


async def test_the_chart_is_a_png_image_and_names_no_case(bot, clock, cases):
    from io import BytesIO

    from PIL import Image

    from bot.cases.charts import chart_png

    _stats, data = await chart_of(bot, clock)
    png = chart_png(bot.content, data)
    image = Image.open(BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size == (1100, 450)
    assert b"OSB-2026" not in png and b"fake_hillside" not in png


async def test_a_handler_asking_for_trends_gets_the_chart_as_a_file_where_the_channel_carries_files(bot, clock, cases):
    from io import BytesIO

    from PIL import Image

    dsl = Chat(bot, "console:dsl")
    await dsl.pick("menu:stats", files=True)
    assert dsl.keys == ["stats.summary", "stats.chart.ready"]
    chart = dsl.reply("stats.chart.ready").file
    assert chart.media_type == "image/png" and chart.name.startswith("trends-") and chart.name.endswith(".png")
    assert Image.open(BytesIO(chart.content)).format == "PNG"
    await dsl.pick("menu:stats")  # a channel that cannot carry files: the figures only
    assert dsl.keys == ["stats.summary"]


@pytest.mark.sqlite_only
async def test_cases_stats_saves_the_chart_beside_the_database(bot, clock, cases, db_path, tmp_path):
    from PIL import Image

    proc = run_cli("cases", "stats", "--chart", "--db", db_path)
    saved = Path(out(proc).strip().splitlines()[-1].removeprefix("The chart is saved at "))
    assert saved.parent == db_path.parent / "exports" and saved.suffix == ".png"
    assert Image.open(saved).format == "PNG" and saved.stat().st_mode & 0o777 == 0o600
    chosen = tmp_path / "mine.png"
    run_cli("cases", "stats", "--json", "--chart", chosen, "--db", db_path)
    assert Image.open(chosen).format == "PNG"
