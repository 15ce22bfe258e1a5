"""A school's own words in a deployment with several schools, on both stores: the DSL's new-case card and the
scheduler's escalation cards (built inside store callbacks, on SQLite's worker thread) and the safeguarding
record (named for the case's school, not the deployment's OSB_SCHOOL_NAME) use the wording in the school's
own content folder."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.app.scheduler import Scheduler
from bot.cases.record import FORMATS, build_record, export_case
from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.markup import to_plain
from bot.core.models import Role, School, StaffMember
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.cases.test_record import flat, pdf_text
from tests.cases.test_scheduler import URGENT_REPORT
from tests.conftest import stored_rows

DEPLOYMENT = "Hillshire County Council"

OVERRIDES = {
    "case.yaml": "case:\n  new_card: |\n    **Hillside: a new report for you, {reference}.** Please acknowledge it.\n",
    "reminders.yaml": (
        "reminders:\n"
        "  escalated: |\n    **Hillside escalation: {reference} is waiting for the safeguarding team.**\n"
        "  escalated_urgent: |\n    **Hillside URGENT escalation: {reference} is waiting.**\n"
    ),
    "record.yaml": "record:\n  title: \"Hillside Academy child-protection record: {reference}\"\n",
}


@pytest.fixture
def settings(db_path) -> Settings:
    return Settings(db=str(db_path), school_name=DEPLOYMENT)


@pytest.fixture
async def schools(store, tmp_path):
    """Hillside (its own wording for the new-case card, escalation and the record) and Oakfield (the shared
    wording), each with a DSL, a deputy, a headteacher and a teacher."""
    messages = tmp_path / "hillside-content" / "messages"
    messages.mkdir(parents=True)
    for name, text in OVERRIDES.items():
        (messages / name).write_text(text, encoding="utf-8")
    await store.upsert_school(School(id="hill", name="Hillside Academy", reference_prefix="HSA",
                                     content_dir=str(messages.parent)))
    await store.upsert_school(School(id="oak", name="Oakfield Primary School", reference_prefix="OAK"))
    for school, prefix in (("hill", "h"), ("oak", "o")):
        for role, who in ((Role.DSL, "dsl"), (Role.DEPUTY_DSL, "deputy"), (Role.HEADTEACHER, "head"),
                          (Role.STAFF, "teacher")):
            await store.upsert_staff(StaffMember(school_id=school, user=f"console:{prefix}{who}", role=role,
                                                 name=f"{prefix} {who}"))
    return store


@pytest.fixture
def county_bot(content, schools, settings, clock) -> Engine:
    return Engine(content, schools, settings, clock=clock)


async def report(bot: Engine, school: str, user: str, steps=STANDARD_REPORT, send: bool = True):
    chat = Chat(bot, user, school=school)
    await walk(chat, list(steps) + ([["send"]] if send else []))
    [case] = await bot.store.list_cases(school, reporter=user)
    return case


def queued(bot: Engine, recipient: str) -> list[tuple[str, str]]:
    """(key, plain text) of the first reply of every message queued for `recipient`, oldest first."""
    rows = sorted((r for r in stored_rows(bot.store, "outbox")
                   if r["kind"] == "message" and r["recipient"] == recipient), key=lambda r: r["created_at"])
    return [(reply["key"], to_plain(reply["text"])) for reply in (json.loads(r["replies"])[0] for r in rows)]


async def test_the_dsls_new_case_card_is_in_the_schools_own_words(county_bot):
    hill = await report(county_bot, "hill", "console:hteacher")
    oak = await report(county_bot, "oak", "console:oteacher")
    assert queued(county_bot, "console:hdsl") == [
        ("case.new_card", f"Hillside: a new report for you, {hill.reference}. Please acknowledge it.")]
    [(key, text)] = queued(county_bot, "console:odsl")
    assert key == "case.new_card" and text.startswith(f"A new report has been routed to you: {oak.reference}.")


async def test_escalation_cards_are_in_the_schools_own_words(county_bot, clock):
    hill = await report(county_bot, "hill", "console:hteacher", URGENT_REPORT, send=False)
    oak = await report(county_bot, "oak", "console:oteacher", URGENT_REPORT, send=False)
    assert hill.urgent and oak.urgent
    await Scheduler(county_bot.store, county_bot.settings, county_bot.schools, county_bot.clock).tick(
        clock() + timedelta(hours=1)
    )

    for who in ("console:hdeputy", "console:hhead"):
        assert (("reminders.escalated_urgent", f"Hillside URGENT escalation: {hill.reference} is waiting.")
                in queued(county_bot, who))
    [oak_escalation] = [
        text for key, text in queued(county_bot, "console:ohead") if key == "reminders.escalated_urgent"
    ]
    assert oak_escalation.startswith(f"URGENT, escalated to you: {oak.reference} hasn't been acknowledged.")


async def test_a_non_urgent_escalation_card_is_in_the_schools_own_words(county_bot, clock):
    hill = await report(county_bot, "hill", "console:hteacher")
    assert not hill.urgent
    await Scheduler(county_bot.store, county_bot.settings, county_bot.schools, county_bot.clock).tick(
        clock() + timedelta(days=21)
    )
    assert (("reminders.escalated", f"Hillside escalation: {hill.reference} is waiting for the safeguarding team.")
            in queued(county_bot, "console:hhead"))


async def test_the_record_names_the_cases_school_in_its_own_words(county_bot):
    hill = await report(county_bot, "hill", "console:hteacher")
    oak = await report(county_bot, "oak", "console:oteacher")

    record = await build_record(
        county_bot.store, await county_bot.schools.scope(hill.school_id), hill, exported_by="console:hdsl", fmt="json"
    )
    assert record.school == "Hillside Academy"
    assert record.title == f"Hillside Academy child-protection record: {hill.reference}"
    other = await build_record(
        county_bot.store, await county_bot.schools.scope(oak.school_id), oak, exported_by="console:odsl", fmt="json"
    )
    assert other.school == "Oakfield Primary School"
    assert other.title == f"Safeguarding record: {oak.reference}"

    for fmt in FORMATS:
        _, data = await export_case(
            county_bot.store, await county_bot.schools.scope(hill.school_id), hill, by="console:hdsl", fmt=fmt
        )
        text = flat(pdf_text(data)) if fmt == "pdf" else data.decode("utf-8")
        assert "Hillside Academy child-protection record" in text and "Hillside Academy" in text, fmt
        assert DEPLOYMENT not in text, fmt
