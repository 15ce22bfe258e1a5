"""A case handler closes a case with its outcome (content/flows/case_close.yaml)."""

from __future__ import annotations

from bot.dialogs.base import Context, StepDialog
from bot.models import Frame


class CaseClose(StepDialog):
    flow_id = "case_close"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        await ctx.bot.casework.close(ctx, a["reference"], a["outcome"], a.get("note"))

    def stop_message(self, frame: Frame) -> str:
        return "case.update_cancelled"
