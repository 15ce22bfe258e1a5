"""A case handler adds a note to a case (content/flows/case_note.yaml)."""

from __future__ import annotations

from bot.conversation.dialogs.base import CaseUpdate, Context
from bot.core.models import Frame


class CaseNote(CaseUpdate):
    flow_id = "case_note"

    async def finish(self, ctx: Context, frame: Frame) -> None:
        await ctx.services.casework.add_note(ctx, frame.answers["reference"], frame.answers["note"])
