"""Trends across cases: counts by category, platform and month, how long cases take to be picked up and
closed, and accounts reported in more than one case.

Neutral: `case_stats` reads the store and returns a `CaseStats` model; the command line renders it as JSON
or text, and `stats_reply` turns it into a `Reply` (wording in content/messages/stats.yaml) that a channel
can show a DSL. Only counts, durations, case references and the reported accounts' handles and links come
out of here: never a reporter, a name or anything anyone typed in free text.

Definitions:
- a case is counted in the month it was reported (UTC), and under each of its categories and platforms, so
  those counts may add up to more than the number of cases;
- time to acknowledge runs from the `reported` event to the first event in which a case handler picked the
  case up (acknowledged it, recorded an action, changed its status or closed it, whichever came first);
  time to close, from `reported` to `closed`;
- the median of an even number of durations is the mean of the middle two; the 90th percentile is the
  nearest rank (the smallest duration that at least 90% of cases took no longer than);
- an account is the same account when its normalised handle or link is: `@name` and a profile link on a
  known platform (`https://instagram.com/name`, `https://tiktok.com/@name`, `https://x.com/name/status/1`)
  both count as `@name`; any other link counts as itself.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from typing import Callable, Iterable

from pydantic import BaseModel, Field

from bot.cases.actions import PICKED_UP
from bot.core.content import Content
from bot.core.markup import Markup
from bot.core.models import Case, CaseEvent, CaseStatus, Reply, utcnow
from bot.core.report import Report
from bot.core.text import account_key
from bot.store import Store

MILESTONES = ("reported", *PICKED_UP)  # the only events the figures read

class Duration(BaseModel):
    """How long something took across cases, in seconds."""

    count: int = Field(description="cases it has happened to")
    pending: int = Field(description="cases it has not happened to yet")
    median_seconds: float | None = None
    p90_seconds: float | None = None


class RepeatedAccount(BaseModel):
    account: str = Field(description="the normalised handle (@name) or link")
    platforms: list[str] = Field(description="platform ids it was reported on, where known")
    references: list[str] = Field(description="the cases it appears in, oldest first")


class CaseStats(BaseModel):
    school_id: str
    since: date | None = None
    generated_at: datetime
    total: int
    open: int
    closed: int
    urgent: int
    by_category: dict[str, int]
    by_platform: dict[str, int]
    by_month: dict[str, int] = Field(description="YYYY-MM -> cases reported that month, every month in the range")
    by_outcome: dict[str, int]
    time_to_acknowledge: Duration
    time_to_close: Duration
    repeated_accounts: list[RepeatedAccount]


# --- the numbers ---------------------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least `p` percent of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _duration(values: list[float], pending: int) -> Duration:
    return Duration(count=len(values), pending=pending, median_seconds=median(values),
                    p90_seconds=percentile(values, 90))


def _month(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m")


def _months(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _first(events: Iterable[CaseEvent], kinds: tuple[str, ...]) -> datetime | None:
    return next((e.at for e in events if e.kind in kinds), None)


def pick_up_seconds(case: Case, log: list[CaseEvent]) -> float | None:
    """How long the case waited to be picked up by a case handler (its events oldest first); None if not yet."""
    reported = _first(log, ("reported",)) or case.created_at
    picked_up = _first([e for e in log if e.actor != "bot"], PICKED_UP)
    return max(0.0, (picked_up - reported).total_seconds()) if picked_up else None


def compute_stats(
    school_id: str, cases: list[Case], events: dict[str, list[CaseEvent]], *, since: date | None = None,
    now: datetime | None = None,
) -> CaseStats:
    """The figures for `cases` (with each case's events by case id); pure, for the store-reading wrapper."""
    now = now or utcnow()
    if since:
        cases = [c for c in cases if c.created_at.astimezone(timezone.utc).date() >= since]
    cases = sorted(cases, key=lambda c: (c.created_at, c.reference))
    categories: Counter[str] = Counter()
    platforms: Counter[str] = Counter()
    months: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    to_ack: list[float] = []
    to_close: list[float] = []
    accounts: dict[str, list[str]] = defaultdict(list)
    account_platforms: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        categories.update(set(case.categories))
        report = Report.of(case.answers)
        case_platforms = list(dict.fromkeys(report.platforms))
        platforms.update(case_platforms)
        months[_month(case.created_at)] += 1
        if case.status == CaseStatus.CLOSED and case.outcome:
            outcomes[case.outcome] += 1
        log = sorted(events.get(case.id, []), key=lambda e: e.at)
        picked_up = pick_up_seconds(case, log)
        reported = _first(log, ("reported",)) or case.created_at
        closed = _first(log, ("closed",))
        if picked_up is not None:
            to_ack.append(picked_up)
        if closed:
            to_close.append(max(0.0, (closed - reported).total_seconds()))
        seen: set[str] = set()
        for entry in report.accounts:
            key = account_key(entry.model_dump())
            if key is None:
                continue
            name, platform = key
            if platform:
                account_platforms[name].add(platform)
            elif len(case_platforms) == 1 and case_platforms[0] != "other":
                account_platforms[name].add(case_platforms[0])
            if name not in seen:
                seen.add(name)
                accounts[name].append(case.reference)
    if cases or since:
        first = min([_month(c.created_at) for c in cases] + ([since.strftime("%Y-%m")] if since else []))
        by_month = {m: months.get(m, 0) for m in _months(first, max([_month(now), *months]))}
    else:
        by_month = {}
    repeated = [
        RepeatedAccount(account=name, platforms=sorted(account_platforms[name]), references=refs)
        for name, refs in accounts.items() if len(refs) > 1
    ]
    repeated.sort(key=lambda r: (-len(r.references), r.account))
    closed_count = sum(c.status == CaseStatus.CLOSED for c in cases)
    return CaseStats(
        school_id=school_id, since=since, generated_at=now, total=len(cases), open=len(cases) - closed_count,
        closed=closed_count, urgent=sum(c.urgent for c in cases),
        by_category=dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_platform=dict(sorted(platforms.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_month=by_month,
        by_outcome=dict(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        time_to_acknowledge=_duration(to_ack, len(cases) - len(to_ack)),
        time_to_close=_duration(to_close, len(cases) - len(to_close)),
        repeated_accounts=repeated,
    )


async def case_stats(
    store: Store, school_id: str, *, since: date | None = None, now: datetime | None = None,
) -> CaseStats:
    """The figures for one school, read from the store."""
    cases = await store.list_cases(school_id)
    return compute_stats(school_id, cases, await store.events_of_cases([c.id for c in cases], MILESTONES),
                         since=since, now=now)


# --- in words ----------------------------------------------------------------------------------------


def describe_duration(content: Content, seconds: float | None) -> str:
    if seconds is None:
        return content.text("stats.duration.none")
    minutes = seconds / 60
    if minutes < 60:
        return content.text("stats.duration.minutes", count=max(1, round(minutes)) if seconds else 0)
    hours = minutes / 60
    if hours < 48:
        return content.text("stats.duration.hours", count=_round(hours))
    return content.text("stats.duration.days", count=_round(hours / 24))


def _round(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def category_label(content: Content, category: str) -> str:
    flow = content.flows.get("report_concern")
    try:
        step = flow.step("categories") if flow else None
    except KeyError:
        step = None
    choice = next((c for c in step.choices if c.id == category), None) if step else None
    return choice.summary or choice.label if choice else category


def _platform_label(content: Content, platform: str) -> str:
    known = content.facts.platforms.get(platform)
    if known:
        return known.name
    return content.text("report.platform_other") if platform == "other" else platform


def _counts(content: Content, counts: dict[str, int], label: Callable[[Content, str], str]) -> Markup:
    items = (content.text("stats.count_item", value=label(content, k), count=v) for k, v in counts.items())
    return Markup(", ".join(items))


def stats_lines(content: Content, stats: CaseStats) -> list[str]:
    """The figures as lines of the bot's light markdown, each from content/messages/stats.yaml."""
    t = content.text
    if stats.since:
        lines = [t("stats.title_since", date=stats.since.strftime("%-d %B %Y"), total=stats.total, count=stats.open)]
    else:
        lines = [t("stats.title", total=stats.total, count=stats.open)]
    if not stats.total:
        return lines + [t("stats.no_cases")]
    if stats.urgent:
        lines.append(t("stats.urgent", count=stats.urgent))
    lines.append(t("stats.by_category", value=_counts(content, stats.by_category, category_label)))
    if stats.by_platform:
        lines.append(t("stats.by_platform", value=_counts(content, stats.by_platform, _platform_label)))
    months = {datetime.strptime(m, "%Y-%m").strftime("%b %Y"): n for m, n in stats.by_month.items()}
    lines.append(t("stats.by_month", value=_counts(content, months, lambda _c, k: k)))
    for name in ("time_to_acknowledge", "time_to_close"):
        d: Duration = getattr(stats, name)
        if d.count:
            lines.append(t(f"stats.{name}", value=describe_duration(content, d.median_seconds),
                           limit=describe_duration(content, d.p90_seconds), count=d.count, left=d.pending))
        else:
            lines.append(t(f"stats.{name}_none", left=d.pending))
    if stats.repeated_accounts:
        items = "\n".join(
            t("stats.repeated_item", value=r.account, count=len(r.references), cases=", ".join(r.references))
            for r in stats.repeated_accounts
        )
        lines.append(t("stats.repeated", count=len(stats.repeated_accounts), value=Markup(items)))
    else:
        lines.append(t("stats.repeated_none"))
    return lines


def stats_reply(content: Content, stats: CaseStats) -> Reply:
    """A neutral reply for a DSL: the same figures the command line prints, in the bot's wording."""
    summary = Markup("\n".join(stats_lines(content, stats)))
    return Reply(key="stats.summary", text=content.text("stats.summary", summary=summary))


__all__ = ["CaseStats", "Duration", "RepeatedAccount", "account_key", "case_stats", "compute_stats", "median",
           "percentile", "stats_lines", "stats_reply"]
