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
from typing import TYPE_CHECKING, Any

from bot.dialogs.base import Context
from bot.markup import Markup, escape, to_plain
from bot.models import (
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
    Route,
    StaffMember,
)
from bot import record_system
from bot.early_warning import raise_alerts, sightings
from bot.plan import PlanEntry, case_plan, open_required, plan_reply
from bot.report_pack import pack_replies, reporter_pack
from bot.school_calendar import calendar_for
from bot.routing import (  # noqa: F401 (NAMED_TEXT_STEPS: imported from here before)
    CASE_MANAGER_REASONS,
    NAMED_TEXT_STEPS,
    named_text,
    route_case,
)
from bot.schools import serving
from bot.stats import MILESTONES, compute_stats, stats_reply
from bot.text import contains_phrase

if TYPE_CHECKING:
    from bot.dialogs.report_concern import ReportConcern
    from bot.engine import Bot
    from bot.store import Store

FLOW_FOR_ACTION = {"note": "case_note", "action": "case_action", "status": "case_status", "close": "case_close"}
# What a refused press is recorded as: the card's name for the action (a form counts as its button; a plan
# tick as "tick"), or "other", so nothing a sender made up is ever written into the case's record.
CARD_ACTIONS = {"show", "ack", "plan", "tick", "pack", "pack_reporter", "record", "threshold", "entry", "entered",
                *FLOW_FOR_ACTION}
THRESHOLD_DECISIONS = ("meets", "not_sure", "low_level", "harassment")
ACTION_OF_FLOW = {flow: action for action, flow in FLOW_FOR_ACTION.items()}

log = logging.getLogger(__name__)


async def names_of_people(store: "Store", school_id: str) -> dict[str, str]:
    """user -> how to name them: the staff directory's name, else the name their platform gave them."""
    names = await store.display_names(school_id)
    names.update({m.user: m.name for m in await store.list_staff(school_id)})
    return names


def may_handle(case: Case, member: StaffMember | None) -> bool:
    """True while `member` (their entry in today's staff directory, or None) holds a role that handles cases and
    the case is routed to them."""
    return member is not None and member.handles_cases and case.is_routed_to(member.user)


def current_handlers(staff: list[StaffMember]) -> set[str]:
    return {m.user for m in staff if m.handles_cases}


def is_handler(member: StaffMember | None) -> bool:
    """True while `member` (someone's entry in today's staff directory, or None) holds a role that handles cases."""
    return member is not None and member.handles_cases


def subject_pending(answers: dict[str, Any]) -> bool:
    """An allegation that has not yet said whom it is about: neither the reporter nor the head was picked, and
    the names question is still to come (once it is answered or skipped, what the report says is all there is)."""
    return ("allegation" in (answers.get("categories") or [])
            and answers.get("allegation_about") not in ("me", "headteacher") and "names" not in answers)


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
        people = [m for m in staff if m.has(Role.DSL)] + [m for m in staff if m.has(Role.DEPUTY_DSL) and not m.has(Role.DSL)]
        return ", ".join(f"{m.name} ({self.role_names(m.roles)})" for m in people)

    def role_names(self, roles: list[Role]) -> str:
        return " and ".join(self.text(f"roles.{r.value}") for r in roles)

    async def _names(self, school_id: str) -> dict[str, str]:
        """How to name each person: the staff directory's name, else the name their platform gave them."""
        return await names_of_people(self.bot.store, school_id)

    def front_door(self) -> Markup:
        """The school's children's social care front door, with its number and link where the school set them."""
        door = self.bot.schools.words().facts.helplines.get("front_door")
        if door is None:
            return Markup(self.text("common.front_door_unknown"))
        reach = ", ".join(str(v) for v in (door.phone, door.url) if v)
        return Markup(escape(f"{door.name} ({reach})" if reach else door.name))

    def name_of(self, names: dict[str, str], user: str) -> str:
        """A person as people read them: a name, never a platform id."""
        return names.get(user) or self.text("case.unnamed_person")

    async def not_yet_reachable(self, school_id: str, users: list[str]) -> list[str]:
        """Those of `users` who cannot be sent anything yet: on a platform where the bot writes only into a chat
        the person has opened (a channel says so in `Bot.opened_chat_platforms`), anyone who has not opened it, or whose chat refused."""
        waiting = []
        for platform in sorted(self.bot.opened_chat_platforms):
            on_it = [u for u in users if u.startswith(f"{platform}:")]
            if on_it:
                reachable = await self.bot.store.reachable_users(school_id, platform)
                waiting += [u for u in on_it if u not in reachable]
        return waiting

    async def tell_others_undelivered(self, note: Notification, reason: str) -> None:
        """`note`, a message about a case, could never reach its recipient (`reason`: blocked, conversation_gone,
        too_big): the case's other handlers are told who was not reached and why."""
        reference = next((r.card.reference for r in note.replies if r.card), None)
        if note.kind != "message" or reference is None:
            return
        with serving(await self.bot.schools.get(note.school_id)):
            case = await self.bot.store.get_case(note.school_id, reference)
            if case is None:
                return
            name = (await self._names(note.school_id)).get(note.recipient) or self.text("case.undelivered_someone")
            text = self.text("case.undelivered", name=name, reference=reference,
                             reason=self.text(f"case.undelivered_because.{reason}"))
            await self.bot.store.queue_notifications([
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
        staff = await self.bot.store.list_staff(ctx.school_id)
        answers = self._answers_so_far(frame)
        held = subject_pending(answers)
        if held:  # only the safeguarding team for now: the headteacher, as case manager, once it is not about them
            answers["categories"] = [c for c in answers["categories"] if c != "allegation"]
        routes = self._alert_routes(ctx.user, answers, staff, ctx.turn.text)
        names = await self._names(ctx.school_id)
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
        staff = await self.bot.store.list_staff(ctx.school_id)
        names = await self._names(ctx.school_id)
        notes = [self._alert_note(ctx, frame, route.user, names, key, held=False)
                 for route in self._alert_routes(ctx.user, answers, staff) for key in held]
        await self.bot.store.queue_notifications(notes)
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
                                           text=self.text(key, reporter=self.name_of(names, ctx.user)))])

    async def _claim_alert_slot(self, ctx: Context, notes: list[Notification]) -> bool:
        """Queue `notes` if this person has sent fewer than `guardrail_alerts_per_hour` alerts in the last hour,
        counted in the store (so across every process) by slot; the key carries no name, only a digest."""
        person = hashlib.sha256(f"{ctx.school_id}/{ctx.user}".encode()).hexdigest()[:32]
        since = ctx.now - timedelta(hours=1)
        for slot in range(self.bot.settings.guardrail_alerts_per_hour):
            if await self.bot.store.claim_alert(f"guardrail:{person}:{slot}", ctx.now, since, notes):
                return True
        return False

    async def open_case(self, ctx: Context, frame: Frame) -> Case:
        answers = {s.id: frame.answers[s.id] for s in self.report.answered_steps(frame)}
        guardrail = frame.answers.get("_guardrail")
        safety = frame.answers.get("_safety") or {}
        staff = await self.bot.store.list_staff(ctx.school_id)
        routing = route_case(answers["categories"], answers, ctx.user, staff, named_text(answers),
                             self.bot.settings.low_level_concerns_to)
        evidence_files = [] if guardrail else (answers.get("evidence") or {}).get("files", [])
        harm = self.allegation_harm(answers)
        case = Case(
            school_id=ctx.school_id, draft_id=frame.draft_id, urgent=bool(guardrail or "danger" in safety or harm),
            categories=answers["categories"], reporter=ctx.user,
            answers={**answers, "guardrail": guardrail, "safety": safety or None,
                     **({"allegation_harm": harm} if harm else {})}, routed_to=routing.routes,
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
        names = await self._names(ctx.school_id)

        school = self.bot.schools.current()

        def notify(stored: Case) -> list[Notification]:
            with serving(school):  # the store may call this from a worker thread, outside this turn's context
                return [
                    Notification(school_id=stored.school_id, recipient=route.user, case_id=stored.id,
                                 created_at=ctx.now, replies=[self.card_reply(stored, route.user, names,
                                                                              key="case.new_card")])
                    for route in stored.routed_to
                ]

        stored, _created = await self.bot.store.create_case(
            case, events, evidence, notify, self.bot.schools.reference_prefix(school),
            sightings(case.school_id, school.name, case.id, case.answers, case.created_at),
        )
        try:  # on a retried send too: a process that died before alerting left that to this one
            await raise_alerts(self.bot, stored)
        except Exception as exc:  # the report is safe with its school: early warning must not undo that
            log.error("early warning failed for a new case: %s", type(exc).__name__)
        return stored

    def allegation_harm(self, answers: dict[str, Any]) -> dict[str, str] | None:
        """Why an allegation is urgent: it is of a sexual or physical nature and a learner is involved (ticked
        under who appears, or written); None if not. Only the matched words are kept, never the text."""
        if "allegation" not in answers.get("categories", []):
            return None
        phrases = self.bot.schools.words().phrases
        text = "\n".join(named_text(answers))
        harm = contains_phrase(text, phrases.allegation_harm)
        learner = "learners" in (answers.get("who_appears") or []) or contains_phrase(text, phrases.learners)
        if not (harm and learner):
            return None
        return {"because": "allegation_involving_learner", "phrase": harm}

    # --- the case card -------------------------------------------------------------------

    def card(self, case: Case, viewer: str, names: dict[str, str]) -> CaseCard:
        report = self.report
        fields: list[tuple[str, str]] = [
            (self.text("case.field.reported_by"), self.name_of(names, case.reporter)),
            (self.text("case.field.reported_at"), case.created_at.strftime("%-d %B %Y, %H:%M")),
        ]
        for step in report.flow.steps:
            if step.id in case.answers and step.type not in ("summary", "info"):
                fields.append((step.title, self.describe_answer(case, step.id)))
        files_before = self.files_before(case)
        if files_before:
            fields.append((self.text("case.field.files_before"), files_before))
        route = next((r for r in case.routed_to if r.user == viewer), None)
        if route:
            fields.append((self.text("case.field.why_you"), self.text(f"routing.{route.reason}")))
        routed = ", ".join(self.name_of(names, r.user) for r in case.routed_to)
        fields.append((self.text("case.field.routed_to"), routed))
        if case.outcome:
            fields.append((self.text("case.field.outcome"), self.text(f"outcomes.{case.outcome}")))
        guidance = []
        safety = case.answers.get("safety") or {}
        if case.possible_images:
            guidance.append(self.text("case.guidance.guardrail"))
        guidance += [self.text(f"case.guidance.{name}") for name in ("sextortion", "danger", "police") if name in safety]
        if "allegation" in case.categories:  # which statutory guidance applies (each nation's own, where known)
            guidance.append(self.text("case.guidance.allegation"))
        guidance.append(self.text("case.guidance.always"))
        title_key = "case.title_urgent" if case.urgent else "case.title"
        return CaseCard(
            reference=case.reference, status=self.text(f"statuses.{case.status.value}"), urgent=case.urgent,
            title=self.text(title_key, reference=case.reference), fields=fields, guidance=guidance,
            mentions={self.text("case.field.reported_by"): case.reporter}, notice=self.reader_notice(case, route),
        )

    def describe_answer(self, case: Case, step_id: str) -> str:
        """An answer as the card and the record show it; the images answer says if the guardrail rose later."""
        report = self.report
        shown = report.describe(report.flow.step(step_id), case.answers[step_id])
        guardrail = case.answers.get("guardrail") or {}
        # "answered_yes" now, "answered yes" on cases opened before the safety check: both from the question itself
        if step_id == "images" and guardrail.get("reason") and not guardrail["reason"].startswith("answered"):
            return to_plain(self.text("case.images_raised_later", value=shown, reason=self.raised_words(guardrail["reason"])))
        return shown

    def raised_words(self, reason: str) -> str:
        """Where a concern was raised ("question:description"), in words."""
        kind, _, where = reason.replace("answered ", "answered_").partition(":")
        if kind == "danger":
            return to_plain(self.text("case.raised.danger", value=self.raised_words(where)))
        if kind == "question" and where in {s.id for s in self.report.flow.steps}:
            return to_plain(self.text("case.raised.question", value=self.report.flow.step(where).title))
        if kind == "flow" and where in self.bot.content.flows:
            return to_plain(self.text("case.raised.flow", value=self.bot.content.flows[where].title))
        key = f"case.raised.{kind}"
        return to_plain(self.text(key)) if key in self.bot.content.messages else kind

    def files_before(self, case: Case) -> str | None:
        """Files shared into the chat before the guardrail rose: not on the case, but copies may be there."""
        before = (case.answers.get("guardrail") or {}).get("files_before")
        if not before:
            return None
        return to_plain(self.text("case.files_before", count=before["count"],
                                  platform=self.chat_platform_name(before["platform"])))

    def chat_platform_name(self, platform: str) -> str:
        """The chat a file was shared into, by name ("Slack", "Microsoft Teams")."""
        key = f"report.chat_platform.{platform}"
        return self.text(key if key in self.bot.content.messages else "report.chat_platform.other")

    def reader_notice(self, case: Case, route: Route | None) -> list[str]:
        """An allegation's guidance for this reader's part: the case manager's (the chair's when it is about the
        head), with the LADO's deadline; everyone else's (the child's welfare); and what no one does yet."""
        if "allegation" not in case.categories:
            return [self.text("case.reader.low_level")] if "low_level_concern" in case.categories else []
        reason = route.reason if route else None
        if reason == "allegation_case_manager":
            first = self.text("case.reader.case_manager", date=self.lado_deadline(case))
        elif reason == "allegation_about_headteacher":
            first = self.text("case.reader.chair", date=self.lado_deadline(case))
        else:
            first = self.text("case.reader.safeguarding", value=self.case_manager_label(case))
        return [first, self.text("case.reader.everyone")]

    def case_manager_label(self, case: Case) -> str:
        about_head = any(r.reason == "allegation_about_headteacher" for r in case.routed_to + case.excluded)
        return self.text("report.route_role.chair_of_governors" if about_head else "report.route_role.headteacher")

    def lado_deadline(self, case: Case) -> str:
        """The next working day after the report, from the school's calendar: the LADO's one working day."""
        calendar = calendar_for(self.bot.settings, self.bot.schools.current().content_dir)
        day = calendar.next_school_day(case.created_at.astimezone(calendar.tz).date())
        return day.strftime("%A %-d %B %Y")

    def actions(self, case: Case) -> list[Choice]:
        ref = case.reference

        def choice(action: str) -> Choice:
            return Choice(id=f"case:{ref}:{action}", label=self.text(f"case.action.{action}"))

        if case.status == CaseStatus.CLOSED:
            return [choice("note"), choice("plan"), choice("record"), choice("entry"), choice("entered")]
        actions = [choice("ack")] if case.status == CaseStatus.NEW else []
        if "allegation" in case.categories:
            actions.append(choice("threshold"))
        return actions + [choice("plan"), choice("pack"), choice("note"), choice("action"), choice("status"),
                          choice("close"), choice("record"), choice("entry"), choice("entered")]

    def card_reply(self, case: Case, viewer: str, names: dict[str, str], key: str = "case.card") -> Reply:
        card = self.card(case, viewer, names)
        return Reply(key=key, text=self.text(key, reference=case.reference, status=card.status), card=card,
                     choices=self.actions(case), urgent=case.urgent)

    async def show(self, ctx: Context, case: Case, key: str = "case.card") -> None:
        ctx.replies.append(self.card_reply(case, ctx.user, await self._names(ctx.school_id), key=key))

    async def confirm(self, ctx: Context, case: Case, key: str) -> None:
        """After a change: one short line where the channel updates each person's one card in place (the change
        reaches that card as a card update); the card itself where the channel cannot update it."""
        if ctx.turn.updates_cards:
            ctx.say(key, reference=case.reference, status=self.text(f"statuses.{case.status.value}"))
        else:
            await self.show(ctx, case, key=key)

    # --- buttons on a card ---------------------------------------------------------------

    async def load_for(self, ctx: Context, reference: str, action: str) -> Case | None:
        """The case, if this user may act on it; otherwise a refusal that gives nothing away, not even whether
        the case exists: the same reply, and the same work (one read, one write), for a case that does not. A
        refusal is counted per person, case and day, and the day's first is recorded on the case (who, which
        action, when) for its handlers to see, so no one can flood its record; the log says only that a case
        action was refused, never which case or whose."""
        case = await self.bot.store.get_case(ctx.school_id, reference)
        if case and may_handle(case, ctx.member):
            return case
        name = attempted(action)
        await self.bot.store.record_refusal(ctx.school_id, case.id if case else None, ctx.user, ctx.now, name)
        log.warning("case action refused (%s): the case is not routed to this person, or does not exist", name)
        ctx.say("case.not_found", reference=reference[:40])
        return None

    async def on_case_button(self, ctx: Context, choice: str) -> None:
        _, reference, action = (choice.split(":", 2) + ["", ""])[:3]
        case = await self.bot.store.get_case(ctx.school_id, reference)
        if case and case.reporter == ctx.user and not may_handle(case, ctx.member) and action == "show":
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
        elif action == "threshold" or action.startswith("threshold:"):
            await self.threshold(ctx, case, action.partition(":")[2])
        elif action.startswith("tick:"):
            await self.tick(ctx, case, action.removeprefix("tick:"))
        elif action == "pack":
            offer = "targeting_me" in case.categories and not case.is_routed_to(case.reporter)
            ctx.replies.extend(pack_replies(self.bot.schools.words(), self.bot.schools.current(), case, offer))
        elif action == "pack_reporter":
            await self.send_pack_to_reporter(ctx, case)
        elif action == "record":
            await self.send_record(ctx, case)
        elif action == "entry":
            await record_system.send_entry(ctx, case)
        elif action == "entered":
            await record_system.mark_entered(ctx, case)
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

    async def threshold(self, ctx: Context, case: Case, decision: str) -> None:
        """The case manager's harm-threshold decision on an allegation: asked, then recorded as an event (who
        and what), after which the case plan shows the steps it makes required."""
        route = next(r for r in case.routed_to if r.user == ctx.user)
        if "allegation" not in case.categories or case.status == CaseStatus.CLOSED:
            ctx.say("common.not_understood")
            return
        if route.reason not in CASE_MANAGER_REASONS:
            ctx.say("case.threshold.case_manager_only", reference=case.reference, value=self.case_manager_label(case))
            return
        if decision not in THRESHOLD_DECISIONS:
            choices = [Choice(id=f"case:{case.reference}:threshold:{d}", label=self.text(f"case.threshold.{d}"))
                       for d in THRESHOLD_DECISIONS]
            ctx.say("case.threshold.ask", reference=case.reference, choices=choices)
            return
        await self.bot.store.record_events([CaseEvent(case_id=case.id, actor=ctx.user, kind="threshold_decided",
                                                      at=ctx.now, detail={"decision": decision})])
        ctx.say("case.threshold.recorded", reference=case.reference, value=self.text(f"case.threshold.{decision}"))
        ctx.replies.append(await self.plan_reply(case))

    async def send_record(self, ctx: Context, case: Case) -> None:
        """The safeguarding record as a PDF, to the handler who asked, where the channel can carry a file."""
        if not ctx.turn.files:
            ctx.say("case.record.not_here", reference=case.reference)
            return
        from bot.record import export_case

        _, data = await export_case(self.bot, case, by=ctx.user, fmt="pdf", now=ctx.now)
        ctx.replies.append(Reply(
            key="case.record.ready", text=self.text("case.record.ready", reference=case.reference),
            file=FileReply(name=f"{case.reference}.pdf", media_type="application/pdf", content=data),
        ))

    async def send_pack_to_reporter(self, ctx: Context, case: Case) -> None:
        note = Notification(school_id=case.school_id, recipient=case.reporter, case_id=case.id, created_at=ctx.now,
                            replies=reporter_pack(self.bot.schools.words(), self.bot.schools.current(), case))
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
        staff = await self.bot.store.list_staff(ctx.school_id)
        names = {m.user: m.name for m in staff}
        handlers = [r for r in case.routed_to if r.user in current_handlers(staff)]
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
            for route in handlers
        ]
        if tell_others:
            actor = self.name_of(names, ctx.user)
            for route in handlers:
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
        await self.confirm(ctx, case, "case.acknowledged")

    async def add_note(self, ctx: Context, reference: str, note: str) -> None:
        case = await self.load_for(ctx, reference, "note")
        if case:
            await self._save(ctx, case, "note_added", {"note": note})
            await self.confirm(ctx, case, "case.note_added")

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
        await self.confirm(ctx, case, "case.action_recorded")

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
        await self.confirm(ctx, case, "case.status_changed")

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
        await self.confirm(ctx, case, "case.closed")

    async def stats_for(self, ctx: Context) -> None:
        """Trends across the cases routed to this person only: a handler never learns of anyone else's cases."""
        store = self.bot.store
        if not is_handler(ctx.member):
            ctx.say("common.handlers_only")
            await self.bot.show_menu(ctx)
            return
        cases = await store.list_cases(ctx.school_id, routed_to=ctx.user)
        events = await store.events_of_cases([c.id for c in cases], MILESTONES)
        stats = compute_stats(ctx.school_id, cases, events, now=ctx.now)
        ctx.replies.append(stats_reply(self.bot.schools.words(), stats))
        if ctx.turn.files and stats.total:  # where the channel can carry a file: the same figures as a chart
            from bot.charts import chart_data, chart_reply  # matplotlib, loaded only when a chart is drawn

            data = chart_data(cases, events, list(stats.by_month))
            name = f"trends-{ctx.now:%Y-%m-%d}.png"
            ctx.replies.append(await asyncio.to_thread(chart_reply, self.bot.schools.words(), data, name))

    async def still_for_recipient(self, note: Notification) -> bool:
        """Whether a waiting notification about a case (or an urgent alert of a report not yet sent) may still go
        to its recipient: to the case's reporter, or to someone the directory still lists in a role that handles
        cases. Anything else (a card, a card update, a colleague's "acknowledged", an alert) is for a handler who
        has left or changed role since, and is dropped."""
        alert = any(r.key.startswith("case.guardrail_alert") for r in note.replies)
        if note.case_id is None and not alert:
            return True
        member = await self.bot.store.get_staff(note.school_id, note.recipient)
        if is_handler(member):
            return True
        if note.case_id is None:
            return False
        reported = await self.bot.store.list_cases(note.school_id, reporter=note.recipient)
        return any(c.id == note.case_id for c in reported)

    # --- lists ---------------------------------------------------------------------------

    async def list_for(self, ctx: Context) -> None:
        store = self.bot.store
        handler = is_handler(ctx.member)
        handling = await store.list_cases(ctx.school_id, routed_to=ctx.user, open_only=True) if handler else []
        reported = await store.list_cases(ctx.school_id, reporter=ctx.user)
        if handling:
            choices = [
                Choice(id=f"case:{c.reference}:show", label=self.text(
                    "case.list_item_urgent" if c.urgent else "case.list_item",
                    reference=c.reference, status=self.text(f"statuses.{c.status.value}"))[:75])
                for c in handling
            ]
            ctx.say("case.list_handling", count=len(handling), choices=choices)
        elif handler:
            ctx.say("case.list_handling_none")
        if reported:
            lines = "\n".join(
                self.text("case.reported_item", reference=c.reference, status=self.text(f"statuses.{c.status.value}"),
                          date=c.created_at.strftime("%-d %B %Y"))
                for c in reported
            )
            ctx.say("case.list_reported", cases=Markup(lines))
        elif not handling and not handler:
            ctx.say("case.list_reported_none")
        if not ctx.state.active and not handling:
            await self.bot.show_menu(ctx)

