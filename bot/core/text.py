"""Reading what people type: cleaning, phrase matching, choices and account links (dates: bot/dates.py).

All of it is deterministic: the same message always means the same thing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

from bot.core.models import Choice

# C0 and C1 controls (U+009B is a terminal's CSI), zero-width and bidirectional marks, embeddings, overrides and
# isolates (U+061C, U+200E-F, U+202A-E, U+2066-9: "Trojan source" reordering of names), BOM and surrogates.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufffd\ud800-\udfff]")
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def clean(text: str | None) -> str:
    """Drop control characters and invisible formatting, normalise unicode, trim."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def normalise(text: str) -> str:
    """Lower case, curly quotes straightened, punctuation to spaces, spaces collapsed."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = _NOT_WORD.sub(" ", text)
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def normalise_phrase(phrase: str) -> str:
    """`normalise` for the content's own words (phrases, labels, hedges), read on every turn: each is worked out
    once. Never for what people type, which is not kept."""
    return normalise(phrase)


def plain(text: str) -> str:
    """`normalise` without apostrophes ("i've" is "ive", as people type it): how words are compared."""
    return normalise(text).replace("'", "")


@lru_cache(maxsize=8192)
def plain_phrase(phrase: str) -> str:
    """`plain` for the content's own words, worked out once each (never for what people type)."""
    return plain(phrase)


def is_command(text: str, words: Iterable[str]) -> bool:
    said = normalise(text) or text.strip()
    return said in _commands(tuple(words))


@lru_cache(maxsize=256)
def _commands(words: tuple[str, ...]) -> frozenset[str]:
    """A command's words as `is_command` compares them (a word of punctuation alone, "?", as it is): once per list."""
    return frozenset(normalise_phrase(w) or w for w in words)


def contains_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase found in `text`, matched on word starts (so "nude" finds "nudes" but not "denude")."""
    said = f" {normalise(text)} "
    for phrase in phrases:
        if f" {normalise_phrase(phrase)}" in said:
            return phrase
    return None


# --- Choices -----------------------------------------------------------------------------

# No repeat around the separator (the tokens are trimmed after): a pattern starting `\s*` would rescan a long run
# of spaces from each of its positions.
_SEPARATORS = re.compile(r",|;|\n|\band\b|&")


def resolve_choices(text: str, offered: list[Choice], numbered: list[str], multiple: bool) -> list[str] | None:
    """The ids `text` picks from `offered`: by id, by label (any case) or by number.

    Returns None when the text is not a choice at all. With `multiple`, several may be given,
    separated by commas or "and" ("1, 3" or "Instagram and TikTok").
    """
    if not offered or not text:
        return None

    def one(token: str) -> str | None:
        token = token.strip().strip(".")
        if not token:
            return None
        if token.isdigit():
            if len(token) > 1 and token.startswith("0"):  # "0001": a case's number, never a choice's
                return None
            n = int(token)
            return numbered[n - 1] if 1 <= n <= len(numbered) else None
        low = normalise(token)
        for choice in offered:
            if token == choice.id or (low and low == normalise_phrase(choice.label)):
                return choice.id
        return None

    whole = one(text)
    if whole:
        return [whole]
    if not multiple:
        return None
    tokens = [t for t in _SEPARATORS.split(text) if t.strip()]
    if len(tokens) == 1 and re.fullmatch(r"[\d\s]+", text):
        tokens = text.split()
    picked = [one(t) for t in tokens]
    if not picked or any(p is None for p in picked):
        return None
    return list(dict.fromkeys(p for p in picked if p))


# --- Accounts: handles and links ---------------------------------------------------------


class Account(BaseModel):
    kind: str  # "url" or "handle"
    value: str
    platform: str | None = None


_HANDLE = re.compile(r"(?<![\w.@])@([A-Za-z0-9._]{1,30})\b")
# Linear on any input: a link starts with a literal scheme or "www.", or at the start of a run of host characters
# (never inside one, so no run is scanned from each of its positions), and stops at the first space.
_URLISH = re.compile(r"(?i)\b(?:https?://|www\.)\S+|(?<![a-z0-9_.-])[a-z0-9-]+(?:\.[a-z0-9-]+)+/\S*")
_HOSTNAME = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HOST_PLATFORMS = {
    "facebook.com": "facebook", "fb.com": "facebook", "instagram.com": "instagram", "tiktok.com": "tiktok",
    "x.com": "x", "twitter.com": "x", "linkedin.com": "linkedin", "snapchat.com": "snapchat",
    "whatsapp.com": "whatsapp", "wa.me": "whatsapp", "youtube.com": "youtube", "youtu.be": "youtube",
}
# Query strings are dropped (they carry tracking), except the parameter that names the page.
_KEEP_QUERY: dict[tuple[str | None, str], str] = {("facebook", "/profile.php"): "id", ("youtube", "/watch"): "v"}


def normalise_url(raw: str) -> Account | None:
    raw = raw.rstrip(".,;:!?)]}>\"'")
    if not re.match(r"(?i)https?://", raw):
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOSTNAME.match(host) or parts.username:
        return None
    for prefix in ("www.", "m.", "mobile.", "web."):
        if host.startswith(prefix) and host.count(".") > 1:
            host = host[len(prefix):]
    platform = next((p for h, p in _HOST_PLATFORMS.items() if host == h or host.endswith("." + h)), None)
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    keep = _KEEP_QUERY.get((platform, path))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k == keep]) if keep else ""
    return Account(kind="url", value=urlunsplit(("https", host, path, query, "")), platform=platform)


# Handles and links: read as accounts, never for the words in them ("@mr_davies_fanz" names no "mr").
_ACCOUNT_WORDS = re.compile(r"@\S+|\S*(?:https?://|www\.)\S*", re.IGNORECASE)


def without_accounts(text: str) -> str:
    """`text` with its handles and links taken out, so their letters are never read as words ("@mrs_k_fake" is not
    "mrs", another member of staff)."""
    return _ACCOUNT_WORDS.sub(" ", text)


def parse_accounts(text: str) -> tuple[list[Account], list[str]]:
    """Handles (@name) and links found in `text`, normalised, and the link-like pieces that are not valid.

    A message that is a single bare word of three letters or more is taken as a handle without its @ ("me" is
    never one).
    """
    found: list[Account] = []
    invalid: list[str] = []
    for match in _URLISH.finditer(text):
        account = normalise_url(match.group(0))
        if account:
            found.append(account)
        else:
            invalid.append(match.group(0))
    without_urls = _URLISH.sub(" ", text)
    for match in _HANDLE.finditer(without_urls):
        found.append(Account(kind="handle", value="@" + match.group(1).lower().rstrip(".")))
    for token in re.findall(r"(?i)\bhttps?:/*\S*", without_urls):
        invalid.append(token)
    bare = text.strip()
    if not found and not invalid and re.fullmatch(r"[A-Za-z0-9._]{3,30}", bare) and re.search(r"[A-Za-z]", bare):
        found.append(Account(kind="handle", value="@" + bare.lower()))
    unique = list({(a.kind, a.value): a for a in found}.values())
    return unique, invalid


# Path segments that are a platform's own pages, never an account name.
_NOT_ACCOUNTS = {
    "p", "reel", "reels", "stories", "explore", "tv", "watch", "video", "videos", "share", "hashtag", "search",
    "home", "i", "intent", "groups", "events", "pages", "profile.php", "permalink.php", "photo", "photos",
    "story.php", "posts", "status", "tag", "tags", "channel", "c", "user", "shorts", "login", "discover",
}
# Where a profile name sits in a known platform's links: the first path segment unless listed here.
_PROFILE_AFTER = {"linkedin": ("in", "company", "school"), "snapchat": ("add",), "youtube": ("c", "user", "channel")}
_NAME = re.compile(r"^@?([a-z0-9._-]{1,100})$")


def account_key(account: dict[str, Any]) -> tuple[str, str | None] | None:
    """(normalised account, platform or None) for one entry of `answers["accounts"]`: "@name" for a handle or
    a profile's link on a known platform (the same account however it was written), else the link. Used for
    repeated accounts within a school (bot/cases/stats.py) and across schools (bot/cases/early_warning.py)."""
    value = str(account.get("value") or "").strip()
    if not value:
        return None
    if account.get("kind") == "handle":
        match = _NAME.match(value.lower())
        return ("@" + match.group(1), account.get("platform")) if match else None
    platform = account.get("platform")
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if platform and segments:
        after = _PROFILE_AFTER.get(platform, ())
        if segments[0].lower() in after and len(segments) > 1:
            name = segments[1]
        elif segments[0].lower() not in _NOT_ACCOUNTS:
            name = segments[0]
        else:
            name = ""
        match = _NAME.match(name.lower()) if name else None
        if match and not parts.query:
            return "@" + match.group(1), platform
    return value, platform
