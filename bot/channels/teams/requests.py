"""Teams' HTTP requests and the Agents SDK's adapter: `POST /api/messages`, the SDK's token check (applied to that
route only), only the Bot Framework channel's own tokens, an activity's `serviceUrl` checked, and a request that is
not an activity refused with 400, never a 500."""

from __future__ import annotations

import logging
import warnings

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import Agent, OutboundHostValidator, TurnContext
from pydantic import ValidationError

from bot.channels.teams.activities import from_the_channel, has_service_url
from bot.channels.teams.config import TeamsConfig
from bot.channels.teams.connector_clients import KeptConnectorClients

log = logging.getLogger("bot.channels.teams.app")  # where these lines have always been logged


class TeamsRequests:
    def __init__(self, config: TeamsConfig, agent: Agent):
        self.config = config
        self.agent = agent
        # Never below INFO, whatever the root level: the SDK's DEBUG logging may carry activity bodies,
        # and case content never goes into logs.
        logging.getLogger("microsoft_agents").setLevel(logging.INFO)
        # The SDK logs a request that is not a valid activity at ERROR with the offending values, which can be
        # what someone typed: `_http` answers 400 and says so without them.
        logging.getLogger("microsoft_agents.activity").setLevel(logging.CRITICAL)
        # The connector client logs two INFO lines for every message sent or updated, naming the conversation (and so
        # the person): a log line a turn, and an identifier, that no operator needs; its warnings and errors stay.
        logging.getLogger("microsoft_agents.hosting.core.connector").setLevel(logging.WARNING)
        self.connections = MsalConnectionManager(**config.sdk)
        # In production, activities may name (and replies may go to) only Microsoft's service hosts.
        self.host_validator = OutboundHostValidator(enabled=config.credentials)
        # Each connector client (its session, connection and token) kept for minutes, not made again every turn.
        self.connector_clients = KeptConnectorClients(self.connections)
        self.adapter = CloudAdapter(channel_service_client_factory=self.connector_clients,
                                    host_validator=self.host_validator)
        self.adapter.on_turn_error = self._on_turn_error

    def mount(self, web_app: web.Application) -> None:
        """`POST /api/messages`, in a sub-application of its own so the SDK's JWT check touches nothing else."""
        api = web.Application()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotAppKeyWarning)  # the SDK reads this string key
            api["agent_configuration"] = self.connections.get_default_connection_configuration()
        api.router.add_post("/messages", self._http if self.config.accepts_requests else self._refuse)
        web_app.add_subapp("/api", api)

    async def _http(self, request: web.Request) -> web.StreamResponse:
        """The SDK's token check, then the activity. A token the check trips over (rather than refuses) is
        refused as well: a bad token gets 401, never 500."""
        checked = False

        async def process(request: web.Request) -> web.StreamResponse:
            nonlocal checked
            checked = True
            if self.config.credentials and not from_the_channel(request.get("claims_identity")):
                log.warning("teams request refused: not a Bot Framework channel token")
                return web.json_response({"error": "unauthorized"}, status=401)
            if not await has_service_url(request, loopback_only=self.config.anonymous):
                log.warning("teams request refused: no usable serviceUrl")
                return web.json_response({"error": "serviceUrl is missing or not an http(s) address"}, status=400)
            try:
                response = await self.adapter.process(request, self.agent)
            except ValidationError as exc:
                log.warning("teams request refused: not an activity (%d problems)", exc.error_count())
                return web.json_response({"error": "not an activity"}, status=400)
            return response or web.Response(status=202)

        try:
            response = await jwt_authorization_decorator(process)(request)
        except Exception as exc:
            if checked:
                raise
            log.warning("teams request refused: the token check failed (%s)", type(exc).__name__)
            return web.json_response({"error": "unauthorized"}, status=401)
        if response.status == 401 and not checked:
            log.warning("teams request refused: no valid Bot Framework token")
        return response

    async def _refuse(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "unauthorized"}, status=401)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        # Replaces the SDK's default, which posts the exception text to the user. The type only: its message
        # could carry case content.
        log.error("teams turn failed: %s", type(error).__name__)
