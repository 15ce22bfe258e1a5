"""The governors' termly report (`cases report --term ...`, bot/governors.py): the term from the school's calendar,
and a PDF with the term's counts and times, its charts, and no names, case text, handles or references."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from pypdf import PdfReader

from bot.cases.governors import governors_report, term_span
from bot.cases.school_calendar import SchoolCalendar
from testing.cli_runner import err, out, run_cli
from tests.cases.test_stats import at, cases, report  # noqa: F401 (cases: the fixture of four cases, Sep to Nov 2026)

HALF_TERMS = SchoolCalendar.model_validate({
    "school_hours": {"days": ["monday"], "start": "08:00", "end": "17:00"},
    "terms": [{"name": "Autumn 1", "start": "2026-09-02", "end": "2026-10-23"},
              {"name": "Autumn 2", "start": "2026-11-02", "end": "2026-12-18"},
              {"name": "Term 3", "start": "2027-01-04", "end": "2027-02-12"},
              {"name": "Term 4", "start": "2027-02-22", "end": "2027-03-26"},
              {"name": "Summer 1", "start": "2027-04-12", "end": "2027-05-28"},
              {"name": "Autumn 1", "start": "2027-09-01", "end": "2027-10-22"}],
})


def pdf_text(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_a_term_is_every_part_of_it_in_the_school_year_asked_for():
    spring = term_span(HALF_TERMS, "spring", 2026, date(2027, 6, 1))
    assert (spring.start, spring.end) == (date(2027, 1, 4), date(2027, 3, 26))  # "Term 3" and "Term 4", by month
    autumn = term_span(HALF_TERMS, "autumn", 2026, date(2027, 6, 1))
    assert (autumn.start, autumn.end) == (date(2026, 9, 2), date(2026, 12, 18))
    assert autumn.months == ["2026-09", "2026-10", "2026-11", "2026-12"]
    # Without a year: the latest such term that has started.
    assert term_span(HALF_TERMS, "autumn", None, date(2027, 9, 2)).school_year == 2027
    assert term_span(HALF_TERMS, "autumn", None, date(2027, 8, 31)).school_year == 2026
    with pytest.raises(LookupError, match="no summer term in the school year 2027-28"):
        term_span(HALF_TERMS, "summer", 2027, date(2027, 9, 2))


@pytest.mark.usefixtures("cases")
async def test_the_report_counts_the_terms_cases_and_names_no_one_and_nothing_anyone_wrote(bot, clock):
    refs = await bot.store.list_cases("default")
    await report(bot, clock, at(2026, 8, 20, 10), ["targeting_staff"], ["facebook"], "@summer_holiday_account",
                 "Reported in the holiday, so not in the autumn term.")  # before the term
    clock.now = at(2026, 12, 1, 9)
    calendar = SchoolCalendar.model_validate({
        "school_hours": {"days": ["monday"], "start": "08:00", "end": "17:00"},
        "terms": [{"name": "Autumn term 2026", "start": "2026-09-02", "end": "2026-12-18"}]})
    span, stats, pdf = await governors_report(bot.store, bot.content, calendar, "default", "Hillside Academy",
                                              "autumn", 2026, now=clock.now)
    assert (span.start, span.end) == (date(2026, 9, 2), date(2026, 12, 18))
    assert stats.total == 4 and stats.by_category == {"targeting_me": 2, "allegation": 1, "school_impersonation": 1,
                                                      "showing_learners": 1}
    text = pdf_text(pdf)
    assert "Hillside Academy: Autumn term 2026-27" in text and "Made on 1 December 2026" in text
    for row in ("Cases reported 4", "Still open 2", "Closed 2", "Targeting the reporter 2", "Showing learners 1",
                "Instagram 2", "TikTok 2", "X (formerly Twitter) 1", "September 2026 1", "October 2026 2",
                "November 2026 1", "December 2026 0",
                "Time until someone picked a case up median 2 hours; 9 in 10 within 5 hours"):
        assert row in text, row
    assert "Facebook" not in text and "Targeting other staff" not in text  # the holiday case is not in the term
    never = ["Jo Brown", "Dana Lee", "console:", "OSB-", "fake_hillside", "hillside.muggies", "@", "instagram.com",
             "Private words", "More private words", "An allegation, in words", "A note, which", "Dealt with"]
    never += [r.reference for r in refs]
    for word in never:
        assert word not in text, word
    assert b"fake_hillside" not in pdf and b"Jo Brown" not in pdf
    assert sum(len(page.images) for page in PdfReader(BytesIO(pdf)).pages) == 1  # the chart


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("cases")
async def test_cases_report_through_the_command_line(db_path):
    proc = run_cli("cases", "report", "--term", "autumn", "--year", "2026", "--db", db_path)
    saved = db_path.parent / "exports" / "governors-autumn-2026.pdf"
    assert str(saved) in out(proc) and saved.stat().st_mode & 0o777 == 0o600
    text = pdf_text(saved.read_bytes())
    assert "Cases reported 4" in text and "Jo Brown" not in text and "OSB-" not in text
    missing = run_cli("cases", "report", "--term", "summer", "--year", "2030", "--db", db_path, expect=1)
    assert "no summer term in the school year 2030-31" in err(missing)
