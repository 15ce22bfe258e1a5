"""The triage view in Slack (the App Home) and Teams (the chat a DSL opens): the summary, then the cases urgent
first, then allegations, then the oldest."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import all_text, find_button
from testing.teams_harness import actions, card_of, words
from tests.cases.test_triage import ALLEGATION, OLDEST, URGENT, three_reports
from tests.channels.test_slack import DSL as SLACK_DSL
from tests.channels.test_slack import bot, slack, slack_api  # noqa: F401  (fixtures)
from tests.channels.test_teams import DSL as TEAMS_DSL
from tests.channels.test_teams import connector, teams  # noqa: F401  (fixtures)

SUMMARY = ("3 new: 1 urgent, 2 allegations about staff, 1 account targeting the person who reported it; "
           "2 need you today.")

pytestmark = [
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]


async def test_the_slack_app_home_shows_the_summary_and_the_cases_in_triage_order(slack, bot, clock):  # noqa: F811
    await three_reports(bot, clock)
    await slack.home_opened(SLACK_DSL)
    (home,) = await slack.api.wait_for(lambda: slack.api.bodies("views.publish"))
    shown = all_text(home["view"])
    assert SUMMARY in shown.replace("*", "")
    assert shown.index(URGENT) < shown.index(ALLEGATION) < shown.index(OLDEST)
    for reference in (URGENT, ALLEGATION, OLDEST):
        find_button(home["view"], f"case:{reference}:show")


async def test_a_teams_dsl_opening_the_chat_sees_the_summary_before_their_menu(teams, bot, clock):  # noqa: F811
    await three_reports(bot, clock)
    sent = await teams.install(TEAMS_DSL)
    first = next(a for a in sent if SUMMARY in words(card_of(a)).replace("*", ""))
    menu = next(a for a in sent if "menu:my_cases" in str(actions(a)))
    assert sent.index(first) == 0 and sent.index(first) < sent.index(menu)  # the list first, no card before it
    assert not any(f"case:{OLDEST}:ack" in str(actions(a)) for a in sent)  # listed, not dumped in full
    assert "menu:report_concern" in str(actions(menu))
    pressed = [a["data"]["choice"] if isinstance(a.get("data"), dict) and "choice" in a["data"] else a.get("data")
               for a in actions(first)]
    assert str(pressed).index(URGENT) < str(pressed).index(ALLEGATION) < str(pressed).index(OLDEST)


# --- Mark urgent, pressed on the card in Slack and in Teams -----------------------------------------------


async def test_mark_urgent_pressed_on_the_slack_card(slack, bot, clock):  # noqa: F811
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    await slack.home_opened(SLACK_DSL)
    (home,) = await slack.api.wait_for(lambda: slack.api.bodies("views.publish"))
    assert (await slack.interaction(slack.home_press(SLACK_DSL, home["view"], *find_button(
        home["view"], f"case:{OLDEST}:show")))).status == 200
    card = await slack.api.wait_for(lambda: next((m for m in slack.messages_to(SLACK_DSL)
                                                  if f"case:{OLDEST}:urgent" in str(m)), None))
    assert (await slack.click(SLACK_DSL, card, f"case:{OLDEST}:urgent")).status == 200
    await slack.api.wait_for(lambda: any("marked urgent" in all_text(m) for m in slack.messages_to(SLACK_DSL)))
    case = await bot.store.get_case("default", OLDEST)
    (flagged,) = [e for e in await bot.store.case_events(case.id) if e.kind == "flagged_urgent"]
    assert case.urgent and flagged.actor == f"slack:{SLACK_DSL}"


async def test_mark_urgent_pressed_on_the_teams_card(teams, bot, clock):  # noqa: F811
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    sent = await teams.install(TEAMS_DSL)
    card = next(a for a in sent if f"case:{OLDEST}:urgent" in str(actions(a)))
    replies = await teams.press(TEAMS_DSL, card, f"case:{OLDEST}:urgent")
    assert any("marked urgent" in words(card_of(a)) or "marked urgent" in a.get("text", "") for a in replies)
    case = await bot.store.get_case("default", OLDEST)
    (flagged,) = [e for e in await bot.store.case_events(case.id) if e.kind == "flagged_urgent"]
    assert case.urgent and flagged.actor == f"teams:{TEAMS_DSL}"


# --- the reporter told when it will be seen, at 10 pm on a Friday --------------------------------------------


async def test_a_slack_reporter_at_10pm_on_friday_is_told_when_school_opens(slack, bot, clock):  # noqa: F811
    from tests.channels.test_slack import TEACHER, click, report_until_summary

    clock.now = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    summary = await report_until_summary(slack)
    sent = await click(slack, TEACHER, summary, "send")
    shown = " ".join(all_text(m) for m in sent)
    assert "School is closed now" in shown and "Monday 23 November at 8:00, or sooner" in shown


async def test_a_teams_reporter_at_10pm_on_friday_is_told_when_school_opens(teams, bot, clock):  # noqa: F811
    from tests.channels.test_teams import TEACHER, report_until_summary

    clock.now = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    summary = await report_until_summary(teams)
    sent = await teams.press(TEACHER, summary, "send")
    shown = " ".join(words(card_of(a)) if a.get("attachments") else a.get("text", "") for a in sent)
    assert "School is closed now" in shown and "Monday 23 November at 8:00, or sooner" in shown


# --- "I've reported it", pressed by the reporter in Slack and in Teams ---------------------------------------


async def self_reported_event(engine):
    case = await engine.store.get_case("default", OLDEST)
    return [e for e in await engine.store.case_events(case.id) if e.kind == "reporter_reported_to_platform"]


async def test_ive_reported_it_pressed_in_slack(slack, bot, clock):  # noqa: F811
    from tests.channels.test_slack import TEACHER, click, report_until_summary

    summary = await report_until_summary(slack)
    sent = await click(slack, TEACHER, summary, "send")
    offer = next(m for m in sent if f"case:{OLDEST}:self_reported" in str(m))
    assert "only when that person reports it themselves" in all_text(offer)
    steps = await click(slack, TEACHER, offer, f"case:{OLDEST}:own_steps")
    assert OLDEST in " ".join(all_text(m) for m in steps)
    thanks = await click(slack, TEACHER, offer, f"case:{OLDEST}:self_reported")
    assert "reported it to the platform" in " ".join(all_text(m) for m in thanks)
    (event,) = await self_reported_event(bot)
    assert event.actor == f"slack:{TEACHER}"


async def test_ive_reported_it_pressed_in_teams(teams, bot, clock):  # noqa: F811
    from tests.channels.test_teams import TEACHER, report_until_summary

    summary = await report_until_summary(teams)
    (sent,) = await teams.press(TEACHER, summary, "send")
    assert "only when that person reports it themselves" in words(card_of(sent))
    await teams.press(TEACHER, sent, f"case:{OLDEST}:self_reported")
    (event,) = await self_reported_event(bot)
    assert event.actor == f"teams:{TEACHER}"


# --- every case on the list is one press away ----------------------------------------------------------------


async def test_a_teams_dsl_opens_each_case_from_the_list_and_nothing_waits_after_the_opening(
        teams, bot, clock):  # noqa: F811
    await three_reports(bot, clock)
    sent = await teams.install(TEAMS_DSL)
    listed = next(a for a in sent if SUMMARY in words(card_of(a)).replace("*", ""))
    assert await bot.store.waiting_notifications("default", f"teams:{TEAMS_DSL}") == []  # nothing comes again
    for reference in (ALLEGATION, OLDEST):
        opened = await teams.press(TEAMS_DSL, listed, f"case:{reference}:show")
        assert any(f"case:{reference}:ack" in str(actions(a)) for a in opened)


async def test_a_slack_dsl_opens_each_case_from_my_cases_in_one_press(slack, bot, clock):  # noqa: F811
    await three_reports(bot, clock)
    before = len(slack.messages_to(SLACK_DSL))
    await slack.dm(SLACK_DSL, "my cases")
    listed = next(m for m in await slack.next_message(SLACK_DSL, before) if f"case:{OLDEST}:show" in str(m))
    for reference in (URGENT, ALLEGATION, OLDEST):
        before = len(slack.messages_to(SLACK_DSL))
        assert (await slack.click(SLACK_DSL, listed, f"case:{reference}:show")).status == 200
        opened = await slack.next_message(SLACK_DSL, before)
        assert any(f"case:{reference}:ack" in str(m) for m in opened)
