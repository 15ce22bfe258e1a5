"""Privacy-settings check: the code behind content/flows/privacy_check.yaml.

The staff member picks their platforms; the bot then walks each platform's checklist from
content/facts/platforms.yaml one item at a time (done / skip / explain), keeping progress in the
conversation so it survives a restart, and ends with what is left and an offer of a reminder.
"""

from __future__ import annotations

from datetime import timedelta

from bot.conversation.dialogs.base import Context, Input, StepDialog
from bot.core.answers import ASKED
from bot.core.content import Step, render
from bot.core.markup import Markup
from bot.core.models import Choice, Frame, Reminder, Reply

REMINDER_DAYS = {"three_months": 91, "six_months": 182, "twelve_months": 365}
SKIPPED_NOW = "skipped_now"  # at the end: go through the skipped items again


class PrivacyCheck(StepDialog):
    flow_id = "privacy_check"
    keeps_place = True

    def choices_for(self, ctx: Context, step: Step, frame: Frame) -> list[Choice]:
        if step.choices_from == "privacy_platforms":
            return [Choice(id=p.id, label=p.name) for p in ctx.content.facts.platforms.values() if p.privacy]
        if step.id == "reminder" and self._skipped_items(frame):
            return [ctx.choice(SKIPPED_NOW, "privacy.do_skipped_now"), *super().choices_for(ctx, step, frame)]
        return super().choices_for(ctx, step, frame)

    @staticmethod
    def _skipped_items(frame: Frame) -> list[list[str]]:
        results = frame.answers.get("results") or {}
        return [entry for entry in frame.answers.get("queue", []) if results.get(".".join(entry)) != "done"]

    def _current(self, ctx: Context, frame: Frame):
        platform_id, item_id = frame.answers["queue"][frame.answers["position"]]
        platform = ctx.content.facts.platforms[platform_id]
        return platform, next(i for i in platform.privacy if i.id == item_id)

    async def after_answer(self, ctx: Context, frame: Frame, step: Step) -> None:
        if step.id == "platforms":
            platforms = ctx.content.facts.platforms
            frame.answers["queue"] = [[p, item.id] for p in frame.answers["platforms"] for item in platforms[p].privacy]
            frame.answers["position"] = 0
            frame.answers["results"] = {}

    async def ask(self, ctx: Context, frame: Frame) -> None:
        if frame.step != "item":
            await super().ask(ctx, frame)
            return
        step = self.flow.step("item")
        platform, item = self._current(ctx, frame)
        position = frame.answers["position"]
        shown = frame.answers.setdefault("limits_shown", [])
        if platform.always_public and platform.id not in shown:
            shown.append(platform.id)
            limits = "\n".join(f"- {limit.text}" for limit in platform.always_public)
            ctx.say("privacy.limits", platform=platform.name, value=Markup(limits))
        how = f"{item.how}\n{ctx.text('privacy.unconfirmed', value=item.unconfirmed)}" if item.unconfirmed else item.how
        text = render(step.ask, ctx.content.facts, {
            "platform": platform.name, "item": item.title, "value": Markup(how),
            "position": position + 1, "total": len(frame.answers["queue"]),
        })
        ctx.replies.append(Reply(key="privacy_check.item.ask", text=text, choices=self.choices_for(ctx, step, frame),
                                 asks=self.question_id(frame)))

    async def handle(self, ctx: Context, frame: Frame, inp: Input) -> bool:
        if frame.step == "reminder" and inp.picked == [SKIPPED_NOW] and self._skipped_items(frame):
            frame.answers["queue"] = self._skipped_items(frame)
            frame.answers["position"] = 0
            frame.step = "item"
            await self.ask(ctx, frame)
            return False
        if frame.step != "item":
            return await super().handle(ctx, frame, inp)
        step = self.flow.step("item")
        picked = await self.answer_choice(ctx, frame, step, inp)
        if picked is ASKED:
            return False
        if not isinstance(picked, str):
            await self.ask(ctx, frame)
            return False
        platform, item = self._current(ctx, frame)
        if picked == "explain":
            ctx.say("privacy.why", item=item.title, value=Markup(item.why))
            await self.ask(ctx, frame)
            return False
        frame.answers["results"][f"{platform.id}.{item.id}"] = picked
        frame.answers["position"] += 1
        if frame.answers["position"] < len(frame.answers["queue"]):
            await self.ask(ctx, frame)
            return False
        self._summarise(ctx, frame)
        frame.history.append("item")
        frame.step = "reminder"
        await self.ask(ctx, frame)
        return False

    async def back(self, ctx: Context, frame: Frame) -> None:
        if frame.step == "item" and frame.answers["position"] > 0:
            frame.answers["position"] -= 1
            await self.ask(ctx, frame)
            return
        if frame.step == "reminder":
            frame.answers["position"] = len(frame.answers["queue"]) - 1
            frame.history.pop()
            frame.step = "item"
            await self.ask(ctx, frame)
            return
        await super().back(ctx, frame)

    def _summarise(self, ctx: Context, frame: Frame) -> None:
        results = frame.answers["results"]
        platforms = ctx.content.facts.platforms
        left = []
        for platform_id, item_id in frame.answers["queue"]:
            if results.get(f"{platform_id}.{item_id}") != "done":
                item = next(i for i in platforms[platform_id].privacy if i.id == item_id)
                left.append(f"- {platforms[platform_id].name}: {item.title}")
        done = sum(1 for v in results.values() if v == "done")
        if left:
            ctx.say("privacy.summary_left", done_count=done, skipped_count=len(left), left=Markup("\n".join(left)))
        else:
            ctx.say("privacy.summary_all_done", done_count=done)

    async def finish(self, ctx: Context, frame: Frame) -> None:
        results = frame.answers["results"]
        await ctx.services.store.record_privacy_check(
            ctx.school_id, ctx.user, frame.answers["platforms"],
            done=[k for k, v in results.items() if v == "done"], skipped=[k for k, v in results.items() if v != "done"],
            at=ctx.now,
        )
        days = REMINDER_DAYS.get(str(frame.answers.get("reminder")))
        if days:
            due = ctx.now + timedelta(days=days)
            await ctx.services.store.add_reminder(Reminder(
                school_id=ctx.school_id, recipient=ctx.user, kind="privacy_check", due_at=due,
                detail={"platforms": frame.answers["platforms"]},
            ))
            ctx.say("privacy.reminder_set", date=due.strftime("%-d %B %Y"))
        else:
            ctx.say("privacy.no_reminder")

    def stop_message(self, frame: Frame) -> str:
        return "privacy.stopped"
