"""The safety check through the real Teams channel: activities as Teams sends them, cards to a fake connector."""

from __future__ import annotations

from testing.teams_harness import question, text
from tests.channels.test_teams import DSL, REF, TEACHER, file_attachment, open_form, sent_case
from tests.channels.test_teams import bot as bot  # noqa: F401  (fixtures)
from tests.channels.test_teams import connector as connector  # noqa: F401
from tests.channels.test_teams import pytestmark as pytestmark  # noqa: F401  (the same marks as the Teams tests)
from tests.channels.test_teams import teams as teams  # noqa: F401


async def test_a_first_teams_message_about_a_deepfake_warns_alerts_and_starts_a_report(teams):
    await teams.install(DSL)
    msgs = await teams.say(TEACHER, "a year 9 boy made a deepfake of a girl in his class")
    assert "don't view it again" in text(msgs[0]) and "not your fault" in text(msgs[0])
    alert = teams.to(DSL)[-1]
    assert "URGENT" in text(alert) and "Jo Brown" in text(alert)
    assert question(msgs[-1]) == "report_concern.categories"


async def test_teams_files_shared_before_the_guardrail_are_named_on_the_dsls_card(teams, bot):
    await teams.install(DSL)
    (msg,) = await teams.say(TEACHER, "I'm being targeted")
    (msg,) = await teams.tick(TEACHER, msg, ["targeting_staff"])
    msgs = await teams.press(TEACHER, msg, "no")
    (msg,) = await teams.tick(TEACHER, msgs[-1], ["instagram"])
    for said in ("skip", "skip", "Mocking posts"):
        (msg,) = await teams.say(TEACHER, said)
    (msg,) = await teams.tick(TEACHER, msg, ["other_staff"])
    (msg,) = await teams.say(TEACHER, "skip")
    teams.connector.files["/files/shot.png"] = 1000
    await teams.say(TEACHER, "", attachments=[file_attachment(teams, "shot.png")])
    msgs = await teams.say(TEACHER, "one of the screenshots is a naked picture of a pupil")
    dropped = next(m for m in msgs if "shared earlier" in text(m))
    assert "Microsoft Teams" in text(dropped)
    assert await bot.store.get_case("default", REF) is None  # not sent yet: the DSLs are alerted, the report goes on
    assert "URGENT" in text(teams.to(DSL)[-1])


async def test_a_teams_note_form_with_a_threat_shows_the_guidance_and_saves_the_note(teams, bot):
    card = await sent_case(teams)
    form = await open_form(teams, card, "note")
    done = await teams.fill(DSL, form, {"note": "The account now says it is going to stab Mr Jones"})
    assert any("call 999 now" in text(m) for m in done)
    assert any("note has been added" in text(m) for m in done)
    case = await bot.store.get_case("default", REF)
    assert [e.detail for e in await bot.store.case_events(case.id) if e.kind == "note_added"] == [
        {"note": "The account now says it is going to stab Mr Jones"}]
