"""Unit tests for bot/core/text.py: reading accounts, dates and choices out of what people type."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.core import dates
from bot.core.dates import read_date
from bot.core.models import Choice
from bot.core.text import clean, contains_phrase, parse_accounts, resolve_choices

TODAY = date(2026, 11, 20)


def values(text: str) -> list[str]:
    accounts, invalid = parse_accounts(text)
    assert invalid == [], f"unexpected invalid links in {text!r}: {invalid}"
    return [a.value for a in accounts]


# --- parse_accounts --------------------------------------------------------------------------


def test_handle_is_found_and_lower_cased():
    accounts, invalid = parse_accounts("It's @Fake_Hillside posting them")
    assert [(a.kind, a.value) for a in accounts] == [("handle", "@fake_hillside")]
    assert invalid == []


def test_url_with_scheme_is_normalised_and_its_platform_named():
    accounts, invalid = parse_accounts("https://www.instagram.com/fake_hillside/")
    assert [a.model_dump() for a in accounts] == [
        {"kind": "url", "value": "https://instagram.com/fake_hillside", "platform": "instagram"}
    ]
    assert invalid == []


def test_url_without_scheme_is_accepted():
    accounts, _ = parse_accounts("instagram.com/fake_hillside")
    assert [(a.kind, a.value, a.platform) for a in accounts] == [
        ("url", "https://instagram.com/fake_hillside", "instagram")
    ]


@pytest.mark.parametrize("raw, expected", [
    ("www.tiktok.com/@fake.page", "https://tiktok.com/@fake.page"),
    ("https://m.facebook.com/someone", "https://facebook.com/someone"),
    ("http://www.x.com/someone", "https://x.com/someone"),
])
def test_www_and_mobile_prefixes_are_stripped(raw, expected):
    assert values(raw) == [expected]


@pytest.mark.parametrize("raw, expected", [
    ("https://www.instagram.com/fake_hillside/?igsh=abc123", "https://instagram.com/fake_hillside"),
    ("https://twitter.com/Someone?s=20&t=xyz", "https://twitter.com/Someone"),
    ("https://www.tiktok.com/@page?_t=8abc&_r=1", "https://tiktok.com/@page"),
])
def test_tracking_query_is_removed(raw, expected):
    assert values(raw) == [expected]


def test_facebook_profile_id_is_kept_but_other_parameters_dropped():
    assert values("https://www.facebook.com/profile.php?id=100012345&ref=share&mibextid=xyz") == [
        "https://facebook.com/profile.php?id=100012345"
    ]


def test_several_accounts_in_one_message():
    accounts, invalid = parse_accounts("It's @one, also https://x.com/two and tiktok.com/@three.")
    assert invalid == []
    assert {(a.kind, a.value) for a in accounts} == {
        ("handle", "@one"), ("url", "https://x.com/two"), ("url", "https://tiktok.com/@three"),
    }
    assert len(accounts) == 3


def test_the_same_account_twice_is_listed_once():
    assert values("@copycat and again @CopyCat") == ["@copycat"]


@pytest.mark.parametrize(
    "text", ["email me at jo.brown@school.org.uk", "jo@school.org", "contact jo@school.org please"]
)
def test_an_email_address_is_not_mistaken_for_a_handle(text):
    accounts, invalid = parse_accounts(text)
    assert accounts == [] and invalid == []


def test_a_single_bare_word_is_taken_as_a_handle():
    accounts, _ = parse_accounts("FakeHillside")
    assert [(a.kind, a.value) for a in accounts] == [("handle", "@fakehillside")]


def test_a_sentence_without_an_account_is_not_a_handle():
    assert parse_accounts("it was a horrible page") == ([], [])


@pytest.mark.parametrize("raw", ["https://not_a_host/x", "https://:80/x", "https:/broken", "https://user@instagram.com/x"])
def test_invalid_links_are_reported_as_invalid(raw):
    accounts, invalid = parse_accounts(raw)
    assert accounts == []
    assert invalid == [raw]


def test_an_invalid_link_beside_a_good_one_is_still_reported():
    accounts, invalid = parse_accounts("https://instagram.com/real and https://not_a_host/x")
    assert [a.value for a in accounts] == ["https://instagram.com/real"]
    assert invalid == ["https://not_a_host/x"]


def test_text_with_no_account_gives_nothing():
    assert parse_accounts("I don't have the link, sorry.") == ([], [])
    assert parse_accounts("") == ([], [])


# --- read_date (bot/dates.py) ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("today", date(2026, 11, 20)),
    ("Today", date(2026, 11, 20)),
    ("yesterday", date(2026, 11, 19)),
    ("3 days ago", date(2026, 11, 17)),
    ("three days ago", date(2026, 11, 17)),
    ("a week ago", date(2026, 11, 13)),
    ("last week", date(2026, 11, 13)),
    ("2 weeks ago", date(2026, 11, 6)),
    ("14/11/2026", date(2026, 11, 14)),
    ("2026-11-01", date(2026, 11, 1)),
    ("14 November", date(2026, 11, 14)),
    ("14th Nov", date(2026, 11, 14)),
    ("1st November 2026", date(2026, 11, 1)),
    ("November 3rd, 2026", date(2026, 11, 3)),
])
def test_parse_date_reads_what_people_type(text, expected):
    assert read_date(text, TODAY) == expected


def test_slashed_dates_are_read_day_first_as_in_the_uk():
    assert read_date("03/04/2026", TODAY) == date(2026, 4, 3)


@pytest.mark.parametrize("text, expected", [
    ("25 December", date(2025, 12, 25)),
    ("25/12", date(2025, 12, 25)),
    ("20 November", date(2026, 11, 20)),  # today itself stays this year
    ("21 November", date(2025, 11, 21)),
])
def test_a_date_without_a_year_that_would_be_in_the_future_is_last_year(text, expected):
    assert read_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["banana", "soon", "31/02/2026", "", "14/13/2026", "idk", "not sure"])
def test_nonsense_is_not_a_date(text):
    assert read_date(text, TODAY) is None


def test_a_future_day_is_read_as_such_so_the_question_can_say_so():
    assert read_date("next tuesday", TODAY) > TODAY


@pytest.mark.parametrize("text, expected", [
    ("Monday", date(2026, 11, 16)),
    ("last Monday", date(2026, 11, 16)),
    ("on monday", date(2026, 11, 16)),
    ("a couple of days ago", date(2026, 11, 18)),
    ("a few days ago", date(2026, 11, 17)),
    ("the other day", date(2026, 11, 18)),
    ("last weekend", date(2026, 11, 14)),
    ("yesterday evening", date(2026, 11, 19)),
    ("earlier today", date(2026, 11, 20)),
    ("sometime last week", date(2026, 11, 13)),
    ("about 2 weeks ago i think", date(2026, 11, 6)),
    ("since tuesday", date(2026, 11, 17)),
])
def test_dates_as_people_say_them(text, expected):
    assert read_date(text, TODAY) == expected


@pytest.mark.parametrize("text", [
    "today", "Yesterday", "yesterday evening", "earlier today", "the other day", "a couple of days ago", "3 days",
    "1 day ago", "10 days ago", "99 days ago", "1 week ago", "2 weeks ago", "a few weeks ago", "99 weeks ago",
])
def test_everyday_answers_are_read_without_dateparser_as_dateparser_reads_them(text, monkeypatch):
    days = [TODAY + timedelta(days=n) for n in range(0, 400, 11)] + [date(2024, 3, 1), date(2028, 1, 1)]
    monkeypatch.setattr(dates, "_everyday", lambda said, today: None)
    by_dateparser = [read_date(text, day) for day in days]
    monkeypatch.undo()

    def no_dateparser(today):
        raise AssertionError(f"dateparser asked to read {text!r}")

    monkeypatch.setattr(dates, "_parser", no_dateparser)
    assert [read_date(text, day) for day in days] == by_dateparser
    assert None not in by_dateparser


def test_half_term_is_read_from_the_school_calendar():
    assert read_date("over half term", TODAY, [date(2026, 10, 26), date(2027, 2, 15)]) == date(2026, 10, 26)
    assert read_date("half term", TODAY, []) is None


# --- resolve_choices -------------------------------------------------------------------------

OFFERED = [
    Choice(id="facebook", label="Facebook"),
    Choice(id="instagram", label="Instagram"),
    Choice(id="tiktok", label="TikTok"),
    Choice(id="x", label="X (formerly Twitter)"),
]
NUMBERED = [c.id for c in OFFERED]


@pytest.mark.parametrize("text, expected", [
    ("instagram", ["instagram"]),          # id
    ("Instagram", ["instagram"]),          # label
    ("TIKTOK", ["tiktok"]),                # label, any case
    ("x (formerly twitter)", ["x"]),       # label with punctuation
    ("2", ["instagram"]),                  # number
    ("4.", ["x"]),
])
def test_one_choice_by_id_label_or_number(text, expected):
    assert resolve_choices(text, OFFERED, NUMBERED, multiple=False) == expected


@pytest.mark.parametrize("text, expected", [
    ("1, 3", ["facebook", "tiktok"]),
    ("1 3", ["facebook", "tiktok"]),
    ("Instagram and TikTok", ["instagram", "tiktok"]),
    ("facebook, instagram and tiktok", ["facebook", "instagram", "tiktok"]),
    ("Facebook & 2", ["facebook", "instagram"]),
    ("2, 2", ["instagram"]),
])
def test_several_choices_when_several_are_allowed(text, expected):
    assert resolve_choices(text, OFFERED, NUMBERED, multiple=True) == expected


@pytest.mark.parametrize("text", ["5", "0", "1, 9", "0001", "02"])  # "0001" is a case's number (OSB-2026-0001)
def test_a_number_out_of_range_or_with_leading_zeros_is_not_a_choice(text):
    assert resolve_choices(text, OFFERED, NUMBERED, multiple=True) is None


def test_several_choices_are_refused_when_only_one_is_allowed():
    assert resolve_choices("1, 3", OFFERED, NUMBERED, multiple=False) is None
    assert resolve_choices("Instagram and TikTok", OFFERED, NUMBERED, multiple=False) is None


def test_text_that_is_not_a_choice_gives_none():
    assert resolve_choices("hello there", OFFERED, NUMBERED, multiple=True) is None
    assert resolve_choices("Instagram and MySpace", OFFERED, NUMBERED, multiple=True) is None
    assert resolve_choices("1", [], [], multiple=False) is None


# --- contains_phrase and clean -------------------------------------------------------------


def test_contains_phrase_matches_the_start_of_a_word():
    assert contains_phrase("someone shared nudes of a pupil", ["nude"]) == "nude"
    assert contains_phrase("Someone is IMPERSONATING me", ["impersonat"]) == "impersonat"


def test_contains_phrase_does_not_match_inside_a_word():
    assert contains_phrase("the frost will denude the trees", ["nude"]) is None


def test_contains_phrase_matches_several_words_across_punctuation():
    assert contains_phrase("A learner is in danger!", ["in danger"]) == "in danger"
    assert contains_phrase("we're fine, no danger", ["in danger"]) is None


def test_clean_strips_control_and_zero_width_characters():
    assert clean("  he\u200bllo\x00 wor\u202eld\ufeff \r\n") == "hello world"
    assert clean("a\u2060b\x07c") == "abc"


def test_clean_keeps_newlines_and_normalises_line_endings():
    assert clean("first\r\nsecond\rthird") == "first\nsecond\nthird"


def test_clean_of_nothing_is_empty():
    assert clean(None) == ""
    assert clean("\u200b \u200d") == ""


def test_clean_strips_c1_controls_and_bidirectional_isolates():
    # U+009B is a terminal's CSI; U+2066-2069 isolates and U+061C reorder what a record shows ("Trojan source").
    assert clean("Jo\x9b31m Brown\x85") == "Jo31m Brown"
    assert clean("\u2067nworB oJ\u2069 and \u2066Dana\u2068 Lee\u061c") == "nworB oJ and Dana Lee"
    assert clean("caf\u00e9 \u00a0ok") == "caf\u00e9 \u00a0ok"  # printable Latin-1 is kept


# --- linear reading of hostile input ----------------------------------------------------------


def test_a_link_is_read_only_from_the_start_of_a_run_of_host_characters():
    """What keeps the link pattern linear: it is tried from the start of each run of host-like characters, never
    from inside one, so a run of thousands of dotted labels is scanned once, not once from each position."""
    assert parse_accounts("x..instagram.com/fake") == ([], [])
    assert values("(instagram.com/fake), tiktok.com/@fake") == ["https://instagram.com/fake", "https://tiktok.com/@fake"]


@pytest.mark.parametrize("hostile", ["a-." * 1333, "a." * 2000, ("a" * 60 + ".") * 65, "x.y" * 1333])
def test_dotted_runs_as_long_as_a_message_hold_no_account(hostile):
    assert parse_accounts(hostile) == ([], [])


def test_choices_separated_by_any_spacing_are_read_and_long_spacing_is_not_a_choice():
    offered = [Choice(id="instagram", label="Instagram"), Choice(id="tiktok", label="TikTok")]
    assert resolve_choices("Instagram ,   TikTok", offered, ["instagram", "tiktok"], True) == ["instagram", "tiktok"]
    assert resolve_choices("Instagram\n\nand\tTikTok", offered, ["instagram", "tiktok"], True) == [
        "instagram",
        "tiktok",
    ]
    # A run of spaces as long as a message: the separator pattern has no repeat to rescan it from each position.
    assert resolve_choices("1" + " " * 3998 + "x", offered, ["instagram", "tiktok"], True) is None
