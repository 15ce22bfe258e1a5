"""A school's own content folder, merged over the shared content: its LADO, its front door, its words."""

from __future__ import annotations

import pytest

from bot.core.content import ContentError, load_content


def write(folder, relative: str, text: str):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


LOCAL_CONTACTS = """
helplines:
  - id: lado
    name: "the Kent LADO team (03000 410888)"
    phone: "03000 410888"
    source: https://www.kelsi.org.uk/
    checked: 2026-11-20
"""


def test_a_school_sets_its_own_lado_and_keeps_every_other_fact(tmp_path, content):
    write(tmp_path, "facts/helplines.yaml", LOCAL_CONTACTS)
    local = load_content(overlay=tmp_path)
    assert local.facts.helplines["lado"].name == "the Kent LADO team (03000 410888)"
    assert local.facts.helplines["lado"].who_for == content.facts.helplines["lado"].who_for
    assert local.facts.helplines["posh"] == content.facts.helplines["posh"]
    assert "the Kent LADO team (03000 410888)" in local.text("support.in_school", people="Dana Lee")
    assert local.version != content.version  # a case records that it saw the school's wording


def test_a_school_can_reword_one_message_and_add_a_contact(tmp_path, content):
    write(tmp_path, "messages/support.yaml", "support:\n  bye: See you soon.\n")
    write(tmp_path, "facts/helplines.yaml", """
helplines:
  - id: trust_safeguarding
    name: Oak Trust safeguarding team
    who_for: Our trust's safeguarding lead for all our schools.
    phone: "01234 567890"
    source: https://example.org/trust
    checked: 2026-11-20
""")
    local = load_content(overlay=tmp_path)
    assert local.text("support.bye") == "See you soon."
    assert local.text("support.posh") == content.text("support.posh")
    assert (
        "trust_safeguarding" in local.facts.helplines and len(local.facts.helplines) == len(content.facts.helplines) + 1
    )


def test_a_misnamed_file_in_the_schools_folder_is_an_error_naming_it(tmp_path):
    write(tmp_path, "facts/helpline.yaml", LOCAL_CONTACTS)
    with pytest.raises(ContentError, match="helpline.yaml: there is no content file of that name"):
        load_content(overlay=tmp_path)


def test_a_schools_change_that_breaks_a_fact_is_an_error_naming_the_field(tmp_path):
    write(tmp_path, "facts/helplines.yaml", "helplines:\n  - id: lado\n    source: not a link\n")
    with pytest.raises(ContentError, match="lado.source"):
        load_content(overlay=tmp_path)


def test_a_missing_school_folder_is_an_error(tmp_path):
    with pytest.raises(ContentError, match="does not exist"):
        load_content(overlay=tmp_path / "nowhere")


def test_a_school_cannot_change_the_flows_and_may_keep_its_term_dates_beside_its_words(tmp_path):
    write(tmp_path, "school_calendar.yaml", "anything: here\n")
    write(tmp_path, "messages/support.yaml", "support:\n  bye: See you soon.\n")
    assert load_content(overlay=tmp_path).text("support.bye") == "See you soon."
    write(tmp_path, "flows/report_concern.yaml", "steps: []\n")
    with pytest.raises(ContentError, match="changes only messages/ and facts/"):
        load_content(overlay=tmp_path)


ALIAS_BOMB = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
support: {bye: [*d, *d, *d, *d, *d, *d, *d, *d, *d]}
"""


def test_a_schools_folder_may_not_use_yaml_aliases_so_an_alias_bomb_is_refused_at_once(tmp_path):
    write(tmp_path, "messages/support.yaml", ALIAS_BOMB)
    with pytest.raises(ContentError, match=r"support.yaml: not valid YAML: aliases \(\*name\) are not allowed"):
        load_content(overlay=tmp_path)


def test_a_schools_file_over_the_size_cap_is_refused_unread(tmp_path):
    write(tmp_path, "messages/support.yaml", "support:\n  bye: " + "x" * (600 * 1024) + "\n")
    with pytest.raises(ContentError, match="support.yaml: larger than 512 KB"):
        load_content(overlay=tmp_path)
