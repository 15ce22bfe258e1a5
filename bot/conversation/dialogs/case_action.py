"""A case handler records an action taken (content/flows/case_action.yaml)."""

from __future__ import annotations

from bot.conversation.dialogs.base import CaseUpdate, Context
from bot.core.models import Frame


class CaseAction(CaseUpdate):
    flow_id = "case_action"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        detail = a.get("platform_reference") or a.get("detail")
        await ctx.services.casework.record_action(ctx, a["reference"], a["action"], detail)
