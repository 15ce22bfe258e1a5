"""Cases: opening one from a finished report, the case card, and everything a case handler does to it.

Only the people a case is routed to can see it or act on it. The reporter sees its reference and
status, nothing more. Every change is an event (who, what, when) stored with the change itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.dialogs.base import Context
from bot.markup import Markup
from bot.models import (
    CASE_HANDLER_ROLES,
    Case,
    CaseCard,
    CaseEvent,
    CaseStatus,
    Choice,
    Evidence,
    FileReply,
    Frame,
    Notification,
    Reply,
    Role,
)
from bot.early_warning import raise_alerts, sightings
from bot.plan import PlanEntry, case_plan, open_required, plan_reply
from bot.report_pack import pack_replies, reporter_pack
from bot.routing import alert_route, route_case
from bot.stats import MILESTONES, compute_stats, stats_reply

if TYPE_CHECKING:
    from bot.dialogs.report_concern import ReportConcern
    from bot.engine import Bot

NAMED_TEXT_STEPS = ("names", "description", "behind_it_detail")
FLOW_FOR_ACTION = {"note": "case_note", "action": "case_action", "status": "case_status", "close": "case_close"}
# What a refused press is recorded as: the card's name for the action (a form counts as its button; a plan
# tick as "tick"), or "other", so nothing a sender made up is ever written into the case's record.
CARD_ACTIONS = {"show", "ack", "plan", "tick", "pack", "pack_reporter", "record", *FLOW_FOR_ACTION}
ACTION_OF_FLOW = {flow: action for action, flow in FLOW_FOR_ACTION.items()}

log = logging.getLogger(__name__)


def attempted(action: str) -> str:
    """The card action a button, form or typed id was trying to take, in one vocabulary."""
    name = ACTION_OF_FLOW.get(action, action.partition(":")[0])
    return name if name in CARD_ACTIONS else "other"


class Casework:
    def __init__(self, bot: "Bot"):
        self.bot = bot

    @property
    def report(self) -> "ReportConcern":
        return self.bot.dialogs["report_concern"]  # type: ignore[return-value]

    def text(self, key: str, **values: Any) -> str:
        return self.bot.schools.text(key, **values)

    async def handler_names(self, school_id: str) -> str:
        staff = await self.bot.store.list_staff(school_id)
        people = [m for m in staff if m.role == Role.DSL] + [m for m in staff if m.role == Role.DEPUTY_DSL]
        return ", ".join(f"{m.name} ({self.text(f'roles.{m.role.value}')})" for m in people)

    async def _names(self, school_id: str) -> dict[str, str]:
        return {m.user: m.name for m in await self.bot.store.list_staff(school_id)}

    # --- opening a case ------------------------------------------------------------------

    async def alert_guardrail(self, ctx: Context, frame: Frame) -> int:
        """An urgent heads-up to the DSLs the moment a report may involve sexual images of an under-18,
        before the report is finished, so it reaches them even if the reporter never sends it."""
        staff = await self.bot.store.list_staff(ctx.school_id)
        reporter = next((m.name for m in staff if m.user == ctx.user), ctx.user)
        notes = [
            Notification(
                school_id=ctx.school_id, recipient=route.user, draft_id=frame.draft_id,
                replies=[Reply(key="case.guardrail_alert", urgent=True,
                               text=self.text("case.guardrail_alert", reporter=reporter))],
            )
            for route in alert_route(ctx.user, staff)
        ]
        await self.bot.store.queue_notifications(notes)
        frame.answers["_guardrail"]["alerted"] = [n.recipient for n in notes]
        return len(notes)

    async def open_case(self, ctx: Context, frame: Frame) -> Case:
        answers = {s.id: frame.answers[s.id] for s in self.report.answered_steps(frame)}
        guardrail = frame.answers.get("_guardrail")
        staff = await self.bot.store.list_staff(ctx.school_id)
        named_text = [answers[k] for k in NAMED_TEXT_STEPS if isinstance(answers.get(k), str)]
        routing = route_case(answers["categories"], answers, ctx.user, staff, named_text)
        evidence_files = [] if guardrail else (answers.get("evidence") or {}).get("files", [])
        case = Case(
            school_id=ctx.school_id, draft_id=frame.draft_id, urgent=bool(guardrail), categories=answers["categories"],
            reporter=ctx.user, answers={**answers, "guardrail": guardrail}, routed_to=routing.routes,
            excluded=routing.excluded, content_version=self.bot.schools.words().version, created_at=ctx.now, updated_at=ctx.now,
        )
        events = [
            CaseEvent(case_id=case.id, actor=ctx.user, kind="reported", at=ctx.now,
                      detail={"content_version": case.content_version}),
            CaseEvent(case_id=case.id, actor="bot", kind="routed", at=ctx.now, detail={
                "routes": [r.model_dump() for r in routing.routes],
                "excluded": [r.model_dump() for r in routing.excluded],
            }),
        ]
        if guardrail:
            events.append(CaseEvent(case_id=case.id, actor="bot", kind="flagged_urgent", at=ctx.now, detail=guardrail))
        evidence = [
            Evidence(case_id=case.id, added_by=ctx.user, added_at=ctx.now, **{k: f[k] for k in
                     ("name", "ref", "content_type", "size", "sha256")})
            for f in evidence_files
        ]
        names = {m.user: m.name for m in staff}

        def notify(stored: Case) -> list[Notification]:
            return [
                Notification(school_id=stored.school_id, recipient=route.user, case_id=stored.id, created_at=ctx.now,
                             replies=[self.card_reply(stored, route.user, names, key="case.new_card")])
                for route in stored.routed_to
            ]

        school = self.bot.schools.current()
        stored, _created = await self.bot.store.create_case(
            case, events, evidence, notify, self.bot.schools.reference_prefix(school),
            sightings(case.school_id, school.name, case.id, case.answers, case.created_at),
        )
        try:  # on a retried send too: a process that died before alerting left that to this one
            await raise_alerts(self.bot, stored)
        except Exception as exc:  # the report is safe with its school: early warning must not undo that
            log.error("early warning failed for a new case: %s", type(exc).__name__)
        return stored

    # --- the case card -------------------------------------------------------------------

    def card(self, case: Case, viewer: str, names: dict[str, str]) -> CaseCard:
        report = self.report
        fields: list[tuple[str, str]] = [
            (self.text("case.field.reported_by"), names.get(case.reporter, case.reporter)),
            (self.text("case.field.reported_at"), case.created_at.strftime("%-d %B %Y, %H:%M")),
        ]
        for step in report.flow.steps:
            if step.id in case.answers and step.type not in ("summary", "info"):
                fields.append((step.title, report.describe(step, case.answers[step.id])))
        route = next((r for r in case.routed_to if r.user == viewer), None)
        if route:
            fields.append((self.text("case.field.why_you"), self.text(f"routing.{route.reason}")))
        routed = ", ".join(names.get(r.user, r.user) for r in case.routed_to)
        fields.append((self.text("case.field.routed_to"), routed))
        if case.outcome:
            fields.append((self.text("case.field.outcome"), self.text(f"outcomes.{case.outcome}")))
        guidance = []
        if case.urgent:
            guidance.append(self.text("case.guidance.guardrail"))
        if "allegation" in case.categories:
            guidance.append(self.text("case.guidance.allegation"))
        guidance.append(self.text("case.guidance.always"))
        title_key = "case.title_urgent" if case.urgent else "case.title"
        return CaseCard(
            reference=case.reference, status=self.text(f"statuses.{case.status.value}"), urgent=case.urgent,
            title=self.text(title_key, reference=case.reference), fields=fields, guidance=guidance,
        )

    def actions(self, case: Case) -> list[Choice]:
        ref = case.reference

        def choice(action: str) -> Choice:
            return Choice(id=f"case:{ref}:{action}", label=self.text(f"case.action.{action}"))

        if case.status == CaseStatus.CLOSED:
            return [choice("note"), choice("plan"), choice("record")]
        actions = [choice("ack")] if case.status == CaseStatus.NEW else []
        return actions + [choice("plan"), choice("pack"), choice("note"), choice("action"), choice("status"),
                          choice("close"), choice("record")]

    def card_reply(self, case: Case, viewer: str, names: dict[str, str], key: str = "case.card") -> Reply:
        card = self.card(case, viewer, names)
        return Reply(key=key, text=self.text(key, reference=case.reference, status=card.status), card=card,
                     choices=self.actions(case), urgent=case.urgent)

    async def show(self, ctx: Context, case: Case, key: str = "case.card") -> None:
        ctx.replies.append(self.card_reply(case, ctx.user, await self._names(ctx.school_id), key=key))

    # --- buttons on a card ---------------------------------------------------------------

    async def load_for(self, ctx: Context, reference: str, action: str) -> Case | None:
        """The case, if this user may act on it; otherwise a refusal that gives nothing away, not even whether
        the case exists. A refusal on a case is recorded on it (who, which action, when), for its handlers to see;
        the log says only that a case action was refused, never which case or whose."""
        case = await self.bot.store.get_case(ctx.school_id, reference)
        if case and case.is_routed_to(ctx.user):
            return case
        name = attempted(action)
        if case:
            await self.bot.store.record_events([CaseEvent(case_id=case.id, actor=ctx.user, kind="access_refused",
                                                          at=ctx.now, detail={"action": name})])
        log.warning("case action refused (%s): the case is not routed to this person, or does not exist", name)
        ctx.say("case.not_found", reference=reference[:40])
        return None

    async def on_case_button(self, ctx: Context, choice: str) -> None:
        _, reference, action = (choice.split(":", 2) + ["", ""])[:3]
        case = await self.bot.store.get_case(ctx.school_id, reference)
        if case and case.reporter == ctx.user and not case.is_routed_to(ctx.user) and action == "show":
            ctx.say("case.reporter_view", reference=case.reference, status=self.text(f"statuses.{case.status.value}"),
                    date=case.created_at.strftime("%-d %B %Y"))
            return
        case = await self.load_for(ctx, reference, action)
        if case is None:
            return
        if action == "show":
            await self.show(ctx, case)
        elif action == "ack":
            await self.acknowledge(ctx, case)
        elif action == "plan":
            ctx.replies.append(await self.plan_reply(case))
        elif action.startswith("tick:"):
            await self.tick(ctx, case, action.removeprefix("tick:"))
        elif action == "pack":
            offer = "targeting_me" in case.categories and not case.is_routed_to(case.reporter)
            ctx.replies.extend(pack_replies(self.bot.schools.words(), self.bot.schools.current().name, case, offer))
        elif action == "pack_reporter":
            await self.send_pack_to_reporter(ctx, case)
        elif action == "record":
            await self.send_record(ctx, case)
        elif action in FLOW_FOR_ACTION:
            if case.status == CaseStatus.CLOSED and action != "note":
                ctx.say("case.already_closed", reference=case.reference)
                await self.show(ctx, case)
                return
            dialog = self.bot.dialogs[FLOW_FOR_ACTION[action]]
            if ctx.turn.forms:
                ctx.replies.append(dialog.form_reply(ctx, case.reference))
            else:
                await self.bot.start_flow(ctx, FLOW_FOR_ACTION[action], reference=case.reference)
        else:
            ctx.say("common.not_understood")

    async def on_form(self, ctx: Context, form_id: str, values: dict[str, str]) -> None:
        flow_id, _, reference = form_id.partition(":")
        if flow_id not in FLOW_FOR_ACTION.values():
            ctx.say("common.not_understood")
            return
        if await self.load_for(ctx, reference, flow_id) is None:
            return
        await self.bot.dialogs[flow_id].submit_form(ctx, reference, values)

    # --- the case plan and report packs ------------------------------------------------------

    async def plan_of(self, case: Case) -> list[PlanEntry]:
        store = self.bot.store
        return case_plan(self.bot.schools.words(), case, await store.case_events(case.id), await store.case_evidence(case.id))

    async def plan_reply(self, case: Case, key: str = "case.plan.show") -> Reply:
        return plan_reply(self.bot.schools.words(), self.bot.schools.current().name, case, await self.plan_of(case), key)

    async def tick(self, ctx: Context, case: Case, item: str) -> None:
        entry = next((e for e in await self.plan_of(case) if e.id == item), None)
        if entry is None:
            ctx.say("common.not_understood")
            return
        if not entry.done:
            await self.bot.store.record_events([CaseEvent(case_id=case.id, actor=ctx.user, kind="plan_ticked",
                                                          at=ctx.now, detail={"item": item})])
        ctx.replies.append(await self.plan_reply(case, key="case.plan.ticked"))

    async def send_record(self, ctx: Context, case: Case) -> None:
        """The safeguarding record as a PDF, to the handler who asked, where the channel can carry a file."""
        if not ctx.turn.files:
            ctx.say("case.record.not_here", reference=case.reference)
            return
        from bot.record import export_case

        _, data = await export_case(self.bot, case, by=ctx.user, fmt="pdf", content=self.bot.schools.words(), now=ctx.now)
        ctx.replies.append(Reply(
            key="case.record.ready", text=self.text("case.record.ready", reference=case.reference),
            file=FileReply(name=f"{case.reference}.pdf", media_type="application/pdf", content=data),
        ))

    async def send_pack_to_reporter(self, ctx: Context, case: Case) -> None:
        note = Notification(school_id=case.school_id, recipient=case.reporter, case_id=case.id, created_at=ctx.now,
                            replies=reporter_pack(self.bot.schools.words(), self.bot.schools.current().name, case))
        event = CaseEvent(case_id=case.id, actor=ctx.user, kind="pack_sent_to_reporter", at=ctx.now)
        await self.bot.store.update_case(case, [event], [note])
        ctx.say("case.pack.sent_to_reporter", reference=case.reference)

    # --- changes -------------------------------------------------------------------------

    async def _save(
        self, ctx: Context, case: Case, kind: str, detail: dict[str, Any], *, tell_reporter: str | None = None,
        tell_others: bool = False, expected: CaseStatus | None = None,
    ) -> bool:
        """Store the change; with `expected`, only if the case is still in that status (False if not)."""
        case.updated_at = ctx.now
        events = [CaseEvent(case_id=case.id, actor=ctx.user, kind=kind, detail=detail, at=ctx.now)]
        notes: list[Notification] = []
        names = await self._names(ctx.school_id)
        if tell_reporter and not case.is_routed_to(case.reporter):
            notes.append(Notification(
                school_id=case.school_id, recipient=case.reporter, case_id=case.id, created_at=ctx.now,
                replies=[Reply(key=tell_reporter, text=self.text(
                    tell_reporter, reference=case.reference,
                    outcome=Markup(self.text(f"outcomes_for_reporter.{case.outcome}") if case.outcome else "")))],
            ))
            events.append(CaseEvent(case_id=case.id, actor="bot", kind="reporter_told", at=ctx.now,
                                    detail={"message": tell_reporter}))
        notes += [
            Notification(school_id=case.school_id, recipient=route.user, case_id=case.id, created_at=ctx.now,
                         kind="card_update", replies=[self.card_reply(case, route.user, names)])
            for route in case.routed_to
        ]
        if tell_others:
            actor = names.get(ctx.user, ctx.user)
            for route in case.routed_to:
                if route.user != ctx.user:
                    notes.append(Notification(
                        school_id=case.school_id, recipient=route.user, case_id=case.id, created_at=ctx.now,
                        replies=[Reply(key=f"case.update.{kind}", text=self.text(
                            f"case.update.{kind}", reference=case.reference, name=actor,
                            status=self.text(f"statuses.{case.status.value}")))],
                    ))
        return await self.bot.store.update_case(case, events, notes,
                                                expected_status=expected.value if expected else None)

    async def already_done(self, ctx: Context, case: Case, action: str, **detail: Any) -> None:
        """A press that found its change already made: it changes nothing, and the chronology shows it."""
        await self.bot.store.record_events([CaseEvent(case_id=case.id, actor=ctx.user, kind="already_done", at=ctx.now,
                                                      detail={"action": action, **detail})])

    async def acknowledge(self, ctx: Context, case: Case) -> None:
        if case.status != CaseStatus.NEW:
            await self.already_done(ctx, case, "ack")
            ctx.say("case.already_acknowledged", reference=case.reference)
            await self.show(ctx, case)
            return
        case.status = CaseStatus.ACKNOWLEDGED
        if not await self._save(ctx, case, "acknowledged", {}, tell_reporter="case.reporter_acknowledged",
                                tell_others=True, expected=CaseStatus.NEW):
            await self.acknowledge(ctx, await self.bot.store.get_case(case.school_id, case.reference))
            return
        await self.show(ctx, case, key="case.acknowledged")

    async def add_note(self, ctx: Context, reference: str, note: str) -> None:
        case = await self.load_for(ctx, reference, "note")
        if case:
            await self._save(ctx, case, "note_added", {"note": note})
            await self.show(ctx, case, key="case.note_added")

    async def record_action(self, ctx: Context, reference: str, action: str, detail: str | None) -> None:
        case = await self.load_for(ctx, reference, "action")
        if case is None:
            return
        was_new = case.status == CaseStatus.NEW
        old = case.status
        if case.status in (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED):
            case.status = CaseStatus.IN_PROGRESS
        if not await self._save(ctx, case, "action_recorded", {"action": action, "detail": detail},
                                tell_reporter="case.reporter_acknowledged" if was_new else None, expected=old):
            await self.record_action(ctx, reference, action, detail)
            return
        await self.show(ctx, case, key="case.action_recorded")

    async def set_status(self, ctx: Context, reference: str, status: str) -> None:
        case = await self.load_for(ctx, reference, "status")
        if case is None:
            return
        if case.status == CaseStatus.CLOSED:
            await self.already_done(ctx, case, "status", to=status)
            ctx.say("case.already_closed", reference=case.reference)
            return
        was_new = case.status == CaseStatus.NEW
        old = case.status
        case.status = CaseStatus(status)
        if not await self._save(ctx, case, "status_changed", {"from": old.value, "to": status},
                                tell_reporter="case.reporter_acknowledged" if was_new else None, tell_others=True,
                                expected=old):
            await self.set_status(ctx, reference, status)
            return
        await self.show(ctx, case, key="case.status_changed")

    async def close(self, ctx: Context, reference: str, outcome: str, note: str | None, reason: str | None = None) -> None:
        case = await self.load_for(ctx, reference, "close")
        if case is None:
            return
        if case.status == CaseStatus.CLOSED:
            await self.already_done(ctx, case, "close", outcome=outcome, note=note)
            ctx.say("case.already_closed", reference=case.reference)
            return
        still_open = [e.id for e in open_required(await self.plan_of(case))]
        if still_open and not reason:
            ctx.say("case.plan.reason_needed", reference=case.reference)
            ctx.replies.append(await self.plan_reply(case))
            return
        old = case.status
        case.status = CaseStatus.CLOSED
        case.outcome = outcome
        detail = {"outcome": outcome, "note": note}
        if still_open:
            detail.update(open_required=still_open, reason=reason)
        if not await self._save(ctx, case, "closed", detail, tell_reporter="case.reporter_closed", tell_others=True,
                                expected=old):
            await self.close(ctx, reference, outcome, note, reason)
            return
        await self.show(ctx, case, key="case.closed")

    async def stats_for(self, ctx: Context) -> None:
        """Trends across the cases routed to this person only: a handler never learns of anyone else's cases."""
        store = self.bot.store
        cases = await store.list_cases(ctx.school_id, routed_to=ctx.user)
        events = await store.events_of_cases([c.id for c in cases], MILESTONES)
        ctx.replies.append(stats_reply(self.bot.schools.words(), compute_stats(ctx.school_id, cases, events, now=ctx.now)))

    # --- lists ---------------------------------------------------------------------------

    async def list_for(self, ctx: Context) -> None:
        store = self.bot.store
        handling = await store.list_cases(ctx.school_id, routed_to=ctx.user, open_only=True)
        reported = await store.list_cases(ctx.school_id, reporter=ctx.user)
        is_handler = ctx.member is not None and ctx.member.role in CASE_HANDLER_ROLES
        if handling:
            choices = [
                Choice(id=f"case:{c.reference}:show", label=self.text(
                    "case.list_item_urgent" if c.urgent else "case.list_item",
                    reference=c.reference, status=self.text(f"statuses.{c.status.value}"))[:75])
                for c in handling
            ]
            ctx.say("case.list_handling", count=len(handling), choices=choices)
        elif is_handler:
            ctx.say("case.list_handling_none")
        if reported:
            lines = "\n".join(
                self.text("case.reported_item", reference=c.reference, status=self.text(f"statuses.{c.status.value}"),
                          date=c.created_at.strftime("%-d %B %Y"))
                for c in reported
            )
            ctx.say("case.list_reported", cases=Markup(lines))
        elif not handling and not is_handler:
            ctx.say("case.list_reported_none")
        if not ctx.state.active and not handling:
            await self.bot.show_menu(ctx)

