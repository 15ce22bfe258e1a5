"""The store for many schools, on SQLite and on PostgreSQL: schools and their workspaces, early-warning
sightings and alerts, Slack installations and OAuth states. Races open a second store on the same database,
as a second process would (`another_store`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest

from bot.cases.early_warning import Sighting, pattern_key
from bot.core.models import (
    CaseEvent,
    CaseStatus,
    ConversationState,
    Notification,
    Reply,
    Role,
    School,
    StaffMember,
    Workspace,
)
from bot.store import StoreError
from tests.conftest import run_sql, stored_rows
from tests.storage.test_store import WHEN, create

ROUNDS = 5


def school(school_id: str, *workspaces: str, **fields) -> School:
    """A school with workspaces given as "platform:id"."""
    return School(id=school_id, name=fields.pop("name", school_id.title()), **fields,
                  workspaces=[Workspace(platform=w.split(":")[0], id=w.split(":")[1]) for w in workspaces])


# --- schools and their workspaces -------------------------------------------------------------------


async def test_a_school_reads_back_with_its_workspaces_sorted(store):
    hill = school("hill", "teams:tenant-a", "slack:T2", "slack:T1", name="Hillside Academy",
                  reference_prefix="HA", content_dir="/srv/schools/hill")
    await store.upsert_school(hill)
    assert await store.get_school("hill") == hill.model_copy(update={"workspaces": [
        Workspace(platform="slack", id="T1"), Workspace(platform="slack", id="T2"),
        Workspace(platform="teams", id="tenant-a")]})
    assert await store.get_school("default") == School(id="default", name="Our school")  # migration 1's row
    assert await store.get_school("nowhere") is None


async def test_upserting_a_school_again_replaces_its_details_and_its_workspaces(store):
    await store.upsert_school(school("hill", "slack:T1", "slack:T2", reference_prefix="HA", content_dir="/srv/hill"))
    again = school("hill", "teams:tenant-b", name="Hillside Primary")
    await store.upsert_school(again)
    assert await store.get_school("hill") == again
    assert await store.schools_for_workspace("slack", "T1") == []
    assert await store.schools_for_workspace("teams", "tenant-b") == ["hill"]
    await store.upsert_school(school("hill", name="Hillside Primary"))
    assert (await store.get_school("hill")).workspaces == [] and stored_rows(store, "school_workspaces") == []


async def test_schools_are_listed_before_authorities_each_by_id(store):
    for s in (school("oak"), school("county", "slack:TLA", kind="authority"), school("ash", "slack:TA"),
              school("borough", kind="authority")):
        await store.upsert_school(s)
    listed = await store.list_schools()
    assert [(s.id, s.kind) for s in listed] == [
        ("ash", "school"), ("default", "school"), ("oak", "school"), ("borough", "authority"),
        ("county", "authority")]
    assert [s.workspaces for s in listed] == [
        [Workspace(platform="slack", id="TA")], [], [], [], [Workspace(platform="slack", id="TLA")]]


async def test_a_workspace_maps_to_its_schools_and_a_shared_one_to_each(store):
    await store.upsert_school(school("oak", "teams:trust"))
    await store.upsert_school(school("hill", "slack:T1", "teams:trust"))
    assert await store.schools_for_workspace("teams", "trust") == ["hill", "oak"]
    assert await store.schools_for_workspace("slack", "T1") == ["hill"]
    assert await store.schools_for_workspace("teams", "T1") == []  # the platform is part of the key
    assert await store.schools_for_workspace("slack", "T9") == []


async def test_a_school_still_in_use_is_not_removed_and_says_what_it_still_has(store):
    await store.upsert_school(school("hill", "slack:T1"))
    for n in range(3):
        await store.upsert_staff(StaffMember(school_id="hill", user=f"slack:U{n}", role=Role.STAFF, name=f"Staff {n}"))
    for n in range(2):
        await create(store, f"draft-{n}", school_id="hill")
    with pytest.raises(StoreError, match="^hill still has 3 staff and 2 cases: a school is removed only when empty$"):
        await store.remove_school("hill")
    await store.save_conversation("hill/slack:U0", "hill", "slack:U0", ConversationState(updated_at=WHEN))
    with pytest.raises(StoreError, match="^hill still has 3 staff, 2 cases and 1 conversation: "):
        await store.remove_school("hill")
    assert (await store.get_school("hill")).workspaces == [Workspace(platform="slack", id="T1")]  # nothing removed


async def test_a_school_whose_cases_were_purged_keeps_its_tombstones_and_is_not_removed(store):
    await store.upsert_school(school("gone"))
    case, _ = await create(store, "draft-1", school_id="gone")
    await store.update_case(case.model_copy(update={"status": CaseStatus.CLOSED}),
                            [CaseEvent(case_id=case.id, actor="console:dsl", kind="closed", at=WHEN)], [])
    await store.purge_case("gone", case.reference, purged_at=WHEN, purged_by="console:dsl", policy="test")
    with pytest.raises(StoreError, match="^gone still has 1 tombstone of a purged case: "):
        await store.remove_school("gone")
    assert await store.get_school("gone") is not None


async def test_an_empty_school_is_removed_with_its_workspaces_and_reference_counters(store):
    await store.upsert_school(school("oak", "slack:T1", "teams:trust"))
    await store.upsert_school(school("hill", "teams:trust"))
    run_sql(store, "INSERT INTO reference_sequences (school_id, year, last) VALUES (?, ?, ?)", ["oak", 2026, 4])
    await store.remove_school("oak")
    assert await store.get_school("oak") is None
    assert [s.id for s in await store.list_schools()] == ["default", "hill"]
    assert await store.schools_for_workspace("teams", "trust") == ["hill"]
    assert await store.schools_for_workspace("slack", "T1") == []
    assert stored_rows(store, "reference_sequences") == []
    with pytest.raises(StoreError, match="^there is no school oak$"):
        await store.remove_school("oak")


# --- early warning: sightings and alerts ------------------------------------------------------------


def sighting(case, account: str, at, pattern: str | None = "muggies") -> Sighting:
    return Sighting(school_id=case.school_id, case_id=case.id, account=account, pattern=pattern,
                    platform="instagram", seen_at=at)


async def test_sightings_read_back_from_a_window_oldest_first_in_utc(store):
    await store.upsert_school(school("hill"))
    here, _ = await create(store, "draft-1")
    there, _ = await create(store, "draft-2", school_id="hill")
    since = WHEN - timedelta(days=14)
    too_old = sighting(here, "@old_muggies", since - timedelta(seconds=1))
    at_start = sighting(there, "@hill_muggies", since.astimezone(timezone(timedelta(hours=1))))
    day_before = sighting(here, "@default_muggies", WHEN - timedelta(days=1), pattern=None)
    first = sighting(there, "@muggies_a", WHEN)
    same_time = sighting(here, "@muggies_b", WHEN)
    # An hour after WHEN, but written in a zone whose text sorts before WHEN's: compared as times.
    later = sighting(here, "@muggies_c", (WHEN + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))))
    await store.record_sightings([later, first])
    await store.record_sightings([same_time, too_old, day_before, at_start])

    found = await store.recent_sightings(since)
    assert found == [at_start, day_before, first, same_time, later]
    assert all(s.seen_at.utcoffset() == timedelta(0) for s in found)
    assert await store.recent_sightings(since.astimezone(timezone(timedelta(hours=-8)))) == found
    assert await store.recent_sightings(WHEN + timedelta(minutes=1)) == [later]
    assert await store.recent_sightings(WHEN + timedelta(hours=2)) == []


async def test_related_sightings_are_found_by_account_or_pattern_key_within_the_window(store):
    await store.upsert_school(school("hill"))
    new, _ = await create(store, "draft-new")
    other, _ = await create(store, "draft-other", school_id="hill")
    since = WHEN - timedelta(days=14)

    def seen(case, account: str, at, pattern: str | None) -> Sighting:
        return Sighting(school_id=case.school_id, case_id=case.id, account=account, pattern=pattern,
                        pattern_key=pattern_key(pattern) if pattern else None, platform=None, seen_at=at)

    mine = [seen(new, "@default_muggies", WHEN, "muggies"), seen(new, "https://x.com/page", WHEN, None)]
    same_account = seen(other, "https://x.com/page", WHEN - timedelta(days=1), None)
    variant = seen(other, "@hill_muggs", WHEN - timedelta(days=2), "muggs")
    unrelated = [seen(other, f"@hill_club{n}", WHEN, "sportsclub") for n in range(5)]
    too_old = seen(other, "@hill_muggies", since - timedelta(seconds=1), "muggies")
    await store.record_sightings([*unrelated, too_old, variant, same_account, *mine])

    assert await store.related_sightings(new.id, since) == [variant, same_account, *mine]
    assert await store.related_sightings("no-such-case", since) == []


async def test_a_sighting_elsewhere_is_one_by_another_school_within_the_window(store):
    await store.upsert_school(school("hill"))
    here, _ = await create(store, "draft-1")
    there, _ = await create(store, "draft-2", school_id="hill")
    since = WHEN - timedelta(days=14)
    await store.record_sightings([sighting(here, "@a_muggies", WHEN), sighting(there, "@b_muggies", WHEN)])
    assert await store.sighted_elsewhere("default", since) and await store.sighted_elsewhere("hill", since)
    assert not await store.sighted_elsewhere("default", WHEN + timedelta(seconds=1))  # both before the window
    await store.record_sightings([sighting(here, "@c_muggies", WHEN + timedelta(days=1))])
    assert not await store.sighted_elsewhere("default", WHEN + timedelta(hours=1))  # only its own in the window
    assert await store.sighted_elsewhere("hill", WHEN + timedelta(hours=1))


async def test_a_purge_removes_the_cases_sightings_and_counts_them(store):
    purged, _ = await create(store, "draft-1")
    kept, _ = await create(store, "draft-2")
    await store.record_sightings([sighting(purged, "@a_muggies", WHEN), sighting(purged, "@b_muggies", WHEN),
                                  sighting(kept, "@a_muggies", WHEN)])
    await store.update_case(purged.model_copy(update={"status": CaseStatus.CLOSED}),
                            [CaseEvent(case_id=purged.id, actor="console:dsl", kind="closed", at=WHEN)], [])
    tombstone = await store.purge_case("default", purged.reference, purged_at=WHEN, purged_by="console:dsl",
                                       policy="test")
    assert tombstone.removed == {"case_routes": 1, "case_events": 2, "outbox": 1, "account_sightings": 2, "cases": 1}
    assert tombstone.still_mentioned == []
    assert await store.recent_sightings(WHEN - timedelta(days=1)) == [sighting(kept, "@a_muggies", WHEN)]
    assert (await store.list_tombstones("default"))[0].removed["account_sightings"] == 2


def alert_notes(text: str) -> list[Notification]:
    return [Notification(school_id="county", recipient=f"slack:{who}", created_at=WHEN,
                         replies=[Reply(key="early_warning.alert_account", text=text, urgent=True)])
            for who in ("ULA1", "ULA2")]


async def taken(store) -> list[str]:
    """The texts of every alert queued for the authority's team, oldest first (and marks them delivered)."""
    texts = []
    for who in ("ULA1", "ULA2"):
        for note in await store.waiting_notifications("county", f"slack:{who}"):
            await store.mark_delivered(note.id)
            texts.append(note.replies[0].text)
    return texts


async def test_an_alert_is_claimed_once_within_its_window_and_again_after_it(store):
    window = timedelta(days=14)
    assert await store.claim_alert("account:@muggies:2", WHEN, WHEN - window, alert_notes("first"))
    later = WHEN + timedelta(days=1)
    assert not await store.claim_alert("account:@muggies:2", later, later - window, alert_notes("again"))
    assert await store.claim_alert("account:@muggies:3", later, later - window, alert_notes("third school"))
    # Sent at WHEN, before this window began: but not twice at the same moment.
    assert not await store.claim_alert("account:@muggies:2", WHEN, later, alert_notes("same moment"))
    much_later = WHEN + window + timedelta(days=1)
    assert await store.claim_alert("account:@muggies:2", much_later, much_later - window, alert_notes("new window"))
    assert await taken(store) == ["first", "third school", "new window"] * 2  # each of the team's, in order
    assert sorted(r["key"] for r in stored_rows(store, "sent_alerts")) == [
        "account:@muggies:2", "account:@muggies:2", "account:@muggies:3"]


async def test_an_alert_claimed_by_two_processes_at_once_is_sent_once(store, another_store):
    other = await another_store()
    for n in range(ROUNDS):
        # Two reports a second apart, each completing the group in its own process.
        claims = await asyncio.gather(*(s.claim_alert(f"pattern:muggies:{n}", at, at - timedelta(days=14),
                                                      alert_notes(f"{n} from {name}"))
                                        for s, name, at in ((store, "one", WHEN),
                                                            (other, "two", WHEN + timedelta(seconds=1)))))
        assert sorted(claims) == [False, True]
        winner = "one" if claims[0] else "two"
        assert await taken(store) == [f"{n} from {winner}"] * 2  # one note for each of the team, once
    assert len(stored_rows(store, "sent_alerts")) == ROUNDS


# --- Slack installations and OAuth states -------------------------------------------------------------


async def test_slack_installations_are_found_exactly_or_by_their_organisation(store):
    secret = bytes(range(256))  # encrypted data is any bytes
    await store.save_slack_installation(None, "T1", secret, WHEN)
    await store.save_slack_installation("E1", None, b"org-wide", WHEN)
    await store.save_slack_installation("E1", "T6", b"team six", WHEN)
    assert await store.find_slack_installation(None, "T1") == secret
    assert await store.find_slack_installation("E1", "T6") == b"team six"
    assert await store.find_slack_installation("E1", "T5") == b"org-wide"  # a team of the organisation
    assert await store.find_slack_installation("E1", None) == b"org-wide"
    assert await store.find_slack_installation(None, "T5") is None
    assert await store.find_slack_installation("E2", "T1") is None  # T1 was installed outside any organisation

    await store.save_slack_installation(None, "T1", b"reinstalled", WHEN + timedelta(days=1))
    assert await store.find_slack_installation(None, "T1") == b"reinstalled"
    assert len(stored_rows(store, "slack_installations")) == 3

    await store.delete_slack_installation("E1", None)
    assert await store.find_slack_installation("E1", "T5") is None
    assert await store.find_slack_installation("E1", "T6") == b"team six"
    await store.delete_slack_installation(None, "T1")
    await store.delete_slack_installation(None, "T1")  # already gone: nothing happens
    assert await store.find_slack_installation(None, "T1") is None


async def test_an_oauth_state_is_consumed_once_and_never_once_expired(store):
    await store.issue_oauth_state("s1", 1000.0)
    assert await store.consume_oauth_state("s1", 999.5)
    assert not await store.consume_oauth_state("s1", 999.5)
    await store.issue_oauth_state("s2", 1000.0)
    assert not await store.consume_oauth_state("s2", 1000.0)  # expired at that moment
    assert not await store.consume_oauth_state("s2", 10.0)  # and forgotten
    assert not await store.consume_oauth_state("never-issued", 10.0)
    await store.issue_oauth_state("s3", 500.0)
    await store.issue_oauth_state("s4", 2000.0)
    assert not await store.consume_oauth_state("s5", 1000.0)
    assert [r["state"] for r in stored_rows(store, "oauth_states")] == ["s4"]  # expired ones were tidied away


async def test_an_oauth_state_consumed_by_two_processes_at_once_is_used_once(store, another_store):
    other = await another_store()
    for n in range(ROUNDS):
        await store.issue_oauth_state(f"state-{n}", 2000.0)
        used = await asyncio.gather(store.consume_oauth_state(f"state-{n}", 1000.0),
                                    other.consume_oauth_state(f"state-{n}", 1000.0))
        assert sorted(used) == [False, True]
    assert stored_rows(store, "oauth_states") == []


async def test_a_schools_nation_is_kept_and_changed_and_existing_schools_are_in_england(store):
    assert (await store.get_school("default")).nation == "england"  # the migration's default
    await store.upsert_school(school("llan", name="Ysgol Llan", nation="wales"))
    assert (await store.get_school("llan")).nation == "wales"
    await store.upsert_school(school("llan", name="Ysgol Llan", nation="northern_ireland"))
    assert (await store.get_school("llan")).nation == "northern_ireland"
