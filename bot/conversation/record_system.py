"""Feeding the school's own safeguarding record system (CPOMS, MyConcern or the like), not becoming a second one.

From the case card a handler gets a paste-ready entry: the true time of each event that belongs in a chronology,
the categories, who was involved by role (never a name or a platform id), the actions and the outcome. The
reporter's own words, the names given and the evidence are left out: the system of record asks for them itself,
and the full safeguarding record is a button away. The handler can then mark the case "entered in the school's
record system", an event on the case like any other.

The wording is in content/messages/case.yaml (`case.entry.*`). Nothing here logs anything about a case.
"""

from __future__ import annotations

from bot.cases.card import REPORT, describe_answer
from bot.cases.record import SafeguardingRecord, build_record
from bot.cases.record.model import UK, Entry, Moment, Person
from bot.conversation.context import Context
from bot.core.markup import Markup
from bot.core.models import Case, CaseEvent

ENTERED = "entered_in_record_system"
# The events a chronology in the school's system needs, and those whose details (the handler's own words on
# an action, a note or the closure) go with them. Reminders, exports, refusals and the like stay in our record.
CHRONOLOGY_EVENTS = ("reported", "routed", "flagged_urgent", "acknowledged", "threshold_decided", "note_added",
                     "action_recorded", "status_changed", "pack_sent_to_reporter", "escalated", "closed")
DETAILED_EVENTS = ("note_added", "action_recorded", "closed")
SUMMARY_STEPS = ("platforms", "who_appears", "first_seen")


def when(moment: Moment) -> str:
    """The UK time, as people write it in a chronology: "Friday 20 November 2026, 22:00 (GMT)"."""
    return f"{moment.uk.strftime('%A %-d %B %Y, %H:%M')} ({moment.uk_zone})"


def by_role(ctx: Context, person: Person) -> str:
    """Who did something, by role only: the bot, a role from the staff directory, or "a member of staff"."""
    if person.id == "bot":
        return ctx.text("case.entry.by_bot")
    if person.role in (None, ctx.text("roles.staff")):
        return ctx.text("case.entry.by_staff")
    return person.role


def chronology_line(ctx: Context, entry: Entry) -> str:
    details = "; ".join(f"{f.label}: {f.value}" for f in entry.details) if entry.kind in DETAILED_EVENTS else ""
    line = ctx.text("case.entry.event", date=when(entry.at), value=entry.what, name=by_role(ctx, entry.by))
    return line + (ctx.text("case.entry.event_details", value=details) if details else "")


def entry_lines(ctx: Context, case: Case, record: SafeguardingRecord) -> list[str]:
    """The entry, one line each, in the bot's light markdown (every value escaped)."""
    lines = [
        ctx.text("case.entry.reported", date=when(record.reported_at), name=by_role(ctx, record.reported_by)),
        ctx.text("case.entry.categories", value="; ".join(c.label for c in record.categories)),
    ]
    steps = {s.id: s for s in ctx.content.flows[REPORT].steps}
    for step_id in SUMMARY_STEPS:
        if case.answers.get(step_id) not in (None, "", []) and step_id in steps:
            lines.append(ctx.text("case.entry.fact", step_title=steps[step_id].title,
                                  value=describe_answer(ctx.scope, case, step_id)))
    urgency = record.urgency + (f" ({record.urgent_reason})" if record.urgent_reason else "")
    lines.append(ctx.text("case.entry.urgency", value=urgency))
    roles = dict.fromkeys(r.person.role or ctx.text("case.entry.by_staff") for r in record.routed_to)
    lines.append(ctx.text("case.entry.sent_to", value=", ".join(roles) or ctx.text("case.entry.nobody")))
    lines.append(ctx.text("case.entry.chronology"))
    lines += [chronology_line(ctx, e) for e in record.chronology if e.kind in CHRONOLOGY_EVENTS]
    if record.outcome:
        lines.append(ctx.text("case.entry.outcome", value=record.outcome.label))
    lines.append(ctx.text("case.entry.full_record", reference=case.reference, status=record.status.label))
    return lines


async def send_entry(ctx: Context, case: Case) -> None:
    """The paste-ready entry for the school's record system, to the handler who asked, with the button to mark
    the case entered once they have pasted it."""
    record = await build_record(ctx.services.store, ctx.scope, case, exported_by=ctx.user, fmt="md",
                                exported_at=ctx.now)
    entry = Markup("\n".join(entry_lines(ctx, case, record)))
    choices = [ctx.choice(f"case:{case.reference}:entered", "case.action.entered"),
               ctx.choice(f"case:{case.reference}:show", "case.entry.back", reference=case.reference)]
    ctx.say("case.entry.ready", reference=case.reference, value=entry, choices=choices)


async def mark_entered(ctx: Context, case: Case) -> None:
    """Record that the case is in the school's record system: once; a second press changes nothing."""
    events = await ctx.services.store.case_events(case.id)
    done = next((e for e in events if e.kind == ENTERED), None)
    if done is not None:
        await ctx.services.casework.already_done(ctx, case, "entered")
        date = done.at.astimezone(UK).strftime("%-d %B %Y")
        ctx.say("case.entry.already_marked", reference=case.reference, date=date)
        return
    await ctx.services.store.record_events([CaseEvent(case_id=case.id, actor=ctx.user, kind=ENTERED, at=ctx.now)])
    ctx.say("case.entry.marked", reference=case.reference)
