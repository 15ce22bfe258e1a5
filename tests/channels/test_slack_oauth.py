"""Slack for many workspaces through our real server: Bolt's install flow (`/slack/install`, Slack's authorize
page, `/slack/oauth_redirect`) against the fake Web API, each workspace's token kept encrypted in our store,
and every call made with the token of the workspace it is for."""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store import Installation

from bot.app.server import build_app, configured_channels
from bot.channels.slack.config import slack_config
from bot.channels.slack.installations import BOT_SCOPES, NotInstalled, StoreInstallations
from bot.conversation.engine import Engine
from bot.core.config import ConfigError
from bot.core.models import Role, School, StaffMember, Workspace
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.fakes.slack_api import CLIENT_ID, CLIENT_SECRET, FakeSlackApi
from testing.slack_harness import SECRET, SlackHarness
from tests.conftest import run_sql

ROOT = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()
COOKIE = "slack-app-oauth-state"
# Two workspaces, each its own school, each with a DSL and a teacher.
HILL, OAK = "T0HILL", "T0OAK"
SCHOOLS = {HILL: ("hill", "Hillside Academy", "UHDSL", "UHT"), OAK: ("oak", "Oakfield Primary School", "UODSL", "UOT")}


# What an authority sets to install into many workspaces (README, "Slack for many workspaces").
BASE = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": SECRET,
        "OSB_TOKEN_KEY": KEY}


@pytest.fixture
async def slack_api():
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def oauth(store, content, settings, clock, slack_api):
    """Our server with the Slack channel set up from the environment to install into many workspaces."""
    for team, (school, name, dsl, teacher) in SCHOOLS.items():
        await store.upsert_school(School(id=school, name=name, workspaces=[Workspace(platform="slack", id=team)]))
        await store.upsert_staff(StaffMember(school_id=school, user=f"slack:{dsl}", role=Role.DSL, name=f"{name} DSL"))
        await store.upsert_staff(StaffMember(school_id=school, user=f"slack:{teacher}", role=Role.STAFF, name="Jo"))
    bot = Engine(content, store, settings, clock=clock)
    [channel] = configured_channels(bot, {**BASE, "SLACK_API_URL": slack_api.url})
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    yield SlackHarness(client, channel, slack_api)
    await client.close()


async def start_install(slack: SlackHarness) -> tuple[dict[str, list[str]], str]:
    """Open /slack/install as a browser does: the authorize link's query, and the state cookie it was given."""
    response = await slack.client.get("/slack/install", allow_redirects=False)
    assert response.status == 200
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', await response.text())
    assert link, "no link to Slack's authorize page"
    cookie = response.cookies[COOKIE].value
    slack.client.session.cookie_jar.clear()  # each step below sends exactly the cookie it means to
    return parse_qs(urlsplit(html.unescape(link.group(1))).query), cookie


async def finish_install(slack: SlackHarness, code: str, state: str, cookie: str | None):
    """Slack sending the installer back to /slack/oauth_redirect, their browser with `cookie` (if any)."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    return await slack.client.get(f"/slack/oauth_redirect?{urlencode({'code': code, 'state': state})}",
                                  headers=headers, allow_redirects=False)


async def install(slack: SlackHarness, team: str) -> str:
    """Install the app into `team` through the whole flow; its bot token."""
    answer = slack.api.add_install(f"code-{team}", team, SCHOOLS[team][1])
    query, cookie = await start_install(slack)
    response = await finish_install(slack, f"code-{team}", query["state"][0], cookie)
    assert response.status == 200, await response.text()
    return answer["access_token"]


def installation_rows(store) -> dict[str, bytes]:
    """team id -> the data kept for it, as it is in the database."""
    return {r["team_id"]: bytes(r["data"]) for r in run_sql(store, "SELECT team_id, data FROM slack_installations")}


async def say(slack: SlackHarness, team: str, user: str, text: str) -> list[dict]:
    """A DM from `user` in workspace `team`; the bot's answers."""
    slack.team = team
    before = len(slack.messages_to(user))
    assert (await slack.dm(user, text)).status == 200
    return await slack.next_message(user, before)


# --- installing ---------------------------------------------------------------------------------


async def test_the_install_page_links_to_slacks_authorize_page_with_a_state_kept_in_the_store(oauth, store, clock):
    before = clock.now.timestamp()
    query, cookie = await start_install(oauth)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"][0].split(",") == list(BOT_SCOPES)
    assert "user_scope" not in query or query["user_scope"] == [""]
    state = query["state"][0]
    assert cookie == state and len(state) >= 32
    [row] = run_sql(store, "SELECT state, expires_at FROM oauth_states")
    assert row["state"] == state
    assert row["expires_at"] == before + 600  # Bolt's link and cookie last ten minutes


def test_the_scopes_asked_for_are_the_manifests():
    manifest = yaml.safe_load((ROOT / "manifest" / "slack" / "manifest.yaml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


async def test_the_redirect_completes_the_install_and_keeps_the_token_encrypted(oauth, store):
    hill_token = await install(oauth, HILL)
    oak_token = await install(oauth, OAK)
    access = oauth.api.bodies("oauth.v2.access")
    assert [b["code"] for b in access] == [f"code-{HILL}", f"code-{OAK}"]
    rows = installation_rows(store)
    assert set(rows) == {HILL, OAK}
    assert run_sql(store, "SELECT DISTINCT enterprise_id FROM slack_installations") == [{"enterprise_id": ""}]
    for team, token in ((HILL, hill_token), (OAK, oak_token)):
        assert token.encode() not in rows[team] and b"xoxb" not in rows[team]
        kept = json.loads(Fernet(KEY).decrypt(rows[team]))
        assert (kept["bot_token"], kept["team_id"], kept["bot_user_id"]) == (token, team, f"UBOT{team}")
        with pytest.raises(InvalidToken):
            Fernet(Fernet.generate_key()).decrypt(rows[team])
    assert run_sql(store, "SELECT state FROM oauth_states") == []  # each state used up


async def test_an_installation_comes_back_as_it_was_saved(store):
    """Timestamps included (a rotating token's expiry): kept as ISO text inside the encrypted data."""
    installations = StoreInstallations(store, KEY)
    saved = Installation(app_id="A0OSB", team_id=HILL, team_name="Hillside", bot_token="xoxb-1-rotating",
                         bot_id="B1", bot_user_id="UBOT", bot_scopes="chat:write,commands", bot_refresh_token="xoxe-1",
                         bot_token_expires_in=43200, user_id="UADMIN", installed_at=1_780_000_000.5,
                         custom_values={"note": "kept"})
    await installations.async_save(saved)
    found = await installations.async_find_installation(enterprise_id="E0GRID", team_id=HILL)
    assert found.to_dict_for_copying() == saved.to_dict_for_copying()
    assert (await installations.async_find_bot(enterprise_id=None, team_id=HILL)).bot_token_expires_at == \
        saved.bot_token_expires_at
    assert await installations.async_find_installation(enterprise_id=None, team_id=HILL, user_id="USOMEONE") is None
    assert await installations.async_find_bot(enterprise_id=None, team_id=OAK) is None


async def test_another_key_cannot_read_the_installations(oauth, store, caplog):
    await install(oauth, HILL)
    assert (await StoreInstallations(store, KEY).async_find_bot(enterprise_id=None, team_id=HILL)).bot_token
    with caplog.at_level(logging.ERROR, logger="bot.channels.slack.installations"):
        found = await StoreInstallations(store, Fernet.generate_key().decode()).async_find_bot(
            enterprise_id=None, team_id=HILL)
    assert found is None
    assert "cannot be decrypted with OSB_TOKEN_KEY" in caplog.text


async def test_a_forged_reused_or_cookieless_state_is_refused(oauth, store):
    oauth.api.add_install("code-1", HILL, "Hillside Academy")
    # A state this server never issued, even with a cookie to match it.
    response = await finish_install(oauth, "code-1", "forged-state", "forged-state")
    assert response.status == 401
    # An issued state, but arriving in a browser that was not given it.
    query, cookie = await start_install(oauth)
    assert (await finish_install(oauth, "code-1", query["state"][0], None)).status == 400
    assert (await finish_install(oauth, "code-1", query["state"][0], "another")).status == 400
    assert oauth.api.bodies("oauth.v2.access") == [] and installation_rows(store) == {}
    # The right one works once; used again (a replayed link), it is refused.
    assert (await finish_install(oauth, "code-1", query["state"][0], cookie)).status == 200
    oauth.api.add_install("code-2", HILL, "Hillside Academy")
    assert (await finish_install(oauth, "code-2", query["state"][0], cookie)).status == 401
    assert [b["code"] for b in oauth.api.bodies("oauth.v2.access")] == ["code-1"]


async def test_an_install_link_works_for_ten_minutes_and_is_refused_after(oauth, store, clock):
    oauth.api.add_install("code-1", HILL, "Hillside Academy")
    query, cookie = await start_install(oauth)
    clock.advance(minutes=10, seconds=1)  # the test's clock, which the state store reads: nobody waits
    assert (await finish_install(oauth, "code-1", query["state"][0], cookie)).status == 401
    assert oauth.api.bodies("oauth.v2.access") == [] and installation_rows(store) == {}
    query, cookie = await start_install(oauth)
    clock.advance(minutes=9, seconds=59)
    assert (await finish_install(oauth, "code-1", query["state"][0], cookie)).status == 200
    assert set(installation_rows(store)) == {HILL}


async def test_a_code_slack_refuses_installs_nothing(oauth, store):
    query, cookie = await start_install(oauth)
    assert (await finish_install(oauth, "never-issued", query["state"][0], cookie)).status == 401
    assert installation_rows(store) == {}


# --- each workspace spoken to with its own token -----------------------------------------------------


async def test_each_workspace_is_answered_with_its_own_token(oauth, caplog):
    with caplog.at_level(logging.DEBUG):
        tokens = {HILL: await install(oauth, HILL), OAK: await install(oauth, OAK)}
        for team, (school, _, _, teacher) in SCHOOLS.items():
            [message] = await say(oauth, team, teacher, "I'm being targeted")
            assert "report_concern.categories" in json.dumps(message["blocks"])
            state = await oauth.channel.bot.store.load_conversation(f"{school}/slack:D{teacher}")
            assert state is not None and state.active.flow == "report_concern"
        await oauth.settle()
    for team, (_, _, _, teacher) in SCHOOLS.items():
        mine = tokens[team]
        assert [b["channel"] for b in oauth.api.bodies_by("chat.postMessage", mine)] == [f"D{teacher}"]
        assert oauth.api.bodies_by("auth.test", mine)  # Bolt's authorize asked Slack about this workspace's token
    # Every call but the install itself was made with one of the two tokens.
    assert {t for (m, _), t in zip(oauth.api.calls, oauth.api.tokens, strict=True) if m != "oauth.v2.access"} == set(
        tokens.values()
    )
    for token in tokens.values():
        assert token not in caplog.text and token.split("-")[-1] not in caplog.text  # never logged


async def test_a_dsl_notification_goes_out_with_the_token_of_the_schools_workspace(oauth):
    tokens = {HILL: await install(oauth, HILL), OAK: await install(oauth, OAK)}
    bot = oauth.channel.bot
    teacher = Chat(bot, "slack:UOT", school="oak")
    await walk(teacher, STANDARD_REPORT)
    await teacher.pick("send")
    await oauth.channel.deliver_pending()
    [card] = oauth.api.bodies_by("chat.postMessage", tokens[OAK])
    assert card["channel"] == "DUODSL" and "OSB-2026-0001" in json.dumps(card["blocks"])
    assert [b["users"] for b in oauth.api.bodies_by("conversations.open", tokens[OAK])] == ["UODSL"]
    assert oauth.api.bodies_by("chat.postMessage", tokens[HILL]) == []
    assert await bot.store.pending_notifications("slack") == []


async def test_a_school_not_installed_yet_keeps_its_notifications_and_they_go_the_moment_it_is(oauth):
    await install(oauth, HILL)
    bot = oauth.channel.bot
    bot.settings.delivery_lease_seconds = 3600  # without the install releasing it, the card would wait an hour
    teacher = Chat(bot, "slack:UOT", school="oak")
    await walk(teacher, STANDARD_REPORT)
    await teacher.pick("send")
    await oauth.channel.deliver_pending()
    assert oauth.api.bodies("chat.postMessage") == []
    [waiting] = await bot.store.pending_notifications("slack")
    assert waiting.recipient == "slack:UODSL"  # not lost
    assert await bot.store.claim_notifications("slack") == []  # held back while the school has no token
    oak_token = await install(oauth, OAK)
    [card] = await oauth.api.wait_for(lambda: oauth.api.bodies_by("chat.postMessage", oak_token))
    assert card["channel"] == "DUODSL"
    await oauth.channel.outbox.settled()  # the send that the install set off, finished
    assert await bot.store.pending_notifications("slack") == []


# --- uninstalling ------------------------------------------------------------------------------


async def test_uninstalling_or_revoking_the_token_forgets_the_installation(oauth, store):
    await install(oauth, HILL)
    await install(oauth, OAK)
    await say(oauth, OAK, "UOT", "hello")  # the client for Oakfield is now cached too
    oauth.team = OAK
    assert (await oauth.fixture_event("app_uninstalled")).status == 200
    await oauth.api.wait_for(lambda: set(installation_rows(store)) == {HILL})
    oauth.team = HILL
    assert (await oauth.fixture_event("tokens_revoked", tokens={"oauth": [], "bot": ["UBOTT0HILL"]})).status == 200
    await oauth.api.wait_for(lambda: installation_rows(store) == {})

    # Slack would no longer send events from there; if one came, nothing is said with a stale token.
    posted = len(oauth.api.bodies("chat.postMessage"))
    oauth.team = OAK
    await oauth.dm("UOT", "hello again")
    await oauth.settle()
    assert len(oauth.api.bodies("chat.postMessage")) == posted
    with pytest.raises(NotInstalled):
        await oauth.channel.workspaces.speaker(OAK)


# --- configuration -------------------------------------------------------------------------------


def test_oauth_settings_are_read_from_the_environment():
    config = slack_config(BASE)
    assert config.oauth and not config.socket_mode
    assert (config.client_id, config.client_secret, config.token_key) == (CLIENT_ID, CLIENT_SECRET, KEY)
    assert config.bot_token is None
    assert not slack_config({"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": SECRET}).oauth


@pytest.mark.parametrize("changes, message", [
    ({"SLACK_BOT_TOKEN": "xoxb-1-2"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set: "
                                      "choose one"),
    ({"SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_SECRET is missing"),
    ({"SLACK_CLIENT_ID": ""}, "SLACK_CLIENT_ID is missing"),
    ({"SLACK_CLIENT_ID": "my-app"}, "SLACK_CLIENT_ID is malformed"),
    ({"SLACK_CLIENT_SECRET": "not hex!"}, "SLACK_CLIENT_SECRET is malformed"),
    ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is missing"),
    ({"SLACK_SIGNING_SECRET": "zz"}, "SLACK_SIGNING_SECRET is malformed"),
    ({"SLACK_APP_TOKEN": "xapp-1-A1-2"}, "SLACK_APP_TOKEN cannot be used with SLACK_CLIENT_ID"),
    ({"OSB_TOKEN_KEY": ""}, "OSB_TOKEN_KEY is missing"),
    ({"OSB_TOKEN_KEY": "secret"}, "OSB_TOKEN_KEY is malformed"),
    ({"OSB_TOKEN_KEY": KEY[:-4]}, "OSB_TOKEN_KEY is malformed"),
])
def test_wrong_oauth_settings_stop_start_up_naming_the_variable(changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        slack_config({**BASE, **changes})


def test_serve_stops_with_a_clear_message_when_the_token_key_is_wrong(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_"))}
    env.update(BASE, OSB_TOKEN_KEY="not-a-fernet-key")
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--db", str(tmp_path / "b.db"), "--port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "OSB_TOKEN_KEY is malformed" in proc.stderr and "Fernet key" in proc.stderr
