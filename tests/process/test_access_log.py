"""`serve`'s access log (`OSB_ACCESS_LOG`): one line per request when `full`, failures and a sample when `sampled`,
none when `off`; never what anyone wrote, nor a query string, either way."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import access_log
from bot.app.access_log import access_log_options
from bot.app.server import build_app
from bot.channels.slack import SlackChannel
from bot.channels.slack.config import SlackConfig
from bot.core.config import ConfigError
from bot.core.models import Role, StaffMember
from testing.fakes.slack_api import FakeSlackApi
from testing.slack_harness import SECRET, SlackHarness

TEACHER = "U0TEACH01"
SAID = "Mocking posts using my photo from the school website"


@pytest.fixture
async def serve_with(bot):
    """The server with the access log `OSB_ACCESS_LOG` asks for, Slack against a fake Web API."""
    made = []

    async def start(mode: str) -> SlackHarness:
        await bot.store.upsert_staff(StaffMember(user=f"slack:{TEACHER}", role=Role.STAFF, name="Jo Brown"))
        api = FakeSlackApi()
        await api.start()
        channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None,
                                                api_url=api.url))
        server = TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0)
        await server.start_server(**access_log_options({"OSB_ACCESS_LOG": mode}))  # as `serve` makes its runner
        client = TestClient(server)
        await client.start_server()
        made.append((client, api))
        return SlackHarness(client, channel, api)

    yield start
    for client, api in made:
        await client.close()
        await api.close()


async def a_few_turns(slack: SlackHarness) -> None:
    for text in ("I'm being targeted", SAID, "stop"):
        before = len(slack.messages_to(TEACHER))
        assert (await slack.dm(TEACHER, text)).status == 200
        await slack.next_message(TEACHER, before)
    await slack.client.get("/slack/oauth_redirect?code=secret-oauth-code&state=s1")
    await slack.client.get("/nothing/here?q=secret-query")


def access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.access"]


async def test_full_logs_every_request_by_route_and_never_what_was_written(serve_with, caplog):
    caplog.set_level(logging.INFO)
    slack = await serve_with("full")
    await a_few_turns(slack)
    lines = access_lines(caplog)
    assert len([line for line in lines if " POST /slack/events 200 " in line]) == 3
    assert any(" GET - 404 " in line for line in lines)
    everything = "\n".join(lines)
    for secret in ("targeted", "Mocking", "stop", "secret-oauth-code", "secret-query", "nothing", "?"):
        assert secret not in everything


async def test_sampled_logs_every_failure_and_one_in_a_hundred_of_the_rest(serve_with, caplog, monkeypatch):
    monkeypatch.setattr(access_log, "SAMPLE_EVERY", 2)
    caplog.set_level(logging.INFO)
    slack = await serve_with("sampled")
    await a_few_turns(slack)
    lines = access_lines(caplog)
    assert len([line for line in lines if " 200 " in line]) == 2  # the 1st and 3rd of three turns
    assert any(" GET - 404 " in line for line in lines)
    assert not any(s in "\n".join(lines) for s in ("Mocking", "secret"))


async def test_off_logs_no_request(serve_with, caplog):
    caplog.set_level(logging.INFO)
    slack = await serve_with("off")
    await a_few_turns(slack)
    assert access_lines(caplog) == []
    # (the fake Web API in this process keeps aiohttp's own access log: only our server's requests are looked at)
    assert not [r for r in caplog.records if "/slack/events" in r.getMessage()]


def test_the_default_is_full_and_a_wrong_value_is_refused():
    assert access_log_options({})["access_log_class"] is access_log.AccessLogger
    with pytest.raises(ConfigError, match="OSB_ACCESS_LOG"):
        access_log_options({"OSB_ACCESS_LOG": "verbose"})
