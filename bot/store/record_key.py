"""The record key: the secret that seals each case's event chain (HMAC-SHA256), kept outside the database.

Whoever holds the database but not the key cannot rewrite an event and reseal the chain after it. The key comes
from `OSB_RECORD_KEY` (64 or more hexadecimal characters), or, for an SQLite database, from a file beside it
(`<database>.record-key`, mode 0600), made on the first start. PostgreSQL has no such place that every process
shares, so there it must be given. The database keeps only the key's fingerprint, so a lost or different key is
refused at start with a clear message instead of sealing new events with a key nobody can check against.
See docs/safeguarding-record.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Mapping

from bot.core.private import private_file, private_folder
from bot.store.base import StoreError

ENV = "OSB_RECORD_KEY"
KEY_BYTES = 32
MAKE_ONE = "python -c 'import secrets; print(secrets.token_hex(32))'"


def parse_key(text: str, where: str = ENV) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise StoreError(f"{where}: the record key must be at least {KEY_BYTES * 2} hexadecimal characters; make one "
                         f"with {MAKE_ONE}")
    return key


def given_key(env: Mapping[str, str] | None = None) -> bytes | None:
    """The key in `OSB_RECORD_KEY`, if set."""
    text = (os.environ if env is None else env).get(ENV)
    return parse_key(text) if text else None


def fingerprint(key: bytes) -> str:
    """What the database keeps of the key: enough to recognise it, nothing to recover it."""
    return hmac.new(key, b"online-safety-bot record key fingerprint", hashlib.sha256).hexdigest()[:16]


def seal(key: bytes, *parts: object) -> str:
    """An HMAC over `parts`, for a value the database keeps that only the key's holder may set."""
    return hmac.new(key, ":".join(map(str, parts)).encode("utf-8"), hashlib.sha256).hexdigest()


def key_file(database: str) -> Path:
    return Path(f"{Path(database).resolve()}.record-key")


def read_key_file(path: Path) -> bytes | None:
    if not path.exists():
        return None
    private_file(path)  # tightened if it was left looser
    return parse_key(path.read_text(encoding="ascii", errors="replace"), str(path))


def create_key_file(path: Path) -> bytes:
    """A new key, written to `path` (0600) unless another process made it first, in which case that one."""
    private_folder(path.parent)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        found = read_key_file(path)
        assert found is not None
        return found
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(key.hex() + "\n")
    return key


def lost(where: str, expected: str, found: str | None) -> StoreError:
    if found is None:
        return StoreError(
            f"the record key is missing: this database's case records were sealed with a key (fingerprint {expected}) "
            f"that is neither in {ENV} nor in {where}. Restore that key from your backup; without it new events "
            "cannot be sealed and `cases verify` cannot check the old ones.")
    return StoreError(
        f"the record key given (fingerprint {found}) is not the one this database's case records were sealed with "
        f"(fingerprint {expected}). Give the original key in {ENV} or {where}.")


def key_row(key: bytes, legacy_until: int, since: str) -> dict[str, object]:
    """The database's one row about the key, for the first start with it: written once, never changed."""
    mark = fingerprint(key)
    return {"id": 1, "fingerprint": mark, "legacy_until": legacy_until, "since": since,
            "seal": seal(key, mark, legacy_until, since)}


def check_row(row: Mapping[str, object], key: bytes, where: str) -> None:
    """The key is the database's own, and its row is as the key's holder wrote it (StoreError otherwise)."""
    if row["fingerprint"] != fingerprint(key):
        raise lost(where, str(row["fingerprint"]), fingerprint(key))
    if row["seal"] != seal(key, row["fingerprint"], row["legacy_until"], row["since"]):
        raise StoreError("the record key's row in the database was changed outside the bot (which events came "
                         "before the key): `cases verify` cannot be trusted until it is restored from a backup")
