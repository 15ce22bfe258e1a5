"""A case handler closes a case with its outcome (content/flows/case_close.yaml)."""

from __future__ import annotations

from bot.dialogs.base import CaseUpdate, Context
from bot.models import Frame


class CaseClose(CaseUpdate):
    flow_id = "case_close"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        a = frame.answers
        await ctx.bot.casework.close(ctx, a["reference"], a["outcome"], a.get("note"))
