"""Connector clients kept between turns, the way the Agents SDK lets a host choose: a client factory passed to its
`CloudAdapter`.

The SDK's own factory makes a new connector client for every turn and every proactive delivery: a new aiohttp
session, so a new TCP (and, in production, TLS) connection, and a new token request; the adapter closes it when the
turn ends. Here each client is kept for up to `KEEP_SECONDS` and lent to every turn for the same service URL,
audience and identity, so a turn reuses its session, its open connection and its token; the adapter's `close()` at
the end of a turn only gives the loan back. A client past its time is lent no more and closed once the last turn
using it is over; `close()` closes every kept client at shutdown. The user token client the SDK makes for every
turn (for sign-in flows: a new aiohttp session each time, and the SDK's version read from the installed package's
metadata) is kept the same way.

Kept for five minutes at most: MSAL hands out a cached token only while it has at least five minutes left
(msal's `acquire_token_for_client`), so a kept client never carries an expired token. Agentic requests and
Copilot Studio's connector users get the SDK's own one-turn client, exactly as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp
import orjson
from microsoft_agents.activity import Activity, RoleTypes
from microsoft_agents.hosting.core import ClaimsIdentity, RestChannelServiceClientFactory, TurnContext
from microsoft_agents.hosting.core.authorization import AccessTokenProviderBase, AnonymousTokenProvider, Connections
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

KEEP_SECONDS = 300.0

Key = tuple[str, str, str, tuple[str, ...], bool, str]  # kind, service URL, audience, scopes, anonymous, app id


@dataclass(eq=False)
class _Kept:
    client: Any  # a connector client, or a user token client
    made_at: float
    lent: int = 0
    retired: bool = False  # lent no more; closed when the last loan is given back


@dataclass(eq=False)
class _Loan:
    """What a turn gets: the kept client, whose `close()` only gives it back; all else is the client's own (the
    SDK's protocols, ConnectorClientBase and UserTokenClientBase)."""

    kept: _Kept
    owner: KeptConnectorClients
    returned: bool = field(default=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kept.client, name)

    async def close(self) -> None:
        if not self.returned:
            self.returned = True
            await self.owner.give_back(self.kept)


class KeptConnectorClients(RestChannelServiceClientFactory):
    """The SDK's client factory, but each connector client lives up to `keep_seconds` instead of one turn."""

    def __init__(self, connections: Connections, keep_seconds: float = KEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(connections)
        self.connections = connections
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._kept: dict[Key, _Kept] = {}
        self._anonymous = AnonymousTokenProvider()

    async def create_connector_client(
        self, context: TurnContext | None, claims_identity: ClaimsIdentity, service_url: str, audience: str,
        scopes: list[str] | None = None, use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        if context is not None and _not_ours_to_keep(context.activity):
            return await super().create_connector_client(context, claims_identity, service_url, audience, scopes,
                                                         use_anonymous)
        if not service_url or not audience:  # the SDK's own refusal, with its message
            return await super().create_connector_client(context, claims_identity, service_url, audience, scopes,
                                                         use_anonymous)
        scopes = scopes or claims_identity.get_token_scope()
        app_id = claims_identity.get_app_id() or ""
        key: Key = ("connector", service_url, audience, tuple(scopes), use_anonymous, app_id)
        return await self._lend(key, lambda: self._new_client(claims_identity, service_url, audience, scopes,
                                                              use_anonymous))

    async def create_user_token_client(self, context: TurnContext, claims_identity: ClaimsIdentity,
                                       use_anonymous: bool = False) -> Any:  # a loan of one (UserTokenClientBase)
        if _not_ours_to_keep(context.activity):
            return await super().create_user_token_client(context, claims_identity, use_anonymous)
        key: Key = ("user_token", "", "", tuple(claims_identity.get_token_scope()), use_anonymous,
                    claims_identity.get_app_id() or "")
        return await self._lend(key, lambda: super(KeptConnectorClients, self).create_user_token_client(
            context, claims_identity, use_anonymous))

    async def _lend(self, key: Key, make: Callable[[], Awaitable[Any]]) -> Any:
        """The client kept under `key` (made by `make` if there is none, or if it is past its time), lent."""
        kept = self._kept.get(key)
        if kept is not None and self.clock() - kept.made_at >= self.keep_seconds:
            await self._retire(key, kept)
            kept = None
        if kept is None:
            client = await make()
            kept = self._kept.get(key)  # another turn may have made one meanwhile: keep the first
            if kept is None:
                kept = self._kept[key] = _Kept(client, self.clock())
            else:
                await client.close()
        kept.lent += 1
        return _Loan(kept, self)

    async def _new_client(self, claims_identity: ClaimsIdentity, service_url: str, audience: str,
                          scopes: list[str], use_anonymous: bool) -> TeamsConnectorClient:
        """As the SDK's factory makes one (the same token provider and token), on a session whose JSON bodies
        orjson writes."""
        provider: AccessTokenProviderBase = (
            self._anonymous if use_anonymous else self.connections.get_token_provider(claims_identity, service_url))
        token = await provider.get_access_token(audience, scopes)
        endpoint = service_url if service_url.endswith("/") else service_url + "/"
        session = aiohttp.ClientSession(base_url=endpoint, json_serialize_bytes=orjson.dumps)
        return TeamsConnectorClient(endpoint=endpoint, token=token, session=session)

    async def give_back(self, kept: _Kept) -> None:
        kept.lent -= 1
        if kept.retired and kept.lent == 0:
            await kept.client.close()

    async def _retire(self, key: Key, kept: _Kept) -> None:
        if self._kept.get(key) is kept:
            del self._kept[key]
        kept.retired = True
        if kept.lent == 0:
            await kept.client.close()

    @property
    def kept(self) -> int:
        """How many clients are kept now."""
        return len(self._kept)

    async def close(self) -> None:
        """At shutdown: every kept client closed (a turn still running keeps its own until it ends)."""
        for key, kept in list(self._kept.items()):
            await self._retire(key, kept)


def _not_ours_to_keep(activity: Activity) -> bool:
    """Agentic requests get a token of their own per turn, and Copilot Studio's connector users another client:
    both are left to the SDK, one turn each."""
    connector_user = activity.recipient is not None and activity.recipient.role == RoleTypes.connector_user
    return bool(activity.is_agentic_request()) or connector_user
