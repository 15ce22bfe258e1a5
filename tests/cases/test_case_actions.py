"""The one table of case actions (bot/cases/actions.py) holds together: every action can be done, is worded, and
the card, the refusal log and the figures all read it."""

from __future__ import annotations

import inspect

from bot.cases.actions import ACTIONS, PICKED_UP, action_of, attempted, card_buttons
from bot.cases.stats import MILESTONES
from bot.conversation.casework import Casework
from bot.core.models import Case, CaseStatus


def test_every_action_has_a_handler_or_a_flow_and_a_label(content):
    for action in ACTIONS:
        assert bool(action.handler) != bool(action.flow), action.id
        if action.handler:
            handler = getattr(Casework, action.handler)
            wanted = 3 + action.takes_value  # self, ctx, case[, value]
            assert len(inspect.signature(handler).parameters) >= wanted, action.id
        else:
            assert action.flow in content.flows, action.id
        if action.on_card:
            assert f"case.action.{action.id}" in content.messages, action.id


def test_the_card_offers_what_applies_in_the_order_the_table_gives():
    case = Case(school_id="default", reporter="console:teacher", categories=["allegation"], answers={},
                draft_id="d1", content_version="test")
    assert [a.id for a in card_buttons(case)] == [
        "ack", "threshold", "urgent", "plan", "pack", "note", "action", "status", "close", "record", "entry",
        "entered"]
    case.urgent = True
    assert "urgent" not in [a.id for a in card_buttons(case)]
    case.status = CaseStatus.CLOSED
    assert [a.id for a in card_buttons(case)] == ["note", "plan", "record", "entry", "entered"]


def test_a_pressed_button_names_one_action_and_anything_else_is_refused_as_other():
    assert action_of("tick:report.evidence")[0].id == "tick"
    assert action_of("tick:report.evidence")[1] == "report.evidence"
    assert action_of("ack:now") == (None, "")  # ack takes no value
    assert action_of("delete_everything") == (None, "")
    assert attempted("case_close") == "close" and attempted("threshold:meets") == "threshold"
    assert attempted("<script>") == "other"


def test_picking_a_case_up_is_read_from_the_table_by_the_figures():
    assert PICKED_UP == ("acknowledged", "action_recorded", "status_changed", "closed")
    assert set(PICKED_UP) < set(MILESTONES)
