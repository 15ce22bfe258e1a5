"""The safeguarding record (`cases export`) and the tamper-evident event log (`cases verify`).

A case is taken from report to closure in process (the `Chat` of conftest), then exported in each format
and read back: JSON against its schema, Markdown as text, the PDF's text through pypdf. The event log is
then tampered with as someone with the database file could (dropping the append-only triggers first), and
`verify` must name the event where the chain breaks. The command line runs as a real process.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

import jsonschema
import pytest
from pypdf import PdfReader

from bot.cases.record import FORMATS, SafeguardingRecord, build_record, export_case, pdf_safe, record_schema, render
from bot.core.models import Attachment, CaseEvent, Role, StaffMember
from bot.store import SQLiteStore
from testing import cli_runner
from testing.chat import Chat, walk

ROOT = Path(__file__).resolve().parents[2]
REF = "OSB-2026-0001"
NOTE = "Spoke to Zoë — she is OK 👍 <b>not html</b> *not bold*"
PLATFORM_REF = "IG-REPORT-778812"
CLOSING_NOTE = "Instagram removed the account after POSH escalated it."
CLOSING_REASON = "The account is gone and the reporter is supported."
SHOT = Attachment(name="shot.png", ref="file:///evidence/shot.png", size=2048, sha256="ab" * 32,
                  content_type="image/png")
KINDS = ["reported", "routed", "acknowledged", "reporter_told", "note_added", "action_recorded", "closed",
         "reporter_told"]





def run_cli(*args, env=None, **kwargs):
    """The command line as a process, with the school's name set as in the other tests."""
    return cli_runner.run_cli(*args, env={"OSB_SCHOOL_NAME": "Hillside Academy", **(env or {})}, **kwargs)


# --- a case from report to closure -------------------------------------------------------


@pytest.fixture
async def closed_case(bot, clock, report_steps):
    """Reported at 21:30 UTC on 20 November 2026 (GMT), acknowledged, a note, a platform report the next
    morning with its reference, and closed two days later with an outcome and a note."""
    await bot.store.upsert_staff(StaffMember(user="console:teacher", role=Role.STAFF, name="Zoë Brown"))
    reporter = Chat(bot, "console:teacher")
    await walk(reporter, report_steps[:9])
    await reporter.attach(SHOT)
    await walk(reporter, report_steps[9:] + [["send"]])
    assert reporter.reply("report.sent")

    dsl = Chat(bot, "console:dsl")
    clock.advance(minutes=5)
    await dsl.open()
    await dsl.pick(f"case:{REF}:ack")
    assert "case.acknowledged" in dsl.keys
    clock.advance(minutes=10)
    await dsl.pick(f"case:{REF}:note")
    await dsl.say(NOTE)
    assert dsl.keys == ["case.note_added"]
    clock.advance(hours=10, minutes=45)  # 08:30 the next morning
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick("reported_to_platform")
    await dsl.say(PLATFORM_REF)
    assert dsl.keys == ["case.action_recorded"]
    clock.advance(days=2)
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("content_removed")
    await dsl.say(CLOSING_NOTE)
    if "case_close.open_items_reason.ask" in dsl.keys:  # required items of the case plan still open
        await dsl.say(CLOSING_REASON)
    assert "case.closed" in dsl.keys, dsl.keys
    case = await bot.store.get_case("default", REF)
    assert case.status.value == "closed"
    return case


async def export(bot, case, fmt: str, clock) -> tuple[SafeguardingRecord, bytes]:
    clock.advance(hours=1)
    return await export_case(
        bot.store, await bot.schools.scope(case.school_id), case, by="console:dsl", fmt=fmt, now=clock()
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def in_order(text: str, *needles: str) -> bool:
    at = -1
    for needle in needles:
        found = text.find(needle, at + 1)
        if found < 0:
            return False
        at = found
    return True


# --- JSON ----------------------------------------------------------------------------------


async def test_json_record_has_the_facts_and_matches_its_schema(bot, closed_case, clock):
    record, data = await export(bot, closed_case, "json", clock)
    exported = json.loads(data)
    schema = json.loads((ROOT / "docs" / "record.schema.json").read_text(encoding="utf-8"))
    assert schema == json.loads(json.dumps(record_schema())), "docs/record.schema.json is stale: regenerate it"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(exported)

    assert exported["school"] == "Hillside Academy" and exported["reference"] == REF
    assert exported["status"] == {"code": "closed", "label": "Closed"}
    assert exported["urgent"] is False and exported["urgency"] == "Not marked urgent"
    assert exported["reported_by"]["display"] == "Zoë Brown (staff, console:teacher)"
    assert exported["reported_at"]["utc"] == "2026-11-20T21:30:00Z"
    summary = {f["label"]: f["value"] for f in exported["summary"]}
    assert summary["What is happening"] == "Targeting the reporter"
    assert summary["Where"] == "Instagram"
    assert "@fake_hillside" in summary["Account or links"]
    assert summary["First seen"] == "19 November 2026"
    assert summary["Evidence"].startswith("1 file(s): shot.png")

    assert [(r["person"]["id"], r["reason_code"]) for r in exported["routed_to"]] == [
        ("console:dsl", "dsl"), ("console:deputy", "deputy_dsl")]
    assert exported["routed_to"][0]["reason"] == "they are the Designated Safeguarding Lead."

    (action,) = exported["actions"]
    assert action["what"] == "Action recorded: Reported to the platform"
    assert {"label": "Platform's reference", "value": PLATFORM_REF} in action["details"]
    assert action["by"]["name"] == "Dana Lee" and action["by"]["id"] == "console:dsl"
    assert exported["outcome"] == {"code": "content_removed", "label": "Content or account removed"}
    assert {"label": "Closing note", "value": CLOSING_NOTE} in exported["closed"]["details"]
    closing = {f["label"]: f["value"] for f in exported["closed"]["details"]}
    if "Required plan items still open" in closing:  # worded from the case plan, never its item ids
        assert "." not in closing["Required plan items still open"].split(":")[0]
        assert closing["Reason"] == CLOSING_REASON
    assert exported["plan"] and {line["done"] for line in exported["plan"]} == {True, False}

    (evidence,) = exported["evidence"]
    assert (evidence["name"], evidence["ref"], evidence["size"], evidence["sha256"]) == (
        "shot.png", "file:///evidence/shot.png", 2048, "ab" * 32)
    assert exported["content_version"] == closed_case.content_version == bot.content.version
    assert exported["integrity"]["intact"] is True and exported["integrity"]["problems"] == []
    assert exported["exported"]["by"]["id"] == "console:dsl" and exported["exported"]["format"] == "json"


async def test_the_chronology_has_every_event_in_order_with_utc_and_uk_times(bot, closed_case, clock):
    record, _ = await export(bot, closed_case, "json", clock)
    events = await bot.store.case_events(closed_case.id)
    chronology = record.chronology
    assert [e.kind for e in chronology] == [e.kind for e in events] == KINDS + ["record_exported"]
    assert [e.position for e in chronology] == list(range(1, len(events) + 1))
    assert [e.at.utc for e in chronology] == sorted(e.at.utc for e in chronology)
    first, ack, note, action = chronology[0], chronology[2], chronology[4], chronology[5]
    assert first.at.utc == datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)
    assert (first.at.uk.hour, first.at.uk_zone) == (21, "GMT")  # UK time is GMT in November
    assert ack.at.utc.minute == 35 and ack.by.display == "Dana Lee (DSL, console:dsl)"
    assert note.what == "Note added" and note.details[0].value == NOTE  # exactly as typed
    assert action.at.utc == datetime(2026, 11, 21, 8, 30, tzinfo=timezone.utc)
    assert chronology[1].what == "Sent to the safeguarding team"
    assert chronology[3].what == "The reporter was told: their report has been picked up"
    assert chronology[-1].what == "Safeguarding record made (JSON)" and chronology[-1].by.id == "console:dsl"
    assert [e.hash for e in chronology] == [e.hash for e in events] and record.integrity.head == events[-1].hash


async def test_uk_time_is_bst_in_summer(bot, clock, report_steps):
    clock.now = datetime(2026, 7, 1, 8, 0, tzinfo=timezone.utc)
    await walk(Chat(bot), report_steps + [["send"]])
    case = await bot.store.get_case("default", REF)
    record = await build_record(
        bot.store,
        await bot.schools.scope(case.school_id),
        case,
        exported_by="console:dsl",
        fmt="md",
        exported_at=clock(),
    )
    assert record.reported_at.uk_zone == "BST" and record.reported_at.uk.hour == 9
    text = render(record, bot.content).decode()
    assert "2026-07-01 08:00:00 UTC (1 July 2026, 09:00:00 BST UK time)" in text


# --- Markdown and PDF ------------------------------------------------------------------------


async def test_markdown_record_reads_back_with_the_facts_in_order(bot, closed_case, clock):
    _, data = await export(bot, closed_case, "md", clock)
    text = data.decode("utf-8")
    assert text.startswith(f"# Safeguarding record: {REF}\n")
    for fact in ("**School:** Hillside Academy", f"**Reference:** {REF}", "**Status:** Closed",
                 "**Urgency:** Not marked urgent", "Zoë Brown (staff, console:teacher)",
                 "2026-11-20 21:30:00 UTC (20 November 2026, 21:30:00 GMT UK time)",
                 f"**Platform's reference:** {PLATFORM_REF}", "**Outcome:** Content or account removed",
                 "Dana Lee (DSL, console:dsl): they are the Designated Safeguarding Lead.",
                 "**SHA-256:** " + "ab" * 32, "shot.png", bot.content.version):
        assert fact in text, fact
    # what the DSL typed is literal text in the Markdown, never markup
    assert r"Spoke to Zoë — she is OK 👍 \<b\>not html\</b\> \*not bold\*" in text
    assert in_order(text, "## Chronology", "### 1\\. Report made", "### 3\\. Acknowledged", "### 5\\. Note added",
                    "### 6\\. Action recorded: Reported to the platform", "### 7\\. Closed: Content or account removed",
                    "### 9\\. Safeguarding record made (Markdown)", "## Evidence", "## Integrity")
    assert "Intact: all 9 events match their hashes" in text


async def test_pdf_record_reads_back_with_pypdf(bot, closed_case, clock):
    record, data = await export(bot, closed_case, "pdf", clock)
    assert data.startswith(b"%PDF-")
    text = flat(pdf_text(data))
    for fact in (f"Safeguarding record: {REF}", "Hillside Academy", "Closed", "Not marked urgent",
                 "Zoë Brown (staff, console:teacher)", "Dana Lee (DSL, console:dsl)", PLATFORM_REF,
                 "Content or account removed", CLOSING_NOTE, "2026-11-20 21:30:00 UTC",
                 "20 November 2026, 21:30:00 GMT", "shot.png", "Spoke to Zoë — she is OK",
                 "[thumbs up sign]", "<b>not html</b>", "Safeguarding record made (PDF)"):
        assert fact in text, fact
    assert "ab" * 32 in text.replace(" ", "")
    assert record.integrity.head and record.integrity.head in text.replace(" ", "")
    assert in_order(text, "Chronology of every event", "Report made", "Acknowledged", "Note added",
                    "Action recorded: Reported to the platform", "Closed: Content or account removed",
                    "Safeguarding record made (PDF)", "Evidence")


def test_pdf_text_outside_the_font_is_replaced_not_a_crash():
    assert pdf_safe("Zoë — café") == "Zoë — café"
    assert pdf_safe("Łódź ą 👍 中") == "Łódz a [thumbs up sign] [U+4E2D]"


async def test_every_format_renders_non_latin_text(bot, clock, report_steps):
    await bot.store.upsert_staff(StaffMember(user="console:teacher", role=Role.STAFF, name="Zoë 🌟 王"))
    await walk(
        Chat(bot), report_steps[:6] + ["Ceci n’est pas — « un test » 🙈 مرحبا 中文"] + report_steps[7:] + [["send"]]
    )
    case = await bot.store.get_case("default", REF)
    for fmt in FORMATS:
        record = await build_record(
            bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:teacher", fmt=fmt
        )
        data = render(record, bot.content)
        if fmt == "pdf":
            assert "Zoë [glowing star] [U+738B]" in flat(pdf_text(data))
        else:
            assert "Zoë 🌟 王" in data.decode() and "🙈 مرحبا 中文" in data.decode()


async def test_an_urgent_case_says_why_and_lists_no_evidence(bot, chat):
    await walk(chat, [
        "I need to report something", ["showing_learners"], ["not_sure"], ["snapchat"],
        "https://www.snapchat.com/add/fakeaccount", "today", "A story with pictures of Year 10 pupils", ["learners"],
        "skip", "Seen at 9pm, link above", ["done"], ["learners_talking"], ["learner"], "skip", ["send"],
    ])
    case = await bot.store.get_case("default", REF)
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="md"
    )
    assert (
        record.urgent
        and record.urgency == "Urgent"
        and record.urgent_reason == "answered Not sure to the images question"
    )
    flagged = next(e for e in record.chronology if e.kind == "flagged_urgent")
    assert flagged.what == "Marked urgent: possibly sexual images of someone under 18"
    assert record.evidence == [] and "guardrail" not in {f.label for f in record.summary}
    text = render(record, bot.content).decode()
    assert "**Urgency:** Urgent" in text and "No files were shared with the report." in text


async def test_an_answer_to_a_question_the_content_no_longer_asks_is_kept(bot, chat, report_steps):
    await walk(chat, report_steps + [["send"]])
    case = await bot.store.get_case("default", REF)
    case.answers["school_year"] = "Year 9"  # as if an older version of the report asked it
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="json"
    )
    assert {"label": "School year", "value": "Year 9"} in [f.model_dump() for f in record.summary]


# --- the export is itself recorded -----------------------------------------------------------


async def test_exporting_is_an_event_on_the_case_in_the_chain(bot, closed_case, clock):
    for fmt in FORMATS:
        await export(bot, closed_case, fmt, clock)
    events = await bot.store.case_events(closed_case.id)
    exports = [e for e in events if e.kind == "record_exported"]
    assert [(e.actor, e.detail) for e in exports] == [("console:dsl", {"format": f}) for f in FORMATS]
    report = await bot.store.verify_case_chain(closed_case.id)
    assert report.intact and report.events == len(events) and report.head == events[-1].hash


# --- the tamper-evident log --------------------------------------------------------------------


def tamper(db_path: Path, *statements: str) -> None:
    """Change the database as someone with the file could: the append-only triggers dropped first."""
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER IF EXISTS case_events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS case_events_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


async def test_each_event_stores_the_previous_hash_and_its_own(bot, closed_case):
    events = await bot.store.case_events(closed_case.id)
    assert events[0].prev_hash is None
    assert all(re.fullmatch(r"[0-9a-f]{64}", e.hash) for e in events)
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert len({e.hash for e in events}) == len(events)
    report = await bot.store.verify_case_chain(closed_case.id)
    assert report.intact and report.hashed == report.events == len(KINDS) and report.unsealed == 0


@pytest.mark.sqlite_only
async def test_the_triggers_still_refuse_changes(bot, closed_case):
    with pytest.raises(sqlite3.IntegrityError):
        bot.store.db.execute("UPDATE case_events SET hash = 'x' WHERE case_id = ?", [closed_case.id])


@pytest.mark.sqlite_only
async def test_a_changed_detail_is_found_at_its_event(bot, closed_case, db_path):
    tamper(db_path, """UPDATE case_events SET detail = '{"note": "Nothing to worry about."}'
                       WHERE kind = 'note_added'""")
    report = await bot.store.verify_case_chain(closed_case.id)
    assert [(p.position, p.kind, p.problem) for p in report.problems] == [(5, "note_added", "altered")]


@pytest.mark.sqlite_only
async def test_a_change_with_its_hash_recomputed_breaks_the_next_link(bot, closed_case, db_path):
    from bot.store.base import event_hash
    from bot.store.record_key import key_file, read_key_file

    key = read_key_file(key_file(str(db_path)))  # someone who has the key as well as the database
    note = next(e for e in await bot.store.case_events(closed_case.id) if e.kind == "note_added")
    forged = event_hash(note.case_id, note.actor, note.kind, {"note": "forged"}, note.at.isoformat(), note.prev_hash,
                        key)
    tamper(db_path, f"""UPDATE case_events SET detail = '{{"note": "forged"}}', hash = '{forged}'
                        WHERE kind = 'note_added'""")
    report = await bot.store.verify_case_chain(closed_case.id)
    assert [(p.position, p.kind, p.problem) for p in report.problems] == [(6, "action_recorded", "link_broken")]


@pytest.mark.sqlite_only
async def test_without_the_key_a_rewritten_chain_with_every_hash_recomputed_is_found(bot, closed_case, db_path):
    """The red team's rewrite (§9): "he admits it" becomes "he denies it", every later hash and the head
    recomputed, as anyone with the database but not the record key can: as SHA-256 (marked as from before the
    key), or with a guessed key. Either way `cases verify` finds it."""
    from bot.store.base import event_hash

    def rewrite(key: bytes | None, keyed: int) -> None:
        tamper(db_path)  # the append-only triggers dropped
        conn = sqlite3.connect(db_path)
        rows = conn.execute("SELECT id, actor, kind, detail, at FROM case_events WHERE case_id = ? ORDER BY id",
                            [closed_case.id]).fetchall()
        previous = None
        for row_id, actor, kind, detail, at in rows:
            data = {"note": "He denies it."} if kind == "note_added" else json.loads(detail)
            digest = event_hash(closed_case.id, actor, kind, data, at, previous, key)
            conn.execute("UPDATE case_events SET detail = ?, prev_hash = ?, hash = ?, keyed = ? WHERE id = ?",
                         [json.dumps(data), previous, digest, keyed, row_id])
            previous = digest
        conn.execute("UPDATE cases SET events_head = ? WHERE id = ?", [previous, closed_case.id])
        conn.commit()
        conn.close()

    rewrite(None, 0)
    report = await bot.store.verify_case_chain(closed_case.id)
    assert not report.intact and {p.problem for p in report.problems} == {"unkeyed"}
    assert len(report.problems) == report.events  # every event: all were written after the key

    rewrite(b"a guess" * 5, 1)
    report = await bot.store.verify_case_chain(closed_case.id)
    assert not report.intact and {p.problem for p in report.problems} == {"altered"}


@pytest.mark.sqlite_only
async def test_a_deleted_event_is_found_at_the_event_after_it(bot, closed_case, db_path):
    tamper(db_path, "DELETE FROM case_events WHERE kind = 'acknowledged'")
    report = await bot.store.verify_case_chain(closed_case.id)
    # the acknowledgement was third; the event that followed it (reporter_told) is third now
    assert [(p.position, p.kind, p.problem) for p in report.problems] == [(3, "reporter_told", "link_broken")]


@pytest.mark.sqlite_only
async def test_deleting_the_latest_events_is_found_too(bot, closed_case, db_path):
    tamper(db_path, "DELETE FROM case_events WHERE id = (SELECT MAX(id) FROM case_events)",
           "DELETE FROM case_events WHERE id = (SELECT MAX(id) FROM case_events)")
    report = await bot.store.verify_case_chain(closed_case.id)
    assert [(p.position, p.kind, p.problem) for p in report.problems] == [(6, "action_recorded", "end_mismatch")]


@pytest.mark.sqlite_only
async def test_an_event_slipped_in_without_a_hash_is_found(bot, closed_case, db_path):
    tamper(db_path, f"""INSERT INTO case_events (case_id, school_id, actor, kind, detail, at)
                        VALUES ('{closed_case.id}', 'default', 'console:dsl', 'note_added', '{{"note": "added later"}}',
                                '2026-11-20T22:00:00+00:00')""")
    report = await bot.store.verify_case_chain(closed_case.id)
    assert [(p.position, p.problem) for p in report.problems] == [(9, "unhashed")]


@pytest.mark.sqlite_only
async def test_a_broken_log_is_shown_in_the_record(bot, closed_case, db_path, clock):
    tamper(db_path, "DELETE FROM case_events WHERE kind = 'acknowledged'")
    record, data = await export(bot, closed_case, "md", clock)
    assert record.integrity.intact is False
    assert record.integrity.problems == [
        "Event 3 of 8 (reporter_told, 2026-11-20 21:35:00 UTC): the event before it was removed or changed, "
        "or another was put in its place."]
    assert "Broken: the log has been changed outside the bot" in data.decode()


async def test_events_from_before_the_chain_are_sealed_by_the_next_event(tmp_path, monkeypatch):
    """A database made before migration 4: its events have no hash. After the upgrade the case verifies as
    not yet sealed; its next event chains on from the hash the old ones would have had, and from then on a
    change to an old event is caught too."""
    import bot.store.migrations as migrations_module

    async def no_key(self) -> None:  # no record key before migration 20
        return None

    path = tmp_path / "old.db"
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [m for m in migrations_module.MIGRATIONS if m[0] < 4])
    monkeypatch.setattr(SQLiteStore, "_settle_record_key", no_key)
    old = SQLiteStore(path)
    await old.open()
    old.db.execute("""INSERT INTO cases (id, school_id, reference, draft_id, status, urgent, categories, reporter,
                      answers, routed_to, excluded, content_version, created_at, updated_at) VALUES
                      ('c1', 'default', 'OSB-2025-0001', 'd1', 'new', 0, '["targeting_me"]', 'console:teacher',
                       '{}', '[]', '[]', '2025.1', '2025-06-01T09:00:00+00:00', '2025-06-01T09:00:00+00:00')""")
    for n, kind in enumerate(["reported", "routed"]):
        old.db.execute("INSERT INTO case_events (case_id, school_id, actor, kind, detail, at) VALUES "
                       f"('c1', 'default', 'console:teacher', '{kind}', '{{}}', '2025-06-01T09:00:0{n}+00:00')")
    await old.close()
    monkeypatch.undo()

    store = SQLiteStore(path)
    await store.open()
    try:
        report = await store.verify_case_chain("c1")
        assert report.intact and (report.unsealed, report.hashed) == (2, 0)
        await store.record_events([CaseEvent(case_id="c1", actor="console:dsl", kind="acknowledged")])
        report = await store.verify_case_chain("c1")
        assert report.intact and (report.unsealed, report.hashed, report.events) == (0, 1, 3)
        assert (await store.case_events("c1"))[-1].prev_hash is not None
        tamper(path, "UPDATE case_events SET actor = 'console:someone' WHERE kind = 'routed'")
        report = await store.verify_case_chain("c1")
        assert [(p.position, p.problem) for p in report.problems] == [(3, "link_broken")]
    finally:
        await store.close()


# --- the command line, as a real process ---------------------------------------------------------


@pytest.mark.sqlite_only
async def test_cli_verify_exit_codes_and_naming(bot, closed_case, db_path):
    proc = run_cli("cases", "verify", "--db", db_path)
    assert proc.stdout.decode().startswith(f"{REF}: Intact: all 8 events")
    run_cli("cases", "verify", REF.lower(), "--db", db_path)
    proc = run_cli("cases", "verify", "OSB-2026-9999", "--db", db_path, expect=1)
    assert "no case OSB-2026-9999" in proc.stderr.decode()

    tamper(db_path, """UPDATE case_events SET detail = '{"action": "reported_to_platform", "detail": "X"}'
                       WHERE kind = 'action_recorded'""")
    proc = run_cli("cases", "verify", "--db", db_path, expect=1)
    out = proc.stdout.decode()
    assert f"{REF}: Broken" in out
    assert "Event 6 of 8 (action_recorded, 2026-11-21 08:30:00 UTC): it no longer matches its hash" in out
    proc = run_cli("cases", "verify", REF, "--json", "--db", db_path, expect=1)
    (result,) = json.loads(proc.stdout)
    assert result["reference"] == REF and result["intact"] is False
    assert [(p["position"], p["kind"], p["problem"]) for p in result["broken_at"]] == [
        (6, "action_recorded", "altered")
    ]


@pytest.mark.sqlite_only
async def test_cli_verify_names_the_event_after_a_deleted_one(bot, closed_case, db_path):
    tamper(db_path, "DELETE FROM case_events WHERE kind = 'note_added'")
    proc = run_cli("cases", "verify", REF, "--db", db_path, expect=1)
    assert (
        "Event 5 of 7 (action_recorded, 2026-11-21 08:30:00 UTC): the event before it was removed"
        in proc.stdout.decode()
    )


@pytest.mark.sqlite_only
async def test_cli_export_each_format(bot, closed_case, db_path, tmp_path):
    proc = run_cli("cases", "export", REF, "--format", "json", "--by", "console:dsl", "--db", db_path, cwd=tmp_path)
    exported = json.loads(proc.stdout)
    jsonschema.validate(exported, record_schema())
    assert exported["reference"] == REF and exported["school"] == "Hillside Academy"
    assert exported["chronology"][-1]["kind"] == "record_exported"
    assert exported["exported"]["by"]["display"] == "Dana Lee (DSL, console:dsl)"

    out = tmp_path / "records" / "case.md"
    run_cli("cases", "export", REF, "--format", "md", "--out", out, "--db", db_path, cwd=tmp_path)
    assert f"**Reference:** {REF}" in out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a child-protection record: its owner only

    proc = run_cli("cases", "export", REF, "--format", "pdf", "--db", db_path, cwd=tmp_path)
    pdf = tmp_path / f"{REF}.pdf"
    assert pdf.exists() and f"{REF}.pdf" in proc.stderr.decode()
    assert f"Safeguarding record: {REF}" in flat(pdf_text(pdf.read_bytes()))

    events = await bot.store.case_events(closed_case.id)
    exports = [(e.actor, e.detail["format"]) for e in events if e.kind == "record_exported"]
    assert exports[0] == ("console:dsl", "json") and [f for _, f in exports] == ["json", "md", "pdf"]
    assert exports[1][0].startswith("cli:")  # no --by: the login name, marked as the command line
    run_cli("cases", "verify", "--db", db_path)  # the exports joined the chain


@pytest.mark.sqlite_only
async def test_cli_export_of_an_unknown_case_fails_and_records_nothing(bot, closed_case, db_path, tmp_path):
    before = len(await bot.store.case_events(closed_case.id))
    proc = run_cli("cases", "export", "OSB-2026-9999", "--format", "md", "--db", db_path, cwd=tmp_path, expect=1)
    assert "no case OSB-2026-9999" in proc.stderr.decode() and proc.stdout == b""
    run_cli("cases", "export", REF, "--format", "doc", "--db", db_path, cwd=tmp_path, expect=2)
    assert len(await bot.store.case_events(closed_case.id)) == before


@pytest.mark.sqlite_only
async def test_cli_export_of_a_broken_log_still_writes_the_record_and_warns(bot, closed_case, db_path, tmp_path):
    tamper(db_path, "DELETE FROM case_events WHERE kind = 'note_added'")
    proc = run_cli("cases", "export", REF, "--format", "json", "--by", "console:dsl", "--db", db_path, cwd=tmp_path)
    assert json.loads(proc.stdout)["integrity"]["intact"] is False
    assert "event log is broken" in proc.stderr.decode()


@pytest.mark.sqlite_only
async def test_cli_export_replaces_a_symlink_and_a_loose_file_never_writing_through_them(bot, closed_case, db_path,
                                                                                         tmp_path):
    someone_elses = tmp_path / "someone-elses.md"
    someone_elses.write_text("theirs")
    link = tmp_path / "link.md"
    link.symlink_to(someone_elses)
    loose = tmp_path / "loose.md"
    loose.write_text("old")
    loose.chmod(0o666)
    for out in (link, loose):
        run_cli("cases", "export", REF, "--format", "md", "--out", out, "--db", db_path, cwd=tmp_path)
        assert not out.is_symlink() and f"**Reference:** {REF}" in out.read_text(encoding="utf-8")
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert someone_elses.read_text() == "theirs"


# --- any case, however long, has its PDF; a failed attempt records nothing ------------------------------------


async def test_a_case_with_hundreds_of_lines_and_files_gets_its_pdf_flowing_across_pages(bot, chat, report_steps,
                                                                                         clock):
    description = "\n".join(f"L{n}" for n in range(700))  # 700 short lines, inside the length limit
    steps = list(report_steps)
    steps[6] = description
    await walk(chat, steps[:9])
    for batch in range(30):  # 300 files, ten to a message (as Slack sends them)
        await chat.attach(*[Attachment(name=f"shot-{batch}-{n}.png", ref=f"file:///shots/{batch}-{n}.png", size=100,
                                       sha256=f"{batch:02d}{n:02d}" * 16) for n in range(10)])
    await walk(chat, [["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert len(await bot.store.case_evidence(case.id)) == 300

    record, data = await export(bot, case, "pdf", clock)
    reader = PdfReader(BytesIO(data))
    text = flat("".join(page.extract_text() for page in reader.pages))
    assert len(reader.pages) > 10
    assert "L0 " in text and "L699" in text and "shot-29-9.png" in text
    assert record.chronology[-1].kind == "record_exported"
    assert [e.kind for e in await bot.store.case_events(case.id)].count("record_exported") == 1


async def test_a_record_that_cannot_be_rendered_records_no_export(bot, closed_case, clock, monkeypatch):
    import bot.cases.record.pdf as record_module

    def broken(record, content):
        raise RuntimeError("the renderer failed")

    monkeypatch.setattr(record_module, "to_pdf", broken)
    before = await bot.store.case_events(closed_case.id)
    with pytest.raises(RuntimeError):
        await export(bot, closed_case, "pdf", clock)
    assert await bot.store.case_events(closed_case.id) == before


@pytest.mark.sqlite_only
async def test_every_export_prints_the_chains_head_on_each_page_and_to_the_operator(bot, closed_case, db_path,
                                                                                    tmp_path, clock):
    record, data = await export(bot, closed_case, "pdf", clock)
    head = record.integrity.head
    assert head and head == (await bot.store.verify_case_chain(closed_case.id)).head
    pages = PdfReader(BytesIO(data)).pages
    assert all(head in flat(page.extract_text()).replace(" ", "") for page in pages)
    proc = run_cli("cases", "export", REF, "--format", "json", "--db", db_path, cwd=tmp_path)
    exported = json.loads(proc.stdout)
    assert f"the event log ends at hash {exported['integrity']['head']}" in proc.stderr.decode()
