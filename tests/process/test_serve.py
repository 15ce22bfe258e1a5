"""`online-safety-bot serve` as a real process: it starts, answers /healthz, and carries a signed Slack DM."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from testing.fakes.slack_api import FakeSlackApi
from testing.server_process import ServerProcess, serve_env
from testing.slack_harness import SECRET, fixture

pytestmark = pytest.mark.slow  # real `serve` processes


async def test_serve_carries_a_signed_slack_dm_end_to_end(tmp_path):
    api = FakeSlackApi()
    await api.start()
    server = ServerProcess(tmp_path / "bot.db", serve_env(slack_api_url=api.url))
    try:
        health = await server.start()
        assert health == {"ok": True, "channels": ["slack"]}

        envelope = fixture("message_im")  # a DM as Slack sends it
        envelope["event"].update(channel="DUTEACH", user="UTEACH", text="I'm being targeted")
        body = json.dumps(envelope)
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/slack/events", data=body, headers=headers) as response:
                assert response.status == 200
        (message,) = await api.wait_for(lambda: api.posted_to("DUTEACH"), timeout=10)
        assert "what is happening" in message["text"]
    finally:
        await server.stop()
        await api.close()
