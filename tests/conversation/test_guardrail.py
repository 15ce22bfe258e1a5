"""Possible sexual images of under-18s: never captured, urgent, the DSLs alerted at once."""

from __future__ import annotations

import pytest

from bot.core.models import Attachment
from testing.chat import Chat, walk

SHOT = Attachment(name="shot.png", ref="file:///tmp/shot.png", size=1000, sha256="cd" * 32)


@pytest.mark.parametrize("answer", ["yes", "not_sure"])
async def test_yes_or_not_sure_warns_at_once_and_alerts_the_dsls(chat: Chat, chat_as, answer):
    await walk(chat, ["I'm being targeted", ["showing_learners"]])
    await chat.pick(answer)
    assert chat.keys == ["report.guardrail", "report.guardrail_alerted", "report_concern.platforms.ask"]
    warning = chat.last[0]
    assert warning.urgent
    text = warning.text.lower()
    for word in ("view", "copy", "screenshot", "forward"):
        assert word in text

    # The DSL and deputy are alerted before the report is finished.
    for user in ("console:dsl", "console:deputy"):
        handler = chat_as(user)
        await handler.open()
        alert = handler.reply("case.guardrail_alert")
        assert alert.urgent and "Jo Brown" in alert.text
    head = chat_as("console:head")
    await head.open()
    assert "case.guardrail_alert" not in head.keys


async def test_guardrail_case_refuses_files_records_words_and_is_urgent(chat: Chat, bot, chat_as):
    await walk(
        chat,
        [
            "I need to report something",
            ["showing_learners"],
            ["not_sure"],
            ["snapchat"],
            "https://www.snapchat.com/add/fakeaccount",
            "today",
            "A story with pictures of Year 10 girls",
            ["learners"],
            "skip",
        ],
    )
    assert chat.keys == ["report.evidence_guardrail"]
    await chat.attach(SHOT)
    assert "report.guardrail_no_files" in chat.keys
    await chat.say("Seen at 9pm on a learner's phone, link above")
    await walk(chat, [["done"], ["learners_talking"], ["learner"], "skip"])
    await chat.pick("send")
    assert chat.reply("report.sent_urgent_closed").urgent  # Friday 21:30: school is closed

    (case,) = await bot.store.list_cases("default")
    assert case.urgent
    assert await bot.store.case_evidence(case.id) == []
    assert case.answers["evidence"]["files"] == []
    assert case.answers["evidence"]["notes"] == ["Seen at 9pm on a learner's phone, link above"]
    assert "flagged_urgent" in [e.kind for e in await bot.store.case_events(case.id)]

    dsl = chat_as("console:dsl")
    await dsl.open()
    card = dsl.reply("case.new_card").card
    assert card.urgent and card.title.startswith("URGENT")
    guidance = " ".join(card.guidance).lower()
    assert "police" in guidance and "never" in guidance


async def test_words_in_the_description_trigger_the_guardrail(chat: Chat, bot):
    await walk(chat, ["I'm being targeted", ["targeting_staff"], ["no"], ["instagram"], "skip", "skip"])
    await chat.say("They are sharing nudes of a pupil")
    assert chat.keys[0] == "report.guardrail"
    assert chat.keys[-1] == "report_concern.who_appears.ask"


async def test_files_already_shared_are_dropped_when_the_guardrail_rises(chat: Chat, bot):
    await walk(chat, ["I'm being targeted", ["targeting_staff"], ["no"], ["instagram"], "skip", "skip",
                      "Mocking posts", ["other_staff"], "skip"])
    await chat.attach(SHOT)
    assert chat.keys == ["common.evidence_received"]
    await chat.say("one of the screenshots looks like a naked image of a learner")
    assert chat.keys[:3] == ["report.guardrail", "report.guardrail_alerted", "report.guardrail_files_dropped"]
    await walk(chat, [["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and await bot.store.case_evidence(case.id) == []


async def test_stopping_after_the_alert_reminds_them_to_tell_the_dsl(chat: Chat, bot):
    await walk(chat, ["I'm being targeted", ["showing_learners"], ["yes"]])
    await chat.say("stop")
    await chat.pick("menu:delete")
    assert chat.keys[0] == "report.stopped_after_alert"
    assert await bot.store.list_cases("default") == []


async def test_with_no_one_to_alert_the_reporter_is_sent_to_the_dsl_in_person(content, store, settings, clock):
    from bot.conversation.engine import Engine

    lonely = Chat(Engine(content, store, settings, clock=clock))  # an empty staff directory
    await walk(lonely, ["I'm being targeted", ["showing_learners"]])
    await lonely.pick("yes")
    assert lonely.keys == ["report.guardrail", "report.guardrail_no_one_alerted", "report_concern.platforms.ask"]
    assert "in person now" in lonely.last[1].text and lonely.last[1].urgent


async def test_who_can_be_reached_is_asked_only_when_an_alert_went(content, store, settings, clock, monkeypatch):
    """No alert, no question about who it reached (the store is not asked for nothing)."""
    from bot.conversation.engine import Engine

    engine = Engine(content, store, settings, clock=clock)  # an empty staff directory: no one to alert
    asked: list[list[str]] = []

    async def not_yet_reachable(school_id: str, users: list[str]) -> list[str]:
        asked.append(users)
        return []

    monkeypatch.setattr(engine.casework, "not_yet_reachable", not_yet_reachable)
    lonely = Chat(engine)
    await walk(lonely, ["I'm being targeted", ["showing_learners"]])
    await lonely.pick("yes")
    assert "report.guardrail_no_one_alerted" in lonely.keys and asked == []


# --- who the urgent alert reaches, and how often -----------------------------------------------------------


async def alerts_to(chat_as, user: str) -> list:
    handler = chat_as(user)
    await handler.open()
    return [r for r in handler.last if r.key.startswith("case.guardrail_alert")]


async def test_the_alert_never_reaches_a_handler_the_words_that_raised_it_name(chat: Chat, chat_as):
    await walk(chat, ["I'm being targeted", ["targeting_staff"], ["no"], ["instagram"], "skip", "skip"])
    await chat.say("The account claims Dana Lee shared nude photos of a year 9 pupil")
    assert chat.keys[:2] == ["report.guardrail", "report.guardrail_alerted"]
    assert await alerts_to(chat_as, "console:dsl") == []  # Dana Lee is the DSL
    (alert,) = await alerts_to(chat_as, "console:deputy")
    assert alert.key == "case.guardrail_alert" and "Jo Brown" in alert.text


async def test_an_allegation_alert_holds_who_is_reporting_until_the_report_says_whom_it_is_about(
    bot, chat: Chat, chat_as
):
    await walk(chat, ["I need to report something", ["allegation"]])
    await chat.pick("not_sure")
    assert chat.keys[:2] == ["report.guardrail", "report.guardrail_alerted"]
    assert await alerts_to(chat_as, "console:head") == []  # the case manager, only once it is not about them
    held = {user: await alerts_to(chat_as, user) for user in ("console:dsl", "console:deputy")}
    for user, (alert,) in held.items():
        assert alert.key == "case.guardrail_alert_held" and alert.urgent
        assert "Jo Brown" not in alert.text and "contact" not in alert.text.lower(), user

    await walk(
        chat, [["other_staff"], ["facebook"], "skip", "skip", "Claims about a teacher and a pupil", ["other_staff"]]
    )
    assert await alerts_to(chat_as, "console:dsl") == []  # still held: the names question is still to come
    await chat.say("Sam Patel")  # the deputy is whom it is about
    for user in ("console:dsl", "console:head"):
        (alert,) = await alerts_to(chat_as, user)
        assert alert.key == "case.guardrail_alert" and "Jo Brown" in alert.text
    assert await alerts_to(chat_as, "console:deputy") == []

    await walk(chat, [["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert "console:deputy" not in {r.user for r in case.routed_to}


async def test_an_allegation_about_the_head_alerts_the_chair_with_its_details_never_the_head(chat: Chat, chat_as):
    await walk(chat, ["I need to report something", ["allegation"], ["yes"]])
    await chat.pick("headteacher")
    assert await alerts_to(chat_as, "console:head") == []
    (alert,) = [a for a in await alerts_to(chat_as, "console:chair") if a.key == "case.guardrail_alert"]
    assert "Jo Brown" in alert.text


async def test_one_person_can_send_only_a_few_alerts_an_hour_and_the_rest_wait_for_the_report(
    bot, chat: Chat, chat_as, clock
):
    limit = bot.settings.guardrail_alerts_per_hour
    for _ in range(limit):
        await walk(chat, ["I'm being targeted", ["targeting_me"], ["yes"], "stop", ["menu:delete"]])
    await walk(chat, ["I'm being targeted", ["targeting_me"]])
    await chat.pick("yes")
    assert chat.keys[:2] == ["report.guardrail", "report.guardrail_alert_limited"]
    assert len(await alerts_to(chat_as, "console:dsl")) == limit

    # The report itself still goes, urgent, and its record says the alert was held back.
    await walk(chat, [["instagram"], "skip", "skip", "Pictures of a pupil", ["learners"], "skip", ["done"],
                      ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and case.answers["guardrail"]["alert"] == "limited"
    flagged = next(e for e in await bot.store.case_events(case.id) if e.kind == "flagged_urgent")
    assert flagged.detail["alert"] == "limited"

    clock.advance(hours=1, seconds=1)
    await walk(chat, ["I'm being targeted", ["targeting_me"]])
    await chat.pick("yes")
    assert chat.keys[1] == "report.guardrail_alerted"


async def test_a_draft_alerts_once_however_many_answers_raise_the_guardrail(chat: Chat, chat_as):
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["yes"], ["instagram"], "skip", "skip"])
    await chat.say("nude images of a pupil, and naked ones")
    assert "report.guardrail" not in chat.keys
    assert len(await alerts_to(chat_as, "console:dsl")) == 1
