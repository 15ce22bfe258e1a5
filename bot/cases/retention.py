"""Retention: how long a closed case is kept, which cases are due, and purging them.

The periods come from content/facts/retention.yaml (defaults from guidance, each with its `source` and the
date it was `checked`), and a school can set its own in a local YAML file named by OSB_RETENTION_FILE:

    default:                       # every category without a period of its own
      keep_years: 7
      from: closed                 # reported | closed
    categories:
      allegation:
        keep_years: 45             # e.g. until the subject's normal retirement age
        from: reported
        reason: Our HR policy: until normal retirement age
      showing_learners:
        keep_years: 25

A period set by guidance is a minimum: a school may lengthen it, never shorten it. A case with several
categories is kept for the longest of their periods. Open cases are never due, whatever their age.
Errors name the file and the field, like the rest of content/.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from bot.core.content import DEFAULT_CONTENT_DIR, Content, ContentError, read_yaml, validated
from bot.core.models import Case, CaseStatus, utcnow
from bot.store import Store
from bot.store.base import CaseTombstone

log = logging.getLogger(__name__)

Anchor = Literal["reported", "closed"]


class RetentionError(ContentError):
    """A retention file is missing or wrong; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Period(_Strict):
    """A retention default from content/facts/retention.yaml: a fact, with its source."""

    keep_years: int = Field(ge=1, le=150)
    anchor: Anchor = Field(alias="from", description="counted from the day the case was reported, or closed")
    basis: Literal["guidance", "school_policy"] = Field(
        description="guidance: a minimum a school may only lengthen; "
                    "school_policy: a starting point for the school's own")
    text: str
    source: HttpUrl
    checked: date


class CategoryPeriod(Period):
    id: str = Field(pattern=r"^[a-z0-9_]+$", description="the report category it applies to")


class RemovedOutcomes(_Strict):
    """Allegation outcomes whose record leaves the personnel file (KCSIE): such a case is no longer kept under the
    allegation's period, only under its other categories' periods or the default."""

    outcomes: list[str] = Field(min_length=1)
    text: str
    source: HttpUrl
    checked: date
    unconfirmed: str | None = None


class RetentionFacts(_Strict):
    default: Period
    categories: list[CategoryPeriod] = Field(default_factory=list)
    removed_allegations: RemovedOutcomes | None = None

    @model_validator(mode="after")
    def _unique(self) -> "RetentionFacts":
        ids = [c.id for c in self.categories]
        if len(ids) != len(set(ids)):
            raise ValueError("a category is listed twice")
        return self


class SchoolPeriod(_Strict):
    """A period the school sets in its own file."""

    keep_years: int = Field(ge=1, le=150)
    anchor: Anchor | None = Field(default=None, alias="from", description="as the default it replaces, if not given")
    reason: str | None = Field(default=None, description="the school's policy this comes from")


class SchoolRetention(_Strict):
    default: SchoolPeriod | None = None
    categories: dict[str, SchoolPeriod] = Field(default_factory=dict)


class Rule(BaseModel):
    """The period that applies to a category, after the school's file."""

    id: str = Field(description="the category, or 'default'")
    keep_years: int
    anchor: Anchor
    basis: Literal["guidance", "school_policy"]
    set_by_school: bool = False
    reason: str | None = None

    def describe(self) -> str:
        """A short, stable description for the tombstone and the command line (never case content)."""
        who = "set by the school" if self.set_by_school else (
            "guidance minimum" if self.basis == "guidance" else "the school's default")
        return f"{self.id}: {self.keep_years} years from {self.anchor} ({who})"


class RetentionPolicy(BaseModel):
    default: Rule
    categories: dict[str, Rule]
    facts: RetentionFacts
    files: list[str] = Field(description="the files the policy was read from, the school's last")

    def rules_for(self, case: Case) -> list[Rule]:
        categories = list(dict.fromkeys(case.categories))
        removed = self.facts.removed_allegations
        if removed and case.outcome in removed.outcomes:  # a malicious or false allegation: the outcome decides
            categories = [c for c in categories if c != "allegation"]
        return [self.categories.get(c, self.default) for c in categories] or [self.default]

    def due_on(self, case: Case, closed_at: datetime | None) -> tuple[date, Rule]:
        """The day a closed case may be purged, and the rule that sets it (the latest of its categories')."""
        reported = case.created_at.astimezone(timezone.utc).date()
        closed = (closed_at or case.updated_at).astimezone(timezone.utc).date()
        best: tuple[date, Rule] | None = None
        for rule in self.rules_for(case):
            due = add_years(reported if rule.anchor == "reported" else closed, rule.keep_years)
            if best is None or due > best[0]:
                best = (due, rule)
        assert best is not None
        return best


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- loading -------------------------------------------------------------------------------------------


def report_categories(content: Content) -> set[str]:
    """The category ids a report can have, from the report flow."""
    return {c.id for c in content.flows["report_concern"].step("categories").choices}


def load_retention(
    content_dir: Path | None = None, school_file: Path | str | None = None, categories: Iterable[str] | None = None,
) -> RetentionPolicy:
    """The retention policy: content/facts/retention.yaml, then the school's own file if there is one.
    `categories`, if given, are the known report categories: any other named in either file is an error."""
    path = Path(content_dir or DEFAULT_CONTENT_DIR) / "facts" / "retention.yaml"
    data = read_yaml(path, RetentionError)
    if not isinstance(data, dict) or not isinstance(data.get("retention"), dict):
        raise RetentionError(f"{path}: expected a 'retention:' section at the top")
    facts: RetentionFacts = validated(RetentionFacts, path, data["retention"], "retention", RetentionError)
    known = set(categories) if categories is not None else None
    for i, entry in enumerate(facts.categories):
        if known is not None and entry.id not in known:
            raise RetentionError(f"{path}: retention.categories.{i}.id: '{entry.id}' is not a report category "
                                 f"({', '.join(sorted(known))})")

    def rule(rule_id: str, period: Period) -> Rule:
        return Rule(id=rule_id, keep_years=period.keep_years, anchor=period.anchor, basis=period.basis)

    default = rule("default", facts.default)
    rules = {c.id: rule(c.id, c) for c in facts.categories}
    files = [str(path)]
    if school_file:
        own_path = Path(school_file)
        own_data = read_yaml(own_path, RetentionError)
        if own_data is None:
            own_data = {}
        if not isinstance(own_data, dict):
            raise RetentionError(f"{own_path}: expected 'default:' and/or 'categories:' at the top")
        own: SchoolRetention = validated(SchoolRetention, own_path, own_data, "", RetentionError)
        if own.default:
            default = _apply(own_path, "default", default, own.default)
        for category, period in own.categories.items():
            if known is not None and category not in known:
                raise RetentionError(f"{own_path}: categories.{category}: not a report category "
                                     f"({', '.join(sorted(known))})")
            base = rules.get(category, default.model_copy(update={"id": category, "set_by_school": False,
                                                                  "reason": None}))
            rules[category] = _apply(own_path, f"categories.{category}", base, period)
        files.append(str(own_path))
    return RetentionPolicy(default=default, categories=rules, facts=facts, files=files)


def _apply(path: Path, field: str, base: Rule, own: SchoolPeriod) -> Rule:
    """The school's period in place of `base`; never shorter than a period guidance sets."""
    anchor = own.anchor or base.anchor
    if base.basis == "guidance" and not base.set_by_school:
        later_start = base.anchor == "reported" or anchor == "closed"
        if own.keep_years < base.keep_years or not later_start:
            raise RetentionError(
                f"{path}: {field}: guidance requires at least {base.keep_years} years from {base.anchor}; "
                f"a school may keep it longer, never shorter")
    return Rule(id=base.id, keep_years=own.keep_years, anchor=anchor, basis=base.basis, set_by_school=True,
                reason=own.reason)


# --- what is due, and purging it ------------------------------------------------------------------------


class DueCase(BaseModel):
    reference: str
    categories: list[str]
    created_at: datetime
    closed_at: datetime | None
    due_on: date
    rule: str = Field(description="the rule that sets the date (see Rule.describe)")
    evidence: int = Field(default=0, description="evidence file references it holds")


class PurgePlan(BaseModel):
    today: date
    due: list[DueCase] = Field(description="closed cases whose period has run out, oldest due first")
    not_due: list[DueCase] = Field(description="closed cases still within their period, soonest first")
    open_cases: int = Field(description="open cases: never purged")


class PurgeResult(PurgePlan):
    dry_run: bool
    purged: list[CaseTombstone] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict, description="reference -> why it was not purged")


def plan_purge(policy: RetentionPolicy, cases: list[Case], closed_at: dict[str, datetime], today: date) -> PurgePlan:
    due: list[DueCase] = []
    not_due: list[DueCase] = []
    open_cases = 0
    for case in cases:
        if case.status != CaseStatus.CLOSED:
            open_cases += 1
            continue
        day, rule = policy.due_on(case, closed_at.get(case.id))
        entry = DueCase(reference=case.reference, categories=case.categories, created_at=case.created_at,
                        closed_at=closed_at.get(case.id), due_on=day, rule=rule.describe())
        (due if day <= today else not_due).append(entry)
    due.sort(key=lambda d: (d.due_on, d.reference))
    not_due.sort(key=lambda d: (d.due_on, d.reference))
    return PurgePlan(today=today, due=due, not_due=not_due, open_cases=open_cases)


async def find_due(store: Store, school_id: str, policy: RetentionPolicy, today: date) -> PurgePlan:
    cases = await store.list_cases(school_id)
    plan = plan_purge(policy, cases, await store.case_closed_times(school_id), today)
    ids = {c.reference: c.id for c in cases}
    for entry in plan.due:
        entry.evidence = len(await store.case_evidence(ids[entry.reference]))
    return plan


async def purge(
    store: Store, school_id: str, policy: RetentionPolicy, today: date, *, purged_by: str, dry_run: bool = False,
    purged_at: datetime | None = None,
) -> PurgeResult:
    """Find the closed cases due on `today` and, unless `dry_run`, delete each in its own transaction that
    leaves a tombstone. A case that cannot be purged is reported in `failed` and the others go ahead."""
    plan = await find_due(store, school_id, policy, today)
    result = PurgeResult(**plan.model_dump(), dry_run=dry_run)
    if dry_run:
        return result
    for entry in plan.due:
        try:
            tombstone = await store.purge_case(school_id, entry.reference, purged_at=purged_at or utcnow(),
                                               purged_by=purged_by, policy=entry.rule)
        except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the rest; it is reported
            log.warning("retention: %s was not purged (%s)", entry.reference, type(exc).__name__)
            result.failed[entry.reference] = str(exc)
            continue
        log.info("retention: purged %s under %s: %d events removed, tombstone kept", tombstone.reference,
                 tombstone.policy, tombstone.events_removed)
        result.purged.append(tombstone)
    return result


# --- short-lived rows: pruned by `serve` (bot/app/server.py) ---------------------------------------------------

# Slack retries an event three times at most, the last about five minutes after the first; Bot Framework
# redelivers within minutes. A day is well past both, so a turn id older than that can never come back.
HANDLED_TURN_DAYS = 1
# A delivered notification is not read again (a card is updated through its card post, not its outbox row), but
# it holds a copy of what was sent: kept a day, for an operator looking into a delivery, then deleted.
DELIVERED_NOTIFICATION_DAYS = 1
PRUNE_SECONDS = 3600  # how often `serve` prunes


async def prune_expired(store: Store, now: datetime | None = None) -> dict[str, int]:
    """Delete handled-turn ids and delivered notifications past the platforms' retry windows, and OAuth states
    that have expired; rows deleted per table (counts only are logged)."""
    now = now or utcnow()
    removed = await store.prune_expired(handled_before=now - timedelta(days=HANDLED_TURN_DAYS),
                                        delivered_before=now - timedelta(days=DELIVERED_NOTIFICATION_DAYS),
                                        now=now.timestamp())
    if any(removed.values()):
        log.info("pruned expired rows: %s", ", ".join(f"{table} {n}" for table, n in removed.items() if n))
    return removed
