"""Microsoft Teams settings from the environment. No Teams variable at all means the Teams channel is off.

The bot's Azure registration is read from the Agents SDK's standard variables
(`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID`, `__CLIENTSECRET`, `__TENANTID`), parsed by the
SDK's own `load_configuration_from_env`. `__TENANTID` limits the bot to one Microsoft 365 tenant; left unset, the
bot serves the tenants mapped to schools (`schools add --teams-tenant`) and no other. Anonymous mode, for local
testing against a fake or the Agents Playground only, must be switched on explicitly with `TEAMS_ALLOW_ANONYMOUS=true`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yarl
from microsoft_agents.activity import load_configuration_from_env

from bot.core.config import ConfigError

SETTINGS = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
CLIENT_ID = SETTINGS + "CLIENTID"
CLIENT_SECRET = SETTINGS + "CLIENTSECRET"
TENANT_ID = SETTINGS + "TENANTID"
SDK_ANONYMOUS = SETTINGS + "ANONYMOUS_ALLOWED"
ALLOW_ANONYMOUS = "TEAMS_ALLOW_ANONYMOUS"
MULTI_TENANT_TOKEN_TENANT = "botframework.com"

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class TeamsConfig:
    client_id: str | None
    tenant_id: str | None  # with credentials: the one tenant served; None serves every tenant mapped to a school
    anonymous: bool
    sdk: dict[str, Any] = field(default_factory=dict, repr=False)  # for the SDK's connection manager; holds the secret

    @property
    def credentials(self) -> bool:
        """Production: requests must carry a valid Bot Framework token and replies go only to Microsoft's hosts."""
        return self.client_id is not None

    @property
    def accepts_requests(self) -> bool:
        return self.credentials or self.anonymous


def is_guid(value: str) -> bool:
    return bool(GUID.fullmatch(value))


def teams_config(env: Mapping[str, str]) -> TeamsConfig | None:
    """The Teams configuration, None when none is given, or ConfigError naming the variable that is wrong."""
    ours = {k: v.strip() for k, v in env.items() if k.startswith("CONNECTIONS__") or k == ALLOW_ANONYMOUS}
    ours = {k: v for k, v in ours.items() if v}
    if not ours:
        return None
    if SDK_ANONYMOUS in ours:
        raise ConfigError(f"{SDK_ANONYMOUS} is not used: set {ALLOW_ANONYMOUS}=true for local testing instead")
    anonymous_setting = ours.get(ALLOW_ANONYMOUS, "false").lower()
    if anonymous_setting not in ("true", "false"):
        raise ConfigError(f"{ALLOW_ANONYMOUS} is malformed: it should be true or false")
    anonymous = anonymous_setting == "true"

    client_id, secret, tenant = ours.get(CLIENT_ID), ours.get(CLIENT_SECRET), ours.get(TENANT_ID)
    if (secret or tenant) and not client_id:
        raise ConfigError(f"{CLIENT_ID} is missing: set it to the bot's Microsoft App ID (a GUID)")
    if client_id:
        if not is_guid(client_id):
            raise ConfigError(f"{CLIENT_ID} is malformed: the bot's Microsoft App ID is a GUID")
        if not secret:
            raise ConfigError(f"{CLIENT_SECRET} is missing: set it to a client secret of the bot's app registration")
        if tenant and not is_guid(tenant):
            raise ConfigError(f"{TENANT_ID} is malformed: the tenant ID is a GUID")
        if anonymous:
            raise ConfigError(f"{ALLOW_ANONYMOUS}=true cannot be used with credentials: "
                              "anonymous mode is for local testing only")

    sdk = load_configuration_from_env({k: v for k, v in ours.items() if k.startswith("CONNECTIONS__")})
    settings = sdk["CONNECTIONS"].setdefault("SERVICE_CONNECTION", {}).setdefault("SETTINGS", {})
    settings["ANONYMOUS_ALLOWED"] = anonymous
    if client_id and not tenant:
        # Many tenants (README): the bot takes its own connector token where a multi-tenant Bot Framework
        # registration does, and each activity's tenant must be mapped to a school (`TeamsChannel._school`).
        settings["TENANTID"] = MULTI_TENANT_TOKEN_TENANT
    # Only tokens from Microsoft's issuers (the SDK checks issuers only when asked); the channel then accepts only
    # the Bot Framework channel's own (`app.from_the_channel`): the SDK's list also holds the tenant's Entra issuers.
    settings["VALIDATE_ISSUER"] = client_id is not None
    return TeamsConfig(client_id=client_id, tenant_id=tenant, anonymous=anonymous, sdk=sdk)


SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID",
                     "SLACK_CLIENT_SECRET")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach it."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def anonymous_refusal(env: Mapping[str, str], host: str) -> str | None:
    """Why anonymous Teams mode may not run in this `serve`, or None. It is for trying the bot on one's own
    machine only: bound to a loopback address, and beside no production credentials of any channel (Slack's
    are production unless they point at a fake Web API on this machine)."""
    if (env.get(ALLOW_ANONYMOUS) or "").strip().lower() != "true":
        return None
    if not is_loopback(host):
        return (f"{ALLOW_ANONYMOUS}=true accepts requests from anyone, unauthenticated: serve it only on a loopback "
                f"address (--host 127.0.0.1), not {host}")
    slack_api = (env.get("SLACK_API_URL") or "").strip()
    slack_fake = bool(slack_api) and is_loopback(yarl_host(slack_api))
    if any((env.get(name) or "").strip() for name in SLACK_CREDENTIALS) and not slack_fake:
        return (f"{ALLOW_ANONYMOUS}=true cannot be used beside Slack's credentials: anonymous mode is for local "
                "testing only, never beside a production channel")
    return None


def yarl_host(url: str) -> str:
    try:
        return yarl.URL(url).host or ""
    except ValueError:
        return ""
