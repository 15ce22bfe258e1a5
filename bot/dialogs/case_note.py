"""A case handler adds a note to a case (content/flows/case_note.yaml)."""

from __future__ import annotations

from bot.dialogs.base import CaseUpdate, Context
from bot.models import Frame


class CaseNote(CaseUpdate):
    flow_id = "case_note"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        await ctx.bot.casework.add_note(ctx, frame.answers["reference"], frame.answers["note"])
