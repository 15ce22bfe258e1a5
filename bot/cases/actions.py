"""Every action a case handler can take on a case, in one table: the card's buttons, what each records, when it
applies, and which counts as picking the case up.

Adding a case action touches this table, its label (`case.action.<id>` in content/messages/case.yaml) and, if it
does more than start a flow, its handler: a `Casework` method (bot/conversation/casework.py) named here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.models import Case, CaseStatus

OPEN = frozenset({CaseStatus.NEW, CaseStatus.ACKNOWLEDGED, CaseStatus.IN_PROGRESS})
ANY = frozenset(CaseStatus)


@dataclass(frozen=True)
class CaseAction:
    id: str  # in a button's id: case:<reference>:<id>[:<value>]
    # the Casework method that does it: (ctx, case) or, with `takes_value`, (ctx, case, value)
    handler: str | None = None
    flow: str | None = None  # or the flow that asks for its details (one form where the channel has forms)
    event: str | None = None  # the event it records on the case, if any
    statuses: frozenset[CaseStatus] = ANY  # when it applies (a flow outside them is answered "already closed")
    on_card: bool = True  # a button on the card, while it applies
    allegations_only: bool = False  # only on a case with an allegation about staff
    picks_up: bool = False  # counts as picking the case up (time to pick up; the reporter is told)
    takes_value: bool = False  # a value after a colon: the plan item ticked, the threshold decided
    first_when_closed: bool = False  # on a closed case its button comes first: it is what is left to do
    until_urgent: bool = False  # only on a case not yet urgent

    def shown_on(self, case: Case) -> bool:
        return (self.on_card and case.status in self.statuses
                and (not self.allegations_only or "allegation" in case.categories)
                and not (self.until_urgent and case.urgent))


ACTIONS: tuple[CaseAction, ...] = (  # in the order of the card's buttons
    CaseAction("show", handler="show", on_card=False),
    CaseAction("ack", handler="acknowledge", event="acknowledged", statuses=frozenset({CaseStatus.NEW}),
               picks_up=True),
    CaseAction("threshold", handler="threshold", event="threshold_decided", statuses=OPEN, allegations_only=True,
               takes_value=True),
    CaseAction("urgent", handler="mark_urgent", event="flagged_urgent", statuses=OPEN, until_urgent=True),
    CaseAction("plan", handler="show_plan"),
    CaseAction("tick", handler="tick", event="plan_ticked", on_card=False, takes_value=True),
    CaseAction("pack", handler="show_pack", statuses=OPEN),
    CaseAction("note", flow="case_note", event="note_added", first_when_closed=True),
    CaseAction("pack_reporter", handler="send_pack_to_reporter", event="pack_sent_to_reporter", on_card=False),
    CaseAction("action", flow="case_action", event="action_recorded", statuses=OPEN, picks_up=True),
    CaseAction("status", flow="case_status", event="status_changed", statuses=OPEN, picks_up=True),
    CaseAction("close", flow="case_close", event="closed", statuses=OPEN, picks_up=True),
    CaseAction("record", handler="send_record", event="record_exported"),
    CaseAction("entry", handler="send_entry"),
    CaseAction("entered", handler="mark_entered", event="entered_in_record_system"),
)
BY_ID = {a.id: a for a in ACTIONS}
BY_FLOW = {a.flow: a for a in ACTIONS if a.flow}
# The events that say a handler has picked a case up: the first one ends its wait (bot/cases/stats.py).
PICKED_UP = tuple(a.event for a in ACTIONS if a.picks_up and a.event)


def action_of(pressed: str) -> tuple[CaseAction | None, str]:
    """The action a button's last part names ("tick:report.evidence" -> tick, "report.evidence"), or None."""
    name, _, value = pressed.partition(":")
    action = BY_ID.get(name)
    if action is None or (value and not action.takes_value):
        return None, ""
    return action, value


def card_buttons(case: Case) -> list[CaseAction]:
    """The actions the case's card offers now, in order."""
    shown = [a for a in ACTIONS if a.shown_on(case)]
    closed = case.status == CaseStatus.CLOSED
    return sorted(shown, key=lambda a: not (closed and a.first_when_closed))  # stable: the rest keep their order


def attempted(pressed: str) -> str:
    """The card action a button, form or typed id was trying to take, in one vocabulary: a form counts as its
    button, anything else as "other", so nothing a sender made up is ever written into the case's record."""
    if pressed in BY_FLOW:
        return BY_FLOW[pressed].id
    name = pressed.partition(":")[0]
    return name if name in BY_ID else "other"
