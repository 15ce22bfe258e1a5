"""Always the case as it is now: a card waiting in the outbox is rendered from the case when it is delivered, never
the copy stored when it was queued. A deputy who cannot be reached until after the DSL has closed the case gets
the closed card, with no Acknowledge, in Slack and Teams (the console's is in test_casework.py)."""

from __future__ import annotations

import pytest

from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import all_text
from testing.teams_harness import actions, card_of, words
from tests.channels.test_slack import DEPUTY as SLACK_DEPUTY
from tests.channels.test_slack import DSL as SLACK_DSL
from tests.channels.test_slack import bot, slack, slack_api  # noqa: F401  (fixtures)
from tests.channels.test_teams import DEPUTY as TEAMS_DEPUTY
from tests.channels.test_teams import DSL as TEAMS_DSL
from tests.channels.test_teams import connector, teams  # noqa: F401  (fixtures)

REF = "OSB-2026-0001"

pytestmark = [
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]


async def closed_by(engine, dsl: str) -> None:
    """The DSL closes the case from the close form, saying why while plan items are still open."""
    chat = Chat(engine, dsl)
    await chat.say("", form_id=f"case_close:{REF}", form_values={
        "outcome": "content_removed", "note": "", "open_items_reason": "Instagram took it down."})
    assert chat.keys == ["case.closed"]


async def test_a_teams_deputy_who_opens_the_app_after_the_close_gets_the_closed_card(teams, bot):  # noqa: F811
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    dsl_saw = await teams.install(TEAMS_DSL)
    assert any(f"case:{REF}:ack" in str(actions(a)) for a in dsl_saw)  # the DSL's card, as it was then
    await closed_by(bot, f"teams:{TEAMS_DSL}")
    sent = await teams.install(TEAMS_DEPUTY)  # the deputy could not be reached until now
    (card,) = [a for a in sent if "attachments" in a and f"Case {REF}" in words(card_of(a))]
    shown = " ".join(words(card_of(card)).replace("*", "").split())
    assert "Closed: Content or account removed" in shown and "Please acknowledge" not in shown
    assert f"case:{REF}:ack" not in str(actions(card))


async def test_a_slack_deputy_whose_card_failed_gets_it_closed_once_it_goes(slack, bot):  # noqa: F811
    """Slack refuses the deputy's card twice over (slack-sdk retries each 500 twice itself), so the deputy rests
    between tries; the DSL closes the case meanwhile."""
    slack.api.fault("chat.postMessage", *[500] * 6, channel=f"D{SLACK_DEPUTY}")
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    slack.channel.outbox.wake()

    def tries_to_deputy() -> int:
        return len([b for m, b in slack.api.calls if m == "chat.postMessage" and b["channel"] == f"D{SLACK_DEPUTY}"])

    await slack.api.wait_for(lambda: tries_to_deputy() >= 3)  # the first try has failed
    assert any(f"case:{REF}:ack" in str(m) for m in slack.messages_to(SLACK_DSL))
    await closed_by(bot, f"slack:{SLACK_DSL}")
    card = await slack.api.wait_for(lambda: next(
        (m for m in slack.api.delivered_to(f"D{SLACK_DEPUTY}") if f"Case {REF}" in all_text(m)), None), timeout=30)
    shown = " ".join(all_text(card).replace("*", "").split())
    assert "Closed: Content or account removed" in shown and "Please acknowledge" not in shown
    assert f"case:{REF}:ack" not in str(card)


# --- the reporter's own report, on the card updated in place ---------------------------------------------


async def reporter_reported_it(engine) -> None:
    teacher = Chat(engine, "console:teacher")
    await walk(teacher, [*STANDARD_REPORT, ["send"]])
    await teacher.pick(f"case:{REF}:self_reported")
    assert teacher.keys == ["report.self_reported_thanks"]


async def test_the_slack_card_updated_in_place_after_an_action_still_says_the_reporter_reported_it(
        slack, bot):  # noqa: F811
    await reporter_reported_it(bot)
    await slack.channel.outbox.deliver()
    (card,) = [m for m in slack.messages_to(SLACK_DSL) if f"case:{REF}:ack" in str(m)]
    assert "reported it to the platform themselves" in all_text(card)
    assert (await slack.click(SLACK_DSL, card, f"case:{REF}:ack")).status == 200
    updated = await slack.api.wait_for(lambda: next(
        (b for b in slack.api.bodies("chat.update") if b["channel"] == f"D{SLACK_DSL}"
         and "Acknowledged" in all_text(b)), None))
    assert "reported it to the platform themselves" in all_text(updated)
    assert "sent to you earlier" not in all_text(updated)  # the card itself, updated: not a late delivery


async def test_the_teams_card_updated_in_place_after_an_action_still_says_the_reporter_reported_it(
        teams, bot):  # noqa: F811
    await reporter_reported_it(bot)
    sent = await teams.install(TEAMS_DSL)
    (card,) = [a for a in sent if f"case:{REF}:ack" in str(actions(a))]
    assert "reported it to the platform themselves" in words(card_of(card))
    await teams.press(TEAMS_DSL, card, f"case:{REF}:ack")
    updated = await teams.connector.wait_for(lambda: next(
        (a for a in teams.updates(TEAMS_DSL) if "Acknowledged" in words(card_of(a))), None))
    assert "reported it to the platform themselves" in words(card_of(updated))
