"""`teams-package`: the zip to upload to Microsoft Teams, the app's manifest with the bot's app id (and version)
filled in, and its two icons."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

from bot.cli.args import Parents, guid_arg, manifest_version_arg
from bot.cli.words import shipped_words

TEAMS_MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"
TEAMS_PACKAGE_NAME = "online-safety-bot-teams.zip"
PLACEHOLDER_HOST = "bot.example.org"  # the template's developer addresses


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    package = sub.add_parser("teams-package", help="build the Microsoft Teams app package (zip) to upload")
    package.add_argument("--app-id", required=True, type=guid_arg, help="the bot's Microsoft App ID (a GUID)")
    package.add_argument("--out", default=TEAMS_PACKAGE_NAME, help="where to write the zip (a file, or a folder for "
                         f"{TEAMS_PACKAGE_NAME} in it)")
    package.add_argument("--version", type=manifest_version_arg,
                         help="the app's version (raise it for each update you upload; default: the manifest's)")


def run(args: argparse.Namespace) -> int:
    return teams_package(args.app_id, args.out, args.version)


def teams_package(app_id: str, out: str, version: str | None = None) -> int:
    """Write the package to `out` (a file, or a folder to put it in). The command takes no content folder: its
    words are the shipped content's."""
    say = shipped_words()
    manifest = json.loads((TEAMS_MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    if version:
        manifest["version"] = version
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    for field in ("privacyUrl", "termsOfUseUrl", "websiteUrl"):
        url = manifest.get("developer", {}).get(field, "")
        if PLACEHOLDER_HOST in url:
            print(say.text("cli.teams_package.placeholder", name=field, value=url,
                           path=TEAMS_MANIFEST_DIR / "manifest.json"), file=sys.stderr)
    target = Path(out)
    if target.is_dir() or out.endswith(("/", "\\")):
        target = target / TEAMS_PACKAGE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for icon in manifest["icons"].values():
            package.write(TEAMS_MANIFEST_DIR / icon, icon)
    print(say.text("cli.teams_package.written", path=target))
    return 0
