"""Get support: the code behind content/flows/get_support.yaml. Each topic answers, then offers the list again.
Out of school hours it opens with who answers now, and someone to talk to comes first (bot/support_now.py)."""

from __future__ import annotations

from bot.conversation import support_now
from bot.conversation.dialogs.base import Context, Input, StepDialog
from bot.core.answers import ASKED
from bot.core.content import Step
from bot.core.models import Choice, Frame
from bot.core.text import is_command

OPEN_NOW_FIRST = "wellbeing"  # out of hours, someone to talk to (Education Support, day and night) comes first


class GetSupport(StepDialog):
    flow_id = "get_support"

    async def start(self, ctx: Context, frame: Frame) -> None:
        if support_now.school_closed(ctx):
            support_now.say_open_now(ctx)
        await self.ask(ctx, frame)

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        choices = super().choices_for(ctx, step, frame)
        if support_now.school_closed(ctx):
            choices.sort(key=lambda c: c.id != OPEN_NOW_FIRST)
        return choices

    @staticmethod
    def _wants_someone_now(ctx: Context, text: str) -> bool:
        asked = is_command(text, ctx.content.phrases.switch.get("get_support", []))
        return support_now.acknowledge_feeling(ctx, text) or asked

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        step = self.flow.step(frame.step)
        if inp.attachments:
            await self.refuse_attachments(ctx, frame)
            await self.ask(ctx, frame)
            return False
        done = not inp.picked and is_command(inp.text, ctx.content.phrases.commands["done"])
        if not inp.picked and not done and self._wants_someone_now(ctx, inp.text):
            inp.picked = [OPEN_NOW_FIRST]  # "is anyone there now?", or a feeling: someone to talk to, day and night
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
            if topic == "posh":
                support_now.say_posh_closed(ctx)
        await self.ask(ctx, frame)
        return False
