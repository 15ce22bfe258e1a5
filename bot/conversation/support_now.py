"""Support that knows the time and listens first.

When school is closed (the school calendar, bot/cases/school_calendar.py), support opens with the services that answer
right now (Education Support and Samaritans, day and night), then each that is closed with when it opens
(POSH: Monday to Friday, 10am to 4pm). The hours are facts in content/facts/helplines.yaml (`open_hours`).

A feeling said in someone's own words ("I can't stop thinking about it", "i feel sick about it",
content/phrases.yaml `feelings`) is acknowledged before any options are shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.cases.school_calendar import WEEKDAYS
from bot.conversation.dialogs.base import Context
from bot.core.content import Helpline
from bot.core.markup import Markup
from bot.core.text import contains_phrase

# The helplines support offers for the person themselves, in the order they are listed when all are open.
SUPPORT_LINES = ("education_support", "samaritans", "posh")


def is_open(helpline: Helpline, moment: datetime) -> bool:
    """Whether the helpline answers at `moment` (an aware time, read in UK time); one without hours as data
    counts as open, since nothing says otherwise."""
    hours = helpline.open_hours
    if hours is None or hours.always:
        return True
    assert hours.start is not None and hours.end is not None
    local = moment.astimezone(ZoneInfo("Europe/London"))
    return WEEKDAYS[local.weekday()] in hours.days and hours.start <= local.time() < hours.end


def next_opening(helpline: Helpline, moment: datetime) -> datetime | None:
    """When the helpline next opens after `moment`, in UK time; None if it never closes."""
    hours = helpline.open_hours
    if hours is None or hours.always:
        return None
    assert hours.start is not None
    tz = ZoneInfo("Europe/London")
    local = moment.astimezone(tz)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        opens = datetime.combine(day, hours.start, tz)
        if WEEKDAYS[day.weekday()] in hours.days and opens > local:
            return opens
    return None  # pragma: no cover - the model insists on at least one day


def school_closed(ctx: Context) -> bool:
    calendar = ctx.scope.calendar
    return not calendar.is_open(ctx.now)


def when_now(ctx: Context) -> str:
    """"Friday evening", "the middle of the night", "Saturday": how the bot names the time it is now."""
    local = ctx.now.astimezone(ZoneInfo("Europe/London"))
    day = local.strftime("%A")
    if local.hour < 6:
        return ctx.text("support.now_night")
    if local.hour >= 18:
        return ctx.text("support.now_evening", value=day)
    return ctx.text("support.now_day", value=day)


def opens_text(ctx: Context, opens: datetime) -> str:
    """"today at 10am", "tomorrow at 10am", "on Monday at 10am"."""
    local_now = ctx.now.astimezone(opens.tzinfo)
    at = opens.strftime("%-I%p").lower() if opens.minute == 0 else opens.strftime("%-I:%M%p").lower()
    days = (opens.date() - local_now.date()).days
    key = "support.opens_today" if days == 0 else "support.opens_tomorrow" if days == 1 else "support.opens_on"
    return ctx.text(key, value=opens.strftime("%A"), when=at)


def feels(ctx: Context, text: str) -> bool:
    return bool(text and contains_phrase(text, ctx.content.phrases.feelings))


def acknowledge_feeling(ctx: Context, text: str) -> bool:
    """Says that the feeling was heard, if one is said; True when it was."""
    if feels(ctx, text):
        ctx.say("support.feeling_heard")
        return True
    return False


def say_open_now(ctx: Context) -> None:
    """Out of school hours: who answers now, then who is closed and when they open."""
    helplines = ctx.content.facts.helplines
    lines = [helplines[i] for i in SUPPORT_LINES if i in helplines]
    open_now = [h for h in lines if is_open(h, ctx.now)]
    closed = [h for h in lines if not is_open(h, ctx.now)]
    listed = [ctx.text("support.open_line", value=h.name, phone=h.phone or "", hours=h.hours or "") for h in open_now]
    for helpline in closed:
        opens = next_opening(helpline, ctx.now)
        listed.append(ctx.text("support.closed_line", value=helpline.name, phone=helpline.phone or "",
                               opens=opens_text(ctx, opens) if opens else "", hours=helpline.hours or ""))
    ctx.say("support.open_now", when=when_now(ctx), people=Markup("\n".join(listed)))


def say_posh_closed(ctx: Context) -> None:
    """After POSH's details, when it is closed now: when it opens, and who answers meanwhile."""
    posh = ctx.content.facts.helplines.get("posh")
    if posh is None or is_open(posh, ctx.now):
        return
    opens = next_opening(posh, ctx.now)
    if opens is not None:
        ctx.say("support.posh_closed", opens=opens_text(ctx, opens))
