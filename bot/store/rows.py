"""Between models and table rows, for both stores.

SQLite and PostgreSQL keep the same text in the same columns (timestamps as ISO 8601, JSON as text),
made and read by these functions, so the event hash chain, ordering by time and every read-back are
the same whichever database is underneath.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from bot.core.models import (
    Case,
    CaseEvent,
    ConversationState,
    Frame,
    Notification,
    Reminder,
    School,
    Sighting,
    StaffMember,
    Workspace,
)
from bot.store.base import CaseTombstone, ChainProblem, ChainProblemKind, ChainReport, event_hash

_CASE_JSON = ("categories", "answers", "routed_to", "excluded")


def ts(value: datetime) -> str:
    return value.isoformat()


def utc_ts(value: datetime) -> str:
    """A time as `ts` writes it, in UTC: for columns read by time windows, whose text order must then be
    the time order (ISO 8601 in one zone; a time without fractions sorts before one with, as '+' < '.')."""
    return ts(aware(value).astimezone(timezone.utc))


def aware(value: datetime) -> datetime:
    """A stored time without a zone is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def detail(text: str) -> Any:
    """A stored event detail as parsed JSON; text that is not JSON is hashed as it is, so it cannot match."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


# --- rows <-> models --------------------------------------------------------------------------


def case_row(case: Case) -> dict[str, Any]:
    data = case.model_dump(mode="json")
    for key in _CASE_JSON:
        data[key] = json.dumps(data[key])
    data["urgent"] = int(case.urgent)
    return data


def case_from_row(row: dict[str, Any]) -> Case:
    data = dict(row)
    for key in _CASE_JSON:
        data[key] = json.loads(data[key])
    data["urgent"] = bool(data["urgent"])
    return Case.model_validate(data)


def event_from_row(row: dict[str, Any]) -> CaseEvent:
    return CaseEvent.model_validate({**row, "detail": json.loads(row["detail"])})


def notification_row(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "school_id": n.school_id, "recipient": n.recipient, "case_id": n.case_id, "kind": n.kind,
            "replies": json.dumps([r.model_dump(mode="json") for r in n.replies]),
            "created_at": ts(n.created_at), "delivered_at": None, "draft_id": n.draft_id}


def notification_from_row(row: dict[str, Any]) -> Notification:
    return Notification.model_validate({**row, "replies": json.loads(row["replies"])})


def reminder_row(reminder: Reminder) -> dict[str, Any]:
    return {**reminder.model_dump(mode="json"), "detail": json.dumps(reminder.detail)}


def reminder_from_row(row: dict[str, Any]) -> Reminder:
    return Reminder.model_validate({**row, "detail": json.loads(row["detail"])})


def staff_row(member: StaffMember) -> dict[str, Any]:
    """`role` keeps the main role (for ordering, and for readers from before migration 14); `roles` all of them."""
    roles = [r.value for r in member.roles]
    return {"school_id": member.school_id, "user": member.user, "role": roles[0], "roles": json.dumps(roles),
            "name": member.name}


def staff_from_row(row: dict[str, Any]) -> StaffMember:
    data = dict(row)
    data["roles"] = json.loads(data.pop("roles") or "[]") or [data["role"]]
    data.pop("role")
    return StaffMember.model_validate(data)


def school_row(school: School) -> dict[str, Any]:
    return school.model_dump(mode="json", exclude={"workspaces"})


def school_from_row(row: dict[str, Any], workspaces: list[dict[str, Any]]) -> School:
    """A school from its row and its rows in school_workspaces (in the order they are to be listed)."""
    return School.model_validate({**row, "workspaces": [Workspace(platform=w["platform"], id=w["workspace_id"])
                                                        for w in workspaces]})


def not_empty(school_id: str, counts: dict[str, int]) -> str | None:
    """Why a school cannot be removed, from what it still has (table -> rows), or None if nothing."""
    names = {"staff": ("staff", "staff"), "cases": ("case", "cases"),
             "conversations": ("conversation", "conversations"),
             "case_tombstones": ("tombstone of a purged case", "tombstones of purged cases")}
    held = [f"{n} {names[t][n != 1]}" for t, n in counts.items() if n]
    if not held:
        return None
    listed = ", ".join(held[:-1]) + " and " + held[-1] if len(held) > 1 else held[0]
    return f"{school_id} still has {listed}: a school is removed only when empty"


def installation_keys(enterprise_id: str | None, team_id: str | None) -> list[tuple[str, str]]:
    """The (enterprise_id, team_id) rows to look for a Slack installation in, in order: exactly the one
    asked for, then, for a team in an Enterprise Grid organisation, the organisation's own install."""
    keys = [(enterprise_id or "", team_id or "")]
    if enterprise_id and team_id:
        keys.append((enterprise_id, ""))
    return keys


def utc_day(at: datetime) -> str:
    """The UTC day of `at`, as YYYY-MM-DD."""
    return at.astimezone(timezone.utc).date().isoformat()


def sighting_row(s: Sighting) -> dict[str, Any]:
    return {**s.model_dump(mode="json"), "seen_at": utc_ts(s.seen_at)}


def sighting_from_row(row: dict[str, Any]) -> Sighting:
    return Sighting.model_validate({k: row[k] for k in Sighting.model_fields})


def tombstone_row(tombstone: CaseTombstone) -> dict[str, Any]:
    return {**tombstone.model_dump(mode="json", exclude={"still_mentioned"}),
            "categories": json.dumps(tombstone.categories), "removed": json.dumps(tombstone.removed)}


def tombstone_from_row(row: dict[str, Any]) -> CaseTombstone:
    return CaseTombstone.model_validate({**row, "categories": json.loads(row["categories"]),
                                         "removed": json.loads(row["removed"])})


# --- the tamper-evident event log -------------------------------------------------------------


def chain_head(rows: list[dict[str, Any]]) -> str | None:
    """The hash a case's stored events end on, counting events from before the chain existed (no hash)
    as the hashes they would have had, so the next event seals them."""
    head: str | None = None
    for row in rows:
        head = row["hash"] or event_hash(row["case_id"], row["actor"], row["kind"], detail(row["detail"]),
                                         row["at"], head)
    return head


def chained_rows(events: list[CaseEvent], school_id: str, heads: dict[str, str | None],
                 key: bytes) -> list[dict[str, Any]]:
    """Rows for `events`, each chained to its case's previous event and sealed with the record key; `heads` holds
    each case's current head (every case in `events` must be there) and is moved on to the new heads."""
    rows = []
    for e in events:
        text, at = json.dumps(e.detail), ts(e.at)
        digest = event_hash(e.case_id, e.actor, e.kind, json.loads(text), at, heads[e.case_id], key)
        rows.append({"case_id": e.case_id, "school_id": school_id, "actor": e.actor, "kind": e.kind,
                     "detail": text, "at": at, "prev_hash": heads[e.case_id], "hash": digest, "keyed": 1})
        heads[e.case_id] = digest
    return rows


def check_chain(case_id: str, rows: list[dict[str, Any]], recorded_head: str | None, key: bytes,
                legacy_until: int) -> ChainReport:
    """Walk the case's events in the order they were stored. Events from before the chain existed
    (no hash, all before the first hashed one) are chained implicitly, as `chain_head` sealed them. Events
    sealed with the record key are checked with it; one sealed without it is accepted only if it was written
    before the key was (its id at most `legacy_until`)."""
    report = ChainReport(case_id=case_id, events=len(rows))

    def problem(position: int | None, row: dict[str, Any] | None, what: ChainProblemKind) -> None:
        report.problems.append(ChainProblem(
            position=position, event_id=row["id"] if row else None, kind=row["kind"] if row else None,
            at=row["at"] if row else None, problem=what))

    expected: str | None = None
    last_hashed: tuple[int, dict[str, Any]] | None = None
    legacy = 0
    for position, row in enumerate(rows, 1):
        keyed = bool(row.get("keyed"))
        computed_from = row["prev_hash"] if row["hash"] is not None else expected
        digest = event_hash(row["case_id"], row["actor"], row["kind"], detail(row["detail"]), row["at"],
                            computed_from, key if keyed else None)
        if row["hash"] is None:
            if last_hashed is None:
                legacy += 1
                expected = digest
            else:
                problem(position, row, "unhashed")
            continue
        report.hashed += 1
        report.keyed += keyed
        if not keyed and row["id"] > legacy_until:
            problem(position, row, "unkeyed")
        if row["prev_hash"] != expected:
            problem(position, row, "link_broken")
        if digest != row["hash"]:
            problem(position, row, "altered")
        expected = row["hash"]
        last_hashed = (position, row)
    report.unsealed = legacy if last_hashed is None else 0
    report.head = expected
    if last_hashed is None:
        if recorded_head is not None or not rows:
            problem(len(rows) or None, rows[-1] if rows else None, "end_mismatch")
    elif recorded_head != last_hashed[1]["hash"] or last_hashed[0] != len(rows):
        if not any(p.position == len(rows) for p in report.problems):
            problem(len(rows), rows[-1], "end_mismatch")
    return report


# --- retention --------------------------------------------------------------------------------

# Tables a purge's `still_mentioned` check does not read: the record of purges itself, and the deployment's
# own set-up (schools, workspaces, Slack installations, OAuth states), which never holds a case's text.
UNSCANNED = {"case_tombstones", "migrations", "schools", "school_workspaces", "slack_installations", "oauth_states"}


def choice_of_case(choice_id: str, reference: str) -> bool:
    """A button of this case's own (`case:REFERENCE:action`), not one that merely names it in its label."""
    kind, _, rest = choice_id.partition(":")
    return kind == "case" and rest.partition(":")[0].upper() == reference.upper()


def frame_of_case(frame: Frame, reference: str, draft_id: str) -> bool:
    """A flow that belongs to the case: the report that opened it (its draft), or a DSL's update of it (a
    note, an action, a status or a closure, whose `reference` answer is the case). A colleague's draft that
    only mentions the reference in what they typed is theirs, not the case's."""
    return frame.draft_id == draft_id or str(frame.answers.get("reference") or "").upper() == reference.upper()


def state_without_case(text: str, reference: str, draft_id: str) -> str | None:
    """A stored conversation without what belonged to a purged case (its frames and its buttons), or None
    if nothing in it did. Everything else in the conversation stays, whatever it mentions."""
    state = ConversationState.model_validate_json(text)
    changed = False
    for stack in (state.frames, state.paused):
        kept = [f for f in stack if not frame_of_case(f, reference, draft_id)]
        changed |= len(kept) != len(stack)
        stack[:] = kept
    if any(choice_of_case(str(c.get("id", "")), reference) for c in state.offered) or any(
            choice_of_case(c, reference) for c in state.numbered):
        state.offered, state.numbered, state.offered_multiple = [], [], False
        changed = True
    if state.case_in_focus == reference:  # the case a handler last had open
        state.case_in_focus = None
        changed = True
    return state.model_dump_json() if changed else None


def reminder_of_case(detail_text: str, reference: str, case_id: str) -> bool:
    """A stored reminder about the case: a field of its detail is the case's reference or id (a whole value,
    not a mention inside some text)."""
    try:
        data = json.loads(detail_text)
    except (TypeError, ValueError):
        return False
    values = data.values() if isinstance(data, dict) else []
    return any(isinstance(v, str) and (v == case_id or v.upper() == reference.upper()) for v in values)


def tombstone_for(
    case: dict[str, Any], events: list[dict[str, Any]], removed: dict[str, int], *,
    purged_at: datetime, purged_by: str, policy: str,
) -> CaseTombstone:
    """What is kept of a purged case (its stored row and events, in order): when and why, never what."""
    closed_at = next((e["at"] for e in events if e["kind"] == "closed"), None)
    return CaseTombstone(
        school_id=case["school_id"], reference=case["reference"], categories=json.loads(case["categories"]),
        created_at=datetime.fromisoformat(case["created_at"]),
        closed_at=datetime.fromisoformat(closed_at) if closed_at else None, purged_at=purged_at,
        purged_by=purged_by, policy=policy, events_removed=removed.get("case_events", 0),
        last_event_hash=case.get("events_head") or (events[-1].get("hash") if events else None), removed=removed,
    )
