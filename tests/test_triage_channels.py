"""The triage view in Slack (the App Home) and Teams (the chat a DSL opens): the summary, then the cases urgent
first, then allegations, then the oldest."""

from __future__ import annotations

import pytest

from tests.slack_harness import all_text, find_button
from tests.teams_harness import actions, card_of, words
from tests.test_slack import DSL as SLACK_DSL
from tests.test_slack import bot, slack, slack_api  # noqa: F401  (fixtures)
from tests.test_teams import DSL as TEAMS_DSL
from tests.test_teams import connector, teams  # noqa: F401  (fixtures)
from tests.test_triage import ALLEGATION, OLDEST, URGENT, three_reports

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
    assert sent.index(first) < sent.index(menu)  # the cards already waiting may come before, by the outbox
    assert "menu:report_concern" in str(actions(menu))
    pressed = [a["data"]["choice"] if isinstance(a.get("data"), dict) and "choice" in a["data"] else a.get("data")
               for a in actions(first)]
    assert str(pressed).index(URGENT) < str(pressed).index(ALLEGATION) < str(pressed).index(OLDEST)
