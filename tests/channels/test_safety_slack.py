"""The safety check through the real Slack channel: signed events as Slack sends them, Block Kit to a fake Web API."""

from __future__ import annotations

from tests.channels.test_slack import DSL, TEACHER, click, say
from tests.channels.test_slack import bot as bot  # noqa: F401  (fixtures)
from tests.channels.test_slack import slack as slack  # noqa: F401
from tests.channels.test_slack import slack_api as slack_api  # noqa: F401


async def test_a_first_slack_message_about_nudes_warns_alerts_and_starts_a_report(slack):
    msgs = await say(slack, TEACHER, "there are nudes of a year 10 girl going round")
    assert "don't view it again" in msgs[0]["text"] and "not your fault" in msgs[0]["text"]
    alert = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    assert "URGENT" in alert[0]["text"] and "Jo Brown" in alert[0]["text"]
    assert "what is happening?" in msgs[-1]["text"]


async def test_a_slack_user_in_crisis_gets_the_lines_and_the_dsl_nothing(slack):
    msgs = await say(slack, TEACHER, "honestly I can't go on")
    text = " ".join(m["text"] for m in msgs)
    assert "116 123" in text and "08000 562 561" in text and "111, option 2" in text
    assert slack.messages_to(DSL) == []


async def test_the_danger_question_answered_with_a_slack_button(slack):
    msgs = await say(slack, TEACHER, "I'm worried a pupil might be at risk")
    assert "Is someone in danger right now?" in msgs[-1]["text"]
    answered = await click(slack, TEACHER, msgs[-1], "safety:danger_yes")
    assert "call 999 now" in answered[0]["text"]
    alert = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    assert "may be in danger" in alert[0]["text"]
