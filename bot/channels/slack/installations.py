"""Many workspaces: each one's installation of the app kept in our database, its tokens encrypted, and the
Web API client that speaks for each workspace.

Bolt's own OAuth flow (`/slack/install`, then Slack, then `/slack/oauth_redirect`) saves installations and
checks OAuth states through the two stores here; Bolt's authorize middleware finds each incoming request's
token through the installation store; what the bot sends on its own (notifications to a DSL) finds its
workspace's client through `Workspaces`. Tokens are never logged.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot as InstalledBot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.store import Store

log = logging.getLogger(__name__)

# The bot scopes asked for at install: exactly manifest/slack/manifest.yaml's
# (tests/channels/test_slack_oauth.py checks).
BOT_SCOPES = ("chat:write", "im:history", "im:write", "commands", "files:read", "files:write", "users:read")
PLATFORM = "slack"


class NotInstalled(Exception):
    """There is no installation to speak for this workspace (or no workspace at all for this school) yet."""


Key = tuple[str | None, str | None]  # (enterprise id, team id), as the store keeps installations


def _keys(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> list[Key]:
    """Where an installation is kept, in the order to look. A workspace's under its team id alone: team ids are
    unique across Slack, and a school knows only its workspace's team id, not its Enterprise Grid organisation.
    An organisation-wide install under the organisation's id."""
    keys: list[Key] = []
    if team_id and not is_enterprise_install:
        keys.append((None, team_id))
    if enterprise_id:
        keys.append((enterprise_id, None))
    return keys


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # Installation reads ISO timestamps back
    raise TypeError(f"cannot keep a {type(value).__name__} in an installation")


class StoreInstallations(AsyncInstallationStore):
    """Bolt's installation store, backed by our Store: one installation per workspace (the latest), encrypted
    with Fernet (OSB_TOKEN_KEY) before the store sees it. `on_change(team_id)` is told of every save and
    delete, so a cached client for that workspace is dropped; `on_installed(team_id)` of a workspace's first
    installation, so what waited for it can go at once."""

    def __init__(self, store: Store, key: str, on_change: Callable[[str | None], None] | None = None,
                 on_installed: Callable[[str], Awaitable[None]] | None = None):
        self.store = store
        self._fernet = Fernet(key)
        self._on_change = on_change or (lambda team: None)
        self._on_installed = on_installed

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        [(enterprise, team), *_] = _keys(installation.enterprise_id, installation.team_id,
                                         installation.is_enterprise_install)
        data = json.dumps(installation.to_dict_for_copying(), default=_json_value).encode()
        first = await self.store.find_slack_installation(enterprise, team) is None
        await self.store.save_slack_installation(enterprise, team, self._fernet.encrypt(data),
                                                 datetime.now(timezone.utc))
        self._on_change(team)
        log.info("slack app installed in workspace %s", team or enterprise)
        if first and self._on_installed is not None:
            await self._on_installed(team or enterprise or "")

    async def async_save_bot(self, bot: InstalledBot) -> None:
        """A bot's tokens alone (Bolt's token rotation): kept in the workspace's installation."""
        installation = await self._load(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        if installation is None:
            installation = Installation(user_id="", **bot.to_dict_for_copying())
        for field in ("bot_token", "bot_id", "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at"):
            setattr(installation, field, getattr(bot, field))
        await self.async_save(installation)

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                      user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        installation = await self._load(enterprise_id, team_id, is_enterprise_install)
        if installation is None or (user_id is not None and installation.user_id != user_id):
            return None  # only the latest installation is kept, by whoever installed it
        return installation

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> InstalledBot | None:
        installation = await self._load(enterprise_id, team_id, is_enterprise_install)
        return installation.to_bot() if installation and installation.bot_token else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        # The installation is there for its bot token: without it nothing is left worth keeping.
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        if user_id is not None:
            return  # one person's user token revoked: the app asks for no user scopes, so none is kept
        keys = _keys(enterprise_id, team_id, None)
        if keys:
            enterprise, team = keys[0]
            await self.store.delete_slack_installation(enterprise, team)
            self._on_change(team)
            log.info("slack app uninstalled from workspace %s", team or enterprise)

    async def _load(self, enterprise_id: str | None, team_id: str | None,
                    is_enterprise_install: bool | None) -> Installation | None:
        for enterprise, team in _keys(enterprise_id, team_id, is_enterprise_install):
            data = await self.store.find_slack_installation(enterprise, team)
            if data is None:
                continue
            try:
                return Installation(**json.loads(self._fernet.decrypt(data)))
            except InvalidToken:
                log.error("the slack installation for workspace %s cannot be decrypted with OSB_TOKEN_KEY (was the "
                          "key changed?): install the app there again from /slack/install", team or enterprise)
                return None
        return None


class StoreOAuthStates(AsyncOAuthStateStore):
    """Bolt's OAuth state store, backed by our Store: a state issued by one server process is accepted once,
    by any of them, until it expires."""

    def __init__(self, store: Store, expiration_seconds: int, clock: Callable[[], datetime]):
        self.store = store
        self.expiration_seconds = expiration_seconds
        self.clock = clock  # the engine's: a test moves it past the expiry instead of waiting

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self.store.issue_oauth_state(state, self.clock().timestamp() + self.expiration_seconds)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.store.consume_oauth_state(state, self.clock().timestamp())


@dataclass(frozen=True)
class Speaker:
    """The client that speaks for one workspace. `team` is None with a single bot token (one workspace)."""

    team: str | None
    client: AsyncWebClient


class Workspaces:
    """The Web API client for each workspace. With one bot token (SLACK_BOT_TOKEN) it is always `base`; with
    installations, a client per workspace holding that workspace's bot token and sharing base's address,
    connection pool, timeout, logger and retry handlers. Kept a minute at most, so a reinstall or uninstall
    through another server process is noticed."""

    CACHE_SECONDS = 60.0

    def __init__(self, base: AsyncWebClient, store: Store, installations: StoreInstallations | None = None):
        self.base = base
        self.store = store
        self.installations = installations
        self._cached: dict[str, tuple[float, Speaker]] = {}

    async def speaker(self, team: str | None) -> Speaker:
        """The client for workspace `team`; NotInstalled if the app is not installed there."""
        if self.installations is None:
            return Speaker(None, self.base)
        if not team:
            raise NotInstalled("no workspace")
        cached = self._cached.get(team)
        if cached and time.monotonic() - cached[0] < self.CACHE_SECONDS:
            return cached[1]
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None:
            self.forget(team)
            raise NotInstalled(f"not installed in workspace {team}")
        base = self.base
        speaker = Speaker(team, AsyncWebClient(
            token=bot.bot_token, base_url=base.base_url, session=base.session, timeout=base.timeout,
            logger=base.logger, retry_handlers=list(base.retry_handlers) if base.retry_handlers else None))
        self._cached[team] = (time.monotonic(), speaker)
        return speaker

    async def for_school(self, school_id: str) -> Speaker:
        """The client for a school's (first) Slack workspace."""
        if self.installations is None:
            return Speaker(None, self.base)
        school = await self.store.get_school(school_id)
        teams = [w.id for w in school.workspaces if w.platform == PLATFORM] if school else []
        if not teams:
            raise NotInstalled(f"school {school_id} has no Slack workspace")
        return await self.speaker(teams[0])

    def forget(self, team: str | None) -> None:
        if team:
            self._cached.pop(team, None)
