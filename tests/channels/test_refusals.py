"""Refused, and recorded: requests that are not what they claim, and case actions by people a case was not sent to.

- Slack: a forged signature, a replay outside Slack's five-minute window, a tampered body, malformed headers.
- Teams: tokens that are missing, forged, expired, for another app (audience), from another tenant or issuer.
Each is refused (401, never a 500), changes nothing, and leaves a WARNING in the log saying why, with nothing
of the request's content.
- Case actions (buttons, forms, typed ids) by a member of staff the case was not routed to: a reply that says
nothing about the case (the same as for a reference that does not exist), no change, and an `access_refused`
event on the case naming who tried what, which the safeguarding record shows in words.
tests/channels/test_slack.py, tests/channels/test_teams.py and tests/cases/test_casework.py have the first cases
of each; this file covers the rest.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest

from bot.cases.record import build_record
from bot.core.models import CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import find_button, fixture
from testing.teams_harness import TeamsHarness
from tests.channels.test_slack import HEAD as SLACK_HEAD
from tests.channels.test_slack import TEACHER as SLACK_TEACHER

# The Slack and Teams fixtures, shared with their own test modules.
from tests.channels.test_slack import bot as bot  # noqa: F401
from tests.channels.test_slack import sent_case
from tests.channels.test_slack import slack as slack  # noqa: F401
from tests.channels.test_slack import slack_api as slack_api  # noqa: F401
from tests.channels.test_teams import CLIENT_ID, PRODUCTION, serve, signing_key, token
from tests.channels.test_teams import TEACHER as TEAMS_TEACHER
from tests.channels.test_teams import botframework_keys as botframework_keys  # noqa: F401
from tests.channels.test_teams import connector as connector  # noqa: F401

REF = "OSB-2026-0001"
MARKER = "Zqx-private-words"  # what a refused request says; it must never reach the logs

pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")


def warned(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def assert_nothing_logged_of(caplog, *texts: str) -> None:
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for text in texts:
        assert text not in everything, f"{text!r} was logged"


# --- Slack: signatures and replays ---------------------------------------------------------------------


def dm_envelope(text: str, event_id: str = "EvREFUSED1") -> str:
    """A DM as Slack sends it (tests/fixtures/slack/message_im.json)."""
    envelope = fixture("message_im")
    envelope["event"].update(channel=f"D{SLACK_TEACHER}", user=SLACK_TEACHER, text=text, ts="1700000000.000100")
    envelope.update(event_id=event_id, event_time=int(time.time()))
    return json.dumps(envelope)


def swap(headers: dict[str, str], **changes: str | None) -> dict[str, str]:
    renamed = {"timestamp": "X-Slack-Request-Timestamp", "signature": "X-Slack-Signature"}
    changed = {renamed[k]: v for k, v in changes.items()}
    return {k: v for k, v in {**headers, **changed}.items() if v is not None}


# Each: (the harness, the body, now) -> the headers sent with the body.
FORGERIES = {
    "another secret": lambda slack, body, t: slack.signed_headers(body, t, secret="0" * 32),
    # A genuine request captured six minutes ago and sent again: its signature covers its own old timestamp.
    "replayed after 6 minutes": lambda slack, body, t: slack.signed_headers(body, t - 360),
    "timestamp 6 minutes ahead": lambda slack, body, t: slack.signed_headers(body, t + 360),
    "signed for another body": lambda slack, body, t: slack.signed_headers(body.replace("Zqx", "Abc"), t),
    "old signature, new timestamp": lambda slack, body, t: swap(slack.signed_headers(body, t - 360), timestamp=str(t)),
    "no signature": lambda slack, body, t: swap(slack.signed_headers(body, t), signature=None),
    "no timestamp": lambda slack, body, t: swap(slack.signed_headers(body, t), timestamp=None),
    "signature of another version": lambda slack, body, t: swap(
        slack.signed_headers(body, t), signature="v1=" + slack.signed_headers(body, t)["X-Slack-Signature"][3:]),
    "empty signature": lambda slack, body, t: swap(slack.signed_headers(body, t), signature=""),
    "timestamp not a number": lambda slack, body, t: swap(slack.signed_headers(body, t), timestamp="yesterday"),
    "timestamp of 5000 digits": lambda slack, body, t: swap(slack.signed_headers(body, t), timestamp="9" * 5000),
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_slack_request_that_is_not_genuine_is_refused_and_logged_without_its_content(
    slack, bot, caplog, forgery
):
    caplog.set_level(logging.DEBUG)
    body = dm_envelope(f"I'm being targeted: {MARKER}")
    headers = forgery(slack, body, int(time.time()))
    response = await slack.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status == 401
    await slack.settle()
    assert slack.api.bodies("chat.postMessage") == []
    assert await bot.store.load_conversation(f"default/slack:D{SLACK_TEACHER}") is None
    assert_nothing_logged_of(caplog, MARKER)
    assert any("refused" in m.lower() or "invalid" in m.lower() for m in warned(caplog)), (
        "a refused request should leave a WARNING saying why", warned(caplog))


async def test_a_genuine_slack_request_replayed_outside_the_window_runs_nothing(slack, bot, monkeypatch):
    """The same bytes and headers as a request that was handled, six minutes later (within the window, the event
    id already makes a replay a no-op: tests/channels/test_slack.py)."""
    from slack_sdk.signature import Clock

    body = dm_envelope("I'm being targeted", event_id="EvREPLAY")
    headers = {"Content-Type": "application/json", **slack.signed_headers(body)}
    assert (await slack.client.post("/slack/events", data=body, headers=headers)).status == 200
    await slack.api.wait_for(lambda: slack.messages_to(SLACK_TEACHER))
    await slack.settle()
    sent = time.time()
    monkeypatch.setattr(Clock, "now", lambda self: sent + 6 * 60)  # the verifier's clock, six minutes on
    assert (await slack.client.post("/slack/events", data=body, headers=headers)).status == 401
    await slack.settle()
    assert len(slack.messages_to(SLACK_TEACHER)) == 1


async def test_a_forged_case_button_changes_nothing(slack, bot):
    card = await sent_case(slack)
    block, element = find_button(card, f"case:{REF}:close")
    payload = slack.block_actions(SLACK_HEAD, {**card, "channel": f"D{SLACK_HEAD}"}, block, element)
    response = await slack.interaction(payload, secret="f" * 32)
    assert response.status == 401
    await slack.settle()
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.NEW
    assert [e.kind for e in await bot.store.case_events(case.id)] == ["reported", "routed"]
    assert slack.messages_to(SLACK_HEAD) == [] and slack.api.bodies("views.open") == []


# --- Teams: tokens ----------------------------------------------------------------------------------------

OTHER_TENANT = "99999999-8888-7777-6666-555555555555"


def teams_token(kind: str) -> str | None:
    """The Authorization header for each kind of token that must be refused."""
    now_s = int(time.time())
    tokens = {
        "none": None,
        "not a bearer token": "Basic dXNlcjpwYXNz",
        "two tokens": "Bearer " + token() + " " + token(),
        "forged (another key)": "Bearer " + token(signing_key("attacker")),
        "for another app (audience)": "Bearer " + token(aud="11111111-2222-3333-4444-555555555555"),
        "for several audiences": "Bearer " + token(aud=[CLIENT_ID, "11111111-2222-3333-4444-555555555555"]),
        "expired": "Bearer " + token(nbf=now_s - 7200, exp=now_s - 3600),
        "not valid until tomorrow": "Bearer " + token(nbf=now_s + 86400, exp=now_s + 90000),
        "unsigned (alg none)": "Bearer " + _unsigned(),
    }
    return tokens[kind]


def _unsigned() -> str:
    import base64

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now_s = int(time.time())
    claims = {"iss": "https://api.botframework.com", "aud": CLIENT_ID, "nbf": now_s - 10, "exp": now_s + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'osb-test'})}.{part(claims)}."


TEAMS_REFUSALS = ["none", "not a bearer token", "two tokens", "forged (another key)", "for another app (audience)",
                  "for several audiences", "expired", "not valid until tomorrow", "unsigned (alg none)"]


@pytest.mark.parametrize("kind", TEAMS_REFUSALS)
async def test_a_teams_request_without_a_valid_token_is_refused_and_logged_without_its_content(
        bot, connector, botframework_keys, caplog, kind):
    caplog.set_level(logging.DEBUG)
    client = await serve(bot, PRODUCTION)
    try:
        harness = TeamsHarness(client, None, connector)
        authorization = teams_token(kind)
        activity = harness.activity(TEAMS_TEACHER, text=f"I'm being targeted: {MARKER}")
        response = await harness.post(activity, headers={"Authorization": authorization} if authorization else None)
        assert response.status == 401
        said = await response.text()
        # Refused for its token: the activity's loopback service URL (refused in production) was never reached.
        assert MARKER not in said and "host validator" not in said
        assert connector.calls == []
        assert await bot.store.load_conversation(f"default/teams:{harness.conversation(TEAMS_TEACHER)}") is None
        assert warned(caplog), "a refused request should leave a WARNING saying why"
        assert_nothing_logged_of(caplog, MARKER)
    finally:
        await client.close()


@pytest.mark.parametrize("claims", [
    # Microsoft Entra would sign this for an app in another tenant; the audience is ours, the issuer is not.
    {"iss": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0", "tid": OTHER_TENANT},
    {"iss": f"https://sts.windows.net/{OTHER_TENANT}/", "tid": OTHER_TENANT},
    {"iss": "https://issuer.example.com"},
], ids=["another tenant (v2)", "another tenant (v1)", "an unknown issuer"])
async def test_a_token_from_another_tenant_or_issuer_is_not_accepted(bot, botframework_keys, claims):
    """Checked with the token validator exactly as the Teams channel configures it (the keys are served locally):
    a token for our app id, correctly signed, but issued for another tenant or by an issuer we do not trust."""
    from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator

    from bot.channels.teams import TeamsChannel, teams_config

    channel = TeamsChannel(bot, teams_config(PRODUCTION))
    validator = JwtTokenValidator(channel.connections.get_default_connection_configuration())
    assert (await validator.validate_token(token())).claims["aud"] == CLIENT_ID  # the genuine one passes
    with pytest.raises(ValueError):
        await validator.validate_token(token(**claims))


# --- case actions by someone the case was not sent to --------------------------------------------------------

ACTIONS = ["show", "ack", "urgent", "plan", "pack", "pack_reporter", "record", "note", "action", "status", "close",
           "tick:investigation.who_behind"]
FORMS = {"note": ("case_note", {"note": "hello"}), "action": ("case_action", {"action": "reported_to_platform"}),
         "status": ("case_status", {"status": "in_progress"}),
         "close": ("case_close", {"outcome": "no_further_action", "open_items_reason": "x"})}
CASE_CONTENT = ["Jo Brown", "fake_hillside", "mocking captions", "school laptop", "Dana Lee", "Sam Patel", "Instagram",
                "New", "Acknowledged"]


@pytest.fixture
async def reported_case(content, staffed, settings, clock):
    """A case from the console teacher, routed to the DSL and deputy only (the head and chair are not)."""
    from bot.conversation.engine import Engine

    engine = Engine(content, staffed, settings, clock=clock)
    reporter = Chat(engine)
    await walk(reporter, STANDARD_REPORT)
    await reporter.pick("send")
    case = await engine.store.get_case("default", REF)
    assert {r.user for r in case.routed_to} == {"console:dsl", "console:deputy"}
    return engine


async def refusal_for_unknown(engine, user: str, action: str) -> str:
    stranger = Chat(engine, user)
    await stranger.pick(f"case:OSB-2026-9999:{action}", forms=True, files=True)
    return stranger.text.replace("OSB-2026-9999", "REF")


async def pending(engine) -> list:
    return await engine.store.pending_notifications("console")


async def assert_refused_and_recorded(engine, outsider: Chat, tried: str, before_events: int, before_outbox: int):
    assert outsider.keys == ["case.not_found"], outsider.keys
    (reply,) = outsider.last
    assert not (reply.card or reply.choices or reply.file or reply.form)
    for word in CASE_CONTENT:
        assert word not in reply.text, word
    assert outsider.text.replace(REF, "REF") == await refusal_for_unknown(engine, "console:stranger", "ack")
    case = await engine.store.get_case("default", REF)
    assert case.status == CaseStatus.NEW and case.outcome is None
    events = await engine.store.case_events(case.id)
    (refused,) = events[before_events:]
    assert (refused.kind, refused.actor, refused.detail) == (
        "access_refused",
        outsider.platform + ":" + outsider.user_id,
        {"action": tried},
    )
    assert len(await pending(engine)) == before_outbox  # nobody was sent anything
    assert (await engine.store.verify_case_chain(case.id)).intact


@pytest.mark.parametrize("user", ["console:head", "console:chair", "console:stranger", "console:teacher"],
                         ids=["headteacher", "chair", "not in the directory", "the reporter"])
@pytest.mark.parametrize("action", ACTIONS)
async def test_a_case_button_pressed_by_someone_not_routed_is_refused_and_recorded(reported_case, user, action):
    if user == "console:teacher" and action == "show":
        pytest.skip("the reporter may see their own report's status (tests/cases/test_casework.py)")
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    before = len(await engine.store.case_events(case.id))
    outbox = len(await pending(engine))
    outsider = Chat(engine, user)
    await outsider.pick(f"case:{REF}:{action}", forms=True, files=True)
    await assert_refused_and_recorded(engine, outsider, action.partition(":")[0], before, outbox)


@pytest.mark.parametrize("action", FORMS)
async def test_a_form_submitted_by_someone_not_routed_is_refused_and_recorded(reported_case, action):
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    before = len(await engine.store.case_events(case.id))
    outbox = len(await pending(engine))
    outsider = Chat(engine, "console:head")
    flow, values = FORMS[action]
    await outsider.say("", form_id=f"{flow}:{REF}", form_values=values)
    await assert_refused_and_recorded(engine, outsider, action, before, outbox)


async def test_a_made_up_action_is_refused_and_recorded_as_other(reported_case):
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    outsider = Chat(engine, "console:head")
    await outsider.pick(f"case:{REF}:{'x' * 5000}")
    assert outsider.keys == ["case.not_found"]
    refused = [e for e in await engine.store.case_events(case.id) if e.kind == "access_refused"]
    assert [e.detail for e in refused] == [{"action": "other"}]  # nothing the sender made up is kept


async def test_a_case_action_typed_by_someone_not_routed_is_refused_and_recorded(reported_case):
    """The chat accepts a choice's id typed as text; a case button's id typed by someone it was never offered to
    is an attempt on the case like a replayed button."""
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    before = len(await engine.store.case_events(case.id))
    outbox = len(await pending(engine))
    outsider = Chat(engine, "console:head")
    await outsider.say(f"case:{REF}:close")
    await assert_refused_and_recorded(engine, outsider, "close", before, outbox)


async def test_an_unknown_reference_gets_the_same_refusal_and_nothing_is_recorded(reported_case):
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    before = await engine.store.case_events(case.id)
    unknown = await refusal_for_unknown(engine, "console:head", "close")
    known = Chat(engine, "console:head")
    await known.pick(f"case:{REF}:close")
    assert known.text.replace(REF, "REF") == unknown
    assert len(await engine.store.case_events(case.id)) == len(before) + 1  # only the attempt on the real case


async def test_refusals_show_in_the_safeguarding_record_in_words(reported_case, clock):
    engine = reported_case
    for action in ACTIONS:  # one a day: each day's first refusal is the one recorded
        await Chat(engine, "console:head").pick(f"case:{REF}:{action}")
        clock.advance(days=1)
    await Chat(engine, "console:head").say("", form_id=f"case_close:{REF}", form_values={"outcome": "unfounded"})
    case = await engine.store.get_case("default", REF)
    record = await build_record(
        engine.store, await engine.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="md"
    )
    refused = [e for e in record.chronology if e.kind == "access_refused"]
    assert len(refused) == len(ACTIONS) + 1
    for entry in refused:
        assert entry.what == engine.content.text("record.event.access_refused")
        assert entry.by.display.startswith("Alex Morgan")
        (tried,) = [f.value for f in entry.details if f.label == engine.content.text("record.detail.tried_to")]
        worded = {engine.content.text(f"record.tried_to.{a.partition(':')[0]}") for a in ACTIONS
                  if f"record.tried_to.{a.partition(':')[0]}" in engine.content.messages}
        assert tried in worded, f"{tried!r} is not worded in content/messages/record.yaml (record.tried_to)"


async def test_a_refusal_is_logged_without_the_case_or_the_person(reported_case, caplog):
    caplog.set_level(logging.DEBUG)
    await Chat(reported_case, "console:head").pick(f"case:{REF}:close")
    (line,) = [r for r in caplog.records if r.name == "bot.conversation.casework"]
    assert line.levelno == logging.WARNING and "refused" in line.getMessage()
    assert_nothing_logged_of(caplog, REF, "console:head", "Alex Morgan")


# --- the same through Slack ---------------------------------------------------------------------------------


async def test_on_slack_replayed_case_buttons_are_refused_recorded_and_open_nothing(slack, bot):
    card = await sent_case(slack)
    actions = ["close", "note", "record", "pack", "status"]
    for n, action in enumerate(actions, 1):
        response = await slack.click(SLACK_HEAD, {**card, "channel": f"D{SLACK_HEAD}"}, f"case:{REF}:{action}")
        assert response.status == 200
        await slack.api.wait_for(lambda n=n: len(slack.messages_to(SLACK_HEAD)) == n)
    await slack.settle()
    for refused in slack.messages_to(SLACK_HEAD):
        assert "can't find a case" in refused["text"]
        assert not any(word in json.dumps(refused) for word in ("Jo Brown", "fake_hillside", "Dana Lee"))
    assert slack.api.bodies("views.open") == []  # no form was opened for them
    assert slack.api.bodies("files.getUploadURLExternal") == []  # and no record uploaded
    case = await bot.store.get_case("default", REF)
    refusals = [(e.actor, e.detail) for e in await bot.store.case_events(case.id) if e.kind == "access_refused"]
    assert refusals == [(f"slack:{SLACK_HEAD}", {"action": "close"})]  # the day's first; the rest are counted
    assert list((await bot.store.refusal_counts(case.id)).values()) == [len(actions)]
    assert case.status == CaseStatus.NEW


async def test_on_slack_a_case_action_typed_by_someone_not_routed_is_refused_and_recorded(slack, bot):
    await sent_case(slack)
    before = len(slack.messages_to(SLACK_HEAD))
    assert (await slack.dm(SLACK_HEAD, f"case:{REF}:ack", event_id=f"Ev{uuid.uuid4().hex[:10]}")).status == 200
    said = await slack.next_message(SLACK_HEAD, before)
    assert not any(word in json.dumps(said) for word in ("Jo Brown", "fake_hillside", "Dana Lee"))
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.NEW
    assert [(e.actor, e.detail) for e in await bot.store.case_events(case.id) if e.kind == "access_refused"] == [
        (f"slack:{SLACK_HEAD}", {"action": "ack"})]


# --- no flooding a case's record, and no telling which cases exist ---------------------------------------------


async def test_refusals_are_recorded_once_per_person_case_and_day_with_a_count(reported_case, clock):
    engine = reported_case
    case = await engine.store.get_case("default", REF)
    head, chair = Chat(engine, "console:head"), Chat(engine, "console:chair")
    for _ in range(60):
        await head.pick(f"case:{REF}:show")
    await chair.pick(f"case:{REF}:ack")
    clock.advance(days=1)
    await head.pick(f"case:{REF}:close")

    refused = [
        (e.actor, e.detail["action"]) for e in await engine.store.case_events(case.id) if e.kind == "access_refused"
    ]
    assert refused == [("console:head", "show"), ("console:chair", "ack"), ("console:head", "close")]
    assert await engine.store.refusal_counts(case.id) == {
        ("console:head", "2026-11-20"): 60, ("console:chair", "2026-11-20"): 1, ("console:head", "2026-11-21"): 1}
    assert (await engine.store.verify_case_chain(case.id)).intact

    record = await build_record(
        engine.store, await engine.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="md"
    )
    first = next(e for e in record.chronology if e.kind == "access_refused")
    label = engine.content.text("record.detail.refused_that_day")
    assert [f.value for f in first.details if f.label == label] == ["60"]


async def test_a_refusal_does_the_same_work_whether_or_not_the_case_exists(reported_case, monkeypatch):
    """So that neither the reply nor the time it takes tells a stranger which references exist: the same store
    calls, in the same order, for a case they may not see as for a reference that does not exist."""
    engine = reported_case
    calls: list[str] = []
    for name in ("get_case", "record_events", "record_refusal", "list_cases", "queue_notifications", "update_case"):
        real = getattr(engine.store, name)

        async def spy(*args, real=real, name=name, **kwargs):
            calls.append(name)
            return await real(*args, **kwargs)

        monkeypatch.setattr(engine.store, name, spy)

    async def work(reference: str) -> tuple[list[str], str]:
        calls.clear()
        stranger = Chat(engine, "console:stranger")
        await stranger.pick(f"case:{reference}:close")
        return list(calls), stranger.text.replace(reference, "REF")

    for _ in range(2):  # the day's first refusal, then the ones counted
        assert await work(REF) == await work("OSB-2026-0404")
