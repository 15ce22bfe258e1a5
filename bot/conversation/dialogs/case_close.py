"""A case handler closes a case with its outcome (content/flows/case_close.yaml).

If required items of the case plan are still open, the handler is shown them and asked why it is right to close
now; then the reason is required, and recorded with the closure. Nothing given is lost: a "skip" on the reason
asks again with the outcome and note kept, and a form sent without it carries on in the conversation, asking
only for the reason. With nothing open, the reason is never asked and the form has no field for it.
"""

from __future__ import annotations

from typing import Any

from bot.cases.plan import open_required
from bot.conversation.context import Input
from bot.conversation.dialogs.base import INVALID, CaseUpdate, Context
from bot.core.answers import said_nothing
from bot.core.content import Step
from bot.core.markup import Markup
from bot.core.models import Case, Choice, Frame, Reply
from bot.core.text import is_command

REASON_STEP = "open_items_reason"
# The outcomes of an allegation about staff (KCSIE's definitions): offered only when the case has one.
ALLEGATION_OUTCOMES = frozenset({"substantiated", "unsubstantiated", "unfounded", "false", "malicious"})


class CaseClose(CaseUpdate):
    flow_id = "case_close"

    async def _open_items(self, ctx: Context, reference: str) -> str:
        case = await ctx.services.store.get_case(ctx.school_id, reference)
        still_open = open_required(await ctx.services.casework.plan_of(ctx.scope, case)) if case else []
        return "; ".join(e.text for e in still_open)

    async def _note_open_items(self, ctx: Context, frame: Frame) -> None:
        reference = frame.answers["reference"]
        frame.answers["open_required"] = await self._open_items(ctx, reference)
        case = await ctx.services.store.get_case(ctx.school_id, reference)
        frame.answers["allegation"] = "yes" if case and "allegation" in case.categories else ""

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        """An allegation's outcomes only for a case with an allegation about staff."""
        choices = super().choices_for(ctx, step, frame)
        if step.id == "outcome" and not frame.answers.get("allegation"):
            choices = [c for c in choices if c.id not in ALLEGATION_OUTCOMES]
        return choices

    async def start(self, ctx: Context, frame: Frame) -> None:
        await self._note_open_items(ctx, frame)
        await super().start(ctx, frame)

    def applies(self, step: Step, answers: dict) -> bool:
        if step.id == REASON_STEP:
            return bool(answers.get("open_required"))
        return super().applies(step, answers)

    async def answer_text(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        """The reason, once asked, is required: a skip is answered kindly and the question asked again, with the
        outcome and note kept."""
        skipped = inp.picked == ["skip"] or (not inp.picked and (
            said_nothing(ctx.content, inp.text) or is_command(inp.text, ctx.content.phrases.commands["skip"])))
        if step.id == REASON_STEP and skipped:
            ctx.say("case.close_reason_required", reference=frame.answers["reference"])
            return INVALID
        return await super().answer_text(ctx, frame, step, inp)

    async def form_for(self, ctx: Context, case: Case) -> Reply:
        """The reason's field only while required items are open, then required and naming them."""
        reply = self.form_reply(ctx, case.reference)
        assert reply.form is not None
        still_open = await self._open_items(ctx, case.reference)
        fields = [f for f in reply.form.fields if f.id != REASON_STEP or still_open]
        for field in fields:
            if field.id == "outcome" and "allegation" not in case.categories:
                field.choices = [c for c in field.choices if c.id not in ALLEGATION_OUTCOMES]
            if field.id == REASON_STEP:
                field.optional = False
                field.label = ctx.text("case.close_reason_label", open_required=Markup(still_open))
        reply.form.fields = fields
        return reply

    async def submit_form(self, ctx: Context, reference: str, values: dict[str, str]) -> None:
        frame = self.new_frame(reference=reference)
        await self._note_open_items(ctx, frame)
        if frame.answers["open_required"] and not (values.get(REASON_STEP) or "").strip():
            await self._ask_reason(ctx, frame, values)
            return
        await self._submit(ctx, frame, values)

    async def _ask_reason(self, ctx: Context, frame: Frame, values: dict[str, str]) -> None:
        """A form sent without the reason it needs: its outcome and note are kept, and the reason is asked."""
        outcome = (values.get("outcome") or "").strip()
        if outcome not in [c.id for c in self.flow.step("outcome").choices]:
            ctx.say("common.form_not_saved")
            return
        frame.answers.update(outcome=outcome, note=(values.get("note") or "").strip() or None)
        frame.history = ["outcome", "note"]
        frame.step = REASON_STEP
        frame.started_at = ctx.now
        ctx.state.frames.append(frame)
        await self.ask(ctx, frame)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        await ctx.services.casework.close(ctx, a["reference"], a["outcome"], a.get("note"), a.get(REASON_STEP))
