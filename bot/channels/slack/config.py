"""Slack settings from the environment. No SLACK_* variable at all means the Slack channel is off.

Two ways to run: one workspace with its app's bot token (SLACK_BOT_TOKEN), or many, each installing the app
through Slack's OAuth flow (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, with OSB_TOKEN_KEY to encrypt the tokens
kept in the database: bot/channels/slack/installations.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from bot.core.config import ConfigError

VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
             "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
NEW_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str | None
    # Installing into many workspaces (all three set together, and no bot_token).
    client_id: str | None = None
    client_secret: str | None = None
    token_key: str | None = None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def oauth(self) -> bool:
        return self.client_id is not None


def slack_config(env: Mapping[str, str]) -> SlackConfig | None:
    """The Slack configuration, None when none is given, or ConfigError naming the variable that is wrong."""
    values = {name: env.get(name, "").strip() for name in VARIABLES}
    if not any(values.values()):
        return None
    token = values["SLACK_BOT_TOKEN"]
    if values["SLACK_CLIENT_ID"] or values["SLACK_CLIENT_SECRET"]:
        if token:
            raise ConfigError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set: choose one. A bot token serves "
                "one workspace; the client id and secret install the app into many (then unset SLACK_BOT_TOKEN)")
        return _oauth_config(values, env)
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is missing: set it to the app's bot token (it starts with xoxb-), "
                          "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install the app into many workspaces")
    if not re.fullmatch(r"xoxb-[A-Za-z0-9-]+", token):
        raise ConfigError("SLACK_BOT_TOKEN is malformed: a bot token starts with xoxb-")
    app_token = values["SLACK_APP_TOKEN"] or None
    if app_token and not re.fullmatch(r"xapp-[A-Za-z0-9-]+", app_token):
        raise ConfigError("SLACK_APP_TOKEN is malformed: an app-level token starts with xapp-")
    secret = values["SLACK_SIGNING_SECRET"] or None
    if not secret and not app_token:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is missing: set it to the app's signing secret "
            "(or set SLACK_APP_TOKEN to use Socket Mode instead of a public URL)"
        )
    _check_secret(secret)
    return SlackConfig(bot_token=token, signing_secret=secret, app_token=app_token, api_url=_api_url(values))


def _oauth_config(values: dict[str, str], env: Mapping[str, str]) -> SlackConfig:
    client_id, client_secret = values["SLACK_CLIENT_ID"], values["SLACK_CLIENT_SECRET"]
    for name, value in (("SLACK_CLIENT_ID", client_id), ("SLACK_CLIENT_SECRET", client_secret)):
        if not value:
            raise ConfigError(f"{name} is missing: installing into many workspaces needs both the client id and "
                              "the client secret from the app's Basic Information page")
    if not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise ConfigError("SLACK_CLIENT_ID is malformed: it is two numbers joined by a dot, as on the app's "
                          "Basic Information page")
    if not re.fullmatch(r"[0-9a-fA-F]{16,128}", client_secret):
        raise ConfigError("SLACK_CLIENT_SECRET is malformed: it should be the hexadecimal secret from the app's "
                          "Basic Information page")
    if values["SLACK_APP_TOKEN"]:
        raise ConfigError("SLACK_APP_TOKEN cannot be used with SLACK_CLIENT_ID: installing into many workspaces "
                          "needs the public HTTP endpoint, not Socket Mode (unset SLACK_APP_TOKEN)")
    secret = values["SLACK_SIGNING_SECRET"]
    if not secret:
        raise ConfigError("SLACK_SIGNING_SECRET is missing: installing into many workspaces needs the app's "
                          "signing secret, from its Basic Information page")
    _check_secret(secret)
    key = env.get("OSB_TOKEN_KEY", "").strip()
    if not key:
        raise ConfigError("OSB_TOKEN_KEY is missing: installing into many workspaces keeps each workspace's token "
                          f"encrypted with this key; make one with {NEW_KEY}")
    try:
        Fernet(key)
    except ValueError:  # binascii.Error, for text that is not base64, is a ValueError too
        raise ConfigError("OSB_TOKEN_KEY is malformed: it should be a Fernet key (32 url-safe base64-encoded "
                          f"bytes), as made by {NEW_KEY}") from None
    return SlackConfig(bot_token=None, signing_secret=secret, app_token=None, api_url=_api_url(values),
                       client_id=client_id, client_secret=client_secret, token_key=key)


def _check_secret(secret: str | None) -> None:
    if secret and not re.fullmatch(r"[0-9a-fA-F]{16,128}", secret):
        raise ConfigError("SLACK_SIGNING_SECRET is malformed: it should be the hexadecimal secret from the app's "
                          "Basic Information page")


def _api_url(values: dict[str, str]) -> str | None:
    api_url = values["SLACK_API_URL"] or None
    if api_url:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("SLACK_API_URL is malformed: it should be a URL such as https://slack.com/api/")
        api_url = api_url if api_url.endswith("/") else api_url + "/"
    return api_url
