"""Report a concern: the code behind content/flows/report_concern.yaml.

What is not data: the platform choices (from the facts), the guardrail for possible sexual
images of under-18s, and opening the case at the end.
"""

from __future__ import annotations

from bot.content import Step
from bot.dialogs.base import Context, StepDialog
from bot.markup import Markup
from bot.models import Attachment, Case, Choice, Frame
from bot.text import contains_phrase

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
        recipients = frame.answers["_guardrail"].get("alerted", [])
        if not alerted:
            ctx.say("report.guardrail_no_one_alerted", urgent=True)
        elif len(await ctx.bot.casework.not_yet_reachable(ctx.school_id, recipients)) == len(recipients):
            ctx.say("report.guardrail_not_reached", urgent=True)  # in Teams: nobody has opened the app yet
        else:
            ctx.say("report.guardrail_alerted", urgent=True)
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
        if not case.routed_to:
            ctx.say("report.sent_unrouted", reference=case.reference, choices=next_steps)
            return
        people = Markup(await self.who_it_reached(ctx, case))
        if case.urgent:
            ctx.say("report.sent_urgent", reference=case.reference, people=people, choices=next_steps, urgent=True)
        else:
            ctx.say("report.sent", reference=case.reference, people=people, choices=next_steps)

    @staticmethod
    async def who_it_reached(ctx: Context, case: Case) -> str:
        """How many of the people the case went to have it now, and how many will when they open the app (a
        platform where the bot can write only into a chat someone has opened: Teams). Never "alerted" when
        nobody was."""
        waiting = await ctx.bot.casework.not_yet_reachable(case.school_id, [r.user for r in case.routed_to])
        reached = len(case.routed_to) - len(waiting)

        def people(count: int) -> str:
            return ctx.text("report.reached.one_person") if count == 1 else ctx.text("report.reached.people", count=count)

        if not waiting:
            return ctx.text("report.reached.all_urgent" if case.urgent else "report.reached.all", value=people(reached))
        if not reached:
            return ctx.text("report.reached.none", count=people(len(waiting)))
        some = "report.reached.some_urgent" if case.urgent else "report.reached.some"
        return ctx.text(some, value=people(reached), count=people(len(waiting)))

    def stop_message(self, frame: Frame) -> str:
        return "report.stopped_after_alert" if self.guardrail_on(frame) else "report.stopped"
