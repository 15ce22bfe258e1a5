"""Report a concern: the code behind content/flows/report_concern.yaml.

What is not data: the platform choices (from the facts), the guardrail for possible sexual
images of under-18s, and opening the case at the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.cases.card import chat_platform_name, front_door
from bot.cases.routing import STAFF_CONCERNS, route_of_case
from bot.conversation.dialogs import report_facts, report_start
from bot.conversation.dialogs.base import INVALID, Context, Input, StepDialog, forget_misses
from bot.core.answers import said_nothing, said_yes
from bot.core.content import Step
from bot.core.first_message import FirstMessage
from bot.core.markup import Markup
from bot.core.models import Attachment, Case, Choice, Frame

SUBJECT_REASONS = {"named_in_report", "allegation_about_dsl", "allegation_about_headteacher"}

GUARDRAIL_ANSWERS = {"yes", "not_sure"}


# What the reporter is told after the images guardrail's alert (`Casework.alert_urgent` says which happened).
ALERT_TOLD = {"alerted": "report.guardrail_alerted", "no_one": "report.guardrail_no_one_alerted",
              "limited": "report.guardrail_alert_limited"}


class ReportConcern(StepDialog):
    flow_id = "report_concern"
    keeps_place = True

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        if step.choices_from == "platforms":
            platforms = [Choice(id=p.id, label=p.name) for p in ctx.content.facts.platforms.values()]
            return platforms + [ctx.choice("other", "report.platform_other")]
        choices = super().choices_for(ctx, step, frame)
        if step.id == "categories" and report_start.told(frame):
            choices.append(ctx.choice("yes", "report.understood_yes"))
        return choices

    def describe_to_them(self, ctx: Context, step: Step, value: Any) -> str:
        """The reporter's own summary in their words ("An account targeting you"), not the card's third person."""
        yours = {c.id: c.yours or c.label for c in step.choices}
        if step.type == "choice" and value in yours:
            return yours[value]
        if step.type == "multi" and isinstance(value, list) and all(v in yours for v in value):
            return ", ".join(yours[v] for v in value)
        return super().describe_to_them(ctx, step, value)

    def guardrail_on(self, frame: Frame) -> bool:
        return bool(frame.answers.get("_guardrail"))

    def next_step(self, frame: Frame, after: str | None) -> Step | None:
        """As the flow says, except the images question once the guardrail has answered it."""
        step = super().next_step(frame, after)
        if step is not None and step.id == "images" and self.guardrail_on(frame) and "images" in frame.answers:
            return super().next_step(frame, step.id)
        return step

    async def after_answer(self, ctx: Context, frame: Frame, step: Step) -> None:
        if step.id == "categories":
            frame.answers.pop(report_start.TOLD, None)
        if step.id == "description":
            report_start.after_description(frame)
        if frame.answers.get("_alert_held"):
            await ctx.services.casework.send_held_details(ctx, frame)
        if step.id == "images" and frame.answers["images"] in GUARDRAIL_ANSWERS:
            await self.raise_guardrail(ctx, frame, reason=f"answered_{frame.answers['images']}")

    async def raise_guardrail(self, ctx: Context, frame: Frame, reason: str) -> None:
        """From the images question, or from words anywhere (bot/conversation/safety.py): the guidance, the DSLs
        alerted,
        files refused from now on, and any files already shared taken out of the report, with the reporter
        and the DSL told where copies may still be."""
        if self.guardrail_on(frame):
            return
        frame.answers["_guardrail"] = {"reason": reason, "at": ctx.now.isoformat()}
        frame.answers.setdefault("images", "yes")
        ctx.say("report.guardrail", urgent=True)
        alerted = await ctx.services.casework.alert_urgent(ctx, frame, "case.guardrail_alert")
        if alerted == "limited":  # the report itself still goes urgent; its record says the alert was held back
            frame.answers["_guardrail"]["alert"] = "limited"
        if alerted == "alerted" and await self.no_one_reachable(ctx, frame.answers.get("_alerted", [])):
            ctx.say("report.guardrail_not_reached", urgent=True)  # in Teams: nobody has opened the app yet
        else:
            ctx.say(ALERT_TOLD[alerted], urgent=True)
        evidence = frame.answers.get("evidence") or {}
        if evidence.get("files"):
            count = len(evidence["files"])
            frame.answers["_guardrail"]["files_before"] = {"count": count, "platform": ctx.turn.platform}
            ctx.say("report.guardrail_files_dropped", count=count,
                    platform=chat_platform_name(ctx.scope, ctx.turn.platform), urgent=True)
            evidence["files"] = []

    @staticmethod
    async def no_one_reachable(ctx: Context, recipients: list[str]) -> bool:
        """None of those alerted can be sent anything yet (in Teams: none of them has opened the app)."""
        waiting = await ctx.services.casework.not_yet_reachable(ctx.school_id, recipients)
        return len(waiting) == len(recipients)

    async def take_files(self, ctx: Context, frame: Frame, attachments: list[Attachment]) -> list[dict]:
        if self.guardrail_on(frame):
            await self.refuse_attachments(ctx, frame)
            return []
        return await super().take_files(ctx, frame, attachments)

    async def how_to_send(self, ctx: Context, frame: Frame) -> None:
        if self.guardrail_on(frame):
            ctx.say("report.guardrail_no_files", choices=[ctx.choice("done", "common.done_label")],
                    asks=self.question_id(frame), urgent=True)
            return
        await super().how_to_send(ctx, frame)

    async def refuse_attachments(self, ctx: Context, frame: Frame) -> None:
        if self.guardrail_on(frame):
            ctx.say("report.guardrail_no_files", urgent=True)
        else:
            ctx.say("common.no_files_here")

    async def start_from_words(self, ctx: Context, reading: FirstMessage) -> None:
        """The report, started by the person's own first message and pre-filled from what it said (`reading`,
        report_start.py)."""
        if ctx.state.paused and ctx.state.paused[0].flow == self.flow_id:
            ctx.state.paused = []
        await ctx.services.conversation.start_flow(ctx, self.flow_id, **report_start.first_answers(ctx, reading))

    def take_evidence_mentioned(self, ctx: Context, frame: Frame, text: str) -> None:
        """"ive got screenshots" at another question: before the evidence question, that it will be asked for in a
        moment; after it, kept as a note with the evidence; after the images guardrail, never "keep them safe"
        (copies of such images are for the DSL to advise on), but not to send any files."""
        if self.guardrail_on(frame):
            ctx.say("report.guardrail_no_files", urgent=True)
        elif "evidence" in frame.answers:
            evidence = frame.answers["evidence"] or {"files": [], "notes": []}
            evidence["notes"].append(text)
            frame.answers["evidence"] = evidence
            ctx.say("report.evidence_added")
        else:
            ctx.say("report.evidence_later")

    async def answer_text(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        """As any question in words, except that "send it", "done" or "nothing" is never kept as what it shows or
        says: she is asked for a sentence instead."""
        if not step.optional and not inp.picked and said_nothing(ctx.content, inp.text):
            ctx.say("common.need_words")
            return INVALID
        return await super().answer_text(ctx, frame, step, inp)

    async def answer_accounts(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        return await self._or_words_kept(ctx, frame, step, inp, super().answer_accounts)

    async def answer_date(self, ctx: Context, frame: Frame, step: Step, inp: Input) -> Any:
        return await self._or_words_kept(ctx, frame, step, inp, super().answer_date)

    async def _or_words_kept(self, ctx: Context, frame: Frame, step: Step, inp: Input, answer: Any) -> Any:
        """At the account and when questions (optional), words that are not an account or a date a second time
        in a row ("the group is called 10B banter") are kept as written with the description, and the question
        is left unanswered, rather than refused again."""
        if frame.answers.get("_missed") == step.id and not inp.picked and step.optional and \
                self.worth_keeping(ctx, inp.text):
            if await answer(replace(ctx, replies=[]), frame, step, inp) is INVALID:  # tried, its refusal unsaid
                report_start.keep_with_description(frame, inp.text)
                ctx.say("common.kept_as_written")
                return None
        value = await answer(ctx, frame, step, inp)
        if value is INVALID:
            frame.answers["_missed"] = step.id
        return value

    async def start(self, ctx: Context, frame: Frame) -> None:
        report_start.take_earlier_words(ctx, frame)
        await self.ask(ctx, frame)

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        if report_start.offers_earlier(frame) and report_start.take_answer_to_earlier(ctx, frame, inp):
            await self.ask(ctx, frame)
            return False
        if report_facts.mentions_evidence(self, ctx, frame, inp):  # "ive got screenshots"
            forget_misses(frame)
            self.take_evidence_mentioned(ctx, frame, inp.text)
            await self.ask(ctx, frame)
            return False
        if report_start.pending(frame) is not None and await report_start.take_confirmation(self, ctx, frame, inp):
            return False
        if report_start.pending(frame) is None and await report_start.take_more(self, ctx, frame, inp):
            return False
        if report_start.take_where_added(self, ctx, frame, inp) or report_facts.take_facts(self, ctx, frame, inp):
            await self.ask(ctx, frame)  # "its on tiktok too", "@hillside_muggies" at "Who is it about?": kept
            return False
        told = report_start.told(frame)
        if told and (inp.picked == ["yes"] or (not inp.picked and said_yes(ctx.content, inp.text))):
            inp = replace(inp, text="", picked=list(told))  # "yes" to what the first message said is happening
        return await super().handle(ctx, frame, inp)

    async def ask(self, ctx: Context, frame: Frame) -> None:
        if report_start.offers_earlier(frame):
            report_start.offer_earlier(self, ctx, frame)
            return
        if report_start.pending(frame) is not None:
            report_start.say_back(self, ctx, frame)
            return
        if not frame.editing and (told := report_start.what_was_told(self, ctx, frame)):
            await super().ask(ctx, frame)
            question = ctx.replies[-1]  # one message: the question and what was understood of it, then its choices
            told = told.strip()
            question.text = f"{told}\n{question.text}" if frame.step == "behind_it_detail" else \
                f"{question.text.rstrip()}\n{told}"
            return
        if frame.step == "images" and self.guardrail_on(frame) and "images" in frame.answers and not frame.editing:
            following = self.next_step(frame, "images")  # answered already, by what was said before it was asked
            if following is not None:
                frame.history.append(frame.step)
                frame.step = following.id
        if frame.step == "evidence" and self.guardrail_on(frame):
            ctx.say("report.evidence_guardrail", choices=[ctx.choice("done", "common.done_label")],
                    asks=self.question_id(frame))
            return
        if frame.step == "accounts" and self.guardrail_on(frame):
            ctx.say("report.accounts_guardrail", choices=[ctx.choice("skip", "common.skip_label")],
                    asks=self.question_id(frame))
            return
        await super().ask(ctx, frame)

    def summary_text(self, ctx: Context, frame: Frame) -> str:
        """The answers, and, when the guardrail rose after the images question, that the report is urgent for it."""
        text = super().summary_text(ctx, frame)
        reason = (frame.answers.get("_guardrail") or {}).get("reason", "")
        if reason and not reason.startswith("answered_"):
            text += "\n" + ctx.text("report.summary_guardrail_later")
        return text

    async def help(self, ctx: Context, frame: Frame) -> None:
        if self.guardrail_on(frame) and frame.step in ("accounts", "evidence"):
            ctx.say("report.guardrail_help")  # never "copy the link" or "attach screenshots" here
            ctx.say("common.help_commands")
            await self.ask(ctx, frame)
            return
        await super().help(ctx, frame)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        case = await ctx.services.casework.open_case(ctx, frame)
        next_steps = [
            ctx.choice("menu:get_support", "menu.get_support"),
            ctx.choice("menu:privacy_check", "menu.privacy_check"),
            ctx.choice("menu:my_cases", "menu.my_cases"),
        ]
        allegation = bool(STAFF_CONCERNS & set(case.categories))
        if not case.routed_to:
            ctx.say("report.saved_allegation_unrouted" if allegation else "report.sent_unrouted",
                    reference=case.reference, choices=[] if allegation else next_steps, urgent=case.urgent)
        elif case.urgent and (case.possible_images or not allegation):
            # (an urgent allegation without images is answered below: "speak to the DSL" may be wrong when it
            # is about a DSL)
            calendar = ctx.scope.calendar
            people = Markup(await self.who_it_reached(ctx, case, urgent=True))
            if calendar.is_open(ctx.now):
                ctx.say("report.sent_urgent", reference=case.reference, people=people,
                        choices=[] if allegation else next_steps, urgent=True)
            else:
                opens = calendar.next_opening(ctx.now)
                ctx.say("report.sent_urgent_closed", reference=case.reference, people=people,
                        front_door=front_door(ctx.scope), date=Markup(f"{opens:%A %-d %B} at {opens:%-H:%M}"),
                        choices=[] if allegation else next_steps, urgent=True)
        else:
            # an account pretending to be them: their own report may be what the platform acts on
            own = "targeting_me" in case.categories and not case.is_routed_to(ctx.user)
            own_steps = [ctx.choice(f"case:{case.reference}:own_steps", "report.own_steps_label"),
                         ctx.choice(f"case:{case.reference}:self_reported", "report.self_reported_label")]
            ctx.say("report.sent", reference=case.reference,
                    people=Markup(await self.who_it_reached(ctx, case, urgent=False)),
                    choices=(own_steps if own else []) + ([] if allegation else next_steps), urgent=case.urgent,
                    when=self.when_seen(ctx),
                    value=Markup("\n" + ctx.text("report.own_report_helps") if own
                                 else " " + ctx.text("report.team_reports_it")))
        if allegation:
            await self.tell_allegation_reporter(ctx, case, next_steps)

    @staticmethod
    def when_seen(ctx: Context) -> Markup:
        """When the team will see a report, from the school's calendar, and what to do meanwhile if anyone is at
        risk: said at once, so no one checks the chat all weekend."""
        calendar = ctx.scope.calendar
        if calendar.is_open(ctx.now):
            return Markup(ctx.text("report.seen_today"))
        opens = calendar.next_opening(ctx.now)
        return Markup(ctx.text("report.seen_when_open", date=Markup(f"{opens:%A %-d %B} at {opens:%-H:%M}"),
                               front_door=front_door(ctx.scope)))

    async def tell_allegation_reporter(self, ctx: Context, case: Case, next_steps: list[Choice]) -> None:
        """Who was sent an allegation, by role; that the person it is about was not; and, where the directory
        has no one to take it, whom to contact themselves."""
        routing = route_of_case(case, await ctx.services.store.list_staff(ctx.school_id),
                                ctx.services.settings.low_level_concerns_to)
        urgent = case.urgent
        if case.routed_to:
            roles = list(dict.fromkeys(ctx.text(f"report.route_role.{r.role.value}") for r in case.routed_to))
            people = roles[0] if len(roles) == 1 else ctx.text(
                "report.route_role.list", value=Markup(", ".join(roles[:-1])), name=Markup(roles[-1]))
            subject_kept_out = {r.reason for r in case.excluded} & SUBJECT_REASONS
            if routing.about == "headteacher":
                subject = "headteacher"
            elif subject_kept_out or case.answers.get("allegation_about") == "me":
                subject = "named"
            else:
                subject = "unknown"
            ctx.say("report.allegation_sent_to", people=Markup(people), urgent=urgent,
                    value=Markup(ctx.text(f"report.subject_not_sent.{subject}")),
                    choices=[] if routing.contact_directly else next_steps)
        if routing.contact_directly:
            contacts = [self.contact(ctx, who) for who in routing.contact_directly]
            people = contacts[0] if len(contacts) == 1 else ctx.text(
                "report.contact.either", value=Markup(", ".join(contacts[:-1])), name=Markup(contacts[-1]))
            ctx.say("report.contact_directly", people=Markup(people), reference=case.reference, choices=next_steps,
                    urgent=urgent)

    @staticmethod
    def contact(ctx: Context, who: str) -> str:
        if who == "lado":
            phone = getattr(ctx.content.facts.helplines.get("lado"), "phone", None)
            return ctx.text("report.contact.lado_phone", value=phone) if phone else ctx.text("report.contact.lado")
        return ctx.text(f"report.contact.{who}")

    @staticmethod
    async def who_it_reached(ctx: Context, case: Case, urgent: bool) -> str:
        """How many of the people the case went to have it now, and how many will when they open the app (a
        platform where the bot can write only into a chat someone has opened: Teams). Never "alerted" when
        nobody was."""
        waiting = await ctx.services.casework.not_yet_reachable(case.school_id, [r.user for r in case.routed_to])
        reached = len(case.routed_to) - len(waiting)

        def people(count: int) -> str:
            if count == 1:
                return ctx.text("report.reached.one_person")
            return ctx.text("report.reached.people", count=count)

        if not waiting:
            return ctx.text("report.reached.all_urgent" if urgent else "report.reached.all", value=people(reached))
        if not reached:
            return ctx.text("report.reached.none", count=people(len(waiting)))
        some = "report.reached.some_urgent" if urgent else "report.reached.some"
        return ctx.text(some, value=people(reached), count=people(len(waiting)))

    def stop_message(self, frame: Frame) -> str:
        return "report.stopped_after_alert" if self.guardrail_on(frame) else "report.stopped"
