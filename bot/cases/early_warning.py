"""Early warning across schools: the same fake account, or the same naming pattern, reported by several schools.

A viral trend ("Muggies" pages, say) reaches many schools within days, each page named after its school:
`hillside_muggies`, `oakfield.muggies2`. No single school can see that; the authority's safeguarding team
can, if the bot tells it. From each case we keep only *sightings*: the account's normalised key and its
naming pattern (the handle with the school's own name taken out). Reporters' names and case details stay
with the school; an alert carries the schools, the account or pattern, and counts.

Variants of one name ("muggies", "muggs", "mugies") share a `pattern_key`, so a new case finds what it joins by
looking its accounts and keys up in the store's indexes: the work grows with what matches, never with every
pair of sightings in the window.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel

from bot.core.config import Settings
from bot.core.content import Content
from bot.core.models import Case, Notification, Reply, Role, Sighting
from bot.core.report import Report
from bot.core.text import account_key
from bot.store import Store

# Words that name the kind of school rather than the school: taken out of handles with the school's name.
SCHOOL_WORDS = {
    "school", "schools", "academy", "academies", "college", "primary", "secondary", "high", "infant", "infants",
    "junior", "juniors", "community", "church", "ce", "rc", "catholic", "the", "of", "and", "st", "saint", "sch",
    "acad", "uk",
}
_LETTERS = re.compile(r"[a-z]+")
MIN_PATTERN = 4  # a shorter remainder ("x", "2", "ok") says nothing about a trend
VOWELS = set("aeiouy")


class Alert(BaseModel):
    kind: str  # "account" or "pattern"
    key: str  # the account, or the pattern shared by the group
    schools: list[str]  # school ids, in the order they first reported it
    reports: int  # sightings in the window (one case naming it twice counts once)
    variants: list[str]  # the accounts seen (for a pattern) or the account itself
    first_seen: datetime
    last_seen: datetime


def school_tokens(school_name: str) -> list[str]:
    """The parts of a school's name that may appear in a handle: each distinctive word, and the initials
    of the whole name ("Hillside Academy" -> hillside, ha; school words are dropped as words but kept in
    the initials)."""
    words = re.findall(r"[a-z0-9]+", school_name.lower().replace("'", "").replace("\u2019", ""))
    tokens = [w for w in words if w not in SCHOOL_WORDS and len(w) >= 3]
    if len(words) >= 2:
        tokens.append("".join(w[0] for w in words))
    return sorted(set(tokens), key=len, reverse=True)


def name_pattern(account: str, school_name: str) -> str | None:
    """An account's name ("@hillside_muggies") with the school's name, school words, digits and separators
    taken out, if enough is left to be a pattern: at Hillside Academy, "muggies". None for a link."""
    if not account.startswith("@"):
        return None
    rest = account[1:].lower()
    for token in school_tokens(school_name):
        rest = rest.replace(token, " ")
    rest = _LETTERS.sub(lambda run: " " if run.group() in SCHOOL_WORDS else run.group(), rest)  # whole words only
    rest = re.sub(r"[^a-z]+", "", rest)
    return rest if len(rest) >= MIN_PATTERN else None


def pattern_key(pattern: str) -> str:
    """What variants of one name share: its first vowel kept, later vowels dropped, each run of one letter made one
    ("muggies", "muggs", "mugies" -> "mugs"; "rumours", "rumors" -> "rumrs"). A name with a different first vowel
    ("mags") or more letters ("muggiesofficial") is another name."""
    key: list[str] = []
    vowel_seen = False
    for letter in pattern:
        if letter in VOWELS:
            if vowel_seen:
                continue
            vowel_seen = True
        if not key or key[-1] != letter:
            key.append(letter)
    return "".join(key)


def sightings(school_id: str, school_name: str, case_id: str, answers: dict, at: datetime) -> list[Sighting]:
    found: dict[str, Sighting] = {}
    for entry in Report.of(answers).accounts:
        key = account_key(entry.model_dump())
        if key is None:
            continue
        account, platform = key
        pattern = name_pattern(account, school_name)
        found.setdefault(account, Sighting(
            school_id=school_id, case_id=case_id, account=account, pattern=pattern,
            pattern_key=pattern_key(pattern) if pattern else None, platform=platform, seen_at=at))
    return list(found.values())


def find_alerts(recent: list[Sighting], min_schools: int = 2) -> list[Alert]:
    """Groups of sightings, within whatever window `recent` covers, that span `min_schools` or more
    schools: first the same account, then the same naming pattern or a variant of it (the same `pattern_key`).
    An account already alerted on its own is still counted in its pattern's group. One pass: grouped by key."""
    alerts: list[Alert] = []
    by_account: dict[str, list[Sighting]] = {}
    for s in sorted(recent, key=lambda s: s.seen_at):
        by_account.setdefault(s.account, []).append(s)
    for key, group in by_account.items():
        alert = _alert("account", key, group, [key])
        if len(alert.schools) >= min_schools:
            alerts.append(alert)

    groups: dict[str, list[Sighting]] = {}  # by pattern key, each group's sightings oldest first
    first_pattern: dict[str, str] = {}  # by pattern key, the first pattern seen, which names the alert
    for s in sorted(recent, key=lambda s: s.seen_at):
        if s.pattern:
            key = s.pattern_key or pattern_key(s.pattern)
            groups.setdefault(key, []).append(s)
            first_pattern.setdefault(key, s.pattern)
    for key, group in groups.items():
        variants = list(dict.fromkeys(s.account for s in group))
        alert = _alert("pattern", first_pattern[key], group, variants)
        # Two schools reporting one account is already the account alert: a pattern needs more than one name.
        if len(alert.schools) >= min_schools and len(variants) > 1:
            alerts.append(alert)
    return alerts


def _alert(kind: str, key: str, group: list[Sighting], variants: list[str]) -> Alert:
    return Alert(
        kind=kind, key=key, schools=list(dict.fromkeys(s.school_id for s in group)),
        reports=len({(s.school_id, s.case_id) for s in group}), variants=variants,
        first_seen=group[0].seen_at, last_seen=group[-1].seen_at,
    )


# --- raising alerts ----------------------------------------------------------------------------


async def raise_alerts(store: Store, settings: Settings, words: Content, case: Case) -> list[Alert]:
    """After a case is stored with its sightings (in the same transaction: `Store.create_case`): alert the
    authority's safeguarding team to each group the case completes or grows. Each group alerts once per number
    of schools (a third school joining is news; a fourth report from the same two is not), once across every
    process, within the window; so running this again, after a retry, sends nothing twice."""
    window_start = case.created_at - timedelta(days=settings.early_warning_days)
    if not await store.sighted_elsewhere(case.school_id, window_start):
        return []  # every alert needs another school: with none in the window, nothing is read
    recent = await store.related_sightings(case.id, window_start)  # index lookups: only what this case joins
    mine = {s.account for s in recent if s.case_id == case.id}
    if not mine:
        return []
    alerts = [a for a in find_alerts(recent, settings.early_warning_schools)
              if case.school_id in a.schools and mine & set(a.variants)]
    if not alerts:
        return []
    schools = await store.list_schools()
    names = {s.id: s.name for s in schools}
    team = [m for s in schools if s.kind == "authority" for m in await store.list_staff(s.id)
            if m.has(Role.AUTHORITY_SAFEGUARDING)]
    raised = []
    for alert in alerts:
        key = f"early_warning:{alert.kind}:{alert.key}:{len(alert.schools)}"
        text = words.text(
            f"early_warning.alert_{alert.kind}", value=alert.key, count=len(alert.schools), total=alert.reports,
            cases=", ".join(names.get(s, s) for s in alert.schools), date=f"{alert.first_seen:%-d %B}",
            reasons=", ".join(alert.variants))
        notes = [Notification(school_id=m.school_id, recipient=m.user, created_at=case.created_at,
                              replies=[Reply(key=f"early_warning.alert_{alert.kind}", text=text, urgent=True)])
                 for m in team]
        if await store.claim_alert(key, case.created_at, window_start, notes):
            raised.append(alert)
    return raised
