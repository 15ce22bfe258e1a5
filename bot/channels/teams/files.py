"""Files the bot sends in a personal chat, through Teams' file-consent flow.

Teams lets a bot send a file only with the person's consent: the bot offers it in a file-consent card; when
the person accepts, Teams creates an upload session in their OneDrive for Business (a `*.sharepoint.com`
address) and sends a `fileConsent/invoke` with its URL; the bot PUTs the bytes there and posts a file-info card
that opens the file. Until it is accepted or declined, the file waits here, in memory only: a few at a time, for
a few minutes, and only for the person it was offered to.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp

from bot.core.models import FileReply

FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
CONSENT_INVOKE = "fileConsent/invoke"
TOKEN_KEY = "osb_file"

FILES_KEPT = 8  # offers waiting at once; the oldest goes first
FILE_SECONDS = 10 * 60  # an offer not accepted by then has expired
UPLOAD_TIMEOUT_SECONDS = 10  # Teams waits about 15 s for the invoke's answer
UPLOAD_HOST_SUFFIX = ".sharepoint.com"  # OneDrive for Business, where Teams puts files sent in personal chats
LOCAL_HOSTS = {"127.0.0.1"}


def upload_allowed(url: str, production: bool) -> bool:
    """Whether the bot may PUT a file to this upload URL: in production, only https to OneDrive for Business
    (`*.sharepoint.com`); in anonymous local mode, also the fake on 127.0.0.1."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    if parts.scheme == "https" and host.endswith(UPLOAD_HOST_SUFFIX) and len(host) > len(UPLOAD_HOST_SUFFIX):
        return True
    return not production and parts.scheme in ("http", "https") and host in LOCAL_HOSTS


@dataclass
class Offer:
    user_id: str
    file: FileReply
    expires: float


class PendingFiles:
    """Files offered and not yet accepted or declined, by a random token carried in the consent card."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, kept: int = FILES_KEPT,
                 seconds: float = FILE_SECONDS):
        self.clock = clock
        self.kept = kept
        self.seconds = seconds
        self._offers: OrderedDict[str, Offer] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._offers)

    def offer(self, user_id: str, file: FileReply) -> str:
        self._expire()
        token = secrets.token_urlsafe(24)
        self._offers[token] = Offer(user_id, file, self.clock() + self.seconds)
        while len(self._offers) > self.kept:
            self._offers.popitem(last=False)
        return token

    def peek(self, token: Any) -> Offer | None:
        self._expire()
        return self._offers.get(token) if isinstance(token, str) else None

    def take(self, token: str) -> Offer | None:
        self._expire()
        return self._offers.pop(token, None)

    def _expire(self) -> None:
        now = self.clock()
        for token in [t for t, o in self._offers.items() if o.expires <= now]:
            del self._offers[token]


def consent_card(file: FileReply, token: str) -> dict[str, Any]:
    """The content of a file-consent card (not an Adaptive Card). The description is the file's name: the
    words about it are in the card sent just before."""
    return {"description": file.name, "sizeInBytes": len(file.content),
            "acceptContext": {TOKEN_KEY: token}, "declineContext": {TOKEN_KEY: token}}


async def upload(url: str, data: bytes) -> None:
    """PUT the whole file to the upload session in one request; raises on failure. Redirects are not followed."""
    headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}", "Content-Length": str(len(data))}
    timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.put(url, data=data, headers=headers, allow_redirects=False) as response:
            if not 200 <= response.status < 300:
                raise UploadFailed(response.status)


class UploadFailed(Exception):
    """The upload session answered with something other than success (its status only: no URL)."""
