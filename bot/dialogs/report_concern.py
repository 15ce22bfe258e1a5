"""Report a concern: the code behind content/flows/report_concern.yaml.

What is not data: the platform choices (from the facts), the guardrail for possible sexual
images of under-18s, and opening the case at the end.
"""

from __future__ import annotations

from bot.content import Step
from bot.dialogs.base import Context, StepDialog
from bot.markup import Markup
from bot.models import Attachment, Choice, Frame
from bot.school_calendar import calendar_for

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

    def next_step(self, frame: Frame, after: str | None) -> Step | None:
        """As the flow says, except the images question once the guardrail has answered it."""
        step = super().next_step(frame, after)
        if step is not None and step.id == "images" and self.guardrail_on(frame) and "images" in frame.answers:
            return super().next_step(frame, step.id)
        return step

    async def after_answer(self, ctx: Context, frame: Frame, step: Step) -> None:
        if step.id == "images" and frame.answers["images"] in GUARDRAIL_ANSWERS:
            await self.raise_guardrail(ctx, frame, reason=f"answered_{frame.answers['images']}")

    async def raise_guardrail(self, ctx: Context, frame: Frame, reason: str) -> None:
        """From the images question, or from words anywhere (bot/safety.py): the guidance, the DSLs alerted,
        files refused from now on, and any files already shared taken out of the report, with the reporter
        and the DSL told where copies may still be."""
        if self.guardrail_on(frame):
            return
        frame.answers["_guardrail"] = {"reason": reason, "at": ctx.now.isoformat()}
        frame.answers.setdefault("images", "yes")
        ctx.say("report.guardrail", urgent=True)
        alerted = await ctx.bot.casework.alert_urgent(ctx, frame, "case.guardrail_alert")
        ctx.say("report.guardrail_alerted" if alerted else "report.guardrail_no_one_alerted", urgent=True)
        evidence = frame.answers.get("evidence") or {}
        if evidence.get("files"):
            count = len(evidence["files"])
            frame.answers["_guardrail"]["files_before"] = {"count": count, "platform": ctx.turn.platform}
            ctx.say("report.guardrail_files_dropped", count=count,
                    platform=ctx.bot.casework.chat_platform_name(ctx.turn.platform), urgent=True)
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
        if frame.step == "images" and self.guardrail_on(frame) and "images" in frame.answers and not frame.editing:
            following = self.next_step(frame, "images")  # answered already, by what was said before it was asked
            if following is not None:
                frame.history.append(frame.step)
                frame.step = following.id
        if frame.step == "evidence" and self.guardrail_on(frame):
            ctx.say("report.evidence_guardrail", choices=[ctx.choice("done", "common.done_label")],
                    asks=self.question_id(frame))
            return
        if frame.step == "accounts" and self.guardrail_on(frame):
            ctx.say("report.accounts_guardrail", choices=[ctx.choice("skip", "common.skip_label")],
                    asks=self.question_id(frame))
            return
        await super().ask(ctx, frame)

    def summary_text(self, frame: Frame) -> str:
        """The answers, and, when the guardrail rose after the images question, that the report is urgent for it."""
        text = super().summary_text(frame)
        reason = (frame.answers.get("_guardrail") or {}).get("reason", "")
        if reason and not reason.startswith("answered_"):
            text += "\n" + self.bot.schools.text("report.summary_guardrail_later")
        return text

    async def help(self, ctx: Context, frame: Frame) -> None:
        if self.guardrail_on(frame) and frame.step in ("accounts", "evidence"):
            ctx.say("report.guardrail_help")  # never "copy the link" or "attach screenshots" here
            ctx.say("common.help_commands")
            await self.ask(ctx, frame)
            return
        await super().help(ctx, frame)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        case = await ctx.bot.casework.open_case(ctx, frame)
        next_steps = [
            ctx.choice("menu:get_support", "menu.get_support"),
            ctx.choice("menu:privacy_check", "menu.privacy_check"),
            ctx.choice("menu:my_cases", "menu.my_cases"),
        ]
        if not case.routed_to:
            ctx.say("report.sent_unrouted", reference=case.reference, choices=next_steps)
        elif case.urgent:
            calendar = calendar_for(ctx.bot.settings, ctx.bot.schools.current().content_dir)
            if calendar.is_open(ctx.now):
                ctx.say("report.sent_urgent", reference=case.reference, routed_count=len(case.routed_to),
                        choices=next_steps, urgent=True)
            else:
                opens = calendar.next_opening(ctx.now)
                ctx.say("report.sent_urgent_closed", reference=case.reference, routed_count=len(case.routed_to),
                        date=Markup(f"{opens:%A %-d %B} at {opens:%H:%M}"), choices=next_steps, urgent=True)
        else:
            ctx.say("report.sent", reference=case.reference, routed_count=len(case.routed_to), choices=next_steps)

    def stop_message(self, frame: Frame) -> str:
        return "report.stopped_after_alert" if self.guardrail_on(frame) else "report.stopped"
