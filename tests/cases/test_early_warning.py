"""Early warning across schools: what is kept from each case, and when a group of sightings is an alert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.cases.early_warning import find_alerts, name_pattern, pattern_key, sightings
from bot.core.text import parse_accounts

T0 = datetime(2026, 11, 2, 20, 0, tzinfo=timezone.utc)


def accounts(text: str) -> list[dict]:
    found, invalid = parse_accounts(text)
    assert not invalid
    return [a.model_dump() for a in found]


@pytest.mark.parametrize("text, key", [
    ("https://www.instagram.com/Hillside_Muggies/?igsh=abc", "@hillside_muggies"),
    ("instagram.com/hillside_muggies", "@hillside_muggies"),
    ("https://m.tiktok.com/@oakfield.rumours", "@oakfield.rumours"),
    ("https://www.snapchat.com/add/hill_muggs", "@hill_muggs"),
    ("@Hillside_Muggies", "@hillside_muggies"),
    # A group or a page by its id is kept by its link: the same link from two schools is the same page.
    ("https://www.facebook.com/groups/oakfieldtea", "https://facebook.com/groups/oakfieldtea"),
    ("https://www.facebook.com/profile.php?id=1000123&ref=share", "https://facebook.com/profile.php?id=1000123"),
])
def test_the_same_account_written_differently_is_one_sighting(text, key):
    assert [s.account for s in sight("hill", "Hillside Academy", text)] == [key]


def test_a_link_to_a_post_is_kept_by_its_address_and_has_no_pattern():
    [post] = sight("hill", "Hillside Academy", "https://www.instagram.com/p/Cx1abc/")
    assert (post.account, post.platform, post.pattern) == ("https://instagram.com/p/Cx1abc", "instagram", None)


@pytest.mark.parametrize("account, school, pattern", [
    ("@hillside_muggies", "Hillside Academy", "muggies"),
    ("@hillsideacademy.muggs22", "Hillside Academy", "muggs"),
    ("@ha_muggies", "Hillside Academy", "muggies"),  # the school's initials
    ("@oakfield_primary_rumours", "Oakfield Primary School", "rumours"),
    ("@stmarys_confessions", "St Mary's Catholic College", "confessions"),
    ("@hillside_x", "Hillside Academy", None),  # too little left to be a pattern
    ("https://facebook.com/profile.php?id=1000123", "Hillside Academy", None),  # a link has no name to read
])
def test_the_pattern_is_the_handle_without_the_schools_own_name(account, school, pattern):
    assert name_pattern(account, school) == pattern


def sight(school: str, name: str, text: str, hours: float = 0, case: str | None = None):
    return sightings(school, name, case or f"{school}-case", {"accounts": accounts(text)}, T0 + timedelta(hours=hours))


def test_one_account_reported_by_two_schools_is_one_account_alert():
    seen = sight("hill", "Hillside Academy", "@fake_staff_page")
    assert find_alerts(seen) == []
    # The same name as a link on Instagram, from another school: the same account.
    seen += sight("oak", "Oakfield Primary", "https://instagram.com/Fake_Staff_Page/", hours=2)
    [alert] = find_alerts(seen)
    assert (alert.kind, alert.key, alert.schools, alert.reports) == ("account", "@fake_staff_page", ["hill", "oak"], 2)


def test_the_same_pattern_under_each_schools_name_is_a_pattern_alert():
    seen = sight("hill", "Hillside Academy", "instagram.com/hillside_muggies") + \
        sight("oak", "Oakfield Primary", "tiktok.com/@oakfield.muggs2", hours=5) + \
        sight("ash", "Ash Grove School", "@ashgrove_muggies", hours=9)
    [alert] = find_alerts(seen)
    assert alert.kind == "pattern" and alert.key == "muggies"
    assert alert.schools == ["hill", "oak", "ash"] and alert.reports == 3
    assert alert.variants == ["@hillside_muggies", "@oakfield.muggs2", "@ashgrove_muggies"]
    assert (alert.first_seen, alert.last_seen) == (T0, T0 + timedelta(hours=9))


def test_reports_within_one_school_are_not_an_alert_however_many():
    seen = [s for i in range(5) for s in sight("hill", "Hillside Academy", "@hillside_muggies", i, f"c{i}")]
    assert find_alerts(seen) == []


def test_unrelated_patterns_are_not_grouped():
    seen = sight("hill", "Hillside Academy", "@hillside_muggies") + sight("oak", "Oakfield Primary", "@oakfield_sports")
    assert find_alerts(seen) == []


def test_a_sighting_keeps_no_case_detail():
    [s] = sight("hill", "Hillside Academy", "@hillside_muggies")
    assert set(s.model_dump()) == {"school_id", "case_id", "account", "pattern", "pattern_key", "platform", "seen_at"}


@pytest.mark.parametrize("variants", [("muggies", "muggs", "mugies", "mugggies"), ("rumours", "rumors"),
                                      ("confessions", "confesions")])
def test_variants_of_one_name_share_a_pattern_key(variants):
    assert len({pattern_key(v) for v in variants}) == 1


@pytest.mark.parametrize("a, b", [("muggies", "mags"), ("muggies", "muggiesofficial"), ("sports", "spirits")])
def test_other_names_have_other_pattern_keys(a, b):
    assert pattern_key(a) != pattern_key(b)
