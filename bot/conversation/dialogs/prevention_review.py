"""The prevention review, for the DSL and senior leaders (content/flows/prevention_review.yaml).

At the end it can nudge every member of staff in the directory to run the privacy check, and it reports
how many have completed one: a count, never a list of who has or what their settings are.
"""

from __future__ import annotations

from bot.conversation.dialogs.base import Context, StepDialog
from bot.core.markup import Markup
from bot.core.models import Frame, Notification, Reply
from bot.core.words import describe

STATUS_STEPS = ("policies", "learner_expectations", "curriculum", "staff_training", "staff_privacy",
                "published_photos")


class PreventionReview(StepDialog):
    flow_id = "prevention_review"
    keeps_place = True

    async def finish(self, ctx: Context, frame: Frame) -> None:
        answers = frame.answers
        steps = [self.flow.step(s) for s in STATUS_STEPS]
        lines = [f"- **{step.title}:** {describe(ctx.content, step, answers[step.id])}" for step in steps]
        to_do = [s for s in STATUS_STEPS if answers[s] != "in_place"]
        ctx.say("prevention.summary", value=Markup("\n".join(lines)))
        for step in to_do:
            ctx.say(f"prevention.next.{step}")
        staff = [m for m in await ctx.services.store.list_staff(ctx.school_id) if m.user != ctx.user]
        if answers["nudge"] == "send" and staff:
            nudge = Reply(key="prevention.nudge", text=ctx.text("prevention.nudge"),
                          choices=[ctx.choice("menu:privacy_check", "menu.privacy_check")])
            await ctx.services.store.queue_notifications([
                Notification(school_id=ctx.school_id, recipient=m.user, created_at=ctx.now, replies=[nudge])
                for m in staff
            ])
            ctx.say("prevention.nudged", count=len(staff))
        completed = await ctx.services.store.privacy_check_users(ctx.school_id)
        everyone = {m.user for m in staff} | {ctx.user}
        ctx.say("prevention.completed_count", count=len(completed & everyone), total=len(everyone))
