"""`online-safety-bot serve` as a real process: it starts, answers /healthz, and carries a signed Slack DM."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import FakeSlackApi
from tests.slack_harness import SECRET

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_carries_a_signed_slack_dm_end_to_end(tmp_path):
    api = FakeSlackApi()
    await api.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_", "CONNECTIONS__", "TEAMS_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api.url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port), "--db", str(tmp_path / "bot.db"),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("serve did not start")
            assert health == {"ok": True, "channels": ["slack"]}

            event = {"type": "message", "channel": "DUTEACH", "channel_type": "im", "user": "UTEACH",
                     "text": "I'm being targeted", "ts": "1.0"}
            body = json.dumps({"type": "event_callback", "team_id": "T0HILL", "event": event, "event_id": "EvSERVE"})
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as response:
                assert response.status == 200
            (message,) = await api.wait_for(lambda: api.posted_to("DUTEACH"), timeout=10)
            assert "what is happening" in message["text"]
    finally:
        process.terminate()
        await process.wait()
        await api.close()
