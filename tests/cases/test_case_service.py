"""The case domain's commands (bot/cases/service.py), called as the case domain is: with the school's scope, the
case, who acts and when, and no conversation. The conversation's side of them is in tests/cases/test_casework.py."""

from __future__ import annotations

from datetime import timedelta

from bot.cases.service import CaseService, Change
from bot.core.models import CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk

REF = "OSB-2026-0001"
DSL, DEPUTY = "console:dsl", "console:deputy"


async def reported(bot):
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    return CaseService(bot.store), await bot.schools.scope("default"), await bot.store.get_case("default", REF)


async def kinds(bot, case) -> list[tuple[str, str]]:
    return [(e.kind, e.actor) for e in await bot.store.case_events(case.id)]


async def test_acknowledging_records_who_and_when_tells_the_reporter_and_the_others(bot, clock):
    service, scope, case = await reported(bot)
    when = clock.now + timedelta(hours=1)
    assert await service.acknowledge(scope, case, DSL, when) == Change.DONE
    stored = await bot.store.get_case("default", REF)
    assert stored.status == CaseStatus.ACKNOWLEDGED
    (ack,) = [e for e in await bot.store.case_events(case.id) if e.kind == "acknowledged"]
    assert (ack.actor, ack.at) == (DSL, when)
    told = {(n.recipient, n.replies[0].key) for n in await bot.store.waiting_notifications("default", DEPUTY)}
    assert (DEPUTY, "case.update.acknowledged") in told
    reporter = await bot.store.waiting_notifications("default", "console:teacher")
    assert [n.replies[0].key for n in reporter] == ["case.reporter_acknowledged"]
    assert await service.acknowledge(scope, stored, DEPUTY, when) == Change.ALREADY_DONE
    assert ("already_done", DEPUTY) in await kinds(bot, case)


async def test_a_change_made_meanwhile_is_not_overwritten(bot, clock):
    service, scope, case = await reported(bot)
    stale = case.model_copy(deep=True)
    assert await service.set_status(scope, case, DSL, clock.now, "in_progress") == Change.DONE
    assert await service.acknowledge(scope, stale, DEPUTY, clock.now) == Change.CHANGED_MEANWHILE
    assert (await bot.store.get_case("default", REF)).status == CaseStatus.IN_PROGRESS


async def test_closing_with_required_steps_open_needs_a_reason_and_keeps_it(bot, clock):
    service, scope, case = await reported(bot)
    assert await service.close(scope, case, DSL, clock.now, "content_removed", "Taken down") == Change.REASON_NEEDED
    assert (await bot.store.get_case("default", REF)).status == CaseStatus.NEW
    assert await service.close(scope, case, DSL, clock.now, "content_removed", "Taken down", "Handled by the trust") \
        == Change.DONE
    (closed,) = [e for e in await bot.store.case_events(case.id) if e.kind == "closed"]
    assert closed.detail["reason"] == "Handled by the trust" and closed.detail["open_required"]
    assert await service.mark_urgent(scope, case, DSL, clock.now) == Change.CLOSED
    assert await service.close(scope, case, DSL, clock.now, "content_removed", None) == Change.CLOSED


async def test_marking_urgent_once(bot, clock):
    service, scope, case = await reported(bot)
    assert await service.mark_urgent(scope, case, DEPUTY, clock.now) == Change.DONE
    assert (await bot.store.get_case("default", REF)).urgent
    assert await service.mark_urgent(scope, case, DSL, clock.now) == Change.ALREADY_DONE
    assert ("flagged_urgent", DEPUTY) in await kinds(bot, case)


async def test_only_the_case_manager_decides_the_harm_threshold_of_an_allegation(bot, clock):
    from bot.cases.card import THRESHOLD_DECISIONS
    from tests.cases.test_allegations import allegation

    service = CaseService(bot.store)
    await walk(Chat(bot, "console:ta"), allegation())
    case = await bot.store.get_case("default", REF)
    assert await service.decide_threshold(case, DSL, clock.now, THRESHOLD_DECISIONS[0]) == Change.CASE_MANAGER_ONLY
    assert await service.decide_threshold(case, "console:head", clock.now, None) == Change.DECISION_NEEDED
    assert await service.decide_threshold(case, "console:head", clock.now, THRESHOLD_DECISIONS[0]) == Change.DONE
    assert ("threshold_decided", "console:head") in await kinds(bot, case)


async def test_a_plan_step_is_ticked_once(bot, clock):
    service, scope, case = await reported(bot)
    step = next(e for e in await service.plan_of(scope, case) if not e.done)
    assert await service.tick(scope, case, DSL, clock.now, step.id) == Change.DONE
    assert await service.tick(scope, case, DSL, clock.now, step.id) == Change.ALREADY_DONE
    assert await service.tick(scope, case, DSL, clock.now, "no-such-step") == Change.NOT_APPLICABLE
    assert (await kinds(bot, case)).count(("plan_ticked", DSL)) == 1
