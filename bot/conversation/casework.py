"""Cases: opening one from a finished report, the case card, and everything a case handler does to it.

Only the people a case is routed to, while the staff directory still lists them in a role that handles cases,
can see it or act on it: someone removed from the directory, or moved to another role, loses it at once (no
card, record, button, list entry or card update). The reporter sees its reference and status, nothing more.
Every change is an event (who, what, when) stored with the change itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any

from bot.cases.actions import BY_FLOW, action_of, attempted
from bot.cases.card import (
    THRESHOLD_DECISIONS,
    allegation_harm,
    card_reply,
    case_manager_label,
    handlers_in_words,
    is_handler,
    may_handle,
    name_of,
    names_of_people,
    subject_pending,
)
from bot.cases.digest import digest_reply
from bot.cases.early_warning import raise_alerts, sightings
from bot.cases.plan import PlanEntry, plan_reply
from bot.cases.record import export_case
from bot.cases.report_pack import pack_replies, reporter_pack
from bot.cases.routing import NAMED_TEXT_STEPS, named_text, route_case
from bot.cases.schools import Schools
from bot.cases.scope import SchoolScope
from bot.cases.service import CaseService, Change
from bot.cases.stats import MILESTONES, compute_stats, stats_reply
from bot.cases.triage import cards_in_full, triage_reply
from bot.conversation import record_system
from bot.conversation.case_focus import MY_CASES, back_to_case, card_shown, remember_list
from bot.conversation.context import Context, FlowRunner
from bot.conversation.dialogs.base import CaseUpdate, Dialog
from bot.conversation.dialogs.report_concern import ReportConcern
from bot.core.config import Settings
from bot.core.markup import Markup
from bot.core.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Choice,
    Evidence,
    FileReply,
    Frame,
    Notification,
    Reply,
    Route,
    StaffMember,
)
from bot.store import Store

log = logging.getLogger(__name__)
# What the reporter of an impersonation can press about their own case: the steps, and that they have reported it.
REPORTER_ACTIONS = {"own_steps": "show_own_steps", "self_reported": "mark_self_reported"}


def cards_in(note: Notification) -> set[str]:
    """The references of the case cards `note` is made of; none if anything else is in it."""
    return {r.card.reference for r in note.replies if r.card} if all(r.card for r in note.replies) else set()


class Casework:
    """A case handler's side of the conversation, and the reporter's: a case opened from a finished report, the
    card's buttons and forms, and every change, each told to the people the case is for."""

    def __init__(self, store: Store, settings: Settings, schools: Schools, dialogs: dict[str, Dialog],
                 conversation: FlowRunner, opened_chat_platforms: set[str]):
        self.store = store
        self.cases = CaseService(store)
        self.settings = settings
        self.schools = schools
        self.dialogs = dialogs
        self.report = next(d for d in dialogs.values() if isinstance(d, ReportConcern))
        # The flows a card's buttons start on a case (note, action, status, close), which also come as forms.
        self.case_updates = {flow: d for flow, d in dialogs.items() if isinstance(d, CaseUpdate)}
        self.conversation = conversation
        # Platforms whose channel can write only into a chat the person has opened; each such channel adds its own.
        self.opened_chat_platforms = opened_chat_platforms

    async def handler_names(self, ctx: Context) -> str:
        return handlers_in_words(ctx.scope, await self.store.list_staff(ctx.school_id))

    async def _names(self, school_id: str, staff: list[StaffMember] | None = None) -> dict[str, str]:
        """How to name each person: the staff directory's name (from `staff` when just read), else the name
        their platform gave them."""
        return await names_of_people(self.store, school_id, staff)

    async def not_yet_reachable(self, school_id: str, users: list[str]) -> list[str]:
        """Those of `users` who cannot be sent anything yet: on a platform where the bot writes only into a chat
        the person has opened (a channel says so in `opened_chat_platforms`), anyone who has not opened it, or whose
        chat refused."""
        waiting = []
        for platform in sorted(self.opened_chat_platforms):
            on_it = [u for u in users if u.startswith(f"{platform}:")]
            if on_it:
                reachable = await self.store.reachable_users(school_id, platform)
                waiting += [u for u in on_it if u not in reachable]
        return waiting

    async def tell_others_undelivered(self, note: Notification, reason: str) -> None:
        """`note`, a message about a case, could never reach its recipient (`reason`: blocked, conversation_gone,
        too_big): the case's other handlers are told who was not reached and why."""
        reference = next((r.card.reference for r in note.replies if r.card), None)
        if note.kind != "message" or reference is None:
            return
        scope = await self.schools.scope(note.school_id)
        case = await self.store.get_case(note.school_id, reference)
        if case is None:
            return
        name = (await self._names(note.school_id)).get(note.recipient) or scope.text("case.undelivered_someone")
        text = scope.text("case.undelivered", name=name, reference=reference,
                          reason=scope.text(f"case.undelivered_because.{reason}"))
        await self.store.queue_notifications([
            Notification(school_id=note.school_id, recipient=route.user, case_id=case.id,
                         replies=[Reply(key="case.undelivered", text=text)])
            for route in case.routed_to if route.user != note.recipient
        ])

    # --- opening a case ------------------------------------------------------------------

    async def alert_urgent(self, ctx: Context, frame: Frame, key: str) -> str:
        """An urgent heads-up before the report is finished, so it reaches the safeguarding team even if it is never
        sent: `case.guardrail_alert` (it may involve sexual images of an under-18) or `case.danger_alert` (someone
        may be in danger now). It goes where the report would go with what it says so far: never to anyone it
        names, nor (for an allegation about the head) to the head. While an allegation has not yet said whom it
        is about, who is reporting is held back, and follows once it has (`send_held_details`). A few an hour per
        person (the rest wait for the report itself, which is urgent). Returns what happened: "alerted", "no_one"
        or "limited"; who was alerted is kept on the report (`_alerted`)."""
        staff = await self.store.list_staff(ctx.school_id)
        answers = self._answers_so_far(frame)
        held = subject_pending(answers)
        if held:  # only the safeguarding team for now: the headteacher, as case manager, once it is not about them
            answers["categories"] = [c for c in answers["categories"] if c != "allegation"]
        routes = self._alert_routes(ctx.user, answers, staff, ctx.turn.text)
        names = await self._names(ctx.school_id, staff)
        notes = [self._alert_note(ctx, frame, route.user, names, key, held) for route in routes]
        if not notes:
            return "no_one"
        if not await self._claim_alert_slot(ctx, notes):
            return "limited"
        frame.answers["_alerted"] = list(dict.fromkeys([*frame.answers.get("_alerted", []),
                                                        *(n.recipient for n in notes)]))
        if held:
            frame.answers["_alert_held"] = list(dict.fromkeys([*frame.answers.get("_alert_held", []), key]))
        return "alerted"

    async def send_held_details(self, ctx: Context, frame: Frame) -> None:
        """Who is reporting, for an alert that held it back, once the report says whom it is about: to those
        the report would go to now, so never to its subject."""
        answers = self._answers_so_far(frame)
        held = frame.answers.get("_alert_held") or []
        if not held or subject_pending(answers):
            return
        staff = await self.store.list_staff(ctx.school_id)
        names = await self._names(ctx.school_id, staff)
        notes = [self._alert_note(ctx, frame, route.user, names, key, held=False)
                 for route in self._alert_routes(ctx.user, answers, staff) for key in held]
        await self.store.queue_notifications(notes)
        frame.answers["_alert_held"] = []

    def _answers_so_far(self, frame: Frame) -> dict[str, Any]:
        return {s.id: frame.answers[s.id] for s in self.report.answered_steps(frame)}

    @staticmethod
    def _alert_routes(reporter: str, answers: dict[str, Any], staff: list[StaffMember],
                      typed: str | None = None) -> list[Route]:
        """Where the report would go now; `typed`, the message that raised the alert (read by the safety check
        before it is kept as an answer), counts as named text too, so no one it names is alerted."""
        named_text = [answers[k] for k in NAMED_TEXT_STEPS if isinstance(answers.get(k), str)]
        named_text += [typed] if typed else []
        return route_case(answers.get("categories") or [], answers, reporter, staff, named_text).routes

    def _alert_note(self, ctx: Context, frame: Frame, recipient: str, names: dict[str, str], key: str,
                    held: bool) -> Notification:
        """The alert carries its report's draft id: a purge of that case removes it."""
        key = f"{key}_held" if held else key
        return Notification(school_id=ctx.school_id, recipient=recipient, created_at=ctx.now, draft_id=frame.draft_id,
                            replies=[Reply(key=key, urgent=True,
                                           text=ctx.text(key, reporter=name_of(ctx.scope, names, ctx.user)))])

    async def _claim_alert_slot(self, ctx: Context, notes: list[Notification]) -> bool:
        """Queue `notes` if this person has sent fewer than `guardrail_alerts_per_hour` alerts in the last hour,
        counted in the store (so across every process) by slot; the key carries no name, only a digest."""
        person = hashlib.sha256(f"{ctx.school_id}/{ctx.user}".encode()).hexdigest()[:32]
        since = ctx.now - timedelta(hours=1)
        for slot in range(self.settings.guardrail_alerts_per_hour):
            if await self.store.claim_alert(f"guardrail:{person}:{slot}", ctx.now, since, notes):
                return True
        return False

    async def open_case(self, ctx: Context, frame: Frame) -> Case:
        answers = self.report.case_answers(frame)
        guardrail = frame.answers.get("_guardrail")
        safety = frame.answers.get("_safety") or {}
        staff = await self.store.list_staff(ctx.school_id)
        routing = route_case(answers["categories"], answers, ctx.user, staff, named_text(answers),
                             self.settings.low_level_concerns_to)
        evidence_files = [] if guardrail else (answers.get("evidence") or {}).get("files", [])
        harm = allegation_harm(ctx.scope, answers)
        case = Case(
            school_id=ctx.school_id, draft_id=frame.draft_id, urgent=bool(guardrail or "danger" in safety or harm),
            categories=answers["categories"], reporter=ctx.user,
            answers={**answers, "guardrail": guardrail, "safety": safety or None,
                     **({"allegation_harm": harm} if harm else {})}, routed_to=routing.routes,
            excluded=routing.excluded, content_version=ctx.content.version, created_at=ctx.now, updated_at=ctx.now,
        )
        events = [
            CaseEvent(case_id=case.id, actor=ctx.user, kind="reported", at=ctx.now,
                      detail={"content_version": case.content_version}),
            CaseEvent(case_id=case.id, actor="bot", kind="routed", at=ctx.now, detail={
                "routes": [r.model_dump() for r in routing.routes],
                "excluded": [r.model_dump() for r in routing.excluded],
            }),
        ]
        if guardrail or "danger" in safety:
            events.append(CaseEvent(case_id=case.id, actor="bot", kind="flagged_urgent", at=ctx.now,
                                    detail=guardrail or {"reason": "danger", **safety["danger"]}))
        if harm:
            events.append(CaseEvent(case_id=case.id, actor="bot", kind="flagged_urgent", at=ctx.now, detail=harm))
        evidence = [
            Evidence(case_id=case.id, added_by=ctx.user, added_at=ctx.now, **{k: f[k] for k in
                     ("name", "ref", "content_type", "size", "sha256")})
            for f in evidence_files
        ]
        names = await self._names(ctx.school_id, staff)

        scope = ctx.scope

        def notify(stored: Case) -> list[Notification]:
            """Run by the store inside its transaction (perhaps on a worker thread): a function of its arguments."""
            return [
                Notification(school_id=stored.school_id, recipient=route.user, case_id=stored.id, created_at=ctx.now,
                             replies=[card_reply(scope, stored, route.user, names, key="case.new_card",
                                                 events=events)])
                for route in stored.routed_to
            ]

        stored, _created = await self.store.create_case(
            case, events, evidence, notify, scope.reference_prefix,
            sightings(case.school_id, scope.name, case.id, case.answers, case.created_at),
        )
        try:  # on a retried send too: a process that died before alerting left that to this one
            await raise_alerts(self.store, self.settings, self.schools.base, stored)
        except Exception as exc:  # the report is safe with its school: early warning must not undo that
            log.error("early warning failed for a new case: %s", type(exc).__name__)
        return stored

    # --- the case card -------------------------------------------------------------------

    async def show(self, ctx: Context, case: Case, key: str = "case.card", after_change: bool = False) -> None:
        card_shown(ctx, case)
        reply = card_reply(ctx.scope, case, ctx.user, await self._names(ctx.school_id), key=key,
                           events=await self.store.case_events(case.id))
        reply.after_change = after_change
        ctx.replies.append(reply)

    async def confirm(self, ctx: Context, case: Case, key: str) -> None:
        """After a change: one short line where the channel updates each person's one card in place (the change
        reaches that card as a card update); the card itself where the channel cannot update it, marked as
        following a change (`Reply.after_change`), so that channel may show its summary alone."""
        if ctx.turn.updates_cards:
            card_shown(ctx, case)
            ctx.say(key, reference=case.reference, status=ctx.text(f"statuses.{case.status.value}"))
        else:
            await self.show(ctx, case, key=key, after_change=True)

    # --- buttons on a card ---------------------------------------------------------------

    async def load_for(self, ctx: Context, reference: str, action: str) -> Case | None:
        """The case, if this user may act on it; otherwise a refusal that gives nothing away, not even whether
        the case exists: the same reply, and the same work (one read, one write), for a case that does not. A
        refusal is counted per person, case and day, and the day's first is recorded on the case (who, which
        action, when) for its handlers to see, so no one can flood its record; the log says only that a case
        action was refused, never which case or whose."""
        case = await self.store.get_case(ctx.school_id, reference)
        if case and may_handle(case, ctx.member):
            return case
        name = attempted(action)
        await self.store.record_refusal(ctx.school_id, case.id if case else None, ctx.user, ctx.now, name)
        log.warning("case action refused (%s): the case is not routed to this person, or does not exist", name)
        ctx.say("case.not_found", reference=reference[:40])
        return None

    async def on_case_button(self, ctx: Context, choice: str) -> None:
        _, reference, action = (choice.split(":", 2) + ["", ""])[:3]
        case = await self.store.get_case(ctx.school_id, reference)
        if case and case.reporter == ctx.user and not may_handle(case, ctx.member) and action in REPORTER_ACTIONS:
            await getattr(self, REPORTER_ACTIONS[action])(ctx, case)
            return
        if case and case.reporter == ctx.user and not may_handle(case, ctx.member) and action == "show":
            ctx.say("case.reporter_view", reference=case.reference, status=ctx.text(f"statuses.{case.status.value}"),
                    date=case.created_at.strftime("%-d %B %Y"))
            return
        case = await self.load_for(ctx, reference, action)
        if case is None:
            return
        await self.take(ctx, case, action)

    async def take(self, ctx: Context, case: Case, pressed: str) -> None:
        """Do the card action `pressed` names (bot/cases/actions.py): its handler, or its flow (one form where the
        channel has forms, else a conversation)."""
        action, value = action_of(pressed)
        ctx.state.case_in_focus = case.reference
        if action is None:
            ctx.say("common.not_understood")
        elif action.flow:
            if case.status not in action.statuses:
                ctx.say("case.already_closed", reference=case.reference)
                await self.show(ctx, case)
            elif ctx.turn.forms:
                ctx.replies.append(await self.case_updates[action.flow].form_for(ctx, case))
            else:
                await self.conversation.start_flow(ctx, action.flow, reference=case.reference)
        elif action.takes_value:
            await getattr(self, str(action.handler))(ctx, case, value)
        else:
            await getattr(self, str(action.handler))(ctx, case)

    async def show_plan(self, ctx: Context, case: Case) -> None:
        ctx.replies.append(await self.plan_reply(ctx, case))

    async def show_pack(self, ctx: Context, case: Case) -> None:
        offer = "targeting_me" in case.categories and not case.is_routed_to(case.reporter)
        replies = pack_replies(ctx.content, ctx.scope.school, case, offer)
        replies[-1].choices.append(back_to_case(ctx, case))
        ctx.replies.extend(replies)

    async def send_entry(self, ctx: Context, case: Case) -> None:
        await record_system.send_entry(ctx, case)

    async def mark_entered(self, ctx: Context, case: Case) -> None:
        await record_system.mark_entered(ctx, case)

    async def on_form(self, ctx: Context, form_id: str, values: dict[str, str]) -> None:
        flow_id, _, reference = form_id.partition(":")
        if flow_id not in BY_FLOW:
            ctx.say("common.not_understood")
            return
        if await self.load_for(ctx, reference, flow_id) is None:
            return
        await self.case_updates[flow_id].submit_form(ctx, reference, values)

    # --- the case plan and report packs ------------------------------------------------------

    async def plan_of(self, scope: SchoolScope, case: Case) -> list[PlanEntry]:
        return await self.cases.plan_of(scope, case)

    async def plan_reply(self, ctx: Context, case: Case, key: str = "case.plan.show") -> Reply:
        reply = plan_reply(ctx.content, ctx.scope.name, case, await self.plan_of(ctx.scope, case), key)
        reply.choices.append(back_to_case(ctx, case))
        return reply

    async def tick(self, ctx: Context, case: Case, item: str) -> None:
        if await self.cases.tick(ctx.scope, case, ctx.user, ctx.now, item) == Change.NOT_APPLICABLE:
            ctx.say("common.not_understood")
            return
        ctx.replies.append(await self.plan_reply(ctx, case, key="case.plan.ticked"))

    async def threshold(self, ctx: Context, case: Case, decision: str) -> None:
        """The case manager's harm-threshold decision on an allegation: asked, then recorded (bot/cases/service.py),
        then the case plan with the steps it makes required."""
        change = await self.cases.decide_threshold(case, ctx.user, ctx.now, decision)
        if change == Change.NOT_APPLICABLE:
            ctx.say("common.not_understood")
        elif change == Change.CASE_MANAGER_ONLY:
            ctx.say("case.threshold.case_manager_only", reference=case.reference,
                    value=case_manager_label(ctx.scope, case))
        elif change == Change.DECISION_NEEDED:
            choices = [Choice(id=f"case:{case.reference}:threshold:{d}", label=ctx.text(f"case.threshold.{d}"))
                       for d in THRESHOLD_DECISIONS]
            ctx.say("case.threshold.ask", reference=case.reference, choices=choices)
        else:
            ctx.say("case.threshold.recorded", reference=case.reference,
                    value=ctx.text(f"case.threshold.{decision}"))
            ctx.replies.append(await self.plan_reply(ctx, case))

    async def send_record(self, ctx: Context, case: Case) -> None:
        """The safeguarding record as a PDF, to the handler who asked, where the channel can carry a file."""
        if not ctx.turn.files:
            ctx.say("case.record.not_here", reference=case.reference)
            return
        _, data = await export_case(self.store, ctx.scope, case, by=ctx.user, fmt="pdf", now=ctx.now)
        ctx.replies.append(Reply(
            key="case.record.ready", text=ctx.text("case.record.ready", reference=case.reference),
            file=FileReply(name=f"{case.reference}.pdf", media_type="application/pdf", content=data),
        ))

    async def show_own_steps(self, ctx: Context, case: Case) -> None:
        """The reporter of an impersonation asks for the steps only they can use; "I've reported it" follows."""
        replies = reporter_pack(ctx.content, ctx.scope.school, case)
        replies[-1].choices.append(ctx.choice(f"case:{case.reference}:self_reported", "report.self_reported_label"))
        ctx.replies.extend(replies)

    async def mark_self_reported(self, ctx: Context, case: Case) -> None:
        """The reporter says they have reported the impersonation to the platform (bot/cases/service.py)."""
        if await self.cases.reporter_reported(ctx.scope, case, ctx.user, ctx.now) == Change.ALREADY_DONE:
            ctx.say("report.self_reported_already", reference=case.reference)
        else:
            ctx.say("report.self_reported_thanks", reference=case.reference)

    async def send_pack_to_reporter(self, ctx: Context, case: Case) -> None:
        await self.cases.send_pack_to_reporter(ctx.scope, case, ctx.user, ctx.now)
        ctx.say("case.pack.sent_to_reporter", reference=case.reference)

    # --- changes: the case domain's commands (bot/cases/service.py), and what the person acting sees ----------

    async def already_done(self, ctx: Context, case: Case, action: str, **detail: Any) -> None:
        await self.cases.already_done(case, ctx.user, ctx.now, action, **detail)

    async def acknowledge(self, ctx: Context, case: Case) -> None:
        change = await self.cases.acknowledge(ctx.scope, case, ctx.user, ctx.now)
        if change == Change.ALREADY_DONE:
            ctx.say("case.already_acknowledged", reference=case.reference)
            await self.show(ctx, case)
        elif change == Change.CHANGED_MEANWHILE:
            fresh = await self.load_for(ctx, case.reference, "ack")  # perhaps purged since
            if fresh is not None:
                await self.acknowledge(ctx, fresh)
        else:
            await self.confirm(ctx, case, "case.acknowledged")

    async def mark_urgent(self, ctx: Context, case: Case) -> None:
        change = await self.cases.mark_urgent(ctx.scope, case, ctx.user, ctx.now)
        if change == Change.CLOSED:
            ctx.say("case.already_closed", reference=case.reference)
        elif change == Change.ALREADY_DONE:
            ctx.say("case.already_urgent", reference=case.reference)
        elif change == Change.CHANGED_MEANWHILE:
            fresh = await self.store.get_case(case.school_id, case.reference)  # another handler changed it first
            if fresh is not None:
                await self.mark_urgent(ctx, fresh)
        else:
            await self.confirm(ctx, case, "case.marked_urgent")

    async def add_note(self, ctx: Context, reference: str, note: str) -> None:
        case = await self.load_for(ctx, reference, "note")
        if case:
            await self.cases.add_note(ctx.scope, case, ctx.user, ctx.now, note)
            await self.confirm(ctx, case, "case.note_added")

    async def record_action(self, ctx: Context, reference: str, action: str, detail: str | None) -> None:
        case = await self.load_for(ctx, reference, "action")
        if case is None:
            return
        if await self.cases.record_action(ctx.scope, case, ctx.user, ctx.now, action, detail) == Change.DONE:
            await self.confirm(ctx, case, "case.action_recorded")
        else:
            await self.record_action(ctx, reference, action, detail)

    async def set_status(self, ctx: Context, reference: str, status: str) -> None:
        case = await self.load_for(ctx, reference, "status")
        if case is None:
            return
        change = await self.cases.set_status(ctx.scope, case, ctx.user, ctx.now, status)
        if change == Change.CLOSED:
            ctx.say("case.already_closed", reference=case.reference)
        elif change == Change.CHANGED_MEANWHILE:
            await self.set_status(ctx, reference, status)
        else:
            await self.confirm(ctx, case, "case.status_changed")

    async def close(
        self, ctx: Context, reference: str, outcome: str, note: str | None, reason: str | None = None,
    ) -> None:
        case = await self.load_for(ctx, reference, "close")
        if case is None:
            return
        change = await self.cases.close(ctx.scope, case, ctx.user, ctx.now, outcome, note, reason)
        if change == Change.CLOSED:
            ctx.say("case.already_closed", reference=case.reference)
        elif change == Change.REASON_NEEDED:
            ctx.say("case.plan.reason_needed", reference=case.reference)
            ctx.replies.append(await self.plan_reply(ctx, case))
        elif change == Change.CHANGED_MEANWHILE:
            await self.close(ctx, reference, outcome, note, reason)
        else:
            await self.confirm(ctx, case, "case.closed")

    async def stats_for(self, ctx: Context) -> None:
        """Trends across the cases routed to this person only: a handler never learns of anyone else's cases."""
        store = self.store
        if not is_handler(ctx.member):
            ctx.say("common.handlers_only")
            await self.conversation.show_menu(ctx)
            return
        cases = await store.list_cases(ctx.school_id, routed_to=ctx.user)
        events = await store.events_of_cases([c.id for c in cases], MILESTONES)
        stats = compute_stats(ctx.school_id, cases, events, now=ctx.now)
        ctx.replies.append(stats_reply(ctx.content, stats))
        if ctx.turn.files and stats.total:  # where the channel can carry a file: the same figures as a chart
            from bot.cases.charts import chart_data, chart_reply  # matplotlib, loaded only when a chart is drawn

            data = chart_data(cases, events, list(stats.by_month))
            name = f"trends-{ctx.now:%Y-%m-%d}.png"
            ctx.replies.append(await asyncio.to_thread(chart_reply, ctx.content, data, name))

    async def set_digest(self, ctx: Context, on: bool) -> None:
        """A handler turns their own morning digest (bot/cases/digest.py) on or off from a button."""
        if not is_handler(ctx.member):
            ctx.say("common.handlers_only")
            return
        await self.store.set_morning_digest(ctx.school_id, ctx.user, on, ctx.now)
        if on:
            ctx.say("digest.turned_on")
        else:
            ctx.say("digest.turned_off", choices=[ctx.choice("menu:digest_on", "digest.turn_on")])

    async def still_for_recipient(self, note: Notification) -> bool:
        """Whether a waiting notification about a case (or an urgent alert of a report not yet sent) may still go
        to its recipient: to the case's reporter, or to someone the directory still lists in a role that handles
        cases. Anything else (a card, a card update, a colleague's "acknowledged", an alert) is for a handler who
        has left or changed role since, and is dropped."""
        alert = any(r.key.startswith("case.guardrail_alert") for r in note.replies)
        if note.case_id is None and not alert:
            return True
        member = await self.store.get_staff(note.school_id, note.recipient)
        if is_handler(member):
            return True
        if note.case_id is None:
            return False
        reported = await self.store.list_cases(note.school_id, reporter=note.recipient)
        return any(c.id == note.case_id for c in reported)

    async def as_sent_now(self, note: Notification) -> Notification:
        """`note` as it should go now: each case card in it rendered again from the case as it is now, for its
        recipient (a card queued as New, with Acknowledge, goes as Closed if the case was closed meanwhile), with
        the words it was queued with while the case is still new, else saying it was sent earlier; anything else
        as it was queued. A case gone since goes as it was queued."""
        if not any(r.card for r in note.replies):
            return note
        scope = await self.schools.scope(note.school_id)
        names = await self._names(note.school_id)
        replies = []
        for reply in note.replies:
            case = await self.store.get_case(note.school_id, reply.card.reference) if reply.card else None
            if case is None:
                replies.append(reply)
                continue
            # a new card or a reminder says "please acknowledge": not once the case has moved on
            moved_on = case.status != CaseStatus.NEW and reply.key != "case.card"
            key = "case.card_since" if moved_on else reply.key
            replies.append(card_reply(scope, case, note.recipient, names, key=key,
                                      events=await self.store.case_events(case.id)))
        return note.model_copy(update={"replies": replies})

    # --- lists ---------------------------------------------------------------------------

    async def triage_for(self, ctx: Context, waiting: list[Notification]) -> tuple[bool, list[Notification]]:
        """A case handler's open cases as one summary and a sorted list first (bot/cases/triage.py; the morning
        digest's lines, drawn now, when a digest waits), and what of `waiting` is still to be shown after it. A
        waiting card of a listed case is its line on the list, opened from its button, so it is not shown: only
        the ones that need the reader now (urgent, or an allegation they manage) are, at most two, most urgent
        first, each once (its latest: a reminder rather than the new card), after the rest (a colleague's update,
        an alert), shown as before. Anyone else, or with no open case:
        nothing listed, everything shown."""
        if not is_handler(ctx.member):
            return False, waiting
        handling = await self.store.list_cases(ctx.school_id, routed_to=ctx.user, open_only=True)
        if not handling:
            return False, waiting
        digests = [n for n in waiting if any(r.key == "digest.morning" for r in n.replies)]
        ctx.replies.append(await digest_reply(self.store, ctx.scope, handling, ctx.now) if digests
                           else triage_reply(ctx.scope, handling, ctx.now))
        remember_list(ctx, ctx.replies[-1])
        listed = {c.reference for c in handling}
        lines = {n.id: refs for n in waiting if (refs := cards_in(n)) and refs <= listed}
        full = cards_in_full(handling, ctx.user, set().union(*lines.values()))
        if len(full) == 1:  # typed card actions ("acknowledge") act on the one card shown
            ctx.state.case_in_focus = full[0]
            ctx.state.back_to = MY_CASES
        latest = {ref: [n for n in waiting if ref in lines.get(n.id, set())][-1] for ref in full}  # a reminder
        # The images alert sent while a case was being reported ("the full report will follow") is said again by
        # that case's card, with the same guidance, when the card is shown in full now: the card alone. (A danger
        # alert also asks them to contact the reporter now: it stays.)
        drafts = {c.draft_id for c in handling if c.reference in full and c.draft_id}
        said_by_card = {n.id for n in waiting if n.draft_id in drafts and n.id not in lines
                        and all(r.key.startswith("case.guardrail_alert") for r in n.replies)}
        # what came earlier first (a colleague's update, an alert whose case is not shown in full), the cards last
        return True, [*(n for n in waiting if n.id not in lines and n.id not in said_by_card and n not in digests),
                      *latest.values()]

    async def list_for(self, ctx: Context) -> None:
        store = self.store
        handler = is_handler(ctx.member)
        handling = await store.list_cases(ctx.school_id, routed_to=ctx.user, open_only=True) if handler else []
        reported = await store.list_cases(ctx.school_id, reporter=ctx.user)
        if handling:
            ctx.replies.append(triage_reply(ctx.scope, handling, ctx.now))
            remember_list(ctx, ctx.replies[-1])
        elif handler:
            ctx.say("case.list_handling_none")
        if reported:
            lines = "\n".join(
                ctx.text("case.reported_item", reference=c.reference, status=ctx.text(f"statuses.{c.status.value}"),
                          date=c.created_at.strftime("%-d %B %Y"))
                for c in reported
            )
            ctx.say("case.list_reported", cases=Markup(lines))
        elif not handling and not handler:
            ctx.say("case.list_reported_none")
        if not ctx.state.active and not handling:
            await self.conversation.show_menu(ctx)

