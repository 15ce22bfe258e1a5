"""`serve`'s access log, one line per HTTP request: `OSB_ACCESS_LOG=full` (the default), `sampled` or `off`.

A line says which of our routes was asked for (its pattern, never the path or query as sent: an OAuth code rides
in a query string), the status, the time taken and the caller's address. Never a body, a header or anything a
person typed: requests carry their words in bodies only, and bodies are never read here.

`sampled` keeps every request that failed (a status of 400 or more) or took a second or longer, and one in
`SAMPLE_EVERY` of the rest: enough to see the service is used and everything that went wrong, at a fraction of the
cost under heavy load. `off` is for a proxy in front that keeps its own.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Mapping

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.core.config import ConfigError

VARIABLE = "OSB_ACCESS_LOG"
MODES = ("full", "sampled", "off")
DEFAULT = "full"
SAMPLE_EVERY = 100
SLOW_SECONDS = 1.0

log = logging.getLogger("bot.access")


def route_of(request: web.BaseRequest) -> str:
    """The route's pattern (`/slack/events`), or `-` for a path that matched none."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "-"


class AccessLogger(AbstractAccessLogger):
    """Every request (`full`)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.1f ms", request.remote or "-", request.method, route_of(request),
                         response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class SampledAccessLogger(AccessLogger):
    """Failures and slow requests, and one in `SAMPLE_EVERY` of the rest (`sampled`)."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logger, log_format)
        self._count = itertools.count()

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status >= 400 or time >= SLOW_SECONDS or next(self._count) % SAMPLE_EVERY == 0:
            super().log(request, response, time)


def access_log_options(env: Mapping[str, str]) -> dict[str, Any]:
    """aiohttp's `AppRunner` arguments for the access log `env` asks for (ConfigError naming the variable)."""
    mode = (env.get(VARIABLE) or DEFAULT).strip().lower()
    if mode not in MODES:
        raise ConfigError(f"{VARIABLE} is malformed: it should be one of {', '.join(MODES)}")
    if mode == "off":
        return {"access_log": None}
    return {"access_log": log, "access_log_class": AccessLogger if mode == "full" else SampledAccessLogger}
