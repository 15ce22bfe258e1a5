"""The platform-neutral engine: one `Turn` in, the replies for that user out.

Each turn runs in one fixed order, under a per-conversation lock:
  1. a retried delivery (same turn id) is ignored;
  2. the opening of a chat delivers waiting notifications and greets;
  3. the safety check (bot/conversation/safety.py) reads every message and form, in every state, before anything else:
     crisis, danger, possible sexual images of under-18s, the police route;
  4. a submitted form is handled; a long-silent conversation is set aside, to resume or discard;
  5. input is cleaned and checked (empty, too long), typed choices are resolved;
  6. menu and case-card buttons, which can arrive at any time;
  7. a button from a question that has moved on is answered kindly;
  8. interrupts: stop (which asks to keep or delete), pause, back (the menu, with nothing running and nowhere to go
     back to), menu, help; with nothing running, carry on
     with what was kept; a message in Welsh, in any state, gets the bilingual reply and the question it was at;
     during a flow, a request for something else offers to pause it and go there (bot/keeping.py);
  9. the active step of the active flow, unless its question never reached the person (Turn.question_unseen);
  10. with no flow running: a feeling is heard first; a phrase that starts a flow; else a message that names
      what a report would starts one, pre-filled from it (bot/first_message.py, read once a turn); else a warm
      reply (other words the second time in a row) and the menu, with the words, unless only a greeting, kept
      to offer as the start of the next report (ConversationState.unclear_words).
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, NamedTuple

from bot.cases.schools import Schools
from bot.conversation import support_now
from bot.conversation.case_focus import typed_case_action
from bot.conversation.casework import Casework
from bot.conversation.context import Context, Input, Services
from bot.conversation.dialogs import dialogs_for
from bot.conversation.dialogs.base import Dialog, half_terms
from bot.conversation.dialogs.report_concern import ReportConcern
from bot.conversation.keeping import Keeping, noun
from bot.conversation.safety import Safety
from bot.conversation.welsh import looks_welsh, welsh_reply
from bot.core.answers import split_long
from bot.core.config import Settings
from bot.core.content import Content
from bot.core.first_message import FirstMessage, only_small_talk, read_first_message, starts_a_report
from bot.core.models import Choice, ConversationState, Frame, Reply, Turn, utcnow
from bot.core.text import clean, contains_phrase, is_command, resolve_choices
from bot.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Said:
    """A message as the turn's steps read it: cleaned, within the limit (the rest of a long paste in `overflow`),
    and what it picks."""

    text: str
    overflow: str
    picked: list[str]


class MenuEntry(NamedTuple):
    order: int
    id: str  # menu:<id>, worded as the message menu.<id>
    handlers_only: bool
    handlers_first: bool = False  # a case handler's own work: first in their menu, as the handlers-only entries


# The menu's own entries, beside each flow's (its file says where it goes: `menu.order`).
BUILT_IN_MENU = [MenuEntry(40, "my_cases", False, handlers_first=True), MenuEntry(50, "stats", True)]
# Questions whose answer is the person's words as written: a message in Welsh there is kept as the answer.
WORDS_KEPT_STEPS = {"text", "evidence"}
CASE_BUTTON = re.compile(r"case:[A-Za-z0-9-]{1,40}:[a-z_]{1,20}(?::[a-z_.]{1,60})?")


class Engine:
    def __init__(self, content: Content, store: Store, settings: Settings, clock: Callable[[], datetime] = utcnow):
        self.content = content
        self.store = store
        self.settings = settings
        self.clock = clock
        self.dialogs: dict[str, Dialog] = dialogs_for(content)
        self.keeping = Keeping(self)
        self.schools = Schools(store, content, settings)
        # Platforms whose channel can write only into a chat the person has opened; each such channel adds its own.
        self.opened_chat_platforms: set[str] = set()
        self.casework = Casework(store, settings, self.schools, self.dialogs, self, self.opened_chat_platforms)
        self.report = next(d for d in self.dialogs.values() if isinstance(d, ReportConcern))
        self.safety = Safety(self.report)
        self.services = Services(store=store, settings=settings, casework=self.casework, conversation=self)
        self._names_kept: dict[tuple[str, str], str] = {}  # (school, user) -> the display name last stored

    async def handle(self, turn: Turn) -> list[Reply]:
        key = turn.conversation_key
        # The store's lock: with a server database it holds across every process serving this deployment.
        async with self.store.conversation_lock(key):
            try:
                # Whether it is a retry, the saved state and the person's directory entry: one read.
                seen, saved, member = await self.store.begin_turn(key, turn.turn_id, turn.school_id, turn.user)
                if seen:
                    return []
                await self._keep_display_name(turn)
                scope = await self.schools.scope(turn.school_id)
                state = saved or ConversationState()
                ctx = Context(services=self.services, scope=scope, turn=turn, state=state, member=member,
                              now=self.clock(), way_back=state.back_to)
                state.back_to = None  # what this turn shows says where "back" goes from it
                await self._dispatch(ctx)
                state.listened = any(r.key.startswith("common.listening") for r in ctx.replies)
                state.updated_at = ctx.now
                if ctx.replies or not turn.question_unseen:  # else the unseen question's choices stay offered
                    self._remember_offered(ctx)
                await self.store.save_conversation(key, turn.school_id, turn.user, state, turn.turn_id, ctx.delivered)
                return ctx.replies
            except StoreError as exc:
                # Never the message text or case content in logs: only what failed.
                log.error("store failure while handling a turn: %s", exc)
            except Exception as exc:  # a bug must not lose the user's trust: nothing is saved, they are told
                where = traceback.extract_tb(exc.__traceback__)[-1]
                log.error("%s while handling a turn, at %s:%s", type(exc).__name__, where.filename, where.lineno)
            return [Reply(key="common.store_error", text=self.content.text("common.store_error"))]

    async def _keep_display_name(self, turn: Turn) -> None:
        """The name the platform gives this person, so cards name them (stored only when it changes)."""
        name = clean(turn.display_name)[:100] if turn.display_name else ""
        key = (turn.school_id, turn.user)
        if name and self._names_kept.get(key) != name:
            await self.store.save_display_name(turn.school_id, turn.user, name)
            self._names_kept[key] = name

    def no_school(self) -> list[Reply]:
        """For someone the deployment cannot place in a school (see bot/cases/schools.py): nothing is stored."""
        return [Reply(key="common.no_school", text=self.content.text("common.no_school"))]

    async def home(self, school_id: str, user: str) -> list[Reply]:
        """What a home screen shows someone: their open cases (for handlers), their reports, and the menu.
        It reads the store only; the conversation is untouched."""
        platform, _, user_id = user.partition(":")
        turn = Turn(platform=platform, user_id=user_id, conversation_id="home", school_id=school_id, kind="open")
        member = await self.store.get_staff(school_id, user)
        ctx = Context(services=self.services, scope=await self.schools.scope(school_id), turn=turn,
                      state=ConversationState(), member=member, now=self.clock())
        await self.casework.list_for(ctx)
        if not any(r.key == "menu.ask" for r in ctx.replies):
            await self.show_menu(ctx)
        return ctx.replies

    # --- the fixed order -----------------------------------------------------------------

    async def _dispatch(self, ctx: Context) -> None:
        """The fixed order of the module's docstring: each step answers the turn (True) or passes it on."""
        if ctx.turn.kind == "open":
            await self._open(ctx)
            return
        for first in (self._safety_check, self._form, self._set_aside):
            if await first(ctx):
                return
        said = await self._read(ctx)
        if said is None:
            return
        for step in (self._menu_or_case_button, self._stale_button, self._interrupt, self._not_yet_seen,
                     self._in_welsh, self._asks_for_elsewhere):
            if await step(ctx, said):
                return
        await self._answer_or_start(ctx, said)

    async def _safety_check(self, ctx: Context) -> bool:
        turn = ctx.turn
        said = "\n".join([clean(turn.text), *(clean(v) for v in turn.form_values.values())])
        return await self.safety.check(ctx, said)

    async def _form(self, ctx: Context) -> bool:
        """A form stands apart from the conversation: whatever is in progress is left as it is."""
        if not ctx.turn.form_id:
            return False
        await self.casework.on_form(ctx, ctx.turn.form_id, {k: clean(v) for k, v in ctx.turn.form_values.items()})
        return True

    async def _set_aside(self, ctx: Context) -> bool:
        if not self._set_aside_if_idle(ctx):
            return False
        await self._offer_resume(ctx)
        return True

    async def _read(self, ctx: Context) -> Said | None:
        """The message cleaned and checked (too long, empty), with what it picks; None once it has been answered."""
        turn, state, limit = ctx.turn, ctx.state, self.settings.max_text_chars
        text, overflow = clean(turn.text), ""
        if len(text) > limit:
            # up to twice the limit is taken in two parts, as a long paste; beyond that it is not read at all
            active = state.active
            if len(text) > 2 * limit or not (active and self.dialogs[active.flow].keeps_long_text(active)):
                ctx.say("common.too_long", max_chars=limit)
                await self.ask_again(ctx)
                return None
            text, overflow = split_long(text, limit)  # the rest is kept as a note
        if not text and not turn.choices and not turn.attachments:
            ctx.say("common.empty")
            await self.ask_again(ctx)
            return None
        return Said(text, overflow, self._picked(ctx, text))

    def _picked(self, ctx: Context, text: str) -> list[str]:
        """What the turn picks: its buttons, else an offered choice typed, a case button's id typed, or a case
        action typed while a case is in focus ("report pack", "close", "add a note")."""
        state = ctx.state
        if ctx.turn.choices:
            return list(ctx.turn.choices)
        if not text:
            return []
        offered = [Choice.model_validate(c) for c in state.offered]
        picked = resolve_choices(text, offered, state.numbered, state.offered_multiple) or []
        if not picked and CASE_BUTTON.fullmatch(text):
            picked = [text]
        if not picked and (typed := typed_case_action(ctx, text)):
            picked = [typed]
        return picked

    async def _menu_or_case_button(self, ctx: Context, said: Said) -> bool:
        if not said.picked or not said.picked[0].startswith(("menu:", "case:")):
            return False
        await self._global_choice(ctx, said.picked[0])
        return True

    async def _stale_button(self, ctx: Context, said: Said) -> bool:
        """A button from a question that has moved on is answered kindly, never taken as an answer."""
        turn = ctx.turn
        if not (turn.choices and turn.answering and turn.answering != self._question_id(ctx.state)):
            return False
        ctx.say("common.moved_on").moved_on = True
        await self.ask_again(ctx)
        return True

    async def _interrupt(self, ctx: Context, said: Said) -> bool:
        """stop, pause, carry on (bot/conversation/keeping.py), menu, back, help: as a whole message."""
        text, state, commands = said.text, ctx.state, self.content.phrases.commands
        if not text or said.picked:
            return False
        if await self.keeping.on_command(ctx, text):
            return True
        if is_command(text, commands["menu"]):
            await self.show_menu(ctx)
        elif state.active and is_command(text, commands["back"]):
            await self.dialogs[state.active.flow].back(ctx, state.active)
        elif is_command(text, commands["back"]):  # with nothing running and nowhere to go back to: the menu
            await self.show_menu(ctx)
        elif is_command(text, commands["help"]):
            await self._help(ctx)
        else:
            return False
        return True

    async def _not_yet_seen(self, ctx: Context, said: Said) -> bool:
        """The question has only now reached them: what they wrote before seeing it is not its answer."""
        return bool(ctx.turn.question_unseen and ctx.state.active and not ctx.turn.choices)

    async def _asks_for_elsewhere(self, ctx: Context, said: Said) -> bool:
        """In the middle of a flow, a request for something else: offer to pause it and go there."""
        target = self.keeping.elsewhere(ctx, said.text) if said.text and not said.picked else None
        if target is None:
            return False
        await self.keeping.offer_switch(ctx, target, said.text)
        return True

    async def _answer_or_start(self, ctx: Context, said: Said) -> None:
        """The active step takes the message; with nothing running, a flow's phrase starts it, a message that names
        what a report would starts one pre-filled from it, and anything else (a greeting, an apology) is answered
        warmly with the menu. The message is read for a report once, here, and that reading passed on."""
        turn, text = ctx.turn, said.text
        files = [a.model_copy(update={"name": clean(a.name) or "file", "ref": clean(a.ref)}) for a in turn.attachments]
        inp = Input(text=text, picked=said.picked, attachments=files, overflow=said.overflow)
        if ctx.state.active:
            await self._advance(ctx, ctx.state.active, inp)
            return
        if inp.attachments:
            ctx.say("common.no_files_here")
        if not text:
            ctx.say("common.not_understood_idle")
            await self.show_menu(ctx)
            return
        reading = read_first_message(ctx.content, text, ctx.now.date(), half_terms(ctx))
        if await self.listening_first(ctx, text, reading):
            return
        intent = next((f for f, phrases in self.content.intents.items() if contains_phrase(text, phrases)), None)
        if intent == "report_concern" or (intent is None and starts_a_report(ctx.content, text, reading)):
            await self.report.start_from_words(ctx, reading)
        elif intent:
            await self._global_choice(ctx, f"menu:{intent}")
        else:
            self.listen(ctx, text)
            await self.show_menu(ctx)

    def listen(self, ctx: Context, text: str) -> None:
        """A message that names nothing a report would: a warm reply, worded differently from the last one if that
        was warm too, and the words kept to offer as the start of a report (unless they are only a greeting)."""
        state = ctx.state
        ctx.say("common.listening_again" if state.listened else "common.listening")
        if not only_small_talk(ctx.content, text):
            kept = f"{state.unclear_words}\n{text}" if state.unclear_words else text
            state.unclear_words = kept[-self.settings.max_text_chars:]

    async def _advance(self, ctx: Context, frame: Frame, inp: Input) -> None:
        finished = await self.dialogs[frame.flow].handle(ctx, frame, inp)
        if finished:
            ctx.state.frames.remove(frame)
            await self._resume_below(ctx)

    async def listening_first(self, ctx: Context, text: str, reading: FirstMessage) -> bool:
        """With nothing running, before any intent: a feeling is acknowledged, then leads to support unless the
        message asks for something else or says what a report is about (`reading`). Asked for someone to talk to,
        support comes first whatever else is said, and words that say what a report would be about are kept to
        start it when they are ready ("i need someone to talk to, there's a page about me"). True when answered."""
        felt = support_now.acknowledge_feeling(ctx, text)
        if contains_phrase(text, ctx.content.phrases.wants_to_talk):
            if reading.names_facts or not only_small_talk(ctx.content, text):
                ctx.state.unclear_words = text[-self.settings.max_text_chars:]
                if reading.names_facts:
                    ctx.say("support.report_kept")
            await self._global_choice(ctx, "menu:get_support")
            return True
        if felt and not self._asks_or_tells(text, reading):
            await self._global_choice(ctx, "menu:get_support")
            return True
        return False

    def _asks_or_tells(self, text: str, reading: FirstMessage) -> bool:
        """Whether a message with a feeling in it also asks for something (a flow's phrase) or says what a report
        is about ("someone made a fake instagram of me and I'm really upset"): then that goes ahead."""
        return any(contains_phrase(text, phrases) for phrases in self.content.intents.values()) or reading.names_facts

    async def _in_welsh(self, ctx: Context, said: Said) -> bool:
        """A message in Welsh, in any state: the short bilingual reply, then the question the person is at (or the
        menu), so a flow keeps its place. At a question answered in their own words, the Welsh is the answer,
        kept as written for the DSL, and the flow goes on."""
        if not said.text or said.picked or not looks_welsh(said.text, self.content.phrases.welsh):
            return False
        frame = ctx.state.active
        words_kept = frame is not None and self.keeping.step_type(frame) in WORDS_KEPT_STEPS
        await welsh_reply(ctx, ask_again=not words_kept)
        return not words_kept

    async def _resume_below(self, ctx: Context) -> None:
        if ctx.state.active:
            ctx.say("common.carry_on", value=noun(ctx.content, ctx.state.active.flow))
            await self.dialogs[ctx.state.active.flow].ask(ctx, ctx.state.active)
        elif ctx.state.paused:
            await self._offer_resume(ctx)

    async def start_flow(self, ctx: Context, flow_id: str, **answers: object) -> None:
        dialog = self.dialogs[flow_id]
        frame = dialog.new_frame(**answers)
        frame.started_at = ctx.now
        ctx.state.frames.append(frame)
        await dialog.start(ctx, frame)

    # --- opening, idleness, resuming -----------------------------------------------------

    async def _open(self, ctx: Context) -> None:
        """Waiting notifications first; then whatever comes next, so its choices are the ones numbered."""
        # A chat opened now shows each card fresh, so updates to cards shown before are dropped.
        waiting = await self.store.waiting_notifications(ctx.school_id, ctx.user)
        ctx.delivered = [n.id for n in waiting]  # marked delivered when the turn is saved: a failed turn loses none
        # Those about a case no longer theirs (they left the directory or changed role) are dropped unseen.
        notes = [n for n in waiting if n.kind == "message" and await self.casework.still_for_recipient(n)]
        # A handler's open cases, summed up and sorted, come first; their waiting cards are its lines, not shown.
        triage, notes = await self.casework.triage_for(ctx, notes)
        for note in notes:  # each card shown as the case is now, not as it was when queued
            ctx.replies.extend((await self.casework.as_sent_now(note)).replies)
        if self._set_aside_if_idle(ctx):
            await self._offer_resume(ctx)
        elif ctx.state.active:
            ctx.say("common.welcome_back", value=noun(ctx.content, ctx.state.active.flow))
            await self.ask_again(ctx)
        elif ctx.state.paused:
            await self._offer_resume(ctx)
        elif triage:
            await self.show_menu(ctx)
        elif notes:
            ctx.say("common.updates_shown")
        else:
            ctx.say("common.greeting")
            await self.show_menu(ctx, greeting=True)

    def _set_aside_if_idle(self, ctx: Context) -> bool:
        state = ctx.state
        idle = ctx.now - state.updated_at > timedelta(days=self.settings.idle_days)
        if idle:
            state.unclear_words = None  # words kept for a report are not offered after so long
        if state.frames and idle:
            state.paused = state.paused + state.frames
            state.frames = []
            return True
        return False

    async def _offer_resume(self, ctx: Context) -> None:
        frame = ctx.state.paused[0]
        ctx.say(
            "common.resume_offer",
            value=noun(ctx.content, frame.flow), started=frame.started_at.strftime("%-d %B %Y"),
            choices=[ctx.choice("menu:resume", "menu.resume"), ctx.choice("menu:discard", "menu.discard")],
        )

    async def ask_again(self, ctx: Context, menu_if_idle: bool = True) -> None:
        if ctx.state.active:
            await self.dialogs[ctx.state.active.flow].ask(ctx, ctx.state.active)
        elif ctx.state.paused:
            await self._offer_resume(ctx)
        elif menu_if_idle:
            await self.show_menu(ctx)

    # --- menu and global buttons ---------------------------------------------------------

    async def show_menu(self, ctx: Context, greeting: bool = False) -> None:
        choices = []
        waiting = ctx.state.active or (ctx.state.paused[0] if ctx.state.paused else None)
        if waiting:
            choices.append(ctx.choice("menu:resume", "menu.carry_on", value=noun(ctx.content, waiting.flow)))
        entries = [MenuEntry(f.menu.order, f.id, f.menu.handlers_only) for f in self.content.flows.values() if f.menu]
        handler = self._is_handler(ctx)
        shown = [e for e in sorted(entries + BUILT_IN_MENU) if handler or not e.handlers_only]
        if handler:  # a case handler's own work first
            shown.sort(key=lambda e: not (e.handlers_only or e.handlers_first))
        choices += [ctx.choice(f"menu:{e.id}", f"menu.{e.id}") for e in shown]
        ctx.say("menu.ask" if not greeting else "menu.ask_first", choices=choices, asks="menu")

    @staticmethod
    def _is_handler(ctx: Context) -> bool:
        return ctx.member is not None and ctx.member.handles_cases

    async def _global_choice(self, ctx: Context, choice: str) -> None:
        state = ctx.state
        if choice.startswith("case:"):
            await self.casework.on_case_button(ctx, choice)
            return
        action = choice.removeprefix("menu:")
        if await self.keeping.on_choice(ctx, action):
            return
        if action == "my_cases":
            await self.casework.list_for(ctx)
        elif action == "stats":
            await self.casework.stats_for(ctx)
        elif action in ("digest_on", "digest_off"):
            await self.casework.set_digest(ctx, on=action == "digest_on")
        elif action in self.dialogs and self.dialogs[action].handlers_only and not self._is_handler(ctx):
            ctx.say("common.handlers_only")
            await self.show_menu(ctx)
        elif action in self.dialogs:
            existing = next((f for f in state.frames + state.paused if f.flow == action), None)
            if existing is not None:
                # One report (or check) at a time: bring the one in progress, or kept, back to the top.
                if existing in state.paused:
                    self.keeping.bring_back(ctx, [existing])
                state.frames.remove(existing)
                state.frames.append(existing)
                ctx.say("common.already_started", value=noun(ctx.content, action))
                await self.dialogs[action].ask(ctx, existing)
            else:
                await self.start_flow(ctx, action)
        else:
            ctx.say("common.not_understood")
            await self.ask_again(ctx)

    # --- interrupts ----------------------------------------------------------------------

    async def emergency(self, ctx: Context) -> None:
        dsls = await self.casework.handler_names(ctx)
        ctx.say("common.emergency", dsl_names=dsls or self.content.text("common.your_dsl"), urgent=True)

    async def _help(self, ctx: Context) -> None:
        if ctx.state.active:
            await self.dialogs[ctx.state.active.flow].help(ctx, ctx.state.active)
        else:
            ctx.say("common.help_idle")
            await self.show_menu(ctx)

    # --- choices offered this turn, so a typed number or label can be resolved next turn ---

    def _question_id(self, state: ConversationState) -> str:
        frame = state.active
        return self.dialogs[frame.flow].question_id(frame) if frame else "menu"

    def _remember_offered(self, ctx: Context) -> None:
        with_choices = [r for r in ctx.replies if r.choices]
        state = ctx.state
        # The last question's choices first, so a typed label picks from it before any earlier card.
        state.offered = [c.model_dump() for r in reversed(with_choices) for c in r.choices]
        state.numbered = [c.id for c in with_choices[-1].choices] if with_choices else []
        state.offered_multiple = bool(with_choices and with_choices[-1].multiple)
