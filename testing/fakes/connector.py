"""A fake Bot Framework connector on 127.0.0.1 (ephemeral port), in the manner of the Agents SDK's own test
callback server: it plays the `serviceUrl` of the activities the tests send, records every activity the bot
posts or updates, answers conversation creation, serves file sizes for shared files, and plays the OneDrive
upload session a file-consent card's acceptance names (`upload_url`), recording each upload. It can play faults
(`fault`: 429 with Retry-After, 5xx, or no answer at all) on the next activities sent to one conversation."""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from testing.fakes.faults import HANG, TAKEN_THEN_HANG, Answer, Faults
from testing.fakes.waiting import wait_until


class FakeConnector:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []  # {"method", "conversation", "activity_id", "body", "auth", "at"}
        self.files: dict[str, int] = {}  # path -> size, answered to HEAD
        self.heads: list[str] = []  # paths asked for their size
        self.gets: list[str] = []  # paths fetched (a file download would show here)
        self.failing: set[str] = set()  # conversations whose posts fail with 503
        self.uploads: list[dict[str, Any]] = []  # {"path", "body" (bytes), "headers"} for each upload PUT
        self.upload_status = 201  # what the upload session answers (OneDrive: 201 once the whole file is in)
        self.faults = Faults()
        self.refused_too_big: list[str] = []  # conversations a body was refused for, too big
        self.max_bytes: int | None = None  # a body over this is refused with 413, as Teams refuses a message too big
        self.connections: set[Any] = set()  # the client end (address, port) of each TCP connection calls came on
        self._posted: dict[str, list[dict[str, Any]]] = {}  # conversation -> its accepted POSTs (`calls` only grows)
        self._ids = itertools.count(1)
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._activity)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._activity)
        app.router.add_put("/upload/{session}", self._upload)
        app.router.add_route("HEAD", "/{path:.*}", self._head)
        app.router.add_get("/{path:.*}", self._get, allow_head=False)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        self.faults.release()
        await self.server.close()

    def fault(self, conversation: str, *answers: Answer, retry_after: int = 1) -> None:
        """The next activities sent to `conversation` (new, replies or updates) answer in turn with each of `answers`:
        an HTTP status (429 with Retry-After: `retry_after`), HANG or TAKEN_THEN_HANG (see testing/fakes/faults.py)."""
        self.faults.add(conversation, answers, retry_after)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    def _came_on(self, request: web.Request) -> None:
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))

    async def _create(self, request: web.Request) -> web.Response:
        self._came_on(request)
        body = await request.json()
        self.calls.append({"method": "CREATE", "conversation": None, "activity_id": None, "body": body,
                           "auth": request.headers.get("Authorization")})
        return web.json_response({"id": f"a:created-{next(self._ids)}", "activityId": None}, status=201)

    async def _activity(self, request: web.Request) -> web.Response:
        self._came_on(request)
        conversation = request.match_info["conversation"]
        if self.max_bytes is not None and len(await request.read()) > self.max_bytes:
            self.refused_too_big.append(conversation)
            return web.json_response({"error": {"code": "MessageSizeTooBig"}}, status=413)
        body = await request.json()
        fault = self.faults.take(conversation)
        if fault and fault[0] == HANG:
            await self.faults.hang(conversation)
            return web.json_response({"error": {"code": "ServiceError"}}, status=503)  # only once released
        call = {
            "method": request.method,
            "conversation": conversation,
            "activity_id": request.match_info.get("activity"),
            "body": body,
            "auth": request.headers.get("Authorization"),
            "at": time.monotonic(),
        }
        self.calls.append(call)
        if fault and isinstance(fault[0], int):
            status, retry_after = fault
            headers = {"Retry-After": str(retry_after)} if status == 429 else None
            return web.json_response({"error": {"code": "Throttled" if status == 429 else "ServiceError"}},
                                     status=status, headers=headers)
        if conversation in self.failing:
            return web.json_response({"error": {"code": "ServiceError"}}, status=503)
        if request.method == "PUT":
            return web.json_response({"id": call["activity_id"]})
        call["id"] = f"act-{next(self._ids):04d}"  # kept with the recorded call, to answer its card later
        self._posted.setdefault(conversation, []).append(call)
        if fault and fault[0] == TAKEN_THEN_HANG:
            await self.faults.hang(conversation)
        return web.json_response({"id": call["id"]}, status=201)

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads.append({"path": request.path_qs, "body": await request.read(), "headers": dict(request.headers)})
        return web.json_response({"id": "01UPLOADED", "name": request.match_info["session"]}, status=self.upload_status)

    def upload_url(self, session: str = "session-1") -> str:
        """An upload session's address, with a query token as OneDrive's have."""
        return str(self.server.make_url(f"/upload/{session}")) + "?tempauth=secret-upload-token"

    async def _get(self, request: web.Request) -> web.Response:
        self.gets.append(request.path)
        return web.Response(status=404)

    async def _head(self, request: web.Request) -> web.Response:
        self.heads.append(request.path)
        size = self.files.get(request.path)
        if size is None:
            return web.Response(status=404)
        return web.Response(status=200, headers={"Content-Length": str(size)})

    # --- for assertions ------------------------------------------------------------------

    def posted(self, conversation: str) -> list[dict[str, Any]]:
        """Activities posted (new or as replies) to a conversation, in order, each with the id it was given."""
        return [{**c["body"], "id": c["id"]} for c in self._posted.get(conversation, [])]

    def updates(self, conversation: str) -> list[dict[str, Any]]:
        return [{**c["body"], "id": c["activity_id"]} for c in self.calls
                if c["method"] == "PUT" and c["conversation"] == conversation]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        return await wait_until(condition, timeout, lambda: [(c["method"], c["conversation"]) for c in self.calls])
