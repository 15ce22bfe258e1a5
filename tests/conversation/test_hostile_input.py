"""Hostile input, generated with hypothesis: Slack payloads (correctly signed, but malformed, mistyped, missing or
huge fields, unicode edge cases), Teams activities, and console input; and text written to become a link, a
mention or formatting where the bot shows it.

Properties: our server never answers 500 (4xx or 200 are fine); nothing fails inside the bot (no ERROR and no
traceback in the logs); nothing stored is corrupted (every case's hash chain holds, every conversation loads,
SQLite's integrity check passes); and what a user typed reaches Block Kit (mrkdwn: `&`, `<`, `>` escaped, no
`<...>` but the bot's own links, no emphasis or quote) and Adaptive Cards (TextRuns only, never markdown, no link
but the bot's own) as the same literal words.

Examples are drawn by hypothesis, derandomized (the same on every run) and bounded for CI, then sent in a loop
inside one async test, so that each test starts its server once (hypothesis's own runner cannot share a running
event loop and its fixtures). tests/conversation/test_bad_input.py and tests/core/test_text.py have the hand-written
cases.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from bot.core.models import Attachment, ConversationState
from bot.store import SQLiteStore
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import SECRET, question, submit_modal
from testing.teams_harness import elements
from testing.teams_harness import question as card_question
from tests.channels.test_slack import DSL, TEACHER, click, say, tick

# The Slack and Teams fixtures, shared with their own test modules (the same `bot`: staff come with each channel).
from tests.channels.test_slack import bot as bot  # noqa: F401
from tests.channels.test_slack import slack as slack  # noqa: F401
from tests.channels.test_slack import slack_api as slack_api  # noqa: F401
from tests.channels.test_teams import DSL as T_DSL
from tests.channels.test_teams import TEACHER as T_TEACHER
from tests.channels.test_teams import connector as connector  # noqa: F401
from tests.channels.test_teams import teams as teams  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
REF = "OSB-2026-0001"

pytestmark = [
    pytest.mark.sqlite_only,  # the store is checked with SQLite's own integrity check
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]


# Hypothesis caches what it learns (unicode tables, constants) in a folder: the system's temporary one, not the repo.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "osb-hypothesis")


def examples(strategy: st.SearchStrategy, n: int) -> list[Any]:
    """`n` examples of `strategy`, the same on every run, with no example database written anywhere."""
    found: list[Any] = []

    @settings(max_examples=n, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


# --- what hostile input is made of ----------------------------------------------------------------------------

UNICODE = [
    "\u202e", "\u202d", "\u2066", "\u2069",  # right-to-left overrides and isolates
    "\u200d", "\u200b", "\u2060", "\ufeff",  # zero-width joiner, space, word joiner, BOM
    "\x00", "\x1b[31m", "\r\n", "\u2028", "\u0085",  # NUL, an escape sequence, odd line breaks
    "\ud800", "\udfff", "\udbff\udc00",  # lone surrogates (JSON's \uXXXX escapes allow them), and a pair
    "\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466", "\U0001F3F3\ufe0f\u200d\U0001F308",  # ZWJ emoji
    "e\u0301", "\uFB01", "\U0001D54F", "\uffff", "\U0010ffff", "\u0627\u0644", "\u0600",
]
# Fragments that would be a link, a mention or formatting if the bot passed them on as they are. The marker
# words (zq...) let a test find each one in what the bot sent.
DANGEROUS = [
    "<https://evil.example/zqlink|click here>", "<https://evil.example/zqbare>", "<!channel>", "<!here>",
    "<!everyone>", "<@U0DSL>", "<#C0GENERAL|general>", "<!subteam^S0TEAM>", "<!date^1392734382^{date}|x>",
    "@channel", "@here", "&lt;!channel&gt;", "&amp;", "&lt;", "&gt;", "&", "<", ">",
    "*zqbold*", "_zqital_", "~zqstrike~", "`zqcode`", "```zqblock```", "\n> zqquote", "\n&gt; zqquote2",
    "**zqmd**", "[zqmdlink](https://evil.example/md)", "![zqimg](https://evil.example/i.png)",
    "<at>Zq Person</at>", "<b>zqhtml</b>", "<script>alert(1)</script>", "\\*", "\\", "mailto:zq@evil.example",
    "https://evil.example/zqurl", "evil.example/zqnoscheme", ":zqemoji:", "\n- zqbullet", "{reference}", "%s",
]
fragment = st.one_of(st.sampled_from(DANGEROUS), st.sampled_from(UNICODE), st.text(max_size=12))
hostile_text = st.lists(fragment, max_size=8).map("".join)
huge_text = st.sampled_from(["x" * 100_000, "\U0001F600" * 50_000, "<!channel> " * 10_000, "\u202e" * 100_000])
any_text = st.one_of(hostile_text, huge_text)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), hostile_text),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def json_dumps(value: Any) -> str:
    """As a sender might: surrogates as \\uXXXX escapes, NaN as it is (Python's reader takes both)."""
    return json.dumps(value, ensure_ascii=True)


def fields(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of `keys`, each given a value of any type (text, numbers, lists, objects, null)."""
    return st.dictionaries(st.sampled_from(keys), st.one_of(json_value, any_text), max_size=4)


# --- what must hold afterwards -----------------------------------------------------------------------------------


def assert_nothing_failed(caplog, marker: str | None = None) -> None:
    """No error inside the bot or the web server (an unhandled exception shows as one), and, when given, nothing
    of what was sent (`marker` is in the text of each request) in any log record of any library."""
    ours = [r for r in caplog.records if r.name.startswith("bot.")
            # the web server's own report of an exception escaping a handler: ours, not the fake API's
            or (r.name.startswith("aiohttp") and "/bot/" in (r.exc_text or ""))]
    bad = [r for r in ours if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, "\n".join(f"{r.name} {r.levelname}: {r.getMessage()[:200]}" for r in bad)
    if marker:
        leaked = [r for r in caplog.records if marker in r.getMessage() + (r.exc_text or "")]
        assert not leaked, "what was sent is in the log:\n" + "\n".join(
            f"{r.name} {r.levelname}: {r.getMessage()[:200]}" for r in leaked)


async def assert_store_sound(store: SQLiteStore) -> None:
    for case in await store.list_cases("default"):
        assert (await store.verify_case_chain(case.id)).intact, case.reference
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        keys = [row[0] for row in db.execute("SELECT key FROM conversations")]
    for key in keys:
        assert isinstance(await store.load_conversation(key), ConversationState)


# --- (a) Slack payloads, correctly signed ----------------------------------------------------------------------

EVENT_KEYS = ["type", "channel", "channel_type", "user", "text", "ts", "team", "subtype", "files", "bot_id",
              "client_msg_id", "tab", "blocks", "edited", "thread_ts"]
ENVELOPE_KEYS = ["type", "event", "event_id", "team_id", "api_app_id", "token", "challenge", "authorizations",
                 "event_time", "is_ext_shared_channel"]
ACTION_KEYS = ["action_id", "type", "value", "block_id", "text", "action_ts", "selected_options"]
PAYLOAD_KEYS = ["type", "user", "team", "channel", "container", "message", "state", "actions", "trigger_id", "view",
                "api_app_id", "response_url"]
COMMAND_KEYS = ["user_id", "text", "command", "trigger_id", "channel_id", "team_id", "response_url"]
event_ids = itertools.count(1)


def dm_event(text: str) -> dict[str, Any]:
    return {"type": "message", "channel": f"D{TEACHER}", "channel_type": "im", "user": TEACHER, "text": text,
            "ts": f"{time.time():.6f}", "team": "T0HILL"}


LOGGED = "zqlog"  # begins the text of each generated request: it must never be seen in a log
logged_text = any_text.map(lambda t: f"{LOGGED} {t}")


@st.composite
def slack_event(draw) -> tuple[str, bytes]:
    event = {**dm_event(draw(logged_text)), **draw(fields(EVENT_KEYS))}
    for key in draw(st.sets(st.sampled_from(EVENT_KEYS), max_size=3)):
        event.pop(key, None)
    files = draw(st.lists(st.one_of(json_value, st.fixed_dictionaries(
        {"id": any_text, "name": any_text, "permalink": any_text, "mimetype": json_value, "size": json_value})),
        max_size=2))
    if files:
        event.update(subtype="file_share", files=files)
    envelope = {"token": "legacy", "team_id": "T0HILL", "api_app_id": "A0OSB", "type": "event_callback",
                "event": event, "event_time": 1, **draw(fields(ENVELOPE_KEYS))}
    envelope.setdefault("event_id", f"EvHOSTILE{next(event_ids)}")
    return "application/json", json_dumps(envelope).encode()


@st.composite
def slack_interaction(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["block_actions", "view_submission", "block_suggestion", "shortcut", "nonsense"]))
    value = draw(st.one_of(st.builds(lambda c, q: json_dumps({"c": c, "q": q}), json_value, json_value), logged_text))
    action = {"action_id": draw(st.sampled_from(["osb_choice_0", "osb_continue", "osb_pick", "osb_choice_x"])),
              "type": "button", "value": value, "block_id": "b", "action_ts": f"{time.time():.6f}{next(event_ids)}",
              **draw(fields(ACTION_KEYS))}
    view = {"id": f"VH{next(event_ids)}", "callback_id": "osb_form",
            "private_metadata": draw(st.one_of(st.builds(lambda f: json_dumps({"form": f}), json_value), any_text)),
            "state": {"values": draw(json_value)}}
    payload = {"type": kind, "user": {"id": TEACHER, "team_id": "T0HILL"}, "team": {"id": "T0HILL"},
               "api_app_id": "A0OSB", "trigger_id": f"trig-h{next(event_ids)}", "channel": {"id": f"D{TEACHER}"},
               "container": {"type": draw(st.sampled_from(["message", "view"])), "message_ts": "1.0"},
               "message": {"ts": "1.0", "text": "", "blocks": []}, "state": {"values": draw(json_value)},
               "actions": [action], "view": view, **draw(fields(PAYLOAD_KEYS))}
    body = draw(st.one_of(st.just(json_dumps(payload)), any_text))  # sometimes not JSON at all
    return "application/x-www-form-urlencoded", urlencode({"payload": body}, errors="surrogatepass").encode()


@st.composite
def slack_command(draw) -> tuple[str, bytes]:
    form = {"token": "legacy", "team_id": "T0HILL", "channel_id": "C0GENERAL", "user_id": TEACHER,
            "command": "/online-safety", "text": draw(logged_text), "trigger_id": f"trig-c{next(event_ids)}",
            "response_url": "http://127.0.0.1:9/response",
            **{k: str(v) for k, v in draw(fields(COMMAND_KEYS)).items() if k != "response_url"}}
    return "application/x-www-form-urlencoded", urlencode(form, encoding="utf-8", errors="surrogatepass").encode()


garbage = st.tuples(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                     "application/json; charset=latin-1", ""]), st.binary(max_size=300))


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


async def test_signed_but_malformed_slack_payloads_never_get_a_500_crash_or_corruption(slack, bot, caplog):
    payloads = (examples(slack_event(), 30) + examples(slack_interaction(), 30) + examples(slack_command(), 12)
                + examples(garbage, 12))
    failed = []
    for content_type, body in payloads:
        headers = {"Content-Type": content_type, **signed(body)} if content_type else signed(body)
        response = await slack.client.post("/slack/events", data=body, headers=headers)
        if response.status >= 500:
            failed.append((response.status, body[:200]))
    assert not failed, f"{len(failed)} of {len(payloads)} got a 5xx, first: " + "\n".join(map(repr, failed[:5]))
    await slack.settle()
    assert len(slack.api.bodies("chat.postMessage")) > 10  # many of them were taken as turns and answered
    assert_nothing_failed(caplog, LOGGED)
    await assert_store_sound(bot.store)
    # And the bot still works for that person.
    (reply,) = await say(slack, TEACHER, "menu")
    assert question(reply) == "menu"


# --- (b) Teams activities ------------------------------------------------------------------------------------------

ACTIVITY_KEYS = ["type", "text", "value", "attachments", "from", "conversation", "entities", "channelData",
                 "replyToId", "textFormat", "locale", "name", "action", "membersAdded", "membersRemoved", "id",
                 "recipient", "timestamp", "channelId", "summary", "suggestedActions"]
ACTIVITY_TYPES = ["message", "invoke", "installationUpdate", "conversationUpdate", "typing", "messageReaction", "x"]


@st.composite
def teams_activity(draw, harness) -> dict[str, Any]:
    activity = harness.activity(T_TEACHER, text=draw(logged_text))
    activity.update(type=draw(st.sampled_from(ACTIVITY_TYPES)))
    value = draw(st.one_of(st.none(), json_value, st.builds(lambda o: {"osb": o}, json_value),
                           st.builds(lambda c, q: {"osb": {"c": c, "q": q}}, json_value, json_value),
                           st.builds(lambda f, v: {"osb": {"f": f}, "osb_field_note": v}, json_value, any_text)))
    if value is not None:
        activity["value"] = value
    if activity["type"] == "invoke":
        activity["name"] = draw(st.sampled_from(["fileConsent/invoke", "adaptiveCard/action", "x"]))
    attachments = draw(st.lists(st.one_of(json_value, st.fixed_dictionaries(
        {"contentType": st.sampled_from(["application/vnd.microsoft.teams.file.download.info", "image/png",
                                         "text/html", "x"]),
         "name": any_text, "contentUrl": any_text, "content": json_value})), max_size=2))
    if attachments:
        activity["attachments"] = attachments
    # The service URL stays the fake connector's: the bot answers there, and a test never reaches anything else.
    activity.update({k: v for k, v in draw(fields(ACTIVITY_KEYS)).items() if k != "serviceUrl"})
    for key in draw(st.sets(st.sampled_from(ACTIVITY_KEYS), max_size=3)):
        activity.pop(key, None)
    return activity


async def test_malformed_teams_activities_never_get_a_500_crash_or_corruption(teams, bot, caplog):
    activities = examples(teams_activity(teams), 70)
    raw = examples(st.one_of(st.binary(max_size=200), any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))), 15)
    failed = []
    for activity in [*activities, *raw]:
        body = activity if isinstance(activity, bytes) else json_dumps(activity).encode()
        response = await teams.client.post("/api/messages", data=body, headers={"Content-Type": "application/json"})
        # 501 is the Bot Framework's answer to an invoke no handler takes (the SDK's, and what Teams expects).
        unhandled_invoke = response.status == 501 and isinstance(activity, dict) and activity.get("type") == "invoke"
        if response.status >= 500 and not unhandled_invoke:
            failed.append((response.status, body[:200]))
    assert not failed, f"{len(failed)} of {len(activities) + len(raw)} got a 5xx, first: " + "\n".join(
        map(repr, failed[:5])
    )
    assert len(teams.connector.calls) > 10  # many were taken as turns and answered
    assert_nothing_failed(caplog, LOGGED)
    await assert_store_sound(bot.store)
    (reply,) = await teams.say(T_TEACHER, "menu")
    assert card_question(reply) == "menu"


# --- (c) console input through the engine ------------------------------------------------------------------------

console_input = st.one_of(
    st.builds(lambda t: ("say", t), any_text),
    st.builds(lambda c: ("pick", c), st.lists(st.one_of(hostile_text, st.sampled_from(
        ["menu:report_concern", "menu:my_cases", "menu:resume", f"case:{REF}:ack", "case::", "case:x:tick:",
         "send", "change", "done", "skip"])), max_size=3)),
    st.builds(lambda f, v: ("form", f, v), st.one_of(hostile_text, st.sampled_from(
        [f"case_note:{REF}", f"case_close:{REF}", "case_status:", f"x:{REF}"])),
        st.dictionaries(hostile_text, hostile_text, max_size=3)),
    st.builds(lambda n, r, s: ("attach", n, r, s), hostile_text, hostile_text,
              st.one_of(st.none(), st.integers(min_value=-1, max_value=2**63))),
)


async def test_console_input_never_crashes_or_corrupts_and_a_report_still_goes_through(content, staffed, settings,
                                                                                        clock, caplog):
    from bot.conversation.engine import Engine

    engine = Engine(content, staffed, settings, clock=clock)
    chat = Chat(engine)
    for n, given_input in enumerate(examples(console_input, 100)):
        # At each step of a report in turn (the free-text ones keep what they are given), or with nothing running.
        await chat.say("stop")
        await chat.pick("menu:delete")
        await walk(chat, STANDARD_REPORT[: n % len(STANDARD_REPORT)])
        kind, *args = given_input
        if kind == "say":
            await chat.say(args[0])
        elif kind == "pick":
            await chat.pick(*args[0])
        elif kind == "form":
            await chat.say("", form_id=args[0], form_values=args[1])
        else:
            name, ref, size = args
            await chat.attach(Attachment(name=name or "f", ref=ref or "r", size=size))
        assert chat.last, given_input
        assert "common.store_error" not in chat.keys, given_input
    assert_nothing_failed(caplog)
    await assert_store_sound(engine.store)
    await chat.say("stop")
    await chat.pick("menu:delete")
    await walk(chat, STANDARD_REPORT)
    await chat.pick("send")
    assert chat.reply("report.sent")


# --- injection: typed text never becomes a link, a mention or formatting ---------------------------------------------

CONTENT_HOSTS = {urlsplit(u).hostname for path in (ROOT / "content").rglob("*.yaml")
                 for u in re.findall(r"https?://[^\s)\]\"'<>|]+", path.read_text(encoding="utf-8"))} - {None}
EMPHASIS = [re.compile(p) for p in (r"\*zqbold\*", r"(?<![\w])_zqital_(?![\w])", r"~zqstrike~", r"`zqcode`",
                                     r"```zqblock```")]


def injection_texts(n: int, start: int = 0) -> list[str]:
    """Each begins with its own marker word, so that it is never a command or a choice, and can be found. The third
    and sixth hold every dangerous fragment (each on a line of its own in the sixth); the rest are drawn."""
    drawn = examples(st.lists(st.one_of(st.sampled_from(DANGEROUS), st.text(max_size=10)), min_size=2, max_size=6)
                     .map("".join), n)
    drawn[2], drawn[5] = " ".join(DANGEROUS), "\n".join(reversed(DANGEROUS))
    return [f"zqm{start + i} {text}" for i, text in enumerate(drawn)]


def slack_texts(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, text) of every text Slack would parse for markup in a Web API call's body."""
    found = []

    def walk_node(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                found.append((node["type"], node["text"]))
                if node["type"] == "mrkdwn":
                    assert node.get("verbatim") is True, node  # Slack links and mentions nothing by itself
            for value in node.values():
                walk_node(value)
        elif isinstance(node, list):
            for value in node:
                walk_node(value)

    walk_node(body.get("blocks"))
    walk_node(body.get("view"))
    for key in ("text", "initial_comment"):  # a message's fallback text and a file's comment are mrkdwn too
        if isinstance(body.get(key), str):
            found.append(("fallback", body[key]))
    return found


def slack_problems(kind: str, text: str, bot_mentions: tuple[str, ...] = ()) -> list[str]:
    """What in one text Slack would turn into a link, a mention or formatting that the bot did not write (the bot
    writes `bot_mentions` itself: the reporter, named on a card)."""
    if kind == "plain_text":
        return []  # shown exactly as it is: nothing in it is parsed
    problems = []
    for token in re.findall(r"<[^<>]*>?", text):
        if token in bot_mentions:
            continue
        link = re.fullmatch(r"<(https?://[^|<>\s]+)(?:\|[^<>]*)?>", token)
        if not (link and urlsplit(link.group(1)).hostname in CONTENT_HOSTS):
            problems.append(f"{kind}: {token[:60]!r} is a link or mention")
    if "&" in re.sub(r"&(amp|lt|gt);", "", text):
        problems.append(f"{kind}: an unescaped &")
    if kind == "mrkdwn":
        problems += [f"{kind}: {p.pattern} formats" for p in EMPHASIS if p.search(text)]
        problems += [f"{kind}: a quote {line[:40]!r}" for line in text.split("\n") if line.startswith(("&gt;", ">"))]
    return problems


async def slack_report_with(slack, texts: list[str]) -> None:
    """A whole report by Slack DM with hostile text at every free-text step and as a file's name, then the summary's
    description changed for each remaining text, and sent."""
    texts = iter(texts)
    (msg,) = await say(slack, TEACHER, "I'm being targeted")
    (msg,) = await tick(slack, TEACHER, msg, ["targeting_me"])
    msgs = await click(slack, TEACHER, msg, "no")
    (msg,) = await tick(slack, TEACHER, msgs[-1], ["instagram"])
    msgs = await say(slack, TEACHER, next(texts))  # as an account: refused, or kept if it holds a handle
    if question(msgs[-1]) == "report_concern.accounts":
        msgs = await say(slack, TEACHER, "@zq_fake_hillside")
    assert question(msgs[-1]) == "report_concern.first_seen"
    (msg,) = await say(slack, TEACHER, "yesterday")
    (msg,) = await say(slack, TEACHER, next(texts))
    (msg,) = await tick(slack, TEACHER, msg, ["me"])
    *_, msg = await say(slack, TEACHER, next(texts))  # a handle or platform in it is added too, and said so
    assert question(msg) == "report_concern.evidence", msg["text"]
    file = {"id": "F0H", "name": next(texts)[:80] + ".png", "mimetype": "image/png", "size": 10,
            "permalink": "https://hillside.slack.com/files/F0H"}
    *_, msg = await say(slack, TEACHER, next(texts), files=[file])
    msgs = await click(slack, TEACHER, msg, "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["nobody"])
    (msg,) = await click(slack, TEACHER, msgs[-1], "former")
    (summary,) = await say(slack, TEACHER, next(texts))
    for text in texts:
        (msg,) = await click(slack, TEACHER, summary, "change")
        (msg,) = await click(slack, TEACHER, msg, "description")
        (summary,) = await say(slack, TEACHER, text)
        assert question(summary) == "report_concern.summary", summary["text"]
    await click(slack, TEACHER, summary, "send")


async def test_typed_text_never_becomes_a_link_a_mention_or_formatting_in_slack(slack, bot):
    texts = injection_texts(14)
    await slack_report_with(slack, texts[:11])
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    for action, values in (("note", {"note": texts[11]}),
                           ("action", {"action": "reported_to_platform", "platform_reference": texts[12][:200]})):
        opened = len(slack.api.bodies("views.open"))
        assert (await slack.click(DSL, card, f"case:{REF}:{action}")).status == 200
        views = await slack.api.wait_for(
            lambda opened=opened: len(slack.api.bodies("views.open")) > opened and slack.api.bodies("views.open")
        )
        await submit_modal(slack, DSL, views[-1]["view"], values, view_id=f"V{action}")
        await slack.settle()
    await click(slack, DSL, card, f"case:{REF}:ack")
    await slack.home_opened(DSL)
    await slack.settle()

    shown, problems = [], set()
    for method, body in slack.api.calls:
        if method in ("chat.postMessage", "chat.update", "views.open", "views.publish", "files.completeUploadExternal"):
            for kind, text in slack_texts(body):
                problems.update(slack_problems(kind, text, bot_mentions=(f"<@{TEACHER}>",)))
                shown.append(text)
    assert not problems, "\n".join(sorted(problems))
    everything = "\n".join(shown)
    for n in range(1, 11):  # each typed text reached the summary (not dropped along the way)
        assert f"zqm{n}" in everything, n
    case = await bot.store.get_case("default", REF)
    assert case.answers["description"].startswith("zqm10")


async def teams_report_with(teams, texts: list[str]) -> None:
    texts = iter(texts)
    user = T_TEACHER
    (msg,) = await teams.say(user, "I'm being targeted")
    (msg,) = await teams.tick(user, msg, ["targeting_me"])
    msgs = await teams.press(user, msg, "no")
    (msg,) = await teams.tick(user, msgs[-1], ["instagram"])
    msgs = await teams.say(user, next(texts))
    if card_question(msgs[-1]) == "report_concern.accounts":
        msgs = await teams.say(user, "@zq_fake_hillside")
    (msg,) = await teams.say(user, "yesterday")
    (msg,) = await teams.say(user, next(texts))
    (msg,) = await teams.tick(user, msg, ["me"])
    *_, msg = await teams.say(user, next(texts))  # a handle or platform in it is added too, and said so
    assert card_question(msg) == "report_concern.evidence"
    shared = {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": next(texts)[:80] + ".png",
              "contentUrl": "https://hillside.sharepoint.com/personal/jo/shot.png",
              "content": {"downloadUrl": f"{teams.connector.url}files/shot.png", "uniqueId": "1", "fileType": "png"}}
    *_, msg = await teams.say(user, next(texts), attachments=[shared])
    msgs = await teams.press(user, msg, "done")
    msgs = await teams.tick(user, msgs[-1], ["nobody"])
    (msg,) = await teams.press(user, msgs[-1], "former")
    (summary,) = await teams.say(user, next(texts))
    for text in texts:
        (msg,) = await teams.press(user, summary, "change")
        (msg,) = await teams.press(user, msg, "description")
        (summary,) = await teams.say(user, text)
        assert card_question(summary) == "report_concern.summary"
    await teams.press(user, summary, "send")


def assert_inert_in_teams(activity: dict[str, Any]) -> list[str]:
    """The words of every card in an activity; fails on anything Teams would render as markdown, a link that is not
    the bot's own, or a mention."""
    assert not [e for e in activity.get("entities") or [] if isinstance(e, dict) and e.get("type") == "mention"]
    words = []
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            continue
        card = attachment["content"]
        assert "msteams" not in json.dumps(card), "a card with Teams mention entities"
        for element in elements(card):
            kind = element.get("type")
            assert kind not in ("TextBlock", "FactSet", "Fact"), element  # Teams renders their text as markdown
            for url in (element.get("url"), (element.get("selectAction") or {}).get("url")):
                if url:
                    assert urlsplit(url).hostname in CONTENT_HOSTS, element
            if kind == "TextRun":
                words.append(element["text"])
    return words


async def test_typed_text_never_becomes_a_link_a_mention_or_formatting_in_teams(teams, bot):
    texts = injection_texts(13, start=100)
    await teams.install(T_DSL)
    await teams_report_with(teams, texts[:11])
    card = teams.to(T_DSL)[-1]
    (form,) = await teams.press(T_DSL, card, f"case:{REF}:note")
    await teams.fill(T_DSL, form, {"note": texts[11]})
    await teams.press(T_DSL, card, f"case:{REF}:ack")

    shown = []
    for call in teams.connector.calls:
        if call["method"] in ("POST", "PUT"):
            shown += assert_inert_in_teams(call["body"])
    everything = "\n".join(shown)
    for n in range(101, 111):
        assert f"zqm{n}" in everything, n
    # The DSL's card shows each stored answer as the same literal words (TextRuns are never markdown).
    case = await bot.store.get_case("default", REF)
    dsl_card = "\n".join(assert_inert_in_teams(card))
    for step in ("description", "names", "behind_it_detail"):
        for line in case.answers[step].split("\n"):
            assert line.strip() in dsl_card, (step, line)
