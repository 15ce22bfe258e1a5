"""A case handler moves a case along (content/flows/case_status.yaml)."""

from __future__ import annotations

from bot.conversation.dialogs.base import CaseUpdate, Context
from bot.core.models import Frame


class ChangeCaseStatus(CaseUpdate):
    flow_id = "case_status"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        await ctx.services.casework.set_status(ctx, frame.answers["reference"], frame.answers["status"])
