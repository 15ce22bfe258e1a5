"""The safety check: read on every message, in every state, before anything else (bot/conversation/engine.py, one step).

Reading is plain phrase matching on content/safety.yaml, part of a sentence at a time, so that
"it's not an emergency" is not an emergency and "he wants to kill himself" is about someone else (whose a crisis
phrase is: the last person word up to its end, "my pupil said he wants to die" or "they made me want to die"). A
threat to share a picture is sextortion with or without a sexual word. What it finds decides what happens:

- a member of staff in crisis: a warm reply with the 24/7 lines; any report in progress is kept for later,
  and nothing goes to the DSL;
- danger to someone now (a threat to kill or harm among it): the 999 guidance, once; the report is marked
  urgent and the DSLs are alerted; the words stay as the answer they were;
- possible sexual images of an under-18 (and sextortion): the guardrail, from wherever it is said;
- doxxing, stalking, hate, harassment (and threats): the police route, and a police item on the case plan;
- a maybe ("she might be at risk"): one question, "Is someone in danger right now?".

Outside a report (idle, support, the privacy check) a finding starts one, with what was found already set.
A case handler writing on a case (a note, a form) is shown the guidance; their words are saved as they are.
Only types of finding are ever logged or recorded, never the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from bot.conversation.context import Context
from bot.conversation.dialogs.report_concern import ReportConcern
from bot.core.content import SafetyWords
from bot.core.models import Frame
from bot.core.text import is_command, plain

# What the reporter is told after the danger alert (`Casework.alert_urgent` says which happened).
DANGER_ALERT_TOLD = {"alerted": "safety.danger_alerted", "no_one": "report.guardrail_no_one_alerted",
                     "limited": "report.guardrail_alert_limited"}


DANGER_YES = "safety:danger_yes"
DANGER_NO = "safety:danger_no"
REPORT = "report_concern"
CASE_FLOWS = {"case_note", "case_action", "case_status", "case_close", "prevention_review"}
CLAUSE_BREAK = re.compile(r"[.,;:!?\n]+|\bbut\b|\bhowever\b")
NEGATION_WINDOW = 3  # a negation this many words before a trigger, in the same part of a sentence, cancels it
# (unless the writer starts saying something new in between: "nothing helps i want to die")


@dataclass
class Finding:
    """What one message says, as types only."""

    crisis: bool = False  # the writer, about themselves
    danger: bool = False  # someone in danger now
    unsure: bool = False  # maybe danger: ask
    police: list[str] = field(default_factory=list)  # threat, doxxing, stalking, hate, harassment
    images: bool = False
    sextortion: bool = False

    def __bool__(self) -> bool:
        return self.crisis or self.danger or self.unsure or bool(self.police) or self.images


# --- reading -----------------------------------------------------------------------------------


_WORD_START = r"(?<![a-z0-9])"


def _body(phrase: str) -> str:
    """A phrase as whole words after a word start; a trailing * matches any ending."""
    prefix = phrase.endswith("*")
    words = plain(phrase.rstrip("*")).split()
    return r"\s+".join(re.escape(w) for w in words) + (r"[a-z0-9]*" if prefix else r"(?![a-z0-9])")


@dataclass(frozen=True)
class _Phrases:
    """A list of the content's phrases, compiled once: `any` finds whether one of them is in a clause at all (one
    search; most clauses hold none), `each` finds where each one is (only once `any` has found one)."""

    any: re.Pattern[str]
    each: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> _Phrases:
    bodies = [_body(p) for p in phrases]
    return _Phrases(any=re.compile(_WORD_START + "(?:" + "|".join(bodies) + ")"),
                    each=tuple(re.compile(_WORD_START + b) for b in bodies))


def _find(clause: str, phrases: Iterable[str]) -> list[int]:
    """Where any of `phrases` starts in `clause` (a plain clause)."""
    compiled = _compiled(tuple(phrases))
    if not compiled.any.search(clause):
        return []
    return [m.start() for p in compiled.each for m in p.finditer(clause)]


def _has(clause: str, phrases: Iterable[str]) -> bool:
    return _compiled(tuple(phrases)).any.search(clause) is not None


def _live_at(words: SafetyWords, clause: str, phrases: Iterable[str]) -> list[int]:
    """Where one of `phrases` is in `clause` with no negation just before it, after the writer's last word there
    ("i dont want to die", "im not in danger": "nothing helps i want to die" is not negated)."""
    live = []
    for start in _find(clause, phrases):
        window = " ".join(clause[:start].split()[-NEGATION_WINDOW:])
        said = _find(window, words.writer.words)
        if said:
            window = window[max(said):].partition(" ")[2]
        if not _has(window, words.negations.words):
            live.append(start)
    return live


def _live(words: SafetyWords, clause: str, phrases: Iterable[str]) -> bool:
    """True when one of `phrases` is in `clause` and no negation comes just before it."""
    return bool(_live_at(words, clause, phrases))


def _without(clause: str, phrases: Iterable[str]) -> str:
    """`clause` with each of `phrases` in it blanked out, so that no other list finds a part of one ("going to hurt
    himself" is not a threat to hurt someone; "told me to kill myself" is harassment, not the writer's crisis)."""
    return _compiled(tuple(phrases)).any.sub("_", clause)


def _about_others(words: SafetyWords, clause: str, phrases: Iterable[str], start: int) -> bool | None:
    """Whose the crisis phrase at `start` is, by the last person word up to its end (its own, as in "kill himself",
    or the nearest before it): True for someone else ("a pupil said he wants to die"), False for the writer ("they
    made me want to die"), None when there is none."""
    match = _compiled(tuple(phrases)).any.match(clause, start)
    end = match.end() if match else start
    writer = [s for s in _find(clause, words.writer.words) if s < end]
    others = [s for s in _find(clause, words.others.words) if s < end]
    if not (writer or others):
        return None
    return max(others, default=-1) > max(writer, default=-1)


def read(words: SafetyWords, text: str) -> Finding:
    found = Finding()
    if not text:
        return found
    whole = plain(text)
    triggers = _clause_triggers(words)
    for raw in CLAUSE_BREAK.split(text.lower()):
        clause = plain(raw)
        if clause and _has(clause, triggers):  # most clauses hold none of them: one search, not one per list
            _read_clause(words, clause, found)
    found.images = _has(whole, words.images.words)
    pictured = found.images or _has(whole, words.pictures.words)
    found.sextortion = _has(whole, ["sextort*"]) or (pictured and _has(whole, words.sextortion.words))
    found.images = found.images or found.sextortion  # sextortion is always about an image
    found.police = list(dict.fromkeys(found.police))
    found.unsure = found.unsure and not (found.danger or found.crisis)
    return found


def _clause_triggers(words: SafetyWords) -> tuple[str, ...]:
    """Every phrase `_read_clause` looks for first (not the words it reads around one: others, uncertain,
    negations). A clause with none of them adds nothing to the finding."""
    return (*words.crisis_self.words, *words.crisis_words.words, *words.threats.words, *words.danger_now.words,
            *words.danger_maybe.words, *words.police.doxxing, *words.police.stalking, *words.police.hate,
            *words.police.harassment)


def _read_clause(words: SafetyWords, clause: str, found: Finding) -> None:
    """What one clause says about crisis, danger and the police, added to `found`. (A list read here first is in
    `_clause_triggers` too.)"""
    crisis_phrases = (*words.crisis_self.words, *words.crisis_words.words)
    said = _without(clause, words.police.harassment)  # "told me to kill myself" is what was said to them
    for start in _live_at(words, said, words.crisis_self.words):
        if _about_others(words, said, words.crisis_self.words, start):
            found.danger = True
        else:
            found.crisis = True
    for start in _live_at(words, said, words.crisis_words.words):
        whose = _about_others(words, said, words.crisis_words.words, start)
        if whose or (whose is None and _has(said, words.others.words)):
            found.danger = True
        else:
            found.crisis = True
    if _live(words, _without(clause, crisis_phrases), words.threats.words):
        found.danger = True
        found.police.append("threat")
    if _has(clause, words.danger_now.words):  # "in danger" is not also read as a bare "danger"
        if _live(words, clause, words.danger_now.words):
            found.unsure = found.unsure or _has(clause, words.uncertain.words)
            found.danger = found.danger or not _has(clause, words.uncertain.words)
    elif _live(words, clause, words.danger_maybe.words):
        found.unsure = True
    for kind in ("doxxing", "stalking", "hate", "harassment"):
        if _live(words, clause, getattr(words.police, kind)):
            found.police.append(kind)


# --- acting ------------------------------------------------------------------------------------


class Safety:
    def __init__(self, report: ReportConcern):
        self.report = report  # the flow a concern raised anywhere is kept in

    async def check(self, ctx: Context, text: str) -> bool:
        """The engine's safety step. True when this turn has been answered in full; False to carry on, with
        the message still to be read as usual (an answer stays an answer)."""
        answer = self._danger_answer(ctx, text)
        if answer == DANGER_YES:
            await self._danger_confirmed(ctx)
            return True
        if answer == DANGER_NO:
            ctx.say("safety.danger_no")
            await ctx.services.conversation.ask_again(ctx)
            return True
        found = read(ctx.content.safety, text)
        if not found:
            return False
        if self._on_a_case(ctx):
            self._guidance_only(ctx, found)
            return False
        if found.crisis:
            await self._crisis(ctx)
            return True
        if found.unsure and not (found.images or found.police):
            return await self._ask_if_danger(ctx)
        return await self._for_a_report(ctx, found)

    # --- who is writing, and where -------------------------------------------------------------

    def _on_a_case(self, ctx: Context) -> bool:
        """A case handler writing on a case: a form, or a flow started from a case card."""
        active = ctx.state.active
        return bool(ctx.turn.form_id) or (active is not None and active.flow in CASE_FLOWS)

    def _danger_answer(self, ctx: Context, text: str) -> str | None:
        picked = [c for c in ctx.turn.choices if c in (DANGER_YES, DANGER_NO)]
        if picked:
            return picked[0]
        offered = {c.get("id") for c in ctx.state.offered}
        if DANGER_YES not in offered or not text:
            return None
        if ctx.state.numbered[:2] == [DANGER_YES, DANGER_NO] and text.strip() in ("1", "2"):
            return DANGER_YES if text.strip() == "1" else DANGER_NO
        if is_command(text, ["yes", "yes someone is", "y"]):
            return DANGER_YES
        if is_command(text, ["no", "no one is", "n", "nobody"]):
            return DANGER_NO
        return None

    # --- crisis --------------------------------------------------------------------------------

    async def _crisis(self, ctx: Context) -> None:
        """Warmth and the lines open now; any report in progress is kept, to carry on with later."""
        state = ctx.state
        kept = bool(state.frames or state.paused)
        state.paused = state.frames + state.paused
        state.frames = []
        choices = [ctx.choice("menu:get_support", "safety.crisis_more_support")]
        if kept:
            choices.insert(0, ctx.choice("menu:resume", "safety.crisis_carry_on"))
        ctx.say("safety.crisis", urgent=True)
        ctx.say("safety.crisis_report_kept" if kept else "safety.crisis_nothing_sent", choices=choices)

    # --- danger, the guardrail and the police route --------------------------------------------

    async def _ask_if_danger(self, ctx: Context) -> bool:
        """One question. At a report's question in words the message is still its answer, and the report moves on
        after the question; anywhere else the question stands alone, and the flow is asked again after it."""
        ctx.say("safety.ask_danger", choices=[ctx.choice(DANGER_YES, "safety.yes"), ctx.choice(DANGER_NO, "safety.no")])
        active = ctx.state.active
        return not (active is not None and active.flow == REPORT and self._takes_words(active))

    async def _danger_confirmed(self, ctx: Context) -> None:
        frame, new = self._report(ctx)
        await self._mark_danger(ctx, frame, "confirmed")
        if new:
            self._bring_to_top(ctx, frame, new)
        await ctx.services.conversation.ask_again(ctx)

    async def _for_a_report(self, ctx: Context, found: Finding) -> bool:
        frame, new = self._report(ctx)
        report = self.report
        at = self._where(ctx, frame, new)
        if found.images:
            await report.raise_guardrail(ctx, frame, reason=at)
        if found.sextortion:
            flag(frame, "sextortion", at)
            ctx.say("safety.sextortion", urgent=True)
        if found.danger:
            await self._mark_danger(ctx, frame, at)
        if found.police:
            first = "police" not in flags(frame)
            flag(frame, "police", at, kinds=found.police)
            if first:
                ctx.say("safety.police")
        if found.unsure and not found.danger:
            ctx.say("safety.ask_danger",
                    choices=[ctx.choice(DANGER_YES, "safety.yes"), ctx.choice(DANGER_NO, "safety.no")])
        if new or ctx.state.active is not frame or not self._takes_words(frame):
            self._bring_to_top(ctx, frame, new)
            await report.ask(ctx, frame)
            return True
        return False  # the report's own question, in words: they are its answer, and the report moves on

    def _takes_words(self, frame: Frame) -> bool:
        if frame.step == "_change":
            return False
        return self.report.flow.step(frame.step).type in ("text", "evidence")

    async def _mark_danger(self, ctx: Context, frame: Frame, at: str) -> None:
        """The 999 guidance once per report; the report urgent; the DSLs alerted (unless they already were)."""
        if "danger" in flags(frame):
            return
        flag(frame, "danger", at)
        dsls = await ctx.services.casework.handler_names(ctx)
        ctx.say("safety.danger", dsl_names=dsls or ctx.text("common.your_dsl"), urgent=True)
        if frame.answers.get("_alerted"):
            return
        alerted = await ctx.services.casework.alert_urgent(ctx, frame, "case.danger_alert")
        ctx.say(DANGER_ALERT_TOLD[alerted], urgent=True)

    def _guidance_only(self, ctx: Context, found: Finding) -> None:
        if found.crisis:
            ctx.say("safety.crisis", urgent=True)
        if found.images:
            ctx.say("safety.images_on_case", urgent=True)
        if found.danger:
            ctx.say("safety.danger_on_case", urgent=True)
        elif found.police:
            ctx.say("safety.police_on_case")

    # --- the report it belongs to --------------------------------------------------------------

    def _report(self, ctx: Context) -> tuple[Frame, bool]:
        """The report in progress (set aside or not), else a new one. True when new."""
        state = ctx.state
        for frame in reversed(state.frames):
            if frame.flow == REPORT:
                return frame, False
        for frame in state.paused:
            if frame.flow == REPORT:
                state.paused.remove(frame)
                state.frames.append(frame)
                return frame, False
        frame = self.report.new_frame()
        frame.started_at = ctx.now
        return frame, True

    def _bring_to_top(self, ctx: Context, frame: Frame, new: bool) -> None:
        frames = ctx.state.frames
        if frame in frames:
            frames.remove(frame)
        frames.append(frame)
        if new:
            ctx.say("safety.report_started")

    def _where(self, ctx: Context, frame: Frame, new: bool) -> str:
        """Where it was raised, as a type: the question being answered, or the flow, or the start."""
        active = ctx.state.active
        if new and active is None:
            return "first_message"
        if active is frame and not new:
            return f"question:{frame.step}"
        return f"flow:{active.flow}" if active else "first_message"


def flags(frame: Frame) -> dict[str, dict]:
    return frame.answers.get("_safety") or {}


def flag(frame: Frame, name: str, at: str, **detail: object) -> None:
    """Record on the report what the safety check found and where (types only, never the words)."""
    found = frame.answers.setdefault("_safety", {})
    entry = found.setdefault(name, {"at": at})
    for key, value in detail.items():
        if isinstance(value, list):
            entry[key] = list(dict.fromkeys([*entry.get(key, []), *value]))
        else:
            entry[key] = value
