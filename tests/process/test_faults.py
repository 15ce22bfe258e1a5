"""Faults: the server killed with SIGKILL mid-report and between Send and the DSL's card; the Slack Web API and
the Teams connector refusing (429 with Retry-After, 5xx) or never answering; the database locked or full when a
report is sent (or as a chat opens). After each: nothing lost, no half-written case, every DSL told exactly once.

How a case reaches the DSLs: `create_case` writes the case, its events and one outbox row per person it is routed
to in one transaction; each channel's delivery (after every turn, and every 2 s in the background) posts the
pending rows and marks each delivered once the post has been answered. So delivery is at least once: a crash
after the platform took a post but before `mark_delivered` committed sends that card again on restart
(`test_a_card_slack_took_just_before_a_kill_9_is_sent_again_never_lost`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app.server import build_app
from bot.channels.slack import SlackChannel, SlackConfig
from bot.channels.teams import TeamsChannel, teams_config
from bot.conversation.engine import Engine
from bot.core.models import Role, StaffMember
from testing.chat import Chat, walk
from testing.fakes.connector import FakeConnector
from testing.fakes.faults import HANG, TAKEN_THEN_HANG
from testing.fakes.slack_api import FakeSlackApi
from testing.fakes.waiting import wait_until
from testing.server_process import (
    FULL_REPORT,
    REFERENCE,
    HttpClient,
    ServerProcess,
    SlackPerson,
    TeamsPerson,
    add_staff,
    read_db,
    reference_in,
    serve_env,
)
from testing.slack_harness import SECRET, SlackHarness, submit_modal
from testing.slack_harness import question as slack_question
from testing.teams_harness import TeamsHarness
from testing.teams_harness import question as teams_question

pytestmark = [
    pytest.mark.slow,
    # The Agents SDK keeps its configuration and claims under string keys, which aiohttp only advises against.
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
]

TEACHER, DSL, DEPUTY = "UTEACH", "UDSL", "UDEP"  # the same ids on both channels: each channel has its own fake


def staff_on(platform: str) -> list[tuple[str, Role, str]]:
    return [(f"{platform}:{DSL}", Role.DSL, "Dana Lee"), (f"{platform}:{DEPUTY}", Role.DEPUTY_DSL, "Sam Patel"),
            (f"{platform}:{TEACHER}", Role.STAFF, "Jo Brown")]


class SlackSide:
    """One channel as the fault tests see it: its people, what its fake received, and faults on a DSL's chat."""

    name = "slack"

    def __init__(self, client: Any, api: FakeSlackApi):
        self.api = api
        self.harness = SlackHarness(client, None, api)

    async def ready(self) -> None:
        """Slack can write to anyone's DM at any time: nothing to do."""

    def person(self, user: str) -> SlackPerson:
        return SlackPerson(self.harness, user)

    def question(self, message: dict[str, Any]) -> str | None:
        return slack_question(message)

    def messages_to(self, user: str) -> list[dict[str, Any]]:
        return self.api.delivered_to(f"D{user}")

    def fault_next_post_to(self, user: str, answer: int | str) -> None:
        self.api.fault("chat.postMessage", answer, channel=f"D{user}")

    def hung(self) -> list[str]:
        return self.api.faults.hung


class TeamsSide:
    name = "teams"

    def __init__(self, client: Any, connector: FakeConnector):
        self.connector = connector
        self.harness = TeamsHarness(client, None, connector)

    async def ready(self) -> None:
        """Teams lets the bot write only into a chat someone has opened: the DSL and deputy add the app."""
        for user in (DSL, DEPUTY):
            await self.harness.install(user)

    def person(self, user: str) -> TeamsPerson:
        return TeamsPerson(self.harness, user)

    def question(self, message: dict[str, Any]) -> str | None:
        return teams_question(message)

    def messages_to(self, user: str) -> list[dict[str, Any]]:
        return self.harness.to(user)

    def fault_next_post_to(self, user: str, answer: int | str) -> None:
        self.connector.fault(self.harness.conversation(user), answer)

    def hung(self) -> list[str]:
        return self.connector.faults.hung


def cards(side: SlackSide | TeamsSide, user: str, reference: str) -> int:
    """How many case cards for `reference` reached `user` (updates to a card are not new messages)."""
    return sum(reference in json.dumps(m) for m in side.messages_to(user))


# --- kill -9: a real `serve` process ----------------------------------------------------------------------


LEASE_SECONDS = 2


@pytest.fixture(params=["slack", "teams"])
async def served(request, tmp_path):
    """`serve` in its own process with one channel (the parameter), its staff in the database, and its fake."""
    platform = request.param
    db = tmp_path / "bot.db"
    await add_staff(db, staff_on(platform))
    fake = FakeSlackApi() if platform == "slack" else FakeConnector()
    await fake.start()
    env = serve_env(slack_api_url=fake.url) if platform == "slack" else serve_env(teams=True)
    # A card being sent when the process died is another's to send once its lease runs out: short here.
    env["OSB_DELIVERY_LEASE_SECONDS"] = str(LEASE_SECONDS)
    server = ServerProcess(db, env)
    assert (await server.start())["channels"] == [platform]
    client = HttpClient(server.url)
    side = SlackSide(client, fake) if platform == "slack" else TeamsSide(client, fake)
    await side.ready()
    yield server, side
    await server.stop()
    await client.close()
    await fake.close()


def undelivered(db: Path) -> set[str]:
    return {r for (r,) in read_db(db, "SELECT recipient FROM outbox WHERE delivered_at IS NULL")}


async def all_delivered(db: Path, timeout: float = 10.0) -> None:
    await wait_until(lambda: not undelivered(db), timeout, lambda: undelivered(db))


async def test_a_report_interrupted_by_kill_9_carries_on_where_it_was(served):
    server, side = served
    teacher = side.person(TEACHER)
    asked = await teacher.walk(FULL_REPORT[:7])  # ... the description given: asked who appears in it
    assert side.question(asked) == "report_concern.who_appears"

    await server.kill()
    await server.start()

    # The boxes on the card from before the kill still answer its question, and the report goes on.
    assert side.question(await teacher.answer(FULL_REPORT[7])) == "report_concern.names"
    sent = await teacher.walk(FULL_REPORT[8:])
    reference = reference_in(sent)
    assert read_db(server.db, "SELECT reference, reporter FROM cases") == [(reference, f"{side.name}:{TEACHER}")]
    answers = json.loads(read_db(server.db, "SELECT answers FROM cases")[0][0])
    assert answers["first_seen"] and answers["description"].startswith("It posts photos")  # given before the kill
    await all_delivered(server.db)
    assert (cards(side, DSL, reference), cards(side, DEPUTY, reference)) == (1, 1)


async def test_a_kill_9_between_send_and_the_dsl_card_still_tells_each_dsl_exactly_once(served):
    server, side = served
    teacher = side.person(TEACHER)
    await teacher.walk(FULL_REPORT[:-1])
    side.fault_next_post_to(DSL, HANG)  # the DSL's card gets no further than the wire
    sending = asyncio.create_task(teacher.answer(FULL_REPORT[-1]))

    def told() -> list[dict[str, Any]]:
        return [m for m in side.messages_to(TEACHER) if REFERENCE.search(json.dumps(m))]

    await wait_until(lambda: side.hung() and told(), 10, lambda: (side.hung(), len(told())))
    (sent,) = told()
    reference = reference_in(sent)
    # Committed and told to the reporter, the DSL's card still in the outbox.
    assert read_db(server.db, "SELECT reference FROM cases") == [(reference,)]
    assert f"{side.name}:{DSL}" in undelivered(server.db)
    # Recipients are sent to side by side: the deputy's card does not wait behind the DSL's hanging one. It is
    # delivered and recorded while the DSL's still hangs (so the kill lands between the DSL's send and its record).
    await wait_until(lambda: f"{side.name}:{DEPUTY}" not in undelivered(server.db), 10,
                     lambda: undelivered(server.db))
    assert cards(side, DEPUTY, reference) == 1 and side.hung() and f"{side.name}:{DSL}" in undelivered(server.db)

    await server.kill()
    with contextlib.suppress(aiohttp.ClientError):
        await sending
    await server.start()

    await all_delivered(server.db)
    assert (cards(side, DSL, reference), cards(side, DEPUTY, reference)) == (1, 1)
    assert read_db(server.db, "SELECT count(*) FROM cases") == [(1,)]
    assert len(side.hung()) == 1


@pytest.mark.parametrize("served", ["slack"], indirect=True)
async def test_a_card_slack_took_just_before_a_kill_9_is_sent_again_never_lost(served):
    """The at-least-once window: Slack has posted the DSL's card, the process dies before its answer arrives (so
    before `mark_delivered`); on restart the outbox still holds the card and it is posted again, once."""
    server, side = served
    teacher = side.person(TEACHER)
    await teacher.walk(FULL_REPORT[:-1])
    side.fault_next_post_to(DSL, TAKEN_THEN_HANG)
    sent = await teacher.answer(FULL_REPORT[-1])
    reference = reference_in(sent)
    await wait_until(lambda: side.hung(), 10, lambda: side.hung())
    # The deputy's card goes side by side with the DSL's, in the background: recorded as sent before the kill
    # (else it too would be sent again, rightly: at least once).
    await wait_until(lambda: undelivered(server.db) == {f"slack:{DSL}"}, 10, lambda: undelivered(server.db))
    assert cards(side, DSL, reference) == 1

    await server.kill()
    await server.start()

    await all_delivered(server.db)
    assert 1 <= cards(side, DSL, reference) <= 2  # now 2: the copy Slack took, and the one sent on restart
    assert cards(side, DEPUTY, reference) == 1
    assert read_db(server.db, "SELECT count(*) FROM cases") == [(1,)]


@pytest.mark.parametrize("served", ["slack"], indirect=True)
async def test_a_note_slack_was_acknowledged_for_survives_a_kill_9_before_its_turn_ran(served):
    """Bolt acknowledges a modal at once (Slack closes it: the DSL believes the note saved), then opens the DSL's DM
    before the turn runs. Killed in that window, the note is still in the inbox, and the next process records it."""
    server, side = served
    reference = reference_in(await side.person(TEACHER).walk(FULL_REPORT))
    card = (await side.api.wait_for(lambda: [m for m in side.messages_to(DSL) if reference in json.dumps(m)]))[0]
    # Every card recorded as sent (a card posted but not yet recorded would be sent again after the restart, opening
    # the DSL's DM before the fault below is in place; the cards go side by side, so the DSL's may be the last).
    await all_delivered(server.db)
    await server.kill()
    await server.start()  # a new process: it has not opened the DSL's DM yet
    slack = SlackHarness(HttpClient(server.url), None, side.api)
    try:
        opened = len(side.api.bodies("views.open"))
        assert (await slack.click(DSL, card, f"case:{reference}:note")).status == 200
        view = (await side.api.wait_for(lambda: side.api.bodies("views.open")[opened:]))[0]["view"]
        side.api.fault("conversations.open", HANG)
        note = "Called POSH at 9am; the account is reported."
        assert (await submit_modal(slack, DSL, view, {"note": note})).status == 200  # Slack closes the modal
        await wait_until(lambda: side.hung(), 10, lambda: side.hung())
        assert read_db(server.db, "SELECT count(*) FROM case_events WHERE kind = 'note_added'") == [(0,)]

        await server.kill()
        side.api.faults.release()
        await server.start()

        await wait_until(lambda: read_db(server.db, "SELECT detail FROM case_events WHERE kind = 'note_added'"), 15,
                         lambda: "no note")
        (detail,) = read_db(server.db, "SELECT detail FROM case_events WHERE kind = 'note_added'")[0]
        assert json.loads(detail) == {"note": note}
        await wait_until(lambda: read_db(server.db, "SELECT count(*) FROM inbox") == [(0,)], 10, lambda: "inbox")
        await side.api.wait_for(lambda: any("note has been added" in m["text"] for m in side.messages_to(DSL)), 10)
    finally:
        await slack.client.close()


# --- the Slack Web API and the Teams connector failing: our server in process ---------------------------


@pytest.fixture
def channel_bot(content, store, settings, clock):
    """A bot whose staff directory is the channel's own (added by the `slack` and `teams` fixtures)."""
    return Engine(content, store, settings, clock=clock)


@pytest.fixture
async def slack(channel_bot):
    """Our server with Slack, whose Web API client gives up on an answer after 1 s (slack-sdk's default is 30 s)."""
    bot = channel_bot
    for user, role, name in staff_on("slack"):
        await bot.store.upsert_staff(StaffMember(user=user, role=role, name=name))
    api = FakeSlackApi()
    await api.start()
    channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None,
                                            api_url=api.url))
    channel.client.timeout = 1
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    yield SlackSide(client, api)
    await client.close()
    await api.close()


@pytest.fixture
async def teams(channel_bot, monkeypatch):
    """Our server with Teams. The Agents SDK's connector client sets no timeout of its own, so aiohttp's default
    (300 s) applies; here it is 1 s, standing in for the shorter limit the bot should set."""
    bot = channel_bot
    for user, role, name in staff_on("teams"):
        await bot.store.upsert_staff(StaffMember(user=user, role=role, name=name))
    connector = FakeConnector()
    await connector.start()
    channel = TeamsChannel(bot, teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    monkeypatch.setattr("aiohttp.client.DEFAULT_TIMEOUT", aiohttp.ClientTimeout(total=1))  # sessions made from now
    side = TeamsSide(client, connector)
    await side.ready()
    yield side
    await client.close()
    await connector.close()


async def sent_report(side: SlackSide | TeamsSide) -> str:
    sent = await side.person(TEACHER).walk(FULL_REPORT)
    return reference_in(sent)


async def delivered_once_each(side: SlackSide | TeamsSide, bot: Engine, reference: str, timeout: float = 10.0) -> None:
    """Once the outbox is empty (so nothing more will be sent), the DSL and the deputy have one card each."""
    deadline = asyncio.get_running_loop().time() + timeout
    while pending := await bot.store.pending_notifications(side.name):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not delivered after {timeout} s: {[n.recipient for n in pending]}")
        await asyncio.sleep(0.05)
    assert (cards(side, DSL, reference), cards(side, DEPUTY, reference)) == (1, 1)
    assert len(await bot.store.list_cases("default")) == 1


async def test_slack_a_dsl_card_that_gets_no_answer_is_sent_again_and_arrives_once(slack, channel_bot):
    slack.fault_next_post_to(DSL, HANG)
    reference = await sent_report(slack)
    await delivered_once_each(slack, channel_bot, reference)
    assert slack.hung() == [f"chat.postMessage:D{DSL}"]


async def test_slack_a_dsl_card_refused_past_the_clients_own_retries_waits_and_arrives_once(slack, channel_bot):
    """slack-sdk retries a 500 twice; the third refusal leaves the card in the outbox for the next delivery."""
    slack.api.fault("chat.postMessage", 500, 500, 500, channel=f"D{DSL}")
    reference = await sent_report(slack)
    await delivered_once_each(slack, channel_bot, reference)
    assert len([b for m, b in slack.api.calls if m == "chat.postMessage" and b["channel"] == f"D{DSL}"]) == 4


async def test_slack_a_reply_that_gets_no_answer_is_sent_again(slack):
    teacher = slack.person(TEACHER)
    await teacher.walk(FULL_REPORT[:3])
    slack.fault_next_post_to(TEACHER, HANG)
    asked = await teacher.answer(FULL_REPORT[3])
    assert slack.question(asked) == "report_concern.accounts"
    assert len(slack.hung()) == 1 and len(slack.messages_to(TEACHER)) == 4


async def test_teams_dsl_cards_refused_or_unanswered_are_sent_again_and_arrive_once(teams, channel_bot):
    """The DSL's card is refused with 429, the deputy's gets no answer; the next delivery sends both, once.
    (A 503 on a card is in test_teams.py.)"""
    teams.fault_next_post_to(DSL, 429)
    teams.fault_next_post_to(DEPUTY, HANG)
    reference = await sent_report(teams)
    await delivered_once_each(teams, channel_bot, reference)
    assert teams.hung() == [teams.harness.conversation(DEPUTY)]


async def test_teams_a_dsl_card_refused_with_429_is_not_tried_again_before_retry_after(teams, channel_bot):
    conversation = teams.harness.conversation(DSL)
    teams.connector.fault(conversation, 429, retry_after=3)
    reference = await sent_report(teams)
    await delivered_once_each(teams, channel_bot, reference)
    tries = [c["at"] for c in teams.connector.calls if c["conversation"] == conversation and c["method"] == "POST"]
    refused, delivered = tries[-2:]
    assert delivered - refused >= 3


@pytest.mark.parametrize("fault", [429, 503, HANG])
async def test_teams_a_reply_refused_or_unanswered_is_sent_again(teams, fault):
    teacher = teams.person(TEACHER)
    await teacher.walk(FULL_REPORT[:4])
    teams.fault_next_post_to(TEACHER, fault)
    asked = await teacher.answer(FULL_REPORT[4])  # typed: the reply is the only thing sent to the chat
    assert teams.question(asked) == "report_concern.first_seen"


async def test_teams_a_card_whose_buttons_cannot_be_taken_off_still_gets_its_reply(teams):
    """Pressing a button first updates that card (its buttons give way to what was chosen), then replies: the
    update is cosmetic, so its failure must not cost the person the next question."""
    teacher = teams.person(TEACHER)
    await teacher.walk(FULL_REPORT[:2])
    teams.fault_next_post_to(TEACHER, 503)
    asked = await teacher.answer(FULL_REPORT[2])
    assert teams.question(asked) == "report_concern.platforms"


# --- the database locked or full at the moment of sending -------------------------------------------------


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = ("cases", "case_events", "case_routes", "evidence", "outbox")
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


async def assert_sent_once_in_whole(chat: Chat, bot: Engine) -> None:
    """Send pressed again: one case, written whole (its events, routes and cards for each DSL)."""
    await chat.pick("send")
    assert chat.keys[0] == "report.sent"
    (case,) = await bot.store.list_cases("default")
    assert [e.kind for e in await bot.store.case_events(case.id)] == ["reported", "routed"]
    routed = sorted(r.user for r in case.routed_to)
    assert routed == ["console:deputy", "console:dsl"]
    cards = [n.recipient for n in await bot.store.pending_notifications("console") if n.case_id == case.id]
    assert sorted(cards) == routed


@pytest.mark.sqlite_only
async def test_a_locked_database_at_send_gets_a_kind_error_no_half_case_and_sending_again_opens_one(
    chat: Chat, bot, db_path, report_steps, caplog
):
    await walk(chat, report_steps)
    bot.store.db.conn.execute("PRAGMA busy_timeout = 200")  # how long a write waits for the lock (10 s in serve)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # say, a backup or a second process holding the write lock
    try:
        await chat.pick("send")
        assert chat.keys == ["common.store_error"]
        assert chat.text == bot.content.text("common.store_error")
        assert set(table_counts(other).values()) == {0}
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "database is locked" in caplog.text and "fake_hillside" not in caplog.text
    await assert_sent_once_in_whole(chat, bot)


@pytest.mark.sqlite_only
async def test_a_lock_held_for_less_than_the_busy_timeout_is_waited_out(chat: Chat, bot, db_path, report_steps):
    await walk(chat, report_steps)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    asyncio.get_running_loop().call_later(0.5, other.execute, "COMMIT")
    try:
        await chat.pick("send")
    finally:
        other.close()
    assert chat.keys[0] == "report.sent"
    assert len(await bot.store.list_cases("default")) == 1


class DiskFullOn:
    """The store's sqlite3 connection, with the disk filling up just as a statement matching `pattern` runs: that
    statement fails as SQLite fails then (SQLITE_FULL), inside whatever transaction is open."""

    def __init__(self, conn: sqlite3.Connection, pattern: str):
        self._conn = conn
        self._pattern = re.compile(pattern, re.S)
        self.refused = 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self._pattern.search(sql):
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextlib.contextmanager
def disk_full_on(store: Any, pattern: str) -> Iterator[list[DiskFullOn]]:
    """`DiskFullOn` on each of the store's connections (a turn's statements run on the event loop's)."""
    patched = [(db, db.conn) for db in store.connections]
    fulls = []
    for db, real in patched:
        db.conn = DiskFullOn(real, pattern)
        fulls.append(db.conn)
    try:
        yield fulls
    finally:
        for db, real in patched:
            db.conn = real


@pytest.mark.sqlite_only
async def test_a_full_disk_at_send_gets_a_kind_error_no_half_case_and_sending_again_opens_one(
    chat: Chat, bot, db_path, report_steps, caplog
):
    await walk(chat, report_steps)
    # The DSLs' cards are the case's last rows to be written: the case, its events and routes are in already.
    with disk_full_on(bot.store, r"^\s*INSERT\b.*\boutbox\b") as fulls:
        await chat.pick("send")
    assert sum(full.refused for full in fulls) == 1
    assert chat.keys == ["common.store_error"]
    with sqlite3.connect(db_path) as reader:
        assert set(table_counts(reader).values()) == {0}
    assert "disk is full" in caplog.text and "fake_hillside" not in caplog.text
    await assert_sent_once_in_whole(chat, bot)


@pytest.mark.sqlite_only
async def test_a_dsl_whose_chat_opens_as_the_disk_fills_still_gets_the_waiting_card(
    chat: Chat, chat_as, bot, report_steps
):
    """Opening the chat shows the cards waiting for that person. If the turn then cannot be saved, the person is
    told something went wrong, and the cards must still be waiting for the next time."""
    await walk(chat, [*report_steps, ["send"]])
    dsl = chat_as("console:dsl")
    with disk_full_on(bot.store, r"^\s*INSERT\b.*\bconversations\b"):  # the conversation's save, at the turn's end
        await dsl.open()
    assert dsl.keys == ["common.store_error"]
    await dsl.open()
    assert "case.new_card" in dsl.keys
