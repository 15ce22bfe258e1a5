"""The options several commands share, and the checks that turn an argument into a value or an error naming it."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import date

from bot.cli.words import shipped_words

USER = re.compile(r"^[a-z][a-z0-9_-]{1,20}:[^\s:]{1,128}$")
SCHOOL = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
PREFIX = re.compile(r"[A-Z]{2,6}")
MANIFEST_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True)
class Parents:
    """The parent parsers a command's parser takes its shared options from."""

    common: argparse.ArgumentParser  # --db and --content
    one_school: argparse.ArgumentParser  # those and --school


def parents() -> Parents:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="the SQLite database file, or a postgresql:// URL for a server database "
                                     "(default data/online-safety-bot.db, or $OSB_DB)")
    common.add_argument("--content", dest="content_dir", help="the content folder (default: the repository's)")
    one_school = argparse.ArgumentParser(add_help=False, parents=[common])
    one_school.add_argument("--school", type=school_arg,
                            help="which school (a school id from `schools list`); needed when there are several")
    return Parents(common=common, one_school=one_school)


def _wrong(key: str, value: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(shipped_words().text(key, value=value))


def user_arg(value: str) -> str:
    if not USER.match(value):
        raise _wrong("cli.arg.user", value)
    return value


def school_arg(value: str) -> str:
    if not SCHOOL.fullmatch(value):
        raise _wrong("cli.arg.school", value)
    return value


def prefix_arg(value: str) -> str:
    if not PREFIX.fullmatch(value):
        raise _wrong("cli.arg.prefix", value)
    return value


def guid_arg(value: str) -> str:
    from bot.channels.teams.config import is_guid  # here, not at the top: it loads the Teams SDK

    if not is_guid(value):
        raise _wrong("cli.arg.guid", value)
    if not value.strip("0-"):
        raise _wrong("cli.arg.guid_placeholder", value)
    return value.lower()


def manifest_version_arg(value: str) -> str:
    """A Teams app version: three numbers, as the manifest schema wants (and higher than the last uploaded)."""
    if not MANIFEST_VERSION.fullmatch(value):
        raise _wrong("cli.arg.version", value)
    return value


def date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _wrong("cli.arg.date", value) from None
