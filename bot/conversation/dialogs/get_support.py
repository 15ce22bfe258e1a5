"""Get support: the code behind content/flows/get_support.yaml. Each topic answers, then offers the list again."""

from __future__ import annotations

from bot.core.answers import ASKED
from bot.conversation.dialogs.base import Context, Input, StepDialog
from bot.core.models import Frame
from bot.core.text import is_command


class GetSupport(StepDialog):
    flow_id = "get_support"

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        step = self.flow.step(frame.step)
        if inp.attachments:
            await self.refuse_attachments(ctx, frame)
            await self.ask(ctx, frame)
            return False
        done = not inp.picked and is_command(inp.text, ctx.content.phrases.commands["done"])
        topic = "finished" if done else await self.answer_choice(ctx, frame, step, inp)
        if topic is ASKED:
            return False
        if topic == "finished":
            ctx.say("support.bye")
            return True
        if isinstance(topic, str):
            if topic == "emergency":
                await ctx.services.conversation.emergency(ctx)
            elif topic == "in_school":
                people = await ctx.services.casework.handler_names(ctx)
                ctx.say("support.in_school", people=people or ctx.text("support.no_directory"))
            else:
                ctx.say(f"support.{topic}")
        await self.ask(ctx, frame)
        return False
