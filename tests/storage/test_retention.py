"""Retention (`cases purge`, bot/cases/retention.py, migration 6): which closed cases are due, deleting them with
everything kept about them, the tombstone left behind, and the triggers that keep the event log append-only
for everything else. Cases are built through the in-process chat on a clock the test controls."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml

from bot.cases.retention import RetentionError, add_years, find_due, load_retention, purge, report_categories
from bot.core.models import Attachment, CaseStatus, Reminder
from bot.store import StoreError
from bot.store.migrations import MIGRATIONS
from testing.chat import Chat, walk
from testing.cli_runner import err, out, run_cli
from tests.conftest import run_sql, stored_rows

# --- the command line as a real process (the pattern of tests/process/test_cli.py) ---------------------------------

ROOT = Path(__file__).resolve().parents[2]








TODAY = date(2026, 11, 28)

A, B, C, D = "OSB-2012-0001", "OSB-2012-0002", "OSB-2012-0003", "OSB-2026-0001"
# Words that exist only in case A, so that any trace of it left in any table is found.
A_MARKERS = ("Case-A-only description", "@only_in_case_a", "case-a-shot.png", "file:///evidence/case-a-shot.png",
             "Case-A-only closing note", "Case-A-only half-written note")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def report(bot, clock, when: datetime, categories: list[str], accounts: str, description: str, *,
                 about: str | None = None, evidence: Attachment | None = None) -> str:
    clock.now = when
    chat = Chat(bot, "console:teacher")
    steps: list[str | list[str]] = ["I'm being targeted", categories, ["no"]]
    if about:
        steps.append([about])
    steps += [["instagram"], accounts, "skip", description, ["other_staff"], "skip"]
    await walk(chat, steps)
    assert chat.keys == ["report_concern.evidence.ask"]
    if evidence:
        await chat.attach(evidence)
        assert chat.keys == ["common.evidence_received"]
    await walk(chat, [["done"], ["nobody"], ["no_idea"], ["send"]])
    sent = chat.reply("report.sent")
    return next(c.reference for c in await bot.store.list_cases("default") if c.reference in sent.text)


async def close(handler: Chat, reference: str, outcome: str, note: str = "skip") -> None:
    await handler.pick(f"case:{reference}:close")
    await handler.pick(outcome)
    await handler.say(note)
    if "case_close.open_items_reason.ask" in handler.keys:  # the case plan may still have required items open
        await handler.say("Dealt with; recorded for the test.")
    assert handler.keys[0] == "case.closed", handler.keys


@pytest.fixture
async def cases(bot, clock):
    """A: targeting_me, reported 10 Jan 2012, closed 1 Feb 2012, with an evidence file: due 1 Feb 2018 (6 years
    from closure, the school default). B: an allegation, reported 1 Mar 2012, closed 15 Mar 2012: due 1 Mar 2022
    (10 years from the report). C: reported 1 May 2012, still open: never due. D: reported 20 Nov 2026, closed
    the next day: due 21 Nov 2032. The DSL is left half-way through a note on A; A also has a card post and a
    reminder naming it, and notifications still waiting for the reporter."""
    dsl = Chat(bot, "console:dsl")
    shot = Attachment(name="case-a-shot.png", ref="file:///evidence/case-a-shot.png", size=1234, sha256="cd" * 32,
                      content_type="image/png")
    refs = [await report(bot, clock, at(2012, 1, 10, 9), ["targeting_me"], "@only_in_case_a",
                         "Case-A-only description", evidence=shot)]
    clock.now = at(2012, 1, 10, 11)
    await dsl.pick(f"case:{A}:ack")
    clock.now = at(2012, 2, 1, 12)
    await close(dsl, A, "content_removed", "Case-A-only closing note")

    refs.append(await report(bot, clock, at(2012, 3, 1, 9), ["allegation"], "@case_b", "Case B", about="other_staff"))
    clock.now = at(2012, 3, 15, 9)
    await close(dsl, B, "unfounded")

    refs.append(await report(bot, clock, at(2012, 5, 1, 9), ["targeting_me"], "@case_c", "Case C"))

    refs.append(await report(bot, clock, at(2026, 11, 20, 9), ["targeting_me"], "@case_d", "Case D"))
    clock.now = at(2026, 11, 21, 9)
    dsl = Chat(bot, "console:dsl")  # a new conversation after years away
    await dsl.open()
    await close(dsl, D, "no_further_action")

    clock.now = at(2026, 11, 22, 9)
    await dsl.pick(f"case:{A}:note")
    assert dsl.keys == ["case_note.note.ask"]
    await dsl.say("Case-A-only half-written note")  # answered: A is closed, but it takes notes
    await dsl.pick(f"case:{A}:note")  # ...and a second note left half-way, so a frame names A
    await bot.store.record_card_post("default", A, "console:dsl", "slack:D01", "1700000000.000100")
    await bot.store.add_reminder(Reminder(recipient="console:dsl", kind="test", due_at=at(2027, 1, 1),
                                          detail={"reference": A}))
    assert refs == [A, B, C, D]
    return refs


def rows_of_every_table(db_path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    finally:
        conn.close()


def traces(db_path: Path, *needles: str) -> dict[str, int]:
    """table -> rows containing any of `needles`, in any column."""
    found: dict[str, int] = {}
    for table, rows in rows_of_every_table(db_path).items():
        hits = sum(any(n in json.dumps(row, default=str) for n in needles) for row in rows)
        if hits:
            found[table] = hits
    return found


@pytest.fixture
def policy(content):
    return load_retention(categories=report_categories(content))


# --- the policy ------------------------------------------------------------------------------------


def test_the_shipped_policy_takes_allegations_from_guidance_and_marks_the_default_as_the_schools(policy):
    allegation = policy.categories["allegation"]
    assert (allegation.keep_years, allegation.anchor, allegation.basis) == (10, "reported", "guidance")
    assert (policy.default.keep_years, policy.default.anchor, policy.default.basis) == (6, "closed", "school_policy")
    facts = policy.facts
    assert "neu.org.uk" in str(facts.categories[0].source) and facts.categories[0].checked
    assert facts.default.source and facts.default.checked
    assert "not taken from guidance" in facts.default.text.lower()
    text = (ROOT / "content" / "facts" / "retention.yaml").read_text()
    assert "date of birth" in text and "retirement age" in text  # why the bot can only apply the 10 years


def test_a_school_may_lengthen_periods_in_its_own_file(tmp_path, content):
    own = tmp_path / "retention.yaml"
    own.write_text(yaml.safe_dump({
        "default": {"keep_years": 7},
        "categories": {"allegation": {"keep_years": 45, "from": "reported", "reason": "Until retirement age"},
                       "showing_learners": {"keep_years": 25}},
    }))
    policy = load_retention(school_file=own, categories=report_categories(content))
    assert (policy.default.keep_years, policy.default.anchor, policy.default.set_by_school) == (7, "closed", True)
    allegation = policy.categories["allegation"]
    assert (allegation.keep_years, allegation.reason, allegation.set_by_school) == (45, "Until retirement age", True)
    assert policy.categories["showing_learners"].keep_years == 25
    assert policy.files[-1] == str(own)


@pytest.mark.parametrize("own, field", [
    ({"categories": {"allegation": {"keep_years": 5}}}, "categories.allegation"),
    ({"categories": {"allegation": {"keep_years": 10, "from": "banana"}}}, "categories.allegation.from"),
    ({"categories": {"not_a_category": {"keep_years": 10}}}, "categories.not_a_category"),
    ({"default": {"keep_years": 0}}, "default.keep_years"),
    ({"default": {"keep_years": 6, "unexpected": 1}}, "default.unexpected"),
])
def test_a_school_file_that_shortens_guidance_or_is_wrong_is_refused_naming_file_and_field(tmp_path, content, own,
                                                                                           field):
    path = tmp_path / "school-retention.yaml"
    path.write_text(yaml.safe_dump(own))
    with pytest.raises(RetentionError) as caught:
        load_retention(school_file=path, categories=report_categories(content))
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_the_facts_file_needs_a_source_and_a_checked_date(tmp_path):
    content_dir = tmp_path / "content"
    (content_dir / "facts").mkdir(parents=True)
    data = yaml.safe_load((ROOT / "content" / "facts" / "retention.yaml").read_text())
    del data["retention"]["categories"][0]["source"]
    (content_dir / "facts" / "retention.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RetentionError) as caught:
        load_retention(content_dir)
    assert "retention.yaml" in str(caught.value) and "retention.categories.0.source" in str(caught.value)


def test_years_are_added_by_calendar_date():
    assert add_years(date(2012, 2, 29), 6) == date(2018, 2, 28)
    assert add_years(date(2012, 3, 1), 10) == date(2022, 3, 1)


# --- what is due -------------------------------------------------------------------------------------


async def test_due_dates_by_category_and_open_cases_never_due(bot, cases, policy):
    plan = await find_due(bot.store, "default", policy, date(2020, 1, 1))
    assert [(d.reference, d.due_on) for d in plan.due] == [(A, date(2018, 2, 1))]
    assert plan.due[0].evidence == 1 and plan.due[0].rule.startswith("default: 6 years from closed")
    assert [(d.reference, d.due_on) for d in plan.not_due] == [(B, date(2022, 3, 1)), (D, date(2032, 11, 21))]
    assert plan.not_due[0].rule.startswith("allegation: 10 years from reported")
    assert plan.open_cases == 1

    much_later = await find_due(bot.store, "default", policy, date(2100, 1, 1))
    assert [d.reference for d in much_later.due] == [A, B, D]  # C is open: never, however old


async def test_a_case_with_several_categories_is_kept_for_the_longest(bot, cases, policy):
    case = await bot.store.get_case("default", B)
    both = case.model_copy(update={"categories": ["allegation", "targeting_me"]})
    closed_late = at(2020, 6, 1)  # 6 years after this closure is later than 10 years after the report
    assert policy.due_on(both, closed_late) == (date(2026, 6, 1), policy.default)
    assert policy.due_on(both, at(2012, 3, 15))[0] == date(2022, 3, 1)


@pytest.mark.parametrize("outcome", ["malicious", "false"])
async def test_a_malicious_or_false_allegation_is_no_longer_kept_for_the_allegations_ten_years(bot, cases, policy,
                                                                                               outcome):
    case = await bot.store.get_case("default", B)
    closed = at(2012, 3, 15)
    assert policy.due_on(case, closed)[0] == date(2022, 3, 1)  # any other outcome: 10 years from the report
    removed = case.model_copy(update={"outcome": outcome})
    assert policy.due_on(removed, closed) == (date(2018, 3, 15), policy.default)  # the default, from closing
    both = removed.model_copy(update={"categories": ["allegation", "showing_learners"]})
    assert policy.rules_for(both) == [policy.categories.get("showing_learners", policy.default)]


def test_the_removed_outcomes_are_a_fact_with_a_source(policy):
    removed = policy.facts.removed_allegations
    assert removed.outcomes == ["malicious", "false"] and removed.source and removed.checked
    assert "removed from the personnel records" in removed.text


@pytest.mark.sqlite_only
async def test_dry_run_deletes_nothing(bot, cases, policy, db_path):
    before = rows_of_every_table(db_path)
    result = await purge(bot.store, "default", policy, TODAY, purged_by="console:dsl", dry_run=True)
    assert [d.reference for d in result.due] == [A, B] and result.purged == []
    assert rows_of_every_table(db_path) == before


# --- purging -----------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
async def test_purge_removes_every_trace_of_the_case_and_leaves_a_tombstone(bot, cases, policy, db_path):
    store = bot.store
    a = await store.get_case("default", A)
    events_of_a = await store.case_events(a.id)
    others_before = {ref: len(await store.case_events((await store.get_case("default", ref)).id)) for ref in (B, C, D)}
    assert traces(db_path, a.id)  # before: the case is all over the database
    conn = sqlite3.connect(db_path)
    try:
        hashed = "hash" in [c[1] for c in conn.execute("PRAGMA table_info(case_events)")]
        last_hash = conn.execute("SELECT hash FROM case_events WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                                 [a.id]).fetchone()[0] if hashed else None
    finally:
        conn.close()
    assert {"cases", "case_events", "case_routes", "evidence", "outbox", "card_posts", "conversations",
            "reminders"} <= set(traces(db_path, A, a.id, *A_MARKERS))

    result = await purge(store, "default", policy, date(2020, 1, 1), purged_by="console:dsl",
                         purged_at=at(2026, 11, 28, 12))
    (tombstone,) = result.purged
    assert result.failed == {}

    # Nothing of A is left in any table but its tombstone: no row, no id, no word of it.
    left = traces(db_path, A, a.id, a.draft_id, *A_MARKERS)
    assert left == {"case_tombstones": 1}, left
    assert await store.get_case("default", A) is None and await store.case_events(a.id) == []
    assert await store.case_evidence(a.id) == []

    # The tombstone: when and why, never what.
    (row,) = rows_of_every_table(db_path)["case_tombstones"]
    (stored,) = await store.list_tombstones("default")
    assert stored.model_dump(exclude={"still_mentioned"}) == tombstone.model_dump(exclude={"still_mentioned"})
    assert (stored.reference, stored.categories, stored.purged_by) == (A, ["targeting_me"], "console:dsl")
    assert stored.created_at == at(2012, 1, 10, 9) and stored.closed_at == at(2012, 2, 1, 12)
    assert stored.purged_at == at(2026, 11, 28, 12)
    assert stored.policy == "default: 6 years from closed (the school's default)"
    assert stored.events_removed == len(events_of_a)
    assert stored.removed["evidence"] == 1 and stored.removed["cases"] == 1 and stored.removed["card_posts"] == 1
    assert stored.removed["reminders"] == 1 and stored.removed["conversations"] >= 1 and stored.removed["outbox"] >= 1
    assert stored.last_event_hash == last_hash  # the last event's hash, where events carry one
    assert not any(m in json.dumps(row) for m in A_MARKERS)

    # B, C and D are untouched.
    for ref, count in others_before.items():
        case = await store.get_case("default", ref)
        assert case is not None and len(await store.case_events(case.id)) == count
    assert (await store.get_case("default", C)).status != CaseStatus.CLOSED


async def test_the_dsl_carries_on_after_the_case_they_were_noting_is_purged(bot, cases, policy, clock):
    await purge(bot.store, "default", policy, date(2020, 1, 1), purged_by="console:dsl")
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert "case_note.note.ask" not in dsl.keys  # the half-written note on A went with it
    assert A not in dsl.text
    await dsl.pick(f"case:{A}:show")
    assert dsl.keys == ["case.not_found"]


async def test_purging_again_finds_nothing_and_references_are_never_reused(bot, cases, policy, clock):
    first = await purge(bot.store, "default", policy, TODAY, purged_by="console:dsl")
    assert [t.reference for t in first.purged] == [A, B]
    again = await purge(bot.store, "default", policy, TODAY, purged_by="console:dsl")
    assert again.due == [] and again.purged == []
    assert [t.reference for t in await bot.store.list_tombstones("default")] == [A, B]
    new = await report(bot, clock, at(2012, 6, 1, 9), ["targeting_me"], "@new", "New")  # same year as A and B
    assert new == "OSB-2012-0004"


@pytest.mark.sqlite_only
async def test_an_open_case_is_never_purged_even_when_asked_directly(bot, cases, db_path):
    before = rows_of_every_table(db_path)
    with pytest.raises(StoreError, match="not closed"):
        await bot.store.purge_case("default", C, purged_at=at(2026, 11, 28), purged_by="test", policy="test")
    assert rows_of_every_table(db_path) == before


# --- the triggers of migration 6 ------------------------------------------------------------------------


def test_migration_6_is_registered_once_and_the_runner_applies_migrations_by_number():
    numbers = [m[0] for m in MIGRATIONS]
    assert numbers.count(6) == 1 and len(numbers) == len(set(numbers))


@pytest.mark.sqlite_only
async def test_a_plain_delete_of_events_still_aborts_after_migration_6(bot, cases, db_path):
    conn = sqlite3.connect(db_path, isolation_level=None)  # autocommit: each statement stands alone
    try:
        assert 6 in {r[0] for r in conn.execute("SELECT version FROM migrations")}
        ids = {ref: conn.execute("SELECT id FROM cases WHERE reference = ?", [ref]).fetchone()[0] for ref in (A, C)}
        conn.execute("INSERT INTO case_events (case_id, school_id, actor, kind, detail, at)"
                     " VALUES ('no such case', 'default', 'x', 'x', '{}', '2026-01-01')")
        count = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
        for statement, params in [
            ("DELETE FROM case_events", []),
            ("DELETE FROM case_events WHERE case_id = ?", [ids[C]]),  # an open case
            ("DELETE FROM case_events WHERE case_id = ?", [ids[A]]),  # closed, but not being purged
            ("DELETE FROM case_events WHERE case_id = 'no such case'", []),  # an event whose case is absent
            ("UPDATE case_events SET kind = 'closed' WHERE case_id = ?", [ids[C]]),
        ]:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement, params)
        assert conn.execute("SELECT count(*) FROM case_events").fetchone()[0] == count

        with pytest.raises(sqlite3.IntegrityError, match="only a closed case|only by the purge"):
            conn.execute("UPDATE cases SET purging = 1 WHERE id = ?", [ids[C]])
        with pytest.raises(sqlite3.IntegrityError, match="tombstone"):
            conn.execute("DELETE FROM cases WHERE id = ?", [ids[A]])

        # Nobody but the purge can mark a closed case (migration 19), so its log cannot be cut short that way.
        with pytest.raises(sqlite3.IntegrityError, match="only by the purge, after its tombstone"):
            conn.execute("UPDATE cases SET purging = 1 WHERE id = ?", [ids[A]])
        assert conn.execute("SELECT count(*) FROM case_events").fetchone()[0] == count
    finally:
        conn.close()


@pytest.mark.sqlite_only
async def test_tombstones_cannot_be_changed_or_removed(bot, cases, policy, db_path):
    await purge(bot.store, "default", policy, date(2020, 1, 1), purged_by="console:dsl")
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="permanent"):
            conn.execute("UPDATE case_tombstones SET purged_by = 'someone else'")
        with pytest.raises(sqlite3.IntegrityError, match="permanent"):
            conn.execute("DELETE FROM case_tombstones")
    finally:
        conn.close()


# --- through the command line -----------------------------------------------------------------------------


def references_in(db_path: Path) -> list[str]:
    return sorted(c["reference"] for c in json.loads(out(run_cli("cases", "list", "--json", "--db", db_path))))


@pytest.mark.sqlite_only
async def test_cases_purge_through_the_command_line(bot, cases, db_path):
    # A dry run as on a day in 2020: A is due, nothing is deleted.
    dry = out(run_cli("cases", "purge", "--dry-run", "--now", "2020-01-01", "--db", db_path))
    assert "dry run: nothing has been deleted" in dry
    assert f"{A}  targeting_me" in dry and "due 2018-02-01" in dry and B not in dry.split("Closed but")[0]
    assert "Closed but not yet due: 2 (the next on 2022-03-01)." in dry
    assert "Open cases, which are never deleted: 1." in dry
    assert "allegation: 10 years from when the case was reported (guidance" in dry
    assert ("every other category: 6 years from when the case was closed "
            "(the school's own policy choice, not guidance") in dry
    assert "1 evidence file references" in dry or "hold 1 evidence file references" in dry
    assert references_in(db_path) == [A, B, C, D]

    planned = json.loads(out(run_cli("cases", "purge", "--dry-run", "--json", "--db", db_path)))
    assert [d["reference"] for d in planned["due"]] == [A, B] and planned["purged"] == []

    # Never a real purge as if it were a later day.
    refused = run_cli("cases", "purge", "--now", "2040-01-01", "--db", db_path, expect=2)
    assert "--dry-run" in err(refused)
    assert references_in(db_path) == [A, B, C, D]

    # The real thing, today: A and B go (C is open, D is not due until 2032).
    done = run_cli("cases", "purge", "--by", "console:dsl", "--db", db_path)
    text = out(done)
    assert f"Deleted {A}:" in text and f"Deleted {B}:" in text and C not in text.split("Open cases")[1]
    assert "Evidence file references removed: 1." in text
    assert "platforms themselves must be deleted" in text.replace("\n", " ")
    assert "Case-A-only" not in text and "@only_in_case_a" not in text
    assert references_in(db_path) == [C, D]
    tombstones = rows_of_every_table(db_path)["case_tombstones"]
    assert sorted(t[2] for t in tombstones) == [A, B]
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        rows = {r["reference"]: dict(r) for r in conn.execute("SELECT * FROM case_tombstones")}
    finally:
        conn.close()
    assert rows[B]["purged_by"] == "console:dsl"
    assert rows[B]["policy"] == "allegation: 10 years from reported (guidance minimum)"
    assert json.loads(rows[B]["categories"]) == ["allegation"]
    assert rows[A]["events_removed"] > 0 and rows[A]["closed_at"].startswith("2012-02-01")
    assert traces(db_path, *A_MARKERS) == {}

    again = out(run_cli("cases", "purge", "--db", db_path))
    assert "Nothing is due for deletion" in again


@pytest.mark.sqlite_only
async def test_a_school_file_named_in_the_environment_changes_what_is_due(bot, cases, db_path, tmp_path):
    own = tmp_path / "our-retention.yaml"
    own.write_text("default:\n  keep_years: 20\n  from: closed\n")
    proc = run_cli("cases", "purge", "--dry-run", "--json", "--db", db_path, env={"OSB_RETENTION_FILE": str(own)})
    planned = json.loads(out(proc))
    assert [d["reference"] for d in planned["due"]] == [B]  # the allegation's 10 years still apply to B

    own.write_text("categories:\n  allegation:\n    keep_years: 3\n")
    refused = run_cli("cases", "purge", "--dry-run", "--db", db_path, env={"OSB_RETENTION_FILE": str(own)}, expect=2)
    assert str(own) in err(refused) and "categories.allegation" in err(refused) and "Traceback" not in err(refused)
    assert references_in(db_path) == [A, B, C, D]


def test_content_check_validates_the_retention_facts(tmp_path):
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    path = copy / "facts" / "retention.yaml"
    data = yaml.safe_load(path.read_text())
    data["retention"]["default"]["checked"] = "last autumn"
    path.write_text(yaml.safe_dump(data))
    proc = run_cli("content", "check", "--content", copy, expect=2)
    assert "retention.yaml" in err(proc) and "retention.default.checked" in err(proc)
    assert "Traceback" not in err(proc)


# --- a purge takes only what belongs to the purged case (by its ids) ------------------------------------------


async def test_purge_leaves_another_cases_waiting_card_and_a_colleagues_draft_that_mention_the_reference(
        bot, cases, policy, clock):
    # A new case whose description names A, its card still waiting for the DSL, who has not opened the chat.
    later = await report(bot, clock, at(2026, 11, 25, 9), ["targeting_me"], "@again",
                         f"The same account as {A}, back again")
    waiting = [n.case_id for n in await bot.store.waiting_notifications("default", "console:deputy")]
    new_case = await bot.store.get_case("default", later)
    assert new_case.id in waiting
    # A colleague half-way through a report that says it is linked to A.
    colleague = Chat(bot, "console:head")
    await walk(colleague, ["I'm being targeted", ["targeting_me"], ["no"], ["instagram"], "@linked",
                           "last week", f"I think this is linked to {A}"])
    assert colleague.keys and colleague.keys[0].startswith("report_concern.")

    await purge(bot.store, "default", policy, date(2020, 1, 1), purged_by="console:dsl")
    assert await bot.store.get_case("default", A) is None

    assert new_case.id in [n.case_id for n in await bot.store.waiting_notifications("default", "console:deputy")]
    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    assert later in deputy.reply("case.list_handling").text  # its waiting card is its line on the list
    stored = await bot.store.load_conversation("default/console:head")
    (draft,) = stored.frames
    assert draft.flow == "report_concern" and f"linked to {A}" in json.dumps(draft.answers)


async def test_the_guardrail_alert_goes_with_the_purged_case(bot, clock, policy):
    clock.now = at(2012, 1, 10, 9)
    chat = Chat(bot, "console:teacher")
    await walk(chat, ["I'm being targeted", ["showing_learners"], ["yes"], ["snapchat"],
                      "https://www.snapchat.com/add/fakeaccount", "today", "Pictures of Year 10", ["learners"],
                      "skip", "Seen on a phone", ["done"], ["learners_talking"], ["learner"], "skip"])
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    alerts = [n for n in await bot.store.waiting_notifications("default", "console:dsl")
              if any(r.key == "case.guardrail_alert" for r in n.replies)]
    assert alerts
    dsl = Chat(bot, "console:dsl")
    clock.now = at(2012, 2, 1, 9)
    await close(dsl, case.reference, "content_removed")
    (tombstone,) = (await purge(bot.store, "default", policy, date(2020, 1, 1), purged_by="console:dsl")).purged
    assert tombstone.reference == case.reference

    # Delivered or not, no alert about the purged report is left.
    assert not any("case.guardrail_alert" in r["replies"] for r in stored_rows(bot.store, "outbox"))


# --- short-lived rows: turn ids, delivered notifications, OAuth states ---------------------------------------


async def test_turn_ids_delivered_notifications_and_oauth_states_are_pruned_past_their_use(store):
    from datetime import timedelta

    from bot.cases.retention import prune_expired
    from bot.core.models import ConversationState, Notification, Reply

    now = at(2026, 11, 28, 12)
    old, recent = now - timedelta(days=2), now - timedelta(hours=2)
    for turn, when in (("event:old", old), ("event:recent", recent)):
        await store.save_conversation(f"default/{turn}", "default", "console:teacher", ConversationState(), turn)
        run_sql(store, "UPDATE handled_turns SET handled_at = ? WHERE turn_id = ?", [when.isoformat(), turn])
    notes = {name: Notification(recipient="console:dsl", replies=[Reply(key="k", text=name)])
             for name in ("delivered long ago", "delivered lately", "never delivered")}
    await store.queue_notifications(list(notes.values()))
    for name, when in (("delivered long ago", old), ("delivered lately", recent)):
        run_sql(store, "UPDATE outbox SET delivered_at = ? WHERE id = ?", [when.isoformat(), notes[name].id])
    await store.issue_oauth_state("expired", now.timestamp() - 1)
    await store.issue_oauth_state("still good", now.timestamp() + 600)

    assert await prune_expired(store, now) == {"handled_turns": 1, "outbox": 1, "oauth_states": 1}
    assert await store.turn_seen("event:recent") and not await store.turn_seen("event:old")
    left = {json.loads(r["replies"])[0]["text"] for r in stored_rows(store, "outbox")}
    assert left == {"delivered lately", "never delivered"}
    assert [r["state"] for r in stored_rows(store, "oauth_states")] == ["still good"]


async def test_serve_prunes_as_it_starts(bot, store):
    from aiohttp.test_utils import TestServer

    from bot.app.server import build_app

    await store.issue_oauth_state("expired", 1.0)
    server = TestServer(build_app(bot, []), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        for _ in range(100):
            if not stored_rows(store, "oauth_states"):
                break
            await asyncio.sleep(0.02)
        assert stored_rows(store, "oauth_states") == []
    finally:
        await server.close()


async def test_the_purge_mark_needs_the_permanent_tombstone_and_stays(bot, cases, store):
    """The red team's tail truncation (§9): mark a closed case, delete its last event, unmark it. The mark now
    needs the case's tombstone, written first and never removed, and cannot be taken off."""
    import psycopg

    refused = (sqlite3.IntegrityError, psycopg.errors.IntegrityError)
    case = await store.get_case("default", A)
    with pytest.raises(refused, match="only by the purge, after its tombstone"):
        run_sql(store, "UPDATE cases SET purging = 1 WHERE id = ?", [case.id])
    assert len(await store.case_events(case.id)) == len(stored_rows_of(store, case.id))
    run_sql(store, "INSERT INTO case_tombstones (school_id, reference, categories, created_at, purged_at, purged_by,"
                   " policy, events_removed, removed) VALUES ('default', ?, '[]', ?, ?, 'x', 'x', 0, '{}')",
            [A, "2012-01-10T09:00:00+00:00", "2026-11-28T12:00:00+00:00"])
    run_sql(store, "UPDATE cases SET purging = 1 WHERE id = ?", [case.id])  # possible now, but for good:
    with pytest.raises(refused, match="stays marked"):
        run_sql(store, "UPDATE cases SET purging = 0 WHERE id = ?", [case.id])
    assert A in [t.reference for t in await store.list_tombstones("default")]  # a live case with a tombstone


def stored_rows_of(store, case_id: str) -> list[dict]:
    return [r for r in stored_rows(store, "case_events") if r["case_id"] == case_id]
