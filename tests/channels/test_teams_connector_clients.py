"""Teams connector clients kept between turns (bot/channels/teams/connector_clients.py): counted at the fake
connector, which records the TCP connection each call came on."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from microsoft_agents.activity import Activity, ChannelAccount
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.app.server import build_app
from bot.channels.teams import TeamsChannel, teams_config
from bot.channels.teams.connector_clients import KEEP_SECONDS, KeptConnectorClients, _not_ours_to_keep
from bot.core.models import Role, StaffMember
from testing.teams_harness import TeamsHarness, question
from tests.channels.test_teams import connector as connector  # noqa: F401  (the fake connector fixture)

TEACHER = "6f1b2c3d-0000-4000-8000-00000000a001"
DSL = "6f1b2c3d-0000-4000-8000-00000000d001"

pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")


@pytest.fixture
async def served(bot, connector):
    await bot.store.upsert_staff(StaffMember(user=f"teams:{DSL}", role=Role.DSL, name="Dana Lee"))
    channel = TeamsChannel(bot, teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    yield TeamsHarness(client, channel, connector), channel, client
    await client.close()


async def test_two_turns_reuse_one_connection_to_the_connector(served, connector):
    teams, channel, _ = served
    (first,) = await teams.say(TEACHER, "I'm being targeted")
    assert question(first) == "report_concern.categories"
    await teams.tick(TEACHER, first, ["targeting_me"])
    assert len(connector.posted(teams.conversation(TEACHER))) == 2
    assert len(connector.connections) == 1
    assert channel.requests.connector_clients.kept == 2  # its connector client and its user token client


async def test_two_turns_make_one_user_token_client(served, monkeypatch):
    """The SDK makes a user token client for every turn (a new aiohttp session, its version read from the
    package's metadata): kept, like the connector client."""
    import microsoft_agents.hosting.core.rest_channel_service_client_factory as factory

    made = []

    class Counted(factory.UserTokenClient):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(factory, "UserTokenClient", Counted)
    teams, channel, _ = served
    (first,) = await teams.say(TEACHER, "I'm being targeted")
    await teams.tick(TEACHER, first, ["targeting_me"])
    await teams.say(TEACHER, "hello")
    assert len(made) == 1
    assert not made[0].client.closed  # lent to each turn, given back, kept


async def test_a_proactive_delivery_uses_the_same_kept_client(served, connector):
    teams, channel, _ = served
    await teams.install(DSL)  # greets, then the outbox delivers what waits, through continue_conversation
    await teams.say(TEACHER, "hello")
    assert connector.posted(teams.conversation(DSL)) and connector.posted(teams.conversation(TEACHER))
    assert len(connector.connections) == 1
    assert channel.requests.connector_clients.kept == 2


async def test_the_kept_clients_are_closed_when_the_server_stops(served):
    teams, channel, client = served
    await teams.say(TEACHER, "hello")
    kept = list(channel.requests.connector_clients._kept.values())
    assert len(kept) == 2  # the connector client and the user token client
    await client.close()
    assert all(k.client.client.closed for k in kept)
    assert channel.requests.connector_clients.kept == 0


def anonymous_factory(clock) -> KeptConnectorClients:
    anonymous = teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"})
    assert anonymous is not None
    return KeptConnectorClients(MsalConnectionManager(**anonymous.sdk), clock=clock)


async def test_a_client_older_than_five_minutes_is_replaced_and_closed_once_given_back(connector):
    now = [0.0]
    factory = anonymous_factory(lambda: now[0])
    identity = ClaimsIdentity({}, False)
    args = (None, identity, connector.url, "https://api.botframework.com")
    first = await factory.create_connector_client(*args, use_anonymous=True)
    again = await factory.create_connector_client(*args, use_anonymous=True)
    assert again.kept is first.kept  # type: ignore[attr-defined]
    await first.close()
    now[0] = KEEP_SECONDS + 1
    newer = await factory.create_connector_client(*args, use_anonymous=True)
    assert newer.kept is not first.kept  # type: ignore[attr-defined]
    old_session = first.kept.client.client  # type: ignore[attr-defined]
    assert not old_session.closed  # a turn still holds it
    await again.close()
    assert old_session.closed
    await newer.close()
    await factory.close()
    assert newer.kept.client.client.closed  # type: ignore[attr-defined]


async def test_another_service_url_gets_a_client_of_its_own(connector):
    factory = anonymous_factory(lambda: 0.0)
    identity = ClaimsIdentity({}, False)
    one = await factory.create_connector_client(None, identity, connector.url, "aud", use_anonymous=True)
    other = await factory.create_connector_client(None, identity, connector.url + "other/", "aud",
                                                  use_anonymous=True)
    assert one.kept is not other.kept  # type: ignore[attr-defined]
    assert factory.kept == 2
    await factory.close()


def test_agentic_requests_and_connector_users_are_left_to_the_sdk():
    def activity(role: str) -> Activity:
        return Activity(type="message", recipient=ChannelAccount(id="bot", role=role))

    assert _not_ours_to_keep(activity("agenticUser"))
    assert _not_ours_to_keep(activity("agenticAppInstance"))
    assert _not_ours_to_keep(activity("connectoruser"))
    assert not _not_ours_to_keep(activity("bot"))
