"""Report a concern: the code behind content/flows/report_concern.yaml.

What is not data: the platform choices (from the facts), the guardrail for possible sexual
images of under-18s, and opening the case at the end.
"""

from __future__ import annotations

from bot.content import Step
from bot.dialogs.base import Context, StepDialog
from bot.markup import Markup
from bot.models import Attachment, Case, Choice, Frame
from bot.routing import STAFF_CONCERNS, route_of_case
from bot.text import contains_phrase

SUBJECT_REASONS = {"named_in_report", "allegation_about_dsl", "allegation_about_headteacher"}

GUARDRAIL_ANSWERS = {"yes", "not_sure"}


class ReportConcern(StepDialog):
    flow_id = "report_concern"

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        if step.choices_from == "platforms":
            platforms = [Choice(id=p.id, label=p.name) for p in ctx.content.facts.platforms.values()]
            return platforms + [ctx.choice("other", "report.platform_other")]
        return super().choices_for(ctx, step, frame)

    def choice_summary(self, step: Step, choice_id: str) -> str:
        if step.choices_from == "platforms":
            platform = self.bot.content.facts.platforms.get(choice_id)
            return platform.name if platform else self.bot.content.text("report.platform_other")
        return super().choice_summary(step, choice_id)

    def guardrail_on(self, frame: Frame) -> bool:
        return bool(frame.answers.get("_guardrail"))

    async def after_answer(self, ctx: Context, frame: Frame, step: Step) -> None:
        if step.id == "images" and frame.answers["images"] in GUARDRAIL_ANSWERS:
            await self.raise_guardrail(ctx, frame, reason=f"answered {frame.answers['images']}")
            return
        for text in self.text_answers(frame):
            phrase = contains_phrase(text, ctx.content.phrases.guardrail)
            if phrase:
                await self.raise_guardrail(ctx, frame, reason=f"mentioned '{phrase}'")
                return

    async def raise_guardrail(self, ctx: Context, frame: Frame, reason: str) -> None:
        if self.guardrail_on(frame):
            return
        frame.answers["_guardrail"] = {"reason": reason, "at": ctx.now.isoformat()}
        ctx.say("report.guardrail", urgent=True)
        alerted = await ctx.bot.casework.alert_guardrail(ctx, frame)
        ctx.say("report.guardrail_alerted" if alerted else "report.guardrail_no_one_alerted", urgent=True)
        evidence = frame.answers.get("evidence") or {}
        if evidence.get("files"):
            ctx.say("report.guardrail_files_dropped", count=len(evidence["files"]))
            evidence["files"] = []

    async def take_files(self, ctx: Context, frame: Frame, attachments: list[Attachment]) -> list[dict]:
        if self.guardrail_on(frame):
            await self.refuse_attachments(ctx, frame)
            return []
        return await super().take_files(ctx, frame, attachments)

    async def refuse_attachments(self, ctx: Context, frame: Frame) -> None:
        if self.guardrail_on(frame):
            ctx.say("report.guardrail_no_files", urgent=True)
        else:
            ctx.say("common.no_files_here")

    async def ask(self, ctx: Context, frame: Frame) -> None:
        if frame.step == "evidence" and self.guardrail_on(frame):
            ctx.say("report.evidence_guardrail", choices=[ctx.choice("done", "common.done_label")],
                    asks=self.question_id(frame))
            return
        await super().ask(ctx, frame)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        case = await ctx.bot.casework.open_case(ctx, frame)
        next_steps = [
            ctx.choice("menu:get_support", "menu.get_support"),
            ctx.choice("menu:privacy_check", "menu.privacy_check"),
            ctx.choice("menu:my_cases", "menu.my_cases"),
        ]
        allegation = bool(STAFF_CONCERNS & set(case.categories))
        if not case.routed_to:
            ctx.say("report.saved_allegation_unrouted" if allegation else "report.sent_unrouted",
                    reference=case.reference, choices=[] if allegation else next_steps, urgent=case.urgent)
        elif case.possible_images:
            ctx.say("report.sent_urgent", reference=case.reference, routed_count=len(case.routed_to),
                    choices=[] if allegation else next_steps, urgent=True)
        else:  # (an urgent allegation too: "speak to the DSL" may be wrong when it is about a DSL)
            ctx.say("report.sent", reference=case.reference, routed_count=len(case.routed_to),
                    choices=[] if allegation else next_steps, urgent=case.urgent)
        if allegation:
            await self.tell_allegation_reporter(ctx, case, next_steps)

    async def tell_allegation_reporter(self, ctx: Context, case: Case, next_steps: list[Choice]) -> None:
        """Who was sent an allegation, by role; that the person it is about was not; and, where the directory
        has no one to take it, whom to contact themselves."""
        routing = route_of_case(case, await ctx.bot.store.list_staff(ctx.school_id),
                                ctx.bot.settings.low_level_concerns_to)
        urgent = case.urgent
        if case.routed_to:
            roles = list(dict.fromkeys(ctx.text(f"report.route_role.{r.role.value}") for r in case.routed_to))
            people = roles[0] if len(roles) == 1 else ctx.text(
                "report.route_role.list", value=Markup(", ".join(roles[:-1])), name=Markup(roles[-1]))
            subject_kept_out = {r.reason for r in case.excluded} & SUBJECT_REASONS
            if routing.about == "headteacher":
                subject = "headteacher"
            elif subject_kept_out or case.answers.get("allegation_about") == "me":
                subject = "named"
            else:
                subject = "unknown"
            ctx.say("report.allegation_sent_to", people=Markup(people), urgent=urgent,
                    value=Markup(ctx.text(f"report.subject_not_sent.{subject}")),
                    choices=[] if routing.contact_directly else next_steps)
        if routing.contact_directly:
            contacts = [self.contact(ctx, who) for who in routing.contact_directly]
            people = contacts[0] if len(contacts) == 1 else ctx.text(
                "report.contact.either", value=Markup(", ".join(contacts[:-1])), name=Markup(contacts[-1]))
            ctx.say("report.contact_directly", people=Markup(people), reference=case.reference, choices=next_steps,
                    urgent=urgent)

    @staticmethod
    def contact(ctx: Context, who: str) -> str:
        if who == "lado":
            phone = getattr(ctx.content.facts.helplines.get("lado"), "phone", None)
            return ctx.text("report.contact.lado_phone", value=phone) if phone else ctx.text("report.contact.lado")
        return ctx.text(f"report.contact.{who}")

    def stop_message(self, frame: Frame) -> str:
        return "report.stopped_after_alert" if self.guardrail_on(frame) else "report.stopped"
