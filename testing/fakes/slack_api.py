"""A fake Slack Web API on 127.0.0.1 (ephemeral port), in the manner of slack-bolt's own mock server,
that records the body of every call (and the token it was made with) so tests can assert on what was sent,
and can play faults (`fault`: 429 with Retry-After, 5xx, or no answer at all) on the next calls of a method or
to one channel. It also installs the app into workspaces (`oauth.v2.access`, see `add_install`)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
from typing import Any, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from testing.fakes.faults import HANG, TAKEN_THEN_HANG, Answer, Faults
from testing.fakes.waiting import wait_until

CLIENT_ID, CLIENT_SECRET = "1111111111.2222222222", "0123456789abcdef0123456789abcdef"


class FakeSlackApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.tokens: list[str | None] = []  # the token each of `calls` was made with, in the same order
        # Installing: the app's credentials, and the oauth.v2.access answer for each code not yet used.
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self.installs: dict[str, dict[str, Any]] = {}
        self._installed: dict[str, dict[str, Any]] = {}  # bot token -> its oauth.v2.access answer
        self.people: dict[str, str] = {}  # user id -> the real name users.info gives (others: user_not_found)
        self.errors: dict[str, str] = {}  # method -> Slack error to answer with
        self.refusals: dict[str, list[str]] = {}  # method -> Slack errors to answer its next calls with, one each
        self.files: dict[str, dict[str, Any]] = {}  # file id -> what files.info tells of it
        self.statuses: dict[str, list[int]] = {}  # method -> HTTP statuses to answer with first (429, 500...)
        self.faults = Faults()
        # Messages Slack accepted, by channel, and who is waiting for them (see `wait_delivered`).
        self._delivered: dict[str, list[dict[str, Any]]] = {}
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._ts = itertools.count(1)
        self.socket_url: str | None = None
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)  # what slack-sdk reads with GET (users.info, files.info)
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
        self.faults.release()
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
        where = f"{method}:{body.get('channel')}"
        fault = self.faults.take(where, method)
        if fault and fault[0] == HANG:
            await self.faults.hang(where)
            return self._refusal(503, 1)  # only once released: the bot has long given up
        self.calls.append((method, body))
        token, client = self._credentials(request, body)
        self.tokens.append(token)
        if method == "oauth.v2.access":
            return web.json_response(self._install(client, body.get("code")))
        if self.statuses.get(method):
            return self._refusal(self.statuses[method].pop(0), 1)
        if fault and isinstance(fault[0], int):
            return self._refusal(*fault)
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors[method]})
        if self.refusals.get(method):
            return web.json_response({"ok": False, "error": self.refusals[method].pop(0)})
        answer = self._answer(method, body, token)
        if method == "chat.postMessage":
            self._delivered_one(body)
        if fault and fault[0] == TAKEN_THEN_HANG:
            await self.faults.hang(where)
        return web.json_response(answer)

    @staticmethod
    def _refusal(status: int, retry_after: int) -> web.Response:
        return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                 status=status, headers={"Retry-After": str(retry_after)} if status == 429 else None)

    def fault(self, method: str, *answers: Answer, channel: str | None = None, retry_after: int = 1) -> None:
        """The next calls of `method` (only those to `channel`, if given) answer in turn with each of `answers`:
        an HTTP status (429 with Retry-After: `retry_after`), HANG or TAKEN_THEN_HANG (see testing/fakes/faults.py)."""
        self.faults.add(f"{method}:{channel}" if channel else method, answers, retry_after)

    def _delivered_one(self, body: dict[str, Any]) -> None:
        posted = self._delivered.setdefault(body["channel"], [])
        posted.append(body)
        waiting = self._waiters.get(body["channel"], [])
        for count, future in waiting:
            if len(posted) >= count and not future.done():
                future.set_result(None)
        waiting[:] = [(c, f) for c, f in waiting if not f.done()]

    def _answer(self, method: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        if method == "auth.test":
            return self._auth_test(token)
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{body['users']}"}}
        if method == "users.info":
            return self._user_info(body)
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
        if method == "files.info":
            file = self.files.get(body.get("file", ""))
            return {"ok": True, "file": file} if file else {"ok": False, "error": "file_not_found"}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        return {"ok": True}

    def _auth_test(self, token: str | None) -> dict[str, Any]:
        installed = self._installed.get(token or "")
        if installed:
            team = installed["team"]
            return {"ok": True, "url": f"https://{team['id'].lower()}.slack.com/", "team": team["name"],
                    "user": "osb", "team_id": team["id"], "user_id": installed["bot_user_id"],
                    "bot_id": f"B{team['id']}", "is_enterprise_install": False}
        return {"ok": True, "url": "https://hillside.slack.com/", "team": "Hillside", "user": "osb",
                "team_id": "T0HILL", "user_id": "UBOT", "bot_id": "BBOT"}

    def _user_info(self, body: dict[str, Any]) -> dict[str, Any]:
        """The shape of Slack's users.info answer, less fields the bot never reads."""
        name = self.people.get(body.get("user", ""))
        if name is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {
            "id": body["user"], "team_id": "T0HILL", "name": name.lower().replace(" ", "."), "deleted": False,
            "real_name": name, "tz": "Europe/London", "is_bot": False, "is_app_user": False,
            "profile": {"real_name": name, "display_name": name.split()[0], "real_name_normalized": name,
                        "display_name_normalized": name.split()[0], "first_name": name.split()[0]}}}

    # --- installing into workspaces (oauth.v2.access) ------------------------------------------

    def add_install(self, code: str, team_id: str, team_name: str, installer: str = "UADMIN") -> dict[str, Any]:
        """Let `code` (once) install the app into workspace `team_id`; the answer oauth.v2.access will give,
        with a bot token of that workspace's own."""
        answer = {
            "ok": True, "app_id": "A0OSB", "access_token": f"xoxb-{team_id}-{secrets.token_hex(12)}",
            "token_type": "bot", "scope": "chat:write,im:history,im:write,commands,files:read,files:write",
            "bot_user_id": f"UBOT{team_id}", "team": {"id": team_id, "name": team_name}, "enterprise": None,
            "is_enterprise_install": False, "authed_user": {"id": installer},
        }
        self.installs[code] = answer
        return answer

    @staticmethod
    def _credentials(request: web.Request, body: dict[str, Any]) -> tuple[str | None, tuple[str, str] | None]:
        """(bearer token, (client id, client secret)) as slack-sdk sends them: in the Authorization header, or
        in the body."""
        kind, _, value = request.headers.get("Authorization", "").partition(" ")
        if kind == "Bearer":
            return value, None
        if kind == "Basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
            return None, (client_id, secret)
        if body.get("client_id"):
            return None, (body["client_id"], body.get("client_secret", ""))
        return body.get("token"), None

    def _install(self, client: tuple[str, str] | None, code: str | None) -> dict[str, Any]:
        if client is None or client[0] != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client[1] != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        answer = self.installs.pop(code or "", None)
        if answer is None:
            return {"ok": False, "error": "invalid_code"}
        self._installed[answer["access_token"]] = answer
        return answer

    # --- for assertions ------------------------------------------------------------------

    def bodies_by(self, method: str, token: str) -> list[dict[str, Any]]:
        """The bodies of the calls of `method` made with `token`."""
        return [body for (m, body), t in zip(self.calls, self.tokens, strict=True) if m == method and t == token]

    def bodies(self, method: str) -> list[dict[str, Any]]:
        return [body for m, body in self.calls if m == method]

    def posted_to(self, channel: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies("chat.postMessage") if b["channel"] == channel]

    def delivered_to(self, channel: str) -> list[dict[str, Any]]:
        """The messages Slack accepted into a channel (a refused post is not among them), in order."""
        return list(self._delivered.get(channel, []))

    async def wait_delivered(self, channel: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The messages accepted into `channel`, once there are at least `count` (cheap with many waiting)."""
        if len(self._delivered.get(channel, [])) < count:
            future = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(channel, []).append((count, future))
            try:
                await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                texts = [b.get("text", "")[:60] for b in self.delivered_to(channel)]
                raise AssertionError(f"timed out waiting for message {count} in {channel}; so far: {texts}") from None
        return self.delivered_to(channel)

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `condition()` is truthy (the bot answers after acking, in the background)."""
        return await wait_until(condition, timeout, lambda: [m for m, _ in self.calls])
