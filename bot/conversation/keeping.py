"""Keeping someone's place, so nothing they have started is lost without their say.

- "stop" asks whether to keep what is in progress for later or delete it, with keep first (a flow that
  keeps nothing, or has nothing answered yet, simply stops);
- "pause", "later", "not now" keep it at once; a kept flow resumes at the step where it stopped;
- asking for something else in the middle of a flow ("my cases", "I need to talk to someone", "privacy",
  "report"), or a feeling said at a question with options, offers to pause it and go there, or carry on: it
  is never silently dropped (a feeling is acknowledged first).

Kept flows wait in `ConversationState.paused`, where a long silence also sets them aside (bot/conversation/engine.py).
"""

from __future__ import annotations

from typing import Literal, Protocol

from bot.conversation import support_now
from bot.conversation.dialogs.base import Context, Dialog
from bot.core.content import Content
from bot.core.models import Frame
from bot.core.text import contains_phrase, is_command

# Where a request can lead while a flow is running: a flow, or the list of someone's cases.
SwitchTarget = Literal["my_cases", "get_support", "privacy_check", "report_concern"]
SWITCH_TARGETS: tuple[SwitchTarget, ...] = ("my_cases", "get_support", "privacy_check", "report_concern")
KEEP_OR_DELETE = ["menu:keep", "menu:delete"]  # the choices "stop" offers, keep first
# Questions answered in free text: there, only a whole message asks for something else.
FREE_TEXT_STEPS = {"text", "accounts", "date", "evidence"}


def noun(content: Content, flow_id: str) -> str:
    """How the bot refers back to a flow in progress: "report", "privacy check"."""
    flow = content.flows[flow_id]
    return flow.noun or flow.title.lower()


def has_answers(frame: Frame) -> bool:
    """Whether anything the person gave would be lost (values the bot keeps for itself start with "_")."""
    return any(not key.startswith("_") for key in frame.answers)


class Conversation(Protocol):
    """What keeping someone's place asks of the conversation it keeps (the engine, bot/conversation/engine.py)."""

    content: Content
    dialogs: dict[str, Dialog]

    async def ask_again(self, ctx: Context) -> None: ...
    async def show_menu(self, ctx: Context, greeting: bool = False) -> None: ...
    async def _resume_below(self, ctx: Context) -> None: ...
    async def _global_choice(self, ctx: Context, choice: str) -> None: ...
    async def _offer_resume(self, ctx: Context) -> None: ...


class Keeping:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    # --- stop, pause, resume ---------------------------------------------------------------

    async def on_command(self, ctx: Context, text: str) -> bool:
        """"stop", "pause" (during a flow) or "carry on" (with something kept), as a whole message."""
        commands = ctx.content.phrases.commands
        if is_command(text, commands["stop"]):
            await self.stop(ctx)
        elif ctx.state.active and is_command(text, commands["pause"]):
            await self.keep(ctx)
        elif ctx.state.numbered == KEEP_OR_DELETE and is_command(text, commands["delete"]):
            await self.delete(ctx)
        elif not ctx.state.active and ctx.state.paused and is_command(text, commands["resume"]):
            await self.resume(ctx)
        else:
            return False
        return True

    async def on_choice(self, ctx: Context, action: str) -> bool:
        """The buttons of keeping: carry on, discard, keep, delete, pause and go."""
        if action == "resume":
            await self.resume(ctx)
        elif action == "discard":
            if ctx.state.paused:
                ctx.state.paused.pop(0)
            ctx.say("common.discarded")
            await self.conversation.ask_again(ctx)
        elif action == "keep":
            await self.keep(ctx)
        elif action == "delete":
            await self.delete(ctx)
        elif action.startswith("go:"):
            await self.go(ctx, action.removeprefix("go:"))
        else:
            return False
        return True

    async def resume(self, ctx: Context) -> None:
        """Everything kept comes back, and the question it stopped at is asked again."""
        self.bring_back(ctx, list(ctx.state.paused))
        if ctx.state.active:
            ctx.say("common.welcome_back", value=noun(ctx.content, ctx.state.active.flow))
            await self.conversation.ask_again(ctx)
        else:
            ctx.say("keeping.nothing_kept")
            await self.conversation.show_menu(ctx)

    async def stop(self, ctx: Context) -> None:
        ctx.state.unclear_words = None  # words kept to start a report are let go too
        frame = ctx.state.active
        if frame is None:
            ctx.say("common.nothing_to_stop")
            await self.conversation.show_menu(ctx)
            return
        if self.conversation.dialogs[frame.flow].keeps_place and has_answers(frame):
            labels = ["keeping.keep_label", "keeping.delete_label"]
            ctx.say("keeping.keep_or_delete", value=noun(ctx.content, frame.flow),
                    choices=[ctx.choice(id, label) for id, label in zip(KEEP_OR_DELETE, labels, strict=True)])
            return
        await self.delete(ctx)

    async def delete(self, ctx: Context) -> None:
        """Ends the flow in progress without keeping it: nothing it gathered is sent or saved."""
        ctx.state.unclear_words = None
        frame = ctx.state.active
        if frame is None:
            ctx.say("common.nothing_to_stop")
            await self.conversation.show_menu(ctx)
            return
        ctx.state.frames.remove(frame)
        ctx.say(self.conversation.dialogs[frame.flow].stop_message(frame))
        if ctx.state.active or ctx.state.paused:
            await self.conversation._resume_below(ctx)
        else:
            await self.conversation.show_menu(ctx)

    async def keep(self, ctx: Context) -> None:
        """Sets the flow in progress aside, at the step it is on, and says how to come back to it."""
        frame = ctx.state.active
        if frame is None:
            ctx.say("common.nothing_to_stop")
            await self.conversation.show_menu(ctx)
            return
        self.set_aside(ctx, frame)
        ctx.say("keeping.kept", value=noun(ctx.content, frame.flow))
        await self.conversation.show_menu(ctx)

    @staticmethod
    def set_aside(ctx: Context, frame: Frame) -> None:
        ctx.state.frames.remove(frame)
        ctx.state.paused.append(frame)

    @staticmethod
    def bring_back(ctx: Context, frames: list[Frame]) -> None:
        """Kept flows back on top of whatever is running, the last one given active."""
        for frame in frames:
            ctx.state.paused.remove(frame)
            ctx.state.frames.append(frame)

    # --- something else asked for mid-flow ------------------------------------------------

    def elsewhere(self, ctx: Context, text: str) -> str | None:
        """Where a message written during a flow asks to go instead, if anywhere: a whole-message request at any
        question, or an intent phrase anywhere in it at a question with options (which nothing else matched)."""
        frame = ctx.state.active
        if frame is None or not text:
            return None
        phrases = ctx.content.phrases
        for target in SWITCH_TARGETS:
            if target != frame.flow and is_command(text, phrases.switch.get(target, [])):
                return target
        if self.step_type(frame) in FREE_TEXT_STEPS:
            return None
        for target in SWITCH_TARGETS:
            if target != frame.flow and contains_phrase(text, ctx.content.intents.get(target, [])):
                return target
        if frame.flow != "get_support" and support_now.feels(ctx, text):
            return "get_support"
        return None

    def step_type(self, frame: Frame) -> str:
        flow = self.conversation.content.flows[frame.flow]
        step = next((s for s in flow.steps if s.id == frame.step), None)
        return step.type if step is not None else "choice"  # "_change" picks which answer to change

    async def offer_switch(self, ctx: Context, target: str, text: str) -> None:
        """Asks before leaving a flow with something to keep; goes at once from one with nothing to keep, or when
        the offer to go there was just made and they ask again."""
        frame = ctx.state.active
        assert frame is not None
        value = noun(ctx.content, frame.flow)
        support_now.acknowledge_feeling(ctx, text)
        offered_already = ctx.state.numbered == [f"menu:go:{target}", "menu:resume"]
        if offered_already or not has_answers(frame):
            await self.go(ctx, target)
            return
        ctx.say("keeping.switch_offer", value=value, where=ctx.text(f"keeping.where_{target}"), choices=[
            ctx.choice(f"menu:go:{target}", "keeping.pause_and_go"),
            ctx.choice("menu:resume", "keeping.carry_on_label", value=value),
        ])

    async def go(self, ctx: Context, target: str) -> None:
        """Pause what is in progress, then go where they asked; the kept flow is offered again afterwards.
        A flow with nothing answered yet (such as support, which keeps no answers) just ends."""
        frame = ctx.state.active
        if frame is not None and target in SWITCH_TARGETS and target != frame.flow:
            if has_answers(frame):
                self.set_aside(ctx, frame)
                ctx.say("keeping.kept_for_now", value=noun(ctx.content, frame.flow))
            else:
                ctx.state.frames.remove(frame)
        await self.conversation._global_choice(ctx, f"menu:{target}")
        if target == "my_cases" and not ctx.state.active and ctx.state.paused and not self._menu_shown(ctx):
            await self.conversation._offer_resume(ctx)

    @staticmethod
    def _menu_shown(ctx: Context) -> bool:
        return any(r.key in ("menu.ask", "common.resume_offer") for r in ctx.replies)
