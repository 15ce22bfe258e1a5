"""Slack settings from the environment. No SLACK_* variable at all means the Slack channel is off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from bot.config import ConfigError

VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL")


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str | None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


def slack_config(env: Mapping[str, str]) -> SlackConfig | None:
    """The Slack configuration, None when none is given, or ConfigError naming the variable that is wrong."""
    values = {name: env.get(name, "").strip() for name in VARIABLES}
    if not any(values.values()):
        return None
    token = values["SLACK_BOT_TOKEN"]
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is missing: set it to the app's bot token (it starts with xoxb-)")
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
    if secret and not re.fullmatch(r"[0-9a-fA-F]{16,128}", secret):
        raise ConfigError("SLACK_SIGNING_SECRET is malformed: it should be the hexadecimal secret from the app's Basic Information page")
    api_url = values["SLACK_API_URL"] or None
    if api_url:
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("SLACK_API_URL is malformed: it should be a URL such as https://slack.com/api/")
        api_url = api_url if api_url.endswith("/") else api_url + "/"
    return SlackConfig(bot_token=token, signing_secret=secret, app_token=app_token, api_url=api_url)
