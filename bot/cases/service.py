"""What a case handler does to a case, as the case domain sees it: each command takes the school's scope, the
case, who acts and when, records the change as an event (who, what, when) with the change itself, and queues
what the people the case is for are told (the reporter's short message, each handler's card updated, a
colleague's "acknowledged"). It says how the command went (`Change`); what the person acting sees is the
conversation's business (bot/conversation/casework.py). Nothing here logs anything about a case.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from bot.cases.card import THRESHOLD_DECISIONS, card_reply, current_handlers, name_of
from bot.cases.plan import PlanEntry, case_plan, open_required
from bot.cases.report_pack import reporter_pack
from bot.cases.routing import CASE_MANAGER_REASONS
from bot.cases.scope import SchoolScope
from bot.core.markup import Markup
from bot.core.models import Case, CaseEvent, CaseStatus, Notification, Reply
from bot.store import Store


class Change(Enum):
    """How a command went."""

    DONE = "done"
    ALREADY_DONE = "already_done"  # the change was made before: nothing changed, and the chronology shows the press
    CLOSED = "closed"  # the case is closed: the command does not apply
    CHANGED_MEANWHILE = "changed_meanwhile"  # another handler changed the case first: read it again and retry
    REASON_NEEDED = "reason_needed"  # closing with required steps still open needs a reason
    NOT_APPLICABLE = "not_applicable"  # the command does not apply to this case (no such plan step; not an allegation)
    CASE_MANAGER_ONLY = "case_manager_only"  # only the allegation's case manager decides this
    DECISION_NEEDED = "decision_needed"  # no decision given, or not one of those offered: ask for one


class CaseService:
    """The case commands, over the store."""

    def __init__(self, store: Store):
        self.store = store

    async def plan_of(self, scope: SchoolScope, case: Case) -> list[PlanEntry]:
        return case_plan(scope.words, case, await self.store.case_events(case.id),
                         await self.store.case_evidence(case.id))

    async def record(
        self, scope: SchoolScope, case: Case, actor: str, now: datetime, kind: str, detail: dict[str, Any], *,
        tell_reporter: str | None = None, tell_others: bool = False, expected: CaseStatus | None = None,
    ) -> bool:
        """Store the change to `case` with its event, each current handler's card as it is now, the reporter's
        message `tell_reporter` (unless they handle it) and, with `tell_others`, a line to its other handlers;
        with `expected`, only if the case is still in that status (False if not)."""
        case.updated_at = now
        events = [CaseEvent(case_id=case.id, actor=actor, kind=kind, detail=detail, at=now)]
        notes: list[Notification] = []
        staff = await self.store.list_staff(case.school_id)
        names = {m.user: m.name for m in staff}
        handlers = [r for r in case.routed_to if r.user in current_handlers(staff)]
        if tell_reporter and not case.is_routed_to(case.reporter):
            outcome = scope.text(f"outcomes_for_reporter.{case.outcome}") if case.outcome else ""
            notes.append(Notification(
                school_id=case.school_id, recipient=case.reporter, case_id=case.id, created_at=now,
                replies=[Reply(key=tell_reporter, text=scope.text(tell_reporter, reference=case.reference,
                                                                  outcome=Markup(outcome)))],
            ))
            events.append(CaseEvent(case_id=case.id, actor="bot", kind="reporter_told", at=now,
                                    detail={"message": tell_reporter}))
        history = [*await self.store.case_events(case.id), *events]
        notes += [
            Notification(school_id=case.school_id, recipient=route.user, case_id=case.id, created_at=now,
                         kind="card_update", replies=[card_reply(scope, case, route.user, names, events=history)])
            for route in handlers
        ]
        if tell_others:
            who = name_of(scope, names, actor)
            status = scope.text(f"statuses.{case.status.value}")
            notes += [
                Notification(school_id=case.school_id, recipient=route.user, case_id=case.id, created_at=now,
                             replies=[Reply(key=f"case.update.{kind}", text=scope.text(
                                 f"case.update.{kind}", reference=case.reference, name=who, status=status))])
                for route in handlers if route.user != actor
            ]
        return await self.store.update_case(case, events, notes,
                                            expected_status=expected.value if expected else None)

    async def already_done(self, case: Case, actor: str, now: datetime, action: str, **detail: Any) -> None:
        """A press that found its change already made: it changes nothing, and the chronology shows it."""
        await self.store.record_events([CaseEvent(case_id=case.id, actor=actor, kind="already_done", at=now,
                                                  detail={"action": action, **detail})])

    async def _moved(self, scope: SchoolScope, case: Case, actor: str, now: datetime, kind: str,
                     detail: dict[str, Any], old: CaseStatus, **telling: Any) -> Change:
        done = await self.record(scope, case, actor, now, kind, detail, expected=old, **telling)
        return Change.DONE if done else Change.CHANGED_MEANWHILE

    async def acknowledge(self, scope: SchoolScope, case: Case, actor: str, now: datetime) -> Change:
        if case.status != CaseStatus.NEW:
            await self.already_done(case, actor, now, "ack")
            return Change.ALREADY_DONE
        case.status = CaseStatus.ACKNOWLEDGED
        return await self._moved(scope, case, actor, now, "acknowledged", {}, CaseStatus.NEW,
                                 tell_reporter="case.reporter_acknowledged", tell_others=True)

    async def mark_urgent(self, scope: SchoolScope, case: Case, actor: str, now: datetime) -> Change:
        """Recorded as an event and told to the other handlers; the reminders (bot/cases/reminders.py reads
        `case.urgent`) follow the urgent timetable from then on."""
        if case.status == CaseStatus.CLOSED:
            return Change.CLOSED
        if case.urgent:
            await self.already_done(case, actor, now, "urgent")
            return Change.ALREADY_DONE
        case.urgent = True
        return await self._moved(scope, case, actor, now, "flagged_urgent", {"reason": "marked_by_handler"},
                                 case.status, tell_others=True)

    async def add_note(self, scope: SchoolScope, case: Case, actor: str, now: datetime, note: str) -> Change:
        """A note is kept on any case, closed ones too."""
        await self.record(scope, case, actor, now, "note_added", {"note": note})
        return Change.DONE

    async def record_action(self, scope: SchoolScope, case: Case, actor: str, now: datetime, action: str,
                            detail: str | None) -> Change:
        """An action taken (reported to a platform, the LADO told, ...): a new or acknowledged case is then in
        progress, and the reporter of a new one told it is in hand."""
        old = case.status
        if old in (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED):
            case.status = CaseStatus.IN_PROGRESS
        return await self._moved(scope, case, actor, now, "action_recorded", {"action": action, "detail": detail},
                                 old, tell_reporter="case.reporter_acknowledged" if old == CaseStatus.NEW else None)

    async def set_status(self, scope: SchoolScope, case: Case, actor: str, now: datetime, status: str) -> Change:
        if case.status == CaseStatus.CLOSED:
            await self.already_done(case, actor, now, "status", to=status)
            return Change.CLOSED
        old = case.status
        case.status = CaseStatus(status)
        return await self._moved(
            scope, case, actor, now, "status_changed", {"from": old.value, "to": status}, old, tell_others=True,
            tell_reporter="case.reporter_acknowledged" if old == CaseStatus.NEW else None)

    async def close(self, scope: SchoolScope, case: Case, actor: str, now: datetime, outcome: str,
                    note: str | None, reason: str | None = None) -> Change:
        """Closed with its outcome and note; with required steps of its plan still open, only with a reason,
        kept with them."""
        if case.status == CaseStatus.CLOSED:
            await self.already_done(case, actor, now, "close", outcome=outcome, note=note)
            return Change.CLOSED
        still_open = [e.id for e in open_required(await self.plan_of(scope, case))]
        if still_open and not reason:
            return Change.REASON_NEEDED
        old = case.status
        case.status = CaseStatus.CLOSED
        case.outcome = outcome
        detail: dict[str, Any] = {"outcome": outcome, "note": note}
        if still_open:
            detail.update(open_required=still_open, reason=reason)
        return await self._moved(scope, case, actor, now, "closed", detail, old,
                                 tell_reporter="case.reporter_closed", tell_others=True)

    async def tick(self, scope: SchoolScope, case: Case, actor: str, now: datetime, item: str) -> Change:
        """A step of the case plan done: recorded once."""
        entry = next((e for e in await self.plan_of(scope, case) if e.id == item), None)
        if entry is None:
            return Change.NOT_APPLICABLE
        if entry.done:
            return Change.ALREADY_DONE
        await self.store.record_events([CaseEvent(case_id=case.id, actor=actor, kind="plan_ticked", at=now,
                                                  detail={"item": item})])
        return Change.DONE

    async def decide_threshold(self, case: Case, actor: str, now: datetime, decision: str | None) -> Change:
        """The case manager's harm-threshold decision on an open allegation, recorded as an event (who and
        what), after which the case plan shows the steps it makes required."""
        route = next((r for r in case.routed_to if r.user == actor), None)
        if route is None or "allegation" not in case.categories or case.status == CaseStatus.CLOSED:
            return Change.NOT_APPLICABLE
        if route.reason not in CASE_MANAGER_REASONS:
            return Change.CASE_MANAGER_ONLY
        if decision not in THRESHOLD_DECISIONS:
            return Change.DECISION_NEEDED
        await self.store.record_events([CaseEvent(case_id=case.id, actor=actor, kind="threshold_decided", at=now,
                                                  detail={"decision": decision})])
        return Change.DONE

    async def reporter_reported(self, scope: SchoolScope, case: Case, actor: str, now: datetime) -> Change:
        """The reporter has reported the impersonation to the platform themselves: once, and its handlers told."""
        if any(e.kind == "reporter_reported_to_platform" for e in await self.store.case_events(case.id)):
            return Change.ALREADY_DONE
        await self.record(scope, case, actor, now, "reporter_reported_to_platform", {}, tell_others=True)
        return Change.DONE

    async def send_pack_to_reporter(self, scope: SchoolScope, case: Case, actor: str, now: datetime) -> Change:
        """The routes only the person impersonated can use, sent to the reporter, and recorded."""
        note = Notification(school_id=case.school_id, recipient=case.reporter, case_id=case.id, created_at=now,
                            replies=reporter_pack(scope.words, scope.school, case))
        event = CaseEvent(case_id=case.id, actor=actor, kind="pack_sent_to_reporter", at=now)
        await self.store.update_case(case, [event], [note])
        return Change.DONE
