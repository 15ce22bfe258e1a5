"""`serve` runs on uvloop's event loop, and the Web API and connector sessions write their JSON bodies with orjson."""

from __future__ import annotations

import orjson
import pytest
import uvloop
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.app.server import event_loop_factory
from bot.channels.slack import SlackChannel
from bot.channels.slack.config import SlackConfig
from bot.channels.teams import TeamsChannel, teams_config
from testing.fakes.slack_api import FakeSlackApi


def test_serve_runs_on_uvloop():
    loop = event_loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


async def test_the_slack_web_api_session_writes_json_with_orjson(bot):
    api = FakeSlackApi()
    await api.start()
    channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret="s", app_token=None,
                                            api_url=api.url))
    await channel.start()
    try:
        assert channel.client.session._json_serialize_bytes is orjson.dumps
        await channel.client.chat_postMessage(channel="D1", text="héllo")
        method, body = api.calls[-1]
        assert (method, body["channel"], body["text"]) == ("chat.postMessage", "D1", "héllo")
    finally:
        await channel.stop()
        await api.close()


@pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")
async def test_the_teams_connector_session_writes_json_with_orjson(bot):
    channel = TeamsChannel(bot, teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}))
    factory = channel.requests.connector_clients
    client = await factory.create_connector_client(None, ClaimsIdentity({}, False), "http://127.0.0.1:9/", "aud",
                                                   use_anonymous=True)
    try:
        assert client.kept.client.client._json_serialize_bytes is orjson.dumps  # type: ignore[attr-defined]
    finally:
        await client.close()
        await factory.close()
