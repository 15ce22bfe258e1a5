"""The command line, run as a real process: `python -m bot chat | staff | cases | content`.

Every run gets its own database under pytest's tmp_path (never the default ./data), and a clean
environment with no OSB_* settings, so a developer's own configuration cannot leak in.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from testing.cli_runner import err, out, run_cli

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{4}\b")


# --- helpers -------------------------------------------------------------------------------








def turns_of(proc: subprocess.CompletedProcess[bytes]) -> list[list[dict]]:
    """stdout of `chat --json`: exactly one JSON object per line, each {"messages": [...]}."""
    turns = []
    for line in out(proc).splitlines():
        payload = json.loads(line)
        assert list(payload) == ["messages"], line
        for message in payload["messages"]:
            assert {"key", "text", "choices"} <= set(message), message
            assert isinstance(message["text"], str) and message["text"]
            for choice in message["choices"]:
                assert set(choice) == {"id", "label"}, choice
        turns.append(payload["messages"])
    return turns


def chat_json(db: Path, lines: list[str] | bytes, *extra: str, env: dict[str, str] | None = None) -> list[list[dict]]:
    """Feed lines to `chat --json` and return its turns; the opening turn plus one per input line."""
    data = lines if isinstance(lines, bytes) else "".join(f"{line}\n" for line in lines)
    proc = run_cli("chat", "--json", "--db", db, *extra, input=data, env=env)
    assert err(proc) == "", err(proc)
    turns = turns_of(proc)
    if not isinstance(lines, bytes):
        assert len(turns) == 1 + len(lines), [keys(t) for t in turns]
    return turns


def keys(turn: list[dict]) -> list[str]:
    return [m["key"] for m in turn]


def choice_ids(turn: list[dict]) -> list[str]:
    return [c["id"] for m in turn for c in m["choices"]]


def message(turn: list[dict], key: str) -> dict:
    for m in turn:
        if m["key"] == key:
            return m
    raise AssertionError(f"no message {key!r} in {keys(turn)}")


# --- a whole report through the command line, then the DSL and the reporter ------------------

EVIDENCE_BYTES = b"\x89PNG\r\n\x1a\n a screenshot of the fake account, for the test"

# Each input line, and the question the bot should ask next. Choices are given by number, by label
# in odd cases and by id, the three ways a person (or a script) can pick one.
REPORT_SCRIPT: list[tuple[str, list[str]]] = [
    ("I'm being targeted", ["report_concern.categories.ask"]),
    ("2", ["report_concern.images.ask"]),                                  # number: targeting_me
    ("3", ["report_concern.platforms.ask"]),                               # number: no
    ("iNsTaGrAm", ["report_concern.accounts.ask"]),                        # label, any case
    ("@fake_hillside https://www.instagram.com/fake_hillside/?igsh=abc", ["report_concern.first_seen.ask"]),
    ("yesterday", ["report_concern.description.ask"]),
    ("It posts photos of me from the school website with mocking captions.", ["report_concern.who_appears.ask"]),
    ("1, 5", ["report_concern.names.ask"]),                                # numbers: me, school_brand
    ("skip", ["report_concern.evidence.ask"]),
    ('/attach "{evidence}"', ["common.evidence_received"]),                # a path with a space, quoted
    ("done", ["report_concern.others_know.ask"]),                          # id
    ("NO ONE ELSE YET", ["report_concern.behind_it.ask"]),                 # label, upper case
    ("no_idea", ["report_concern.summary.ask"]),                           # id
    ("Send it", ["report.sent"]),                                          # label
]


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A DSL is added, a member of staff reports through `chat --json`, and the cases are listed.

    Only processes run here; the tests below look at what each one printed.
    """
    folder = tmp_path_factory.mktemp("cli_story")
    db = folder / "bot.db"
    evidence = folder / "evidence" / "screen shot.png"
    evidence.parent.mkdir()
    evidence.write_bytes(EVIDENCE_BYTES)

    added = run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--db", db)
    lines = [line.format(evidence=evidence) for line, _ in REPORT_SCRIPT]
    report = run_cli("chat", "--json", "--db", db, input="".join(f"{line}\n" for line in lines))
    found = REFERENCE.findall(out(report))
    if not found:
        pytest.fail(f"no case reference in the report's output:\n{out(report)[-2000:]}\n{err(report)[-2000:]}")
    reference = found[-1]
    listed = run_cli("cases", "list", "--json", "--db", db)
    shown = run_cli("cases", "show", reference, "--json", "--db", db)
    return {"db": db, "evidence": evidence, "added": added, "report": report, "reference": reference,
            "listed": listed, "shown": shown}


def test_chat_json_prints_one_json_line_per_turn_and_ends_cleanly_at_end_of_input(story):
    report = story["report"]
    assert report.returncode == 0
    assert err(report) == ""
    turns = turns_of(report)
    assert len(turns) == 1 + len(REPORT_SCRIPT)
    assert keys(turns[0]) == ["common.greeting", "menu.ask_first"]
    assert choice_ids(turns[0]) == ["menu:report_concern", "menu:privacy_check", "menu:get_support", "menu:my_cases"]
    assert all(c["label"] for m in turns[0] for c in m["choices"])


def test_a_whole_report_can_be_given_by_choice_numbers_labels_and_ids(story):
    turns = turns_of(story["report"])
    assert [keys(t) for t in turns[1:]] == [expected for _, expected in REPORT_SCRIPT]
    categories = message(turns[1], "report_concern.categories.ask")
    assert categories.get("multiple") is True
    assert categories["choices"][1] == {"id": "targeting_me", "label": "An account targeting me"}

    summary = message(turns[-2], "report_concern.summary.ask")["text"]
    assert "An account targeting you" in summary and "the reporter" not in summary.lower()  # in their words
    assert "Instagram" in summary and "https://instagram.com/fake_hillside" in summary
    assert "You, The school's name or logo" in summary
    assert "screen shot.png" in summary

    sent = message(turns[-1], "report.sent")
    assert story["reference"] in sent["text"]
    assert story["reference"].endswith("-0001")


def test_answers_picked_by_number_label_and_id_are_stored_on_the_case(story):
    case = json.loads(out(story["shown"]))
    answers = case["answers"]
    assert answers["categories"] == ["targeting_me"]
    assert answers["images"] == "no"
    assert answers["platforms"] == ["instagram"]
    assert answers["who_appears"] == ["me", "school_brand"]
    assert answers["others_know"] == ["nobody"]
    assert answers["behind_it"] == "no_idea"
    assert {"kind": "url", "value": "https://instagram.com/fake_hillside", "platform": "instagram"} in answers[
        "accounts"
    ]
    assert {"kind": "handle", "value": "@fake_hillside", "platform": None} in answers["accounts"]


def test_an_attached_file_is_recorded_as_evidence_with_its_checksum_and_size(story):
    case = json.loads(out(story["shown"]))
    (evidence,) = case["evidence"]
    assert evidence["name"] == "screen shot.png"
    assert evidence["size"] == len(EVIDENCE_BYTES)
    assert evidence["sha256"] == hashlib.sha256(EVIDENCE_BYTES).hexdigest()
    assert evidence["ref"] == story["evidence"].resolve().as_uri()
    assert evidence["content_type"] == "image/png"
    assert evidence["added_by"] == "console:me"


def test_cases_list_json_gives_each_case_summary(story):
    (case,) = json.loads(out(story["listed"]))
    assert case["reference"] == story["reference"]
    assert case["status"] == "new"
    assert case["urgent"] is False
    assert case["categories"] == ["targeting_me"]
    assert case["reporter"] == "console:me"
    assert case["routed_to"] == ["console:dsl"]
    created = datetime.fromisoformat(case["created_at"])
    assert created.tzinfo is not None
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=10)
    assert story["reference"] == f"OSB-{created.year}-0001"


def test_cases_show_json_includes_the_reported_and_routed_events(story):
    case = json.loads(out(story["shown"]))
    assert case["reference"] == story["reference"]
    assert [r["user"] for r in case["routes"]] == ["console:dsl"]
    events = case["events"]
    assert [e["kind"] for e in events][:2] == ["reported", "routed"]
    assert events[0]["actor"] == "console:me"
    assert [r["user"] for r in events[1]["detail"]["routes"]] == ["console:dsl"]
    assert case["content_version"]


def test_cases_show_of_an_unknown_reference_exits_1(story):
    proc = run_cli("cases", "show", "NOPE", "--db", story["db"], expect=1)
    assert "NOPE" in err(proc)
    assert out(proc) == ""


def test_the_dsl_sees_the_case_card_acknowledges_it_and_the_reporter_is_told(story):
    db, reference = story["db"], story["reference"]
    assert "Dana Lee" in out(story["added"])

    dsl = chat_json(db, [f"case:{reference}:ack"], "--as", "console:dsl")
    card_message = message(dsl[0], "case.new_card")
    card = card_message["card"]
    assert card["reference"] == reference
    assert card["status"] == "New"
    fields = dict(card["fields"])
    assert "Instagram" in fields["Where"]
    assert f"case:{reference}:ack" in [c["id"] for c in card_message["choices"]]

    acknowledged = message(dsl[1], "case.acknowledged")
    assert acknowledged["card"]["status"] == "Acknowledged"
    assert f"case:{reference}:ack" not in [c["id"] for c in acknowledged["choices"]]

    reporter = chat_json(db, [])
    told = message(reporter[0], "case.reporter_acknowledged")
    assert reference in told["text"]

    # Delivered once: opening the chat again brings no second copy.
    again = chat_json(db, [])
    assert "case.reporter_acknowledged" not in keys(again[0])


# --- privacy check and support ---------------------------------------------------------------


def test_privacy_check_walks_a_platform_item_by_item_and_records_the_result(tmp_path):
    db = tmp_path / "bot.db"
    turns = chat_json(db, [
        "menu:privacy_check", "LinkedIn", "done", "Why?", "skip", "2", "In 3 months",
    ])
    assert keys(turns[1]) == ["privacy_check.platforms.ask"]
    assert "linkedin" in choice_ids(turns[1])
    assert keys(turns[2]) == ["privacy.limits", "privacy_check.item.ask"]
    assert "(1 of 3)" in message(turns[2], "privacy_check.item.ask")["text"]
    assert choice_ids(turns[2]) == ["done", "skip", "explain"]
    assert "(2 of 3)" in turns[3][-1]["text"] and keys(turns[3]) == ["privacy_check.item.ask"]
    assert keys(turns[4]) == ["privacy.why", "privacy_check.item.ask"]
    assert "(2 of 3)" in turns[4][-1]["text"]  # "why?" explains and stays on the same item
    assert "(3 of 3)" in turns[5][-1]["text"]
    assert keys(turns[6]) == ["privacy.summary_left", "privacy_check.reminder.ask"]
    assert "1 setting(s) checked" in turns[6][0]["text"] and "2 still to do" in turns[6][0]["text"]
    assert keys(turns[7]) == ["privacy.reminder_set"]

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (platforms, done, skipped), = conn.execute("SELECT platforms, done, skipped FROM privacy_checks").fetchall()
        reminders = conn.execute("SELECT recipient, kind FROM reminders").fetchall()
    assert json.loads(platforms) == ["linkedin"]
    assert len(json.loads(done)) == 1 and len(json.loads(skipped)) == 2
    assert reminders == [("console:me", "privacy_check")]


def test_get_support_gives_the_posh_number_and_other_helplines(tmp_path):
    # In school hours (a Wednesday in term): out of hours, support opens with who answers now (test_support_now.py).
    turns = chat_json(tmp_path / "bot.db", ["menu:get_support", "posh", "2", "That's all, thanks"],
                      env={"OSB_NOW": "2026-11-18T11:00"})
    assert keys(turns[1]) == ["get_support.topic.ask"]
    assert keys(turns[2]) == ["support.posh", "get_support.topic.ask"]
    posh = message(turns[2], "support.posh")["text"]
    assert "0344 381 4772" in posh
    assert "helpline@saferinternet.org.uk" in posh
    assert keys(turns[3]) == ["support.wellbeing", "get_support.topic.ask"]
    assert "08000 562 561" in turns[3][0]["text"]
    assert keys(turns[4]) == ["support.bye"]


# --- the staff directory -------------------------------------------------------------------------


def test_staff_can_be_added_listed_and_removed(tmp_path):
    db = tmp_path / "bot.db"
    added = run_cli("staff", "add", "slack:U012AB3CD", "--role", "deputy_dsl", "--name", "  Sam   Patel ", "--db", db)
    assert "slack:U012AB3CD" in out(added) and "Sam Patel" in out(added)

    listed = json.loads(out(run_cli("staff", "list", "--json", "--db", db)))
    assert listed == [{"user": "slack:U012AB3CD", "role": "deputy_dsl", "roles": ["deputy_dsl"], "name": "Sam Patel",
                       "school_id": "default"}]

    removed = run_cli("staff", "remove", "slack:U012AB3CD", "--db", db)
    assert "removed" in out(removed)
    assert json.loads(out(run_cli("staff", "list", "--json", "--db", db))) == []


def test_a_head_who_is_also_the_dsl_is_added_with_both_roles_and_listed_with_both(tmp_path):
    db = tmp_path / "bot.db"
    added = run_cli("staff", "add", "slack:UHEAD", "--role", "headteacher", "--role", "dsl", "--name", "Alex Morgan",
                    "--db", db)
    assert "Alex Morgan, headteacher and DSL." in out(added)
    (listed,) = json.loads(out(run_cli("staff", "list", "--json", "--db", db)))
    assert listed["roles"] == ["headteacher", "dsl"]
    assert "headteacher,dsl" in out(run_cli("staff", "list", "--db", db))
    # Adding again replaces the roles: they are whatever the last `staff add` gave.
    run_cli("staff", "add", "slack:UHEAD", "--role", "headteacher", "--name", "Alex Morgan", "--db", db)
    (listed,) = json.loads(out(run_cli("staff", "list", "--json", "--db", db)))
    assert listed["roles"] == ["headteacher"]


def test_staff_list_warns_when_an_allegation_about_the_head_has_nowhere_to_go(tmp_path):
    db = tmp_path / "bot.db"
    run_cli(
        "staff", "add", "slack:UHEAD", "--role", "headteacher", "--role", "dsl", "--name", "Alex Morgan", "--db", db
    )
    listed = run_cli("staff", "list", "--db", db)
    assert "warning: No chair of governors" in err(listed) and "allegation about the" in err(listed)
    run_cli("staff", "add", "slack:UCHAIR", "--role", "chair_of_governors", "--name", "Chris Wood", "--db", db)
    assert "warning" not in err(run_cli("staff", "list", "--db", db))


def test_content_check_with_a_database_warns_where_allegations_about_the_head_have_nowhere_to_go(tmp_path):
    db = tmp_path / "bot.db"
    run_cli(
        "staff", "add", "slack:UHEAD", "--role", "headteacher", "--role", "dsl", "--name", "Alex Morgan", "--db", db
    )
    checked = out(run_cli("content", "check", "--db", db))
    assert "default: No chair of governors" in checked
    run_cli("staff", "add", "slack:UCHAIR", "--role", "chair_of_governors", "--name", "Chris Wood", "--db", db)
    assert "No chair of governors" not in out(run_cli("content", "check", "--db", db))


def test_removing_someone_not_in_the_staff_directory_exits_1(tmp_path):
    proc = run_cli("staff", "remove", "teams:nobody", "--db", tmp_path / "bot.db", expect=1)
    assert "teams:nobody" in err(proc) and "not in the staff directory" in err(proc)


def test_a_user_without_a_platform_is_rejected_by_the_argument_parser(tmp_path):
    db = tmp_path / "bot.db"
    proc = run_cli("staff", "add", "nocolon", "--role", "dsl", "--name", "Dana Lee", "--db", db, expect=2)
    assert "PLATFORM:USER" in err(proc)
    assert not db.exists()  # refused before anything was opened or written


# --- content check ---------------------------------------------------------------------------------


def test_content_check_passes_on_the_shipped_content():
    proc = run_cli("content", "check")
    assert out(proc).startswith("Content ")
    assert "each with a source and a checked date" in out(proc)
    assert err(proc) == ""


def _copy_content(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return copy


def _edit_posh(content_dir: Path, change) -> None:
    path = content_dir / "facts" / "helplines.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    posh = next(h for h in data["helplines"] if h["id"] == "posh")
    change(posh)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def test_content_check_names_the_file_and_field_when_a_fact_has_no_source(tmp_path):
    content_dir = _copy_content(tmp_path)
    _edit_posh(content_dir, lambda posh: posh.pop("source"))
    proc = run_cli("content", "check", "--content", content_dir, expect=2)
    assert "Traceback" not in err(proc)
    assert "source" in err(proc) and "posh" in err(proc)
    assert "helplines.yaml" in err(proc)


def test_content_check_names_the_file_and_field_when_a_checked_date_is_not_a_date(tmp_path):
    content_dir = _copy_content(tmp_path)
    _edit_posh(content_dir, lambda posh: posh.update(checked="sometime last autumn"))
    proc = run_cli("content", "check", "--content", content_dir, expect=2)
    assert "Traceback" not in err(proc)
    assert "checked" in err(proc) and "posh" in err(proc)
    assert "helplines.yaml" in err(proc)


def test_content_check_reports_an_impossible_calendar_date_instead_of_crashing(tmp_path):
    content_dir = _copy_content(tmp_path)
    path = content_dir / "facts" / "helplines.yaml"
    text = path.read_text(encoding="utf-8")
    broken = re.sub(r"(?m)^(\s+checked:\s*)\d{4}-\d{2}-\d{2}\s*$", r"\g<1>2026-13-45", text, count=1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    proc = run_cli("content", "check", "--content", content_dir, expect=None)
    assert "Traceback" not in err(proc)
    assert proc.returncode == 2
    assert "helplines.yaml" in err(proc)
