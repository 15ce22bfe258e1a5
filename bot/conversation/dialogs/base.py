"""The turn context every flow works with, and the step runner that drives flows from content/.

A flow's steps, wording and choices live in `content/flows/<flow>.yaml`; a module in
`bot/conversation/dialogs/` adds only what cannot be data: checks, side effects and what happens at the end.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from bot.conversation.context import Context, Input
from bot.core.answers import (
    ASKED,
    answer_options,
    asks_how_to_send,
    first_clause,
    kept_words_choice,
    meaning_choice,
    said_nothing,
    said_unsure,
    said_yes,
    too_short,
    unsure_choice,
    whole_meaning,
)
from bot.core.content import Content, Flow, Step, render
from bot.core.dates import half_term_starts, is_rough, read_date, rough_key
from bot.core.markup import escape
from bot.core.models import Attachment, Case, Choice, Form, FormField, Frame, Reply
from bot.core.text import parse_accounts, without_accounts
from bot.core.understand import Understood, closest, said_whole, understand
from bot.core.words import describe

__all__ = ["INVALID", "Context", "Dialog", "Input", "StepDialog", "forget_misses"]

INVALID = object()
# The button under "Did you mean ...?" that shows the question's choices again.
ALL_CHOICES = "all_choices"


def said_roughly(step: Step, frame: Frame) -> bool:
    """A date step answered with a day said roughly ("maybe last week")."""
    return step.type == "date" and bool(frame.answers.get(step.id)) and bool(frame.answers.get(rough_key(step.id)))


def forget_misses(frame: Frame) -> None:
    """The question is answered or shown afresh: misses in a row and "Did you mean ...?" start over."""
    for mark in ("_missed", "_misses", "_maybe"):
        frame.answers.pop(mark, None)


def half_terms(ctx: Context) -> list[date]:
    """The first days of the half terms in this school's calendar, for "over half term"."""
    return half_term_starts(ctx.scope.calendar)


class Dialog:
    """A flow the engine can start, hand input to and ask to repeat its question."""

    flow_id: ClassVar[str]
    keeps_place: ClassVar[bool] = False  # "stop" asks whether to keep it for later (bot/keeping.py)

    def __init__(self, content: Content):
        self.content = content  # the shared content: the flow's steps (wording is the school's, from ctx)

    @property
    def flow(self) -> Flow:
        return self.content.flows[self.flow_id]

    @property
    def handlers_only(self) -> bool:
        """Only case handlers (DSLs, deputies, heads, chairs) may start it: its menu entry says so."""
        return bool(self.flow.menu and self.flow.menu.handlers_only)

    def new_frame(self, **answers: Any) -> Frame:
        return Frame(flow=self.flow_id, step=self.flow.steps[0].id, answers=dict(answers))

    def question_id(self, frame: Frame) -> str:
        return f"{frame.flow}.{frame.step}"

    async def start(self, ctx: Context, frame: Frame) -> None:
        await self.ask(ctx, frame)

    async def ask(self, ctx: Context, frame: Frame) -> None:
        raise NotImplementedError

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        """Take the user's input for the current step. True when the flow has finished."""
        raise NotImplementedError

    async def help(self, ctx: Context, frame: Frame) -> None:
        ctx.say("common.help_commands")
        await self.ask(ctx, frame)

    async def back(self, ctx: Context, frame: Frame) -> None:
        if not frame.history:
            ctx.say("common.back_at_start")
        else:
            frame.step = frame.history.pop()
            frame.editing = False
        await self.ask(ctx, frame)

    def stop_message(self, frame: Frame) -> str:
        return "common.stopped"

    def keeps_long_text(self, frame: Frame) -> bool:
        """Whether a message over the length limit is taken in two parts here (else it is refused)."""
        return False


class StepDialog(Dialog):
    """Runs the steps of a content flow in order, skipping those whose `when` does not apply."""

    # --- what to ask ---------------------------------------------------------------------

    def applies(self, step: Step, answers: dict[str, Any]) -> bool:
        if step.when is None:
            return True
        answer = answers.get(step.when.step)
        if step.when.answered is not None:
            return (answer is not None) == step.when.answered
        picked = answer if isinstance(answer, list) else [answer]
        return any(p in step.when.includes for p in picked)

    def next_step(self, frame: Frame, after: str | None) -> Step | None:
        """The next step that applies; one already answered from what the person said earlier is not asked."""
        steps = self.flow.steps
        start = 0 if after is None else [s.id for s in steps].index(after) + 1
        prefilled = frame.answers.get("_prefilled") or []
        for step in steps[start:]:
            if self.applies(step, frame.answers) and not (step.id in prefilled and step.id in frame.answers):
                return step
        return None

    def first_unanswered(self, frame: Frame) -> Step | None:
        for step in self.flow.steps:
            if step.type != "summary" and step.id not in frame.answers and self.applies(step, frame.answers):
                return step
        return None

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        choices = [Choice(id=c.id, label=c.label) for c in step.choices]
        if step.optional:
            choices.append(ctx.choice("skip", "common.skip_label"))
        if step.type == "evidence":
            choices.append(ctx.choice("done", "common.done_label"))
        return choices

    async def ask(self, ctx: Context, frame: Frame) -> None:
        if frame.step == "_change":
            answered = [s for s in self.flow.steps if s.type != "summary" and s.id in frame.answers
                        and self.applies(s, frame.answers)]
            ctx.say("common.which_to_change", choices=[Choice(id=s.id, label=s.title) for s in answered],
                    asks=self.question_id(frame))
            return
        step = self.flow.step(frame.step)
        values = {k: v for k, v in frame.answers.items() if isinstance(v, str)}
        text = render(step.ask, ctx.content.facts, {**values, "school_name": ctx.scope.name})
        if step.type == "summary":
            text = text.strip() + "\n\n" + self.summary_text(ctx, frame)
        reply = Reply(
            key=f"{self.flow_id}.{step.id}.ask", text=text, choices=self.choices_for(ctx, step, frame),
            multiple=step.type == "multi", asks=self.question_id(frame),
        )
        ctx.replies.append(reply)

    async def help(self, ctx: Context, frame: Frame) -> None:
        step = self.flow.step(frame.step) if frame.step != "_change" else None
        if step and step.help:
            ctx.replies.append(Reply(key=f"{self.flow_id}.{step.id}.help",
                                     text=render(step.help, ctx.content.facts, {})))
        ctx.say("common.help_commands")
        await self.ask(ctx, frame)

    # --- describing answers --------------------------------------------------------------

    def answered_steps(self, frame: Frame) -> list[Step]:
        return [s for s in self.flow.steps
                if s.type not in ("summary", "info") and s.id in frame.answers and self.applies(s, frame.answers)]

    def case_answers(self, frame: Frame) -> dict[str, Any]:
        """The answers a finished flow keeps: each answered step's, and beside a date given roughly, that it was
        (`first_seen_approximate`)."""
        answers = {s.id: frame.answers[s.id] for s in self.answered_steps(frame)}
        for step in self.answered_steps(frame):
            if said_roughly(step, frame):
                answers[rough_key(step.id)] = True
        return answers

    def summary_text(self, ctx: Context, frame: Frame) -> str:
        """The answers in light markdown: titles in bold, what the user typed escaped."""
        return "\n".join(f"**{s.title}:** {escape(self.shown_answer(ctx, s, frame))}"
                         for s in self.answered_steps(frame))

    def shown_answer(self, ctx: Context, step: Step, frame: Frame) -> str:
        """An answer in the summary: as described to them, and a date given roughly as "around" that day."""
        shown = self.describe_to_them(ctx, step, frame.answers[step.id])
        if said_roughly(step, frame):
            return ctx.text("common.around", value=shown)
        return shown

    def describe_to_them(self, ctx: Context, step: Step, value: Any) -> str:
        """An answer as shown back to the person who gave it; `describe` is how the case card shows it."""
        return describe(ctx.content, step, value)

    # --- taking answers ------------------------------------------------------------------

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        if frame.step == "_change":
            return await self._pick_change(ctx, frame, inp)
        step = self.flow.step(frame.step)
        if inp.picked == [ALL_CHOICES]:  # from "Did you mean ...?": the question again, with all its choices
            forget_misses(frame)
            await self.ask(ctx, frame)
            return False
        if inp.attachments and step.type != "evidence":
            await self.refuse_attachments(ctx, frame)
            await self.ask(ctx, frame)
            return False
        value = await getattr(self, f"answer_{step.type}")(ctx, frame, step, inp)
        if value is ASKED:
            return False
        if value is INVALID:
            await self.ask(ctx, frame)
            return False
        forget_misses(frame)
        if inp.overflow:
            self.keep_overflow(ctx, frame, inp.overflow)
        if step.type == "evidence" and value is None:
            return False  # more evidence may follow; the step has acknowledged what came
        if step.type == "summary":
            return await self.on_summary(ctx, frame, value)
        frame.answers[step.id] = value
        await self.after_answer(ctx, frame, step)
        following = self.first_unanswered(frame) if frame.editing else self.next_step(frame, step.id)
        if frame.editing and following is None:
            following = next(s for s in self.flow.steps if s.type == "summary")
        if following is None:
            await self.finish(ctx, frame)
            return True
        frame.history.append(step.id)
        frame.step = following.id
        await self.ask(ctx, frame)
        return False

    async def refuse_attachments(self, ctx: Context, frame: Frame) -> None:
        ctx.say("common.no_files_here")

    def _evidence_step(self) -> Step | None:
        return next((s for s in self.flow.steps if s.type == "evidence"), None)

    def keeps_long_text(self, frame: Frame) -> bool:
        """In a flow that gathers evidence, at a question that takes words: the rest becomes a note with it."""
        if frame.step == "_change" or self._evidence_step() is None:
            return False
        return self.flow.step(frame.step).type in ("text", "evidence")

    def keep_overflow(self, ctx: Context, frame: Frame, rest: str) -> None:
        step = self._evidence_step()
        assert step is not None  # keeps_long_text said so
        gathered = frame.answers.setdefault(step.id, {"files": [], "notes": []})
        gathered["notes"].append(rest)
        ctx.say("common.long_kept", count=len(rest))

    async def after_answer(self, ctx: Context, frame: Frame, step: Step) -> None:
        """A hook for side effects of an answer."""

    async def finish(self, ctx: Context, frame: Frame) -> None:
        """What happens when the last step is answered: a flow's code says; a flow that is data alone says its
        `done` words."""
        if self.flow.done:
            ctx.replies.append(Reply(key=f"{self.flow_id}.done", text=render(self.flow.done, ctx.content.facts, {})))

    async def on_summary(self, ctx: Context, frame: Frame, picked: str) -> bool:
        if picked == "change":
            frame.history.append(frame.step)
            frame.step = "_change"
            await self.ask(ctx, frame)
            return False
        await self.finish(ctx, frame)
        return True

    async def _pick_change(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        answered = {s.id for s in self.answered_steps(frame)}
        if len(inp.picked) == 1 and inp.picked[0] in answered:
            frame.editing = True
            frame.step = inp.picked[0]
            await self.ask(ctx, frame)
        else:
            ctx.say("common.not_understood")
            await self.ask(ctx, frame)
        return False

    def _skipped(self, ctx: Context, step: Step, inp: Input) -> bool:
        """An optional step skipped: its Skip button, or "skip", "no", "none", "that's it" and the like."""
        return step.optional and (inp.picked == ["skip"] or (not inp.picked and said_nothing(ctx.content, inp.text)))

    def understood(self, ctx: Context, step: Step, frame: Frame, inp: Input) -> Understood:
        """What the input picks from the step's choices: buttons as they are, words by bot/understand.py."""
        choices = self.choices_for(ctx, step, frame)
        if inp.picked:  # buttons need only the choices' ids, not every phrase that means each
            offered = {c.id for c in choices}
            return Understood(picked=inp.picked) if all(p in offered for p in inp.picked) else Understood()
        options = answer_options(ctx.content, step, choices)
        allowed = {o.id for o in options}
        text = without_accounts(inp.text)  # a handle's letters are never words: "@mrs_k_fake" names no "mrs"
        maybe = [m for m in frame.answers.get("_maybe") or [] if m in allowed]
        if len(maybe) == 1 and said_yes(ctx.content, text):  # "yes" to "Did you mean ...?"
            return Understood(picked=maybe)
        meaning = whole_meaning(ctx.content, text) if step.type in ("choice", "multi") else None
        if meaning and (choice := meaning_choice(step, meaning)) in allowed:
            return Understood(picked=[choice])  # "nope", "nobody", "not sure": the choice that means it
        if meaning == "unsure":  # where no choice means not knowing: only a choice said whole ("can't tell"),
            whole = said_whole(text, options, ctx.content.phrases.hedges)  # never one by a word in it ("sure")
            return Understood(picked=whole) if len(whole) == 1 else Understood()
        result = understand(text, options, multiple=step.type == "multi", hedges=ctx.content.phrases.hedges)
        unsure = unsure_choice(step)
        if not (result.picked or result.maybe) and unsure in allowed and said_unsure(ctx.content, text):
            return Understood(picked=[unsure])  # "dont know", "can't remember where": its not-knowing choice
        return result

    async def missed(self, ctx: Context, frame: Frame, step: Step, inp: Input, maybe: list[str], key: str) -> Any:
        """Not understood. The first miss: "Did you mean ...?" with the likely choices (or the nearest one or two,
        bot/core/understand.py `closest`), and a button for all of them; else say so, and the question is asked
        again. A miss after that, in a row: where the step keeps words, the words as written (with its "other"
        choice); else a shorter reply with the numbered choices (with the step's help every other time),
        never the same words each time."""
        choices = self.choices_for(ctx, step, frame)
        misses = frame.answers.get("_misses", 0) if frame.answers.get("_missed") == step.id else 0
        frame.answers.update({"_missed": step.id, "_misses": misses + 1})
        if not maybe and not misses and inp.text and not inp.picked:
            maybe = closest(inp.text, answer_options(ctx.content, step, choices), ctx.content.phrases.hedges)
        if maybe and not misses:  # once: asked again, it would be the same words
            self.did_you_mean(ctx, frame, choices, maybe)
            return ASKED
        other, words_step = kept_words_choice(step), step.keeps_words_in
        if other and words_step and misses and not inp.picked and self.worth_keeping(ctx, inp.text):
            frame.answers[words_step] = inp.text
            frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), words_step]
            ctx.say("common.kept_as_written")
            return [other]
        if misses:
            self.missed_again(ctx, frame, step, choices, misses + 1)
            return ASKED
        ctx.say(key)
        return INVALID

    @staticmethod
    def worth_keeping(ctx: Context, text: str) -> bool:
        """Whether words may be kept as written: not "no", "yes", "nothing", too short to say anything, or a
        question of theirs ("how do i send the screenshots?"), which is not an answer."""
        return not (too_short(text) or said_nothing(ctx.content, text) or said_yes(ctx.content, text)
                    or text.rstrip().endswith("?") or asks_how_to_send(ctx.content, text))

    def did_you_mean(self, ctx: Context, frame: Frame, choices: list[Choice], maybe: list[str]) -> None:
        labels = {c.id: c.label for c in choices}
        frame.answers["_maybe"] = maybe
        named = [labels[m] for m in maybe]
        value = named[0] if len(named) == 1 else ctx.text("common.or_list", value=", ".join(named[:-1]),
                                                           name=named[-1])
        offered = [Choice(id=m, label=labels[m]) for m in maybe] + [ctx.choice(ALL_CHOICES, "common.all_choices")]
        ctx.say("common.did_you_mean", value=value, choices=offered, asks=self.question_id(frame))

    def missed_again(self, ctx: Context, frame: Frame, step: Step, choices: list[Choice], misses: int) -> None:
        """A second (or later) miss in a row: a short, kind reply with the numbered choices, "skip" where the
        step may be skipped, and at every other one the step's help, so no two replies in a row are the same."""
        if misses % 2 and step.help:  # the third, fifth...: with the help, so no two in a row are the same
            ctx.replies.append(Reply(key=f"{self.flow_id}.{step.id}.help",
                                     text=render(step.help, ctx.content.facts, {})))
        key = "optional" if step.optional else "multi" if step.type == "multi" else "one"
        ctx.say(f"common.not_understood_again.{key}", choices=choices, multiple=step.type == "multi",
                asks=self.question_id(frame))

    async def answer_choice(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        result = self.understood(ctx, step, frame, inp)
        if len(result.picked) > 1:
            ctx.say("common.pick_one")
            return INVALID
        if not result.picked:
            picked = await self.missed(ctx, frame, step, inp, result.maybe, "common.not_understood")
            return picked[0] if isinstance(picked, list) else picked
        return result.picked[0]

    async def answer_multi(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        result = self.understood(ctx, step, frame, inp)
        picked: Any = result.picked
        if not picked:
            picked = await self.missed(ctx, frame, step, inp, result.maybe, "common.not_understood_multi")
            if not isinstance(picked, list):
                return picked
        order = [c.id for c in self.choices_for(ctx, step, frame)]
        return sorted(set(picked), key=order.index)

    async def answer_text(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        if self._skipped(ctx, step, inp):
            return None
        if not inp.text or inp.picked or (not step.optional and too_short(inp.text)):
            ctx.say("common.need_words")
            return INVALID
        if step.optional and said_yes(ctx.content, inp.text):  # "yes" to "Do you want to give any names?"
            ctx.say("common.go_ahead", asks=self.question_id(frame), choices=[ctx.choice("skip", "common.skip_label")])
            return ASKED
        return inp.text

    async def answer_accounts(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        if self._skipped(ctx, step, inp):
            return None
        accounts, invalid = parse_accounts(inp.text)
        if not accounts and not invalid and said_unsure(ctx.content, inp.text, or_none=True):
            return None  # "dont know what its called"
        if invalid:
            ctx.say("common.bad_links", value=", ".join(v[:80] for v in invalid[:5]))
            return INVALID
        if not accounts:
            ctx.say("common.no_accounts_found")
            return INVALID
        if len(accounts) > ctx.services.settings.max_accounts_per_report:
            limit = ctx.services.settings.max_accounts_per_report
            ctx.say("common.too_many_accounts", count=len(accounts), limit=limit)
            return INVALID
        return [a.model_dump() for a in accounts]

    async def answer_date(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        frame.answers.pop(rough_key(step.id), None)
        if self._skipped(ctx, step, inp):
            return None
        today = ctx.now.date()
        parsed = read_date(inp.text, today, half_terms(ctx)) if inp.text else None
        if parsed is None and step.optional and said_unsure(ctx.content, inp.text, or_none=True):
            return None  # "not sure when": not known, as "skip"
        if parsed is None:
            ctx.say("common.bad_date")
            return INVALID
        if parsed > today:
            ctx.say("common.future_date")
            return INVALID
        if parsed.year < 2000:
            ctx.say("common.bad_date")
            return INVALID
        if is_rough(inp.text):  # "maybe last week": that day, said as "around" it
            frame.answers[rough_key(step.id)] = True
        return parsed.isoformat()

    async def answer_summary(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        return await self.answer_choice(ctx, frame, step, inp)

    async def answer_evidence(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        """Files and notes gather until the user says they are done. None means "keep going"."""
        gathered = frame.answers.get(step.id) or {"files": [], "notes": []}
        done = inp.picked == ["done"] or (not inp.picked and said_nothing(ctx.content, inp.text))
        if done:  # files sent with "done" are kept; the word is not
            gathered["files"].extend(await self.take_files(ctx, frame, inp.attachments))
            return gathered
        if not inp.picked and said_nothing(ctx.content, first_clause(inp.text)):  # "nothing, its all word of mouth"
            gathered["notes"].append(inp.text)  # kept, and nothing more is to come
            gathered["files"].extend(await self.take_files(ctx, frame, inp.attachments))
            return gathered
        if inp.picked:
            ctx.say("common.not_understood")
            return INVALID
        if not inp.attachments and asks_how_to_send(ctx.content, inp.text):
            await self.how_to_send(ctx, frame)
            return ASKED
        added = await self.take_files(ctx, frame, inp.attachments)
        if inp.text:
            gathered["notes"].append(inp.text)
        gathered["files"].extend(added)
        frame.answers[step.id] = gathered
        if added or inp.text:
            await self.after_answer(ctx, frame, step)
            ctx.say("common.evidence_received", count=len(gathered["files"]) + len(gathered["notes"]),
                    choices=[ctx.choice("done", "common.done_label")], asks=self.question_id(frame))
            return None
        if not inp.attachments:
            ctx.say("common.need_words")
        return INVALID  # nothing kept: ask again, with its "done" choice

    async def how_to_send(self, ctx: Context, frame: Frame) -> None:
        """"How do I send screenshots?": this channel's own steps, or keep them safe for the DSL."""
        channel = ctx.turn.platform if ctx.turn.platform in ("slack", "teams", "console") else "other"
        ctx.say(f"report.evidence_how.{channel}", choices=[ctx.choice("done", "common.done_label")],
                asks=self.question_id(frame))

    async def take_files(self, ctx: Context, frame: Frame, attachments: list[Attachment]) -> list[dict[str, Any]]:
        settings = ctx.services.settings
        kept = []
        for file in attachments:
            if file.missing:
                ctx.say("common.file_missing", file_name=file.name[:120])
            elif file.size is not None and file.size > settings.max_attachment_bytes:
                ctx.say("common.file_too_large", file_name=file.name[:120],
                        max_size=f"{settings.max_attachment_mb:g} MB")
            else:
                kept.append(file.model_dump(exclude={"missing"}))
        return kept

    def text_answers(self, frame: Frame) -> list[str]:
        """Every piece of free text in the frame, for phrase checks."""
        out = []
        for step in self.flow.steps:
            value = frame.answers.get(step.id)
            if step.type == "text" and isinstance(value, str):
                out.append(value)
            elif step.type == "evidence" and isinstance(value, dict):
                out.extend(value.get("notes", []))
        return out


class CaseUpdate(StepDialog):
    """A short flow a case handler runs from a case card; stopping it changes nothing on the case.

    Where the channel can show a form, the whole flow is one form instead of a conversation."""

    def stop_message(self, frame: Frame) -> str:
        return "case.update_cancelled"

    def form_reply(self, ctx: Context, reference: str) -> Reply:
        fields = [
            FormField(id=s.id, label=s.title, kind="choice" if s.type == "choice" else "text",
                      choices=[Choice(id=c.id, label=c.label) for c in s.choices],
                      optional=s.optional or s.when is not None)
            for s in self.flow.steps
        ]
        form = Form(id=f"{self.flow_id}:{reference}", title=self.flow.form_title or self.flow.title, fields=fields,
                    submit=ctx.text("common.save_label"), cancel=ctx.text("common.cancel_label"))
        return Reply(key=f"{self.flow_id}.form", text=self.flow.title, form=form)

    async def form_for(self, ctx: Context, case: Case) -> Reply:
        """The form for this case, as it is now (a flow may fit its form to the case)."""
        return self.form_reply(ctx, case.reference)

    async def submit_form(self, ctx: Context, reference: str, values: dict[str, str]) -> None:
        await self._submit(ctx, self.new_frame(reference=reference), values)

    async def _submit(self, ctx: Context, frame: Frame, values: dict[str, str]) -> None:
        """Answer every step from the form's values, with the same checks as in conversation."""
        for step in self.flow.steps:
            if not self.applies(step, frame.answers):
                continue
            value = (values.get(step.id) or "").strip()
            if len(value) > ctx.services.settings.max_text_chars:
                ctx.say("common.form_not_saved")
                return
            if step.type == "choice":
                inp = Input(picked=[value] if value else [])
            elif not value and not step.optional:
                ctx.say("common.form_not_saved")
                return
            else:
                inp = Input(text=value, picked=[] if value else ["skip"])
            answer = await getattr(self, f"answer_{step.type}")(ctx, frame, step, inp)
            if answer is INVALID:
                ctx.say("common.form_not_saved")
                return
            frame.answers[step.id] = answer
        await self.finish(ctx, frame)
