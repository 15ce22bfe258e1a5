"""A case handler closes a case with its outcome (content/flows/case_close.yaml).

If required items of the case plan are still open, the handler is asked why it is right to close now;
the reason is recorded with the closure.
"""

from __future__ import annotations

from bot.core.content import Step
from bot.conversation.dialogs.base import CaseUpdate, Context
from bot.core.models import Frame
from bot.cases.plan import open_required

REASON_STEP = "open_items_reason"


class CaseClose(CaseUpdate):
    flow_id = "case_close"

    async def _note_open_items(self, ctx: Context, frame: Frame) -> None:
        case = await ctx.services.store.get_case(ctx.school_id, frame.answers["reference"])
        still_open = open_required(await ctx.services.casework.plan_of(ctx.scope, case)) if case else []
        frame.answers["open_required"] = "; ".join(e.text for e in still_open)

    async def start(self, ctx: Context, frame: Frame) -> None:
        await self._note_open_items(ctx, frame)
        await super().start(ctx, frame)

    def applies(self, step: Step, answers: dict) -> bool:
        if step.id == REASON_STEP:
            return bool(answers.get("open_required"))
        return super().applies(step, answers)

    async def submit_form(self, ctx: Context, reference: str, values: dict[str, str]) -> None:
        frame = self.new_frame(reference=reference)
        await self._note_open_items(ctx, frame)
        await self._submit(ctx, frame, values)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        await ctx.services.casework.close(ctx, a["reference"], a["outcome"], a.get("note"), a.get(REASON_STEP))
