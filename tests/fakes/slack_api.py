"""A fake Slack Web API on 127.0.0.1 (ephemeral port), in the manner of slack-bolt's own mock server,
that records the body of every call so tests can assert on what was sent."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.waiting import wait_until


class FakeSlackApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, str] = {}  # method -> Slack error to answer with
        self.statuses: dict[str, list[int]] = {}  # method -> HTTP statuses to answer with first (429, 500...)
        self._ts = itertools.count(1)
        self.socket_url: str | None = None
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes uploaded
        self.server = TestServer(app, host="127.0.0.1", port=0)
        # Socket Mode: envelopes to push to the bot, and the acks it sends back.
        self.to_socket: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.socket_acks: list[dict[str, Any]] = []

    async def start(self) -> None:
        await self.server.start_server()
        self.socket_url = str(self.server.make_url("/link")).replace("http://", "ws://")

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['file_id']])}")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                            "connection_info": {"app_id": "A0OSB"}})

        async def push() -> None:
            while not ws.closed:
                await ws.send_json(await self.to_socket.get())

        pusher = asyncio.create_task(push())
        try:
            async for message in ws:
                if message.type == web.WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(message.data))
        finally:
            pusher.cancel()
        return ws

    async def close(self) -> None:
        await self.server.close()

    @property
    def url(self) -> str:
        return str(self.server.make_url("/api/"))

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        for key in ("blocks", "view"):
            if isinstance(body.get(key), str):
                body[key] = json.loads(body[key])
        body.update({k: v for k, v in request.query.items() if k not in body})
        self.calls.append((method, body))
        if self.statuses.get(method):
            status = self.statuses[method].pop(0)
            return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                     status=status, headers={"Retry-After": "1"} if status == 429 else None)
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors[method]})
        return web.json_response(self._answer(method, body))

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://hillside.slack.com/", "team": "Hillside", "user": "osb",
                    "team_id": "T0HILL", "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{body['users']}"}}
        if method == "chat.postMessage":
            body["ts"] = f"1700000000.{next(self._ts):06d}"  # kept with the recorded call, to click on later
            return {"ok": True, "channel": body["channel"], "ts": body["ts"],
                    "message": {"text": body.get("text"), "blocks": body.get("blocks")}}
        if method == "chat.update":
            return {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        if method in ("views.publish", "views.open"):
            return {"ok": True, "view": {"id": "V1", **(body.get("view") or {})}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):06d}"
            return {"ok": True, "file_id": file_id, "upload_url": str(self.server.make_url(f"/upload/{file_id}"))}
        if method == "files.completeUploadExternal":
            files = json.loads(body["files"]) if isinstance(body.get("files"), str) else body.get("files")
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        return {"ok": True}

    # --- for assertions ------------------------------------------------------------------

    def bodies(self, method: str) -> list[dict[str, Any]]:
        return [body for m, body in self.calls if m == method]

    def posted_to(self, channel: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies("chat.postMessage") if b["channel"] == channel]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `condition()` is truthy (the bot answers after acking, in the background)."""
        return await wait_until(condition, timeout, lambda: [m for m, _ in self.calls])
