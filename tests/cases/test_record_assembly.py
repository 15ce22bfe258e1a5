"""The record's assembly is a pure function of the case's file and its school: no store, no clock, no package
metadata. `build_record` only reads the file; what it makes is exactly what `assemble_record` makes from it."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.cases.record import CaseFile, assemble_record, build_record, to_markdown
from bot.core.models import CaseEvent
from tests.cases import test_record

closed_case = test_record.closed_case  # the fixture: a case from report to closure
EXPORTED_AT = datetime(2026, 11, 23, 9, 15, tzinfo=timezone.utc)


async def case_file(store, case) -> CaseFile:
    return CaseFile(case=case, events=await store.case_events(case.id), evidence=await store.case_evidence(case.id),
                    staff=await store.list_staff(case.school_id), refusals=await store.refusal_counts(case.id),
                    chain=await store.verify_case_chain(case.id))


async def test_the_record_is_assembled_from_the_case_file_alone_as_build_record_makes_it(bot, closed_case):
    scope = await bot.schools.scope(closed_case.school_id)
    file = await case_file(bot.store, closed_case)
    built = await build_record(bot.store, scope, closed_case, exported_by="console:dsl", fmt="md",
                               exported_at=EXPORTED_AT)
    assembled = assemble_record(scope, file, exported_by="console:dsl", fmt="md", exported_at=EXPORTED_AT,
                                generator=built.exported.generator)
    assert assembled == built
    assert [e.kind for e in assembled.chronology] == [e.kind for e in file.events]
    assert assembled.exported.at.utc == EXPORTED_AT and assembled.school == scope.school.name


async def test_an_event_kind_the_record_does_not_know_is_shown_by_name_never_dropped(bot, closed_case):
    scope = await bot.schools.scope(closed_case.school_id)
    file = await case_file(bot.store, closed_case)
    odd = CaseEvent(case_id=closed_case.id, actor="bot", kind="moon_phase_noted", at=EXPORTED_AT,
                    detail={"phase_name": "waxing gibbous"})
    record = assemble_record(scope, CaseFile(**{**file.__dict__, "events": [*file.events, odd]}),
                             exported_by="console:dsl", fmt="md", exported_at=EXPORTED_AT, generator="test")
    last = record.chronology[-1]
    assert (last.kind, last.position, last.by.id) == ("moon_phase_noted", len(file.events) + 1, "bot")
    assert "Moon phase noted" in last.what
    assert [(f.label, f.value) for f in last.details] == [("Phase name", "waxing gibbous")]
    assert "waxing gibbous" in to_markdown(record, scope.words)
