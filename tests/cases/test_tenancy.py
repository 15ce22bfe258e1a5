"""Many schools in one deployment: each with its own staff, routing, references and words; cases never cross
schools; a shared (trust) workspace places each person by the staff directory; the authority's safeguarding
team hears when one account or naming pattern is reported by several schools, and nothing more."""

from __future__ import annotations

import os
from datetime import time

import pytest

from bot.cases.schools import CACHE_SECONDS, Schools
from bot.conversation.engine import Engine
from bot.core.content import DEFAULT_CONTENT_DIR
from bot.core.markup import to_plain
from bot.core.models import Role, School, StaffMember, Workspace
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import SlackHarness

OAK_REPORT = [step.replace("fake_hillside", "fake_oakfield") if isinstance(step, str) else step
              for step in STANDARD_REPORT]


def staff(school: str, prefix: str) -> list[StaffMember]:
    return [
        StaffMember(school_id=school, user=f"console:{prefix}dsl", role=Role.DSL, name=f"{prefix} DSL"),
        StaffMember(school_id=school, user=f"console:{prefix}teacher", role=Role.STAFF, name=f"{prefix} Teacher"),
    ]


@pytest.fixture
async def two_schools(store, tmp_path):
    """Hillside (prefix HSA, its own LADO) and Oakfield (OAK), each with a DSL and a teacher, and the
    county's safeguarding team."""
    local = tmp_path / "hillside-content" / "facts"
    local.mkdir(parents=True)
    (local / "helplines.yaml").write_text(
        "helplines:\n  - id: lado\n    name: the Hillshire LADO (01632 960001)\n"
        "    source: https://example.org/hillshire-lado\n    checked: 2026-11-20\n", encoding="utf-8")
    await store.upsert_school(
        School(
            id="hill",
            name="Hillside Academy",
            reference_prefix="HSA",
            content_dir=str(local.parent),
            workspaces=[Workspace(platform="slack", id="T0HILL")],
        )
    )
    await store.upsert_school(School(id="oak", name="Oakfield Primary School", reference_prefix="OAK",
                                     workspaces=[Workspace(platform="slack", id="T0OAK")]))
    await store.upsert_school(School(id="county", name="Hillshire County Council", kind="authority"))
    for member in staff("hill", "h") + staff("oak", "o"):
        await store.upsert_staff(member)
    await store.upsert_staff(StaffMember(school_id="county", user="console:lso", role=Role.AUTHORITY_SAFEGUARDING,
                                         name="Lee Officer"))
    return store


@pytest.fixture
def county_bot(content, two_schools, settings, clock) -> Engine:
    return Engine(content, two_schools, settings, clock=clock)


async def report(bot: Engine, school: str, user: str, steps=STANDARD_REPORT) -> Chat:
    chat = Chat(bot, user, school=school)
    await walk(chat, steps)
    await chat.pick("send")
    return chat


async def test_each_school_has_its_own_references_routing_and_cases(county_bot):
    hill = await report(county_bot, "hill", "console:hteacher")
    oak = await report(county_bot, "oak", "console:oteacher", OAK_REPORT)
    assert "HSA-2026-0001" in hill.reply("report.sent").text
    assert "OAK-2026-0001" in oak.reply("report.sent").text  # each school counts from one

    [hill_case] = await county_bot.store.list_cases("hill")
    [oak_case] = await county_bot.store.list_cases("oak")
    assert [r.user for r in hill_case.routed_to] == ["console:hdsl"]
    assert [r.user for r in oak_case.routed_to] == ["console:odsl"]

    hill_dsl = Chat(county_bot, "console:hdsl", school="hill")
    await hill_dsl.open()
    assert [r.card.reference for r in hill_dsl.last if r.card] == ["HSA-2026-0001"]
    # Oakfield's case is not Hillside's to see, even by its reference.
    await hill_dsl.say("case:OAK-2026-0001:show")
    assert "fake_oakfield" not in hill_dsl.text and not any(r.card for r in hill_dsl.last)
    assert await county_bot.store.get_case("hill", "OAK-2026-0001") is None


async def test_a_schools_own_words_are_used_for_its_staff_only(county_bot):
    hill = Chat(county_bot, "console:hteacher", school="hill")
    oak = Chat(county_bot, "console:oteacher", school="oak")
    for chat in (hill, oak):
        await chat.say("I need support")
        await chat.pick("in_school")
    assert "the Hillshire LADO (01632 960001)" in hill.text
    assert "Hillshire LADO" not in oak.text and "local authority designated officer" in oak.text


async def test_the_same_account_at_two_schools_alerts_the_authority_once_without_case_details(county_bot):
    await report(county_bot, "hill", "console:hteacher")
    officer = Chat(county_bot, "console:lso", school="county")
    await officer.open()
    assert not any(r.key.startswith("early_warning.") for r in officer.last)  # one school is not a trend

    await report(county_bot, "oak", "console:oteacher")  # the same account, from another school
    await officer.open()
    [alert] = [to_plain(r.text) for r in officer.last if r.key == "early_warning.alert_account"]
    assert "@fake_hillside" in alert
    assert "Hillside Academy" in alert and "Oakfield Primary School" in alert
    for private in ("teacher", "Teacher", "mocking captions", "screenshots", "HSA-", "OAK-"):
        assert private not in alert

    # A second report from a school already counted is not news; a third school is.
    await report(county_bot, "oak", "console:odsl")
    await officer.open()
    assert not any(r.key.startswith("early_warning.") for r in officer.last)
    store = county_bot.store
    await store.upsert_school(School(id="ash", name="Ash Grove School"))
    await store.upsert_staff(StaffMember(school_id="ash", user="console:ateacher", role=Role.STAFF, name="A Teacher"))
    await report(county_bot, "ash", "console:ateacher")
    await officer.open()
    [alert] = [to_plain(r.text) for r in officer.last if r.key == "early_warning.alert_account"]
    assert "3 schools" in alert and "Ash Grove School" in alert


async def test_the_same_naming_pattern_at_two_schools_is_a_pattern_alert(county_bot):
    await report(county_bot, "hill", "console:hteacher",
                 [s.replace("@fake_hillside https://www.instagram.com/fake_hillside/?igsh=abc", "@hillside_muggies")
                  if isinstance(s, str) else s for s in STANDARD_REPORT])
    await report(
        county_bot,
        "oak",
        "console:oteacher",
        [
            s.replace(
                "@fake_hillside https://www.instagram.com/fake_hillside/?igsh=abc", "instagram.com/oakfield.muggies2"
            )
            if isinstance(s, str)
            else s
            for s in STANDARD_REPORT
        ],
    )
    officer = Chat(county_bot, "console:lso", school="county")
    await officer.open()
    [alert] = [r for r in officer.last if r.key.startswith("early_warning.")]
    assert alert.key == "early_warning.alert_pattern"
    words = to_plain(alert.text)
    assert "Accounts like muggies" in words and "@hillside_muggies, @oakfield.muggies2" in words


async def test_a_shared_trust_workspace_places_each_person_by_the_staff_directory(county_bot):
    store = county_bot.store
    await store.upsert_school(School(id="hill", name="Hillside Academy", reference_prefix="HSA",
                                     workspaces=[Workspace(platform="slack", id="T0TRUST")]))
    await store.upsert_school(School(id="oak", name="Oakfield Primary School", reference_prefix="OAK",
                                     workspaces=[Workspace(platform="slack", id="T0TRUST")]))
    schools = county_bot.schools
    assert await schools.resolve("slack", "T0TRUST", "console:hteacher") == "hill"
    assert await schools.resolve("slack", "T0TRUST", "console:oteacher") == "oak"
    assert await schools.resolve("slack", "T0TRUST", "console:stranger") is None  # in no school's directory
    assert await schools.resolve("slack", "T0ELSEWHERE", "console:hteacher") is None  # a workspace nobody claimed


async def test_one_school_with_no_workspaces_takes_everyone(bot):
    assert await bot.schools.resolve("slack", "T0ANY", "slack:U1") == "default"


async def test_a_schools_scope_is_kept_between_turns_and_built_again_when_the_schools_are_read_again(
        store, content, settings, tmp_path):
    """Not built (nor its calendar file looked at) on every turn; a changed school and an edited calendar are seen
    once the schools are read again, within CACHE_SECONDS."""
    own = tmp_path / "hill-content"
    own.mkdir()
    calendar = own / "school_calendar.yaml"
    calendar.write_text((DEFAULT_CONTENT_DIR / "school_calendar.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    await store.upsert_school(School(id="hill", name="Hillside Academy", content_dir=str(own)))
    schools = Schools(store, content, settings)
    now = [1000.0]
    schools.clock = lambda: now[0]
    first = await schools.scope("hill")
    assert first.calendar.school_hours.start == time(8, 0)

    await store.upsert_school(School(id="hill", name="Hillside College", content_dir=str(own)))
    calendar.write_text(calendar.read_text(encoding="utf-8").replace('"08:00"', '"08:30"', 1), encoding="utf-8")
    os.utime(calendar, (calendar.stat().st_atime, calendar.stat().st_mtime + 10))
    now[0] += 1
    assert await schools.scope("hill") is first
    assert (await schools.get("hill")).name == "Hillside Academy"

    now[0] += CACHE_SECONDS
    later = await schools.scope("hill")
    assert later.name == "Hillside College" and later.calendar.school_hours.start == time(8, 30)
    assert await schools.scope("hill") is later


# --- through Slack: workspaces map to schools ---------------------------------------------------


@pytest.fixture
async def slack_two_schools(county_bot, slack_api):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app.server import build_app
    from bot.channels.slack import SlackChannel
    from bot.channels.slack.config import SlackConfig
    from testing.slack_harness import SECRET

    store = county_bot.store
    for school, user in (("hill", "UHILLDSL"), ("hill", "UHILLT"), ("oak", "UOAKDSL"), ("oak", "UOAKT")):
        role = Role.DSL if user.endswith("DSL") else Role.STAFF
        await store.upsert_staff(StaffMember(school_id=school, user=f"slack:{user}", role=role, name=user))
    channel = SlackChannel(county_bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None,
                                                   api_url=slack_api.url))
    client = TestClient(TestServer(build_app(county_bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    yield SlackHarness(client, channel, slack_api)
    await client.close()


@pytest.fixture
async def slack_api():
    from testing.fakes.slack_api import FakeSlackApi

    api = FakeSlackApi()
    await api.start()
    yield api
    await api.close()


async def test_slack_workspaces_map_to_their_schools_and_strangers_are_told_kindly(slack_two_schools, county_bot):
    slack = slack_two_schools
    slack.team = "T0OAK"
    assert (await slack.dm("UOAKT", "I'm being targeted")).status == 200
    [message] = await slack.api.wait_for(lambda: slack.api.posted_to("DUOAKT"))
    assert "report_concern.categories" in str(message["blocks"])
    state = await county_bot.store.load_conversation("oak/slack:DUOAKT")
    assert state is not None and state.active.flow == "report_concern"

    slack.team = "T0NOBODY"
    assert (await slack.dm("UWHO", "I'm being targeted")).status == 200
    [refusal] = await slack.api.wait_for(lambda: slack.api.posted_to("DUWHO"))
    assert "can't tell which school" in refusal["text"]
    for school in ("hill", "oak", "default"):
        assert await county_bot.store.load_conversation(f"{school}/slack:DUWHO") is None


async def test_a_report_whose_process_died_before_alerting_alerts_when_it_is_sent_again(county_bot, monkeypatch):
    """The sightings are stored with the case; the alert check runs again on the retried send."""
    import bot.conversation.casework as casework
    from bot.store import StoreError

    await report(county_bot, "hill", "console:hteacher")
    store, real_alerts, real_save = county_bot.store, casework.raise_alerts, county_bot.store.save_conversation
    died = {"alerting": True, "saving": True}

    async def alerts_then_dies(*args):
        if died.pop("alerting", False):
            raise RuntimeError("the process died here")
        return await real_alerts(*args)

    async def save_then_dies(*args, **kwargs):
        if died.pop("saving", False):
            raise StoreError("the process died here")
        return await real_save(*args, **kwargs)

    oak = Chat(county_bot, "console:oteacher", school="oak")
    await walk(oak, STANDARD_REPORT)
    monkeypatch.setattr(casework, "raise_alerts", alerts_then_dies)
    monkeypatch.setattr(store, "save_conversation", save_then_dies)
    await oak.pick("send")
    assert oak.keys == ["common.store_error"]
    [case] = await store.list_cases("oak")  # stored, with its sightings, before the process died
    assert {s.case_id for s in await store.recent_sightings(case.created_at)} >= {case.id}
    officer = Chat(county_bot, "console:lso", school="county")
    await officer.open()
    assert not any(r.key.startswith("early_warning.") for r in officer.last)

    await oak.pick("send")  # the same send again, as a retried request would be
    assert "OAK-2026-0001" in oak.reply("report.sent").text and len(await store.list_cases("oak")) == 1
    await officer.open()
    assert [r.key for r in officer.last if r.key.startswith("early_warning.")] == ["early_warning.alert_account"]


WELSH_ALLEGATION = ["a page is spreading rumours about a teacher", ["allegation"], ["no"], ["other_staff"],
                    ["facebook"], "@oak_gossip", "skip", "Claims about a teacher", ["other_staff"], "skip", ["done"],
                    ["nobody"], ["no_idea"]]


async def test_a_welsh_schools_case_card_pack_and_plan_name_wales_and_its_procedure(county_bot, two_schools):
    oak = await two_schools.get_school("oak")
    await two_schools.upsert_school(oak.model_copy(update={"nation": "wales"}))
    await report(county_bot, "oak", "console:oteacher", WELSH_ALLEGATION)
    dsl = Chat(county_bot, "console:odsl", school="oak")
    await dsl.open()
    (card,) = [r.card for r in dsl.last if r.card]
    guidance = " ".join(card.guidance + card.notice)  # the reader's own part at the top, and the statutory note
    assert "Wales Safeguarding Procedures" in guidance and "Designated Officer for Safeguarding" in guidance
    assert "LADO" not in guidance
    await dsl.pick("case:OAK-2026-0001:pack")
    posh = dsl.reply("case.pack.posh_email").text
    assert "We are a school in Wales." in posh and "England" not in posh
    assert "hwb.gov.wales" in dsl.reply("case.pack.posh_guidance").text
    await dsl.pick("case:OAK-2026-0001:plan")
    plan = dsl.last[0].text
    assert "Designated Officer for Safeguarding" in plan and "LADO within one working day" not in plan

    hill = Chat(county_bot, "console:hteacher", school="hill")  # an English school in the same deployment
    await walk(hill, WELSH_ALLEGATION)
    await hill.pick("send")
    hdsl = Chat(county_bot, "console:hdsl", school="hill")
    await hdsl.open()
    await hdsl.pick("case:HSA-2026-0001:plan")
    # England's route: the case manager judges the harm test first; the LADO step follows that decision.
    english = hdsl.last[0].text
    assert (
        "judges the allegation against the harm test" in english
        and "Designated Officer for Safeguarding" not in english
    )


# --- early warning at scale: looked up, never compared pairwise ----------------------------------------------


def made_up_handles(count: int, start: int = 0) -> list[str]:
    """Distinct handles with distinct pattern keys (consonants only, no letter twice in a row)."""
    from itertools import product

    letters = "bcdfghjklmnpqrstvwxz"
    names = ("".join(p) for p in product(letters, repeat=5) if all(a != b for a, b in zip(p, p[1:], strict=False)))
    return [f"@{name}" for _, name in zip(range(start + count), names, strict=False)][start:]


async def case_naming(store, clock, school_id: str, draft: str, handles: list[str]):
    """A case opened straight in the store, naming `handles`, with its sightings."""
    from bot.cases.early_warning import sightings
    from bot.core.models import Case, CaseEvent

    answers = {"accounts": [{"kind": "handle", "value": h} for h in handles]}
    case = Case(school_id=school_id, draft_id=draft, categories=["targeting_me"], reporter="console:x",
                answers=answers, content_version="test", created_at=clock.now, updated_at=clock.now)
    seen = sightings(school_id, "Some School", case.id, answers, clock.now)
    stored, _ = await store.create_case(case, [CaseEvent(case_id=case.id, actor="console:x", kind="reported",
                                                         at=clock.now)], [], lambda c: [], "OSB", seen)
    return stored


async def test_a_new_case_reads_only_the_sightings_it_joins_however_many_the_window_holds(
    county_bot, clock, monkeypatch
):
    from bot.cases import early_warning
    from bot.cases.early_warning import raise_alerts

    store = county_bot.store
    read: list[int] = []
    real_find = early_warning.find_alerts
    monkeypatch.setattr(
        early_warning, "find_alerts", lambda recent, *a: read.append(len(recent)) or real_find(recent, *a)
    )

    # Oakfield's earlier reports fill the window with 1,200 made-up handles, and one real fake account.
    for n in range(4):
        await case_naming(store, clock, "oak", f"oak-{n}", made_up_handles(300, start=300 * n) + ["@fake_staff_page"])
    # Hillside's report lists 300 more, and the same fake account.
    case = await case_naming(store, clock, "hill", "hill-1", made_up_handles(300, start=1200) + ["@fake_staff_page"])
    read.clear()
    [alert] = await raise_alerts(county_bot.store, county_bot.settings, county_bot.content, case)
    assert (alert.kind, alert.key, alert.schools) == ("account", "@fake_staff_page", ["oak", "hill"])
    assert read == [301 + 4]  # its own sightings and the four that share its account: nothing else is read


async def test_a_case_when_no_other_school_has_a_sighting_in_the_window_reads_no_sighting(county_bot, clock):
    from bot.cases.early_warning import raise_alerts

    store = county_bot.store
    related: list[str] = []
    real_related = store.related_sightings

    async def counted(case_id, since):
        related.append(case_id)
        return await real_related(case_id, since)

    store.related_sightings = counted

    # Oakfield alone: however many of its reports name the account, no alert can come, and nothing is read.
    for n in range(3):
        case = await case_naming(store, clock, "oak", f"oak-{n}", made_up_handles(50) + ["@fake_staff_page"])
        assert await raise_alerts(store, county_bot.settings, county_bot.content, case) == []
    assert related == []
    # Hillside names it too: now there is another school in the window, the lookup runs and the alert is raised.
    case = await case_naming(store, clock, "hill", "hill-1", ["@fake_staff_page"])
    [alert] = await raise_alerts(store, county_bot.settings, county_bot.content, case)
    assert (alert.kind, alert.key, alert.schools) == ("account", "@fake_staff_page", ["oak", "hill"])
    assert related == [case.id]
    # Oakfield's next report finds Hillside's sighting in the window: it is looked up again.
    case = await case_naming(store, clock, "oak", "oak-3", ["@fake_staff_page"])
    await raise_alerts(store, county_bot.settings, county_bot.content, case)
    assert related[-1] == case.id
