"""When something was first seen, the way people say it: dateparser, read day first as in the UK and always in
the past ("Monday" is the last Monday), after a few everyday phrases it does not know are put in its words ("a
couple of days ago", "last weekend", "earlier today"), and "half term" from the school calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from dateparser.date import DateDataParser

from bot.core.text import plain

_SETTINGS: dict[str, Any] = {"DATE_ORDER": "DMY", "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}

# Everyday phrases, in dateparser's words. Applied in order to the normalised text.
_IDIOMS = [
    (r"\b(?:a|an) couple of\b|\bcouple of\b|\ba couple\b", "2"),
    (r"\b(?:a )?few\b|\bseveral\b", "3"),
    (r"\bthe other day\b", "2 days ago"),
    (r"\b(?:last|over the|at the|this past|the) weekend\b|\bweekend\b", "saturday"),
    (r"\b(?:earlier|this) (?:today|morning|afternoon|evening)\b|\btonight\b", "today"),
    (r"\b(?:yesterday|last) (?:morning|afternoon|evening|night)\b", "yesterday"),
    (r"\b(?:sometime|some time|at some point|earlier|early|late|towards the end of) (?=last|this)", ""),
    (r"\b(?:about|around|roughly|approximately|approx|maybe|probably|i think|i guess|it was|since|from|on|"
     r"first seen|i first saw it|i saw it|started|it started|began|only)\b", " "),
    (r"\b(\d+) (day|week|month|year)s?$", r"\1 \2s ago"),
]
# A day written out ("14/11/2026", "14th of November"), set aside before a date is judged rough ("14 nov" is not).
_SAID_DAY = re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")
_HALF_TERM = re.compile(r"\bhalf ?term\b")
# Where a longer message says when: the phrases read_date can take, found inside it.
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_SAID_WHEN = re.compile(
    rf"\b(?:today|yesterday(?: \w+)?|last night|this (?:morning|afternoon|evening)|earlier today|tonight|"
    rf"(?:last|this) (?:week|weekend|month)|(?:over|at) the weekend|the other day|half ?term|"
    rf"(?:last |on |since )?{_WEEKDAY}|"
    rf"(?:\d+|a|an|one|two|three|a few|a couple of|couple of|several) (?:days?|weeks?|months?) ago|"
    rf"\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH})\b")


# What makes a date said a rough one: a hedge, a span ("last week", "a few days ago"), or a time of year.
_ROUGH = re.compile(
    r"\b(?:maybe|about|around|roughly|approx\w*|probably|i think|i guess|not sure|sometime|some time|at some point|"
    r"few|couple|several|the other day|weekend|weeks?|months?|years?|half ?term|ish|or so|early|late|earlier)\b")


def rough_key(step_id: str) -> str:
    """The answer beside a date step's that says it was given roughly ("first_seen_approximate")."""
    return f"{step_id}_approximate"


def is_rough(text: str) -> bool:
    """Whether a date is said roughly ("maybe last week", "a few days ago"), not as a day ("yesterday", "Monday",
    "3 days ago", "14/11/2026"): the report then says "around" the day it was read as."""
    said = plain(text)
    return bool(_ROUGH.search(_SAID_DAY.sub(" ", said)))


# The commonest answers once the idioms are applied ("yesterday evening", "the other day", "3 days"), read as
# dateparser reads them (tests/core/test_text.py compares the two) without its cost of about a million instructions.
_DAYS_BACK = {"today": 0, "yesterday": 1}
_SOME_DAYS_AGO = re.compile(r"([1-9][0-9]?) (day|week)s? ago")


def _everyday(said: str, today: date) -> date | None:
    """The day an everyday answer means ("yesterday", "3 days ago", "2 weeks ago"), or None for anything else."""
    if said in _DAYS_BACK:
        return today - timedelta(days=_DAYS_BACK[said])
    found = _SOME_DAYS_AGO.fullmatch(said)
    if found is None:
        return None
    return today - timedelta(days=int(found.group(1)) * (7 if found.group(2) == "week" else 1))


@lru_cache(maxsize=4)
def _parser(today: date) -> DateDataParser:
    """dateparser's parser for dates said on `today`, made once a day: making one costs twice what it reads."""
    return DateDataParser(languages=["en"], settings={**_SETTINGS, "RELATIVE_BASE": datetime.combine(today, time(12))})


def read_date(text: str, today: date, half_terms: list[date] | None = None) -> date | None:
    """The day `text` means, or None. `half_terms`: the first days of the school's half terms."""
    said = plain(text)
    if _HALF_TERM.search(said):
        started = [d for d in half_terms or [] if d <= today]
        return max(started) if started else None
    for pattern, words in _IDIOMS:
        said = re.sub(pattern, words, said)
    said = " ".join(said.split())
    if not said or not re.search(r"[a-z0-9]", said):
        return None
    everyday = _everyday(said, today)
    if everyday is not None:
        return everyday
    parsed = _parser(today).get_date_data(said).date_obj
    if parsed is None:  # a day said among other words: "not sure when, maybe last week"
        found = _SAID_WHEN.search(plain(text))
        return read_date(found.group(0), today, half_terms) if found and found.group(0) != text else None
    return parsed.date()


def when_said(text: str) -> str:
    """The words in a longer message that say when ("... since Monday ..." says "since monday"), or ""."""
    found = _SAID_WHEN.search(plain(text))
    return found.group(0) if found else ""


def find_date(text: str, today: date, half_terms: list[date] | None = None) -> date | None:
    """A day said somewhere in a longer message ("... since Monday ..."), if it is in the past."""
    said = when_said(text)
    if not said:
        return None
    day = read_date(said, today, half_terms)
    return day if day is not None and day <= today else None


def half_term_starts(calendar: Any) -> list[date]:
    """The first days of the half terms in a school calendar (bot/cases/school_calendar.py)."""
    return [c.start for c in calendar.closures if "half term" in c.name.lower()]
