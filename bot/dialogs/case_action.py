"""A case handler records an action taken (content/flows/case_action.yaml)."""

from __future__ import annotations

from bot.dialogs.base import Context, StepDialog
from bot.models import Frame


class CaseAction(StepDialog):
    flow_id = "case_action"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        await ctx.bot.casework.record_action(ctx, a["reference"], a["action"], a.get("platform_reference") or a.get("detail"))

    def stop_message(self, frame: Frame) -> str:
        return "case.update_cancelled"
