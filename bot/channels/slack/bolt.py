"""slack-sdk's Web API client and slack-bolt's app, set up as the bot needs them: quiet loggers (never a body in
the logs), sooner timeouts with retries, and Bolt's OAuth flow when the bot is installed into many workspaces."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Callable

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.config import SlackConfig
from bot.channels.slack.installations import BOT_SCOPES, StoreInstallations, StoreOAuthStates
from bot.store import Store

WEB_API_TIMEOUT_SECONDS = 10  # slack-sdk's default is 30: a call that slow is retried sooner instead
INSTALL_PATH = "/slack/install"  # installing into many workspaces (README, "Slack for many workspaces")
REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_STATE_SECONDS = 600  # how long an install link stays good


def quiet_logger(name: str) -> logging.Logger:
    """A logger that never passes DEBUG, whatever the root level: slack-sdk and slack-bolt log whole
    request and response bodies (so case content) at DEBUG, and case content never goes into logs."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    return logger


def web_client(config: SlackConfig) -> AsyncWebClient:
    """With installations (config.oauth), the client holds no token itself."""
    client_args: dict[str, Any] = {
        "token": config.bot_token, "logger": quiet_logger("bot.channels.slack.web_api"),
        "timeout": WEB_API_TIMEOUT_SECONDS,
        # slack-sdk's own handlers: wait as long as a 429's Retry-After says, retry 5xx and dropped connections.
        "retry_handlers": [AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                           AsyncServerErrorRetryHandler(max_retry_count=2),
                           # ...and a call that got no answer within the timeout (slack-sdk leaves those out).
                           AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=[
                               ServerConnectionError, ServerDisconnectedError, ClientOSError, asyncio.TimeoutError])],
    }
    if config.api_url:
        client_args["base_url"] = config.api_url
    return AsyncWebClient(**client_args)


def bolt_app(client: AsyncWebClient, config: SlackConfig, store: Store,
             installations: StoreInstallations | None, clock: Callable[[], datetime]) -> AsyncApp:
    bolt_logger = quiet_logger("bot.channels.slack.bolt")
    # Bolt also reads SLACK_BOT_TOKEN and warns that the client's token wins: it is the same token, so say nothing.
    bolt_logger.addFilter(lambda record: record.getMessage() != warning_client_prioritized_and_token_skipped())
    oauth = None
    if installations is not None:
        oauth = AsyncOAuthSettings(
            client_id=config.client_id, client_secret=config.client_secret, scopes=list(BOT_SCOPES),
            user_scopes=[], installation_store=installations, install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH, state_store=StoreOAuthStates(store, OAUTH_STATE_SECONDS, clock),
            state_expiration_seconds=OAUTH_STATE_SECONDS, logger=bolt_logger)
        # Bolt asks Slack's auth.test about the token on every request unless told to remember the answer.
        if isinstance(oauth.authorize, AsyncInstallationStoreAuthorize):  # what the settings make from a store
            oauth.authorize.cache_enabled = True
    app = AsyncApp(
        client=client,
        signing_secret=config.signing_secret,
        # The signature is checked on the raw bytes before anything parses them (and before the request is kept
        # in the inbox, from which it may be dispatched again later: requests.py); Socket Mode has none.
        request_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        logger=bolt_logger,
        oauth_settings=oauth,
    )
    # slack-bolt logs a refused request's whole body at INFO: never let that through (requests.py says why instead).
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    return app
