"""Access follows the staff directory as it is now: a handler removed from it, or moved to a role that does not
handle cases, loses their cases at once (no card, record, button, list entry, App Home entry or card update,
and card updates already waiting for them are dropped). The console here; Slack and Teams in
tests/channels/test_slack.py and tests/channels/test_teams.py."""

from __future__ import annotations

import pytest

from bot.core.models import CaseStatus, Role, StaffMember
from testing.chat import Chat, walk

REF = "OSB-2026-0001"
LEFT = {
    "removed": lambda store: store.remove_staff("default", "console:dsl"),
    "demoted": lambda store: store.upsert_staff(StaffMember(user="console:dsl", role=Role.STAFF, name="Dana Lee")),
}


@pytest.fixture
async def reported(chat: Chat, report_steps) -> Chat:
    await walk(chat, report_steps)
    await chat.pick("send")
    assert chat.reply("report.sent")
    return chat


@pytest.fixture
async def dsl(bot, reported) -> Chat:
    handler = Chat(bot, "console:dsl")
    await handler.open()
    assert handler.reply("case.new_card")
    return handler


@pytest.mark.parametrize("change", LEFT.values(), ids=LEFT.keys())
async def test_a_handler_who_left_or_changed_role_can_neither_see_nor_act_on_their_case(bot, dsl, change):
    await change(bot.store)
    for action in ("show", "ack", "record", "plan", "note", "close"):
        await dsl.pick(f"case:{REF}:{action}", files=True)
        assert dsl.keys == ["case.not_found"], action
        assert "Jo Brown" not in dsl.text
    assert (await bot.store.get_case("default", REF)).status == CaseStatus.NEW

    await dsl.pick("menu:my_cases")
    assert "case.list_handling" not in dsl.keys and REF not in dsl.text
    home = await bot.home("default", "console:dsl")
    assert not any(c.id.startswith("case:") for r in home for c in r.choices)
    await dsl.pick("menu:stats")
    assert dsl.keys[0] == "common.handlers_only"


@pytest.mark.parametrize("change", LEFT.values(), ids=LEFT.keys())
async def test_a_case_sent_before_a_handler_left_is_not_shown_to_them_after(bot, reported, change):
    await change(bot.store)
    gone = Chat(bot, "console:dsl")
    await gone.open()
    assert "case.new_card" not in gone.keys and REF not in gone.text
    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    assert deputy.reply("case.new_card").card.reference == REF


@pytest.mark.parametrize("change", LEFT.values(), ids=LEFT.keys())
async def test_a_handler_who_left_gets_no_more_updates_on_the_case(bot, dsl, reported, change):
    await change(bot.store)
    deputy = Chat(bot, "console:deputy")
    await deputy.pick(f"case:{REF}:ack")
    assert deputy.keys == ["case.acknowledged"]
    waiting = await bot.store.waiting_notifications("default", "console:dsl")
    assert waiting == []
    await reported.open()
    assert reported.reply("case.reporter_acknowledged")  # the reporter is told, as ever


async def test_a_handler_who_changes_role_but_still_handles_cases_keeps_them(bot, dsl):
    await bot.store.upsert_staff(StaffMember(user="console:dsl", role=Role.DEPUTY_DSL, name="Dana Lee"))
    await dsl.pick(f"case:{REF}:show")
    assert dsl.keys == ["case.card"]


async def test_a_handler_back_in_the_directory_has_the_case_again(bot, dsl):
    await bot.store.remove_staff("default", "console:dsl")
    await dsl.pick(f"case:{REF}:show")
    assert dsl.keys == ["case.not_found"]
    await bot.store.upsert_staff(StaffMember(user="console:dsl", role=Role.DSL, name="Dana Lee"))
    await dsl.pick(f"case:{REF}:show")
    assert dsl.keys == ["case.card"]


@pytest.mark.parametrize("change", LEFT.values(), ids=LEFT.keys())
async def test_an_urgent_alert_waiting_for_a_handler_who_left_is_dropped(bot, chat: Chat, change):
    await walk(chat, ["I'm being targeted", ["showing_learners"], ["yes"]])
    assert chat.keys[1] == "report.guardrail_alerted"
    await change(bot.store)
    gone = Chat(bot, "console:dsl")
    await gone.open()
    assert not any(r.key.startswith("case.guardrail_alert") for r in gone.last)
    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    assert deputy.reply("case.guardrail_alert")
