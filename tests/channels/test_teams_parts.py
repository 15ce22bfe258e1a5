"""The Teams adapter's parts on their own: configuration, the manifest and its package, and Adaptive Cards
that Teams accepts, within its size limit, whatever the bot has to say."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from bot.channels.teams.cards import (
    MAX_CARD_BYTES,
    form_card,
    reply_cards,
    size,
    text_blocks,
)
from bot.channels.teams.config import teams_config
from bot.cli import main
from bot.core.config import ConfigError
from bot.core.markup import escape
from bot.core.models import CaseCard, Choice, Form, FormField, Reply
from testing.teams_harness import assert_valid_for_teams, elements, words

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
APP_ID = "0e9b1c4f-2a6d-4c55-9f1e-5b2d8a7c3e10"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SETTINGS = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
GOOD = {SETTINGS + "CLIENTID": APP_ID, SETTINGS + "CLIENTSECRET": "s3cr3t~value", SETTINGS + "TENANTID": TENANT}

pytestmark = pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning")


# --- configuration -----------------------------------------------------------------------------------

def test_no_teams_settings_means_the_channel_is_off():
    assert teams_config({}) is None
    assert teams_config({"SLACK_BOT_TOKEN": "xoxb-1", "TEAMS_ALLOW_ANONYMOUS": ""}) is None


def test_credentials_are_read_with_the_sdks_own_parser():
    config = teams_config({**GOOD, "OSB_DB": "x"})
    assert (config.client_id, config.tenant_id, config.anonymous, config.credentials) == (APP_ID, TENANT, False, True)
    settings = config.sdk["CONNECTIONS"]["SERVICE_CONNECTION"]["SETTINGS"]
    assert settings["CLIENTID"] == APP_ID and settings["ANONYMOUS_ALLOWED"] is False
    assert "s3cr3t" not in repr(config)


def test_many_tenants_start_with_the_tenant_unset_as_the_readme_says():
    config = teams_config({SETTINGS + "CLIENTID": APP_ID, SETTINGS + "CLIENTSECRET": "s3cr3t~value"})
    assert config.credentials and config.tenant_id is None
    # The connector token comes from where a multi-tenant Bot Framework registration gets it.
    assert config.sdk["CONNECTIONS"]["SERVICE_CONNECTION"]["SETTINGS"]["TENANTID"] == "botframework.com"


def test_anonymous_mode_is_only_an_explicit_choice():
    assert teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}).anonymous is True
    refusing = teams_config({"TEAMS_ALLOW_ANONYMOUS": "false"})
    assert not refusing.anonymous and not refusing.credentials and not refusing.accepts_requests


@pytest.mark.parametrize("env, variable", [
    ({SETTINGS + "CLIENTID": "my-bot"}, "CLIENTID is malformed"),
    ({SETTINGS + "CLIENTID": APP_ID, SETTINGS + "TENANTID": TENANT}, "CLIENTSECRET is missing"),
    ({**GOOD, SETTINGS + "TENANTID": "contoso.onmicrosoft.com"}, "TENANTID is malformed"),
    ({SETTINGS + "CLIENTSECRET": "x"}, "CLIENTID is missing"),
    ({"TEAMS_ALLOW_ANONYMOUS": "yes"}, "TEAMS_ALLOW_ANONYMOUS is malformed"),
    ({**GOOD, "TEAMS_ALLOW_ANONYMOUS": "true"}, "TEAMS_ALLOW_ANONYMOUS=true cannot be used with credentials"),
    ({SETTINGS + "ANONYMOUS_ALLOWED": "true"}, "ANONYMOUS_ALLOWED is not used"),
])
def test_wrong_teams_settings_stop_start_up_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        teams_config(env)


def test_serve_stops_with_a_clear_message_when_teams_settings_are_wrong(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_", "CONNECTIONS__", "TEAMS_"))}
    env[SETTINGS + "CLIENTID"] = "not-a-guid"
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--db", str(tmp_path / "b.db"), "--port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{SETTINGS}CLIENTID is malformed" in proc.stderr


# --- the manifest and its package ----------------------------------------------------------------------

def manifest_validator() -> Draft4Validator:
    return Draft4Validator(json.loads((SCHEMAS / "teams-manifest-v1.19.MicrosoftTeams.schema.json").read_text()))


def test_the_teams_manifest_is_valid_against_the_official_schema(content):
    manifest = json.loads((ROOT / "manifest" / "teams" / "manifest.json").read_text())
    assert sorted(manifest_validator().iter_errors(manifest), key=str) == []
    assert manifest["manifestVersion"] == "1.19"
    (bot,) = manifest["bots"]
    assert bot["scopes"] == ["personal"] and bot["supportsFiles"] is True
    assert "permissions" not in manifest  # nothing beyond the bot itself
    (commands,) = bot["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert titles == ["Report a concern", "Check my privacy settings", "Get support", "My cases"]
    # Each command, sent as the message's text when picked, starts the flow it names.
    from bot.core.text import contains_phrase

    intents = content.intents
    assert [next(f for f, phrases in intents.items() if contains_phrase(t, phrases)) for t in titles] == [
        "report_concern", "privacy_check", "get_support", "my_cases"]


def test_the_validator_does_catch_a_broken_manifest():
    manifest = json.loads((ROOT / "manifest" / "teams" / "manifest.json").read_text())
    manifest["bots"][0]["botId"] = "my-bot"
    manifest["bots"][0]["scopes"] = ["everyone"]
    assert len(list(manifest_validator().iter_errors(manifest))) >= 2


def png_info(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of a PNG (8-bit RGBA, as ours are written)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6)
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            idat += data[position + 8:position + 8 + length]
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4 + 1
    pixels = []
    for row in range(height):
        line = raw[row * stride:(row + 1) * stride]
        assert line[0] == 0  # no filter, so the bytes are the pixels
        pixels += [tuple(line[1 + i:5 + i]) for i in range(0, width * 4, 4)]
    return width, height, pixels


def test_teams_package_builds_the_zip_to_upload(tmp_path, capsys):
    out = tmp_path / "dist" / "teams.zip"
    assert main(["teams-package", "--app-id", APP_ID.upper(), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with zipfile.ZipFile(out) as package:
        # at the root, as Teams wants
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        color = png_info(package.read("color.png"))
        outline = png_info(package.read("outline.png"))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert sorted(manifest_validator().iter_errors(manifest), key=str) == []
    assert color[:2] == (192, 192) and all(p[3] == 255 for p in color[2])
    assert outline[:2] == (32, 32)
    assert all(p[3] == 0 or p[:3] == (255, 255, 255) for p in outline[2])  # white on transparent only
    assert any(p[3] == 0 for p in outline[2]) and any(p[3] == 255 for p in outline[2])


def test_teams_package_refuses_an_app_id_that_is_not_a_guid(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["teams-package", "--app-id", "my-bot", "--out", str(tmp_path / "t.zip")])
    assert stopped.value.code == 2
    assert "should be a GUID" in capsys.readouterr().err
    assert not (tmp_path / "t.zip").exists()


def test_teams_package_refuses_the_templates_all_zero_app_id(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["teams-package", "--app-id", "00000000-0000-0000-0000-000000000000", "--out", str(tmp_path / "t.zip")])
    assert stopped.value.code == 2
    assert "placeholder" in capsys.readouterr().err
    assert not (tmp_path / "t.zip").exists()


def test_teams_package_into_a_folder_with_a_version_warns_about_placeholder_addresses(tmp_path, capsys):
    assert main(["teams-package", "--app-id", APP_ID, "--out", str(tmp_path), "--version", "1.4.0"]) == 0
    out, err = capsys.readouterr()
    target = tmp_path / "online-safety-bot-teams.zip"
    assert str(target) in out and "Traceback" not in err
    with zipfile.ZipFile(target) as package:
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["version"] == "1.4.0"
    assert sorted(manifest_validator().iter_errors(manifest), key=str) == []
    assert "developer.privacyUrl is still the placeholder" in err and "developer.termsOfUseUrl" in err


@pytest.mark.parametrize("version", ["1.4", "v1.4.0", "1.04.0", "1.4.0-beta"])
def test_teams_package_refuses_a_version_teams_would_not_take(tmp_path, capsys, version):
    with pytest.raises(SystemExit):
        main(["teams-package", "--app-id", APP_ID, "--out", str(tmp_path / "t.zip"), "--version", version])
    assert "should be a version like 1.0.3" in capsys.readouterr().err


def test_staff_list_shows_who_cannot_yet_be_reached_on_teams(tmp_path, capsys):
    import asyncio

    from bot.core.models import Role, StaffMember
    from bot.store import SQLiteStore

    db = tmp_path / "bot.db"

    async def setup() -> None:
        store = SQLiteStore(db)
        await store.open()
        for user, name in (
            ("teams:dsl-guid", "Dana Lee"),
            ("teams:deputy-guid", "Sam Patel"),
            ("slack:U1", "Jo Brown"),
        ):
            await store.upsert_staff(StaffMember(user=user, role=Role.DSL, name=name))
        await store.save_conversation_ref("default", "teams:deputy-guid", "teams", {"conversation": {"id": "a:1"}})
        await store.close()

    asyncio.run(setup())
    assert main(["staff", "list", "--db", str(db)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "cannot be reached on Teams yet" in lines["teams:dsl-guid"]
    assert "cannot be reached" not in lines["teams:deputy-guid"] and "cannot be reached" not in lines["slack:U1"]
    assert main(["staff", "list", "--json", "--db", str(db)]) == 0
    listed = {m["user"]: m for m in json.loads(capsys.readouterr().out)}
    assert (listed["teams:dsl-guid"]["reachable"], listed["teams:deputy-guid"]["reachable"]) == (False, True)
    assert "reachable" not in listed["slack:U1"]


def test_staff_list_shows_who_teams_refused_and_why(tmp_path, capsys):
    import asyncio

    from bot.core.models import Role, StaffMember
    from bot.store import SQLiteStore

    db = tmp_path / "bot.db"

    async def setup() -> None:
        store = SQLiteStore(db)
        await store.open()
        for user, name in (("teams:dsl-guid", "Dana Lee"), ("teams:deputy-guid", "Sam Patel")):
            await store.upsert_staff(StaffMember(user=user, role=Role.DSL, name=name))
            await store.save_conversation_ref("default", user, "teams", {"conversation": {"id": "a:1"}})
        await store.mark_unreachable("default", "teams:dsl-guid", "blocked")
        await store.close()

    asyncio.run(setup())
    assert main(["staff", "list", "--db", str(db)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "UNREACHABLE on Teams: Teams says they blocked or removed the bot" in lines["teams:dsl-guid"]
    assert "reach" not in lines["teams:deputy-guid"]
    assert main(["staff", "list", "--json", "--db", str(db)]) == 0
    listed = {m["user"]: m for m in json.loads(capsys.readouterr().out)}
    assert (
        listed["teams:dsl-guid"]["reachable"] is False and listed["teams:dsl-guid"]["unreachable_because"] == "blocked"
    )
    assert listed["teams:deputy-guid"]["reachable"] is True and "unreachable_because" not in listed["teams:deputy-guid"]


# --- Adaptive Cards -----------------------------------------------------------------------------------

def test_the_bots_markdown_becomes_runs_and_what_users_typed_stays_plain():
    typed = "**bold** [click](https://evil.example) https://evil.example _x_"
    blocks = text_blocks(f"**Account:** {escape(typed)}\n- see [Report Remove](https://www.childline.org.uk/rr/)"
                         "\n\nhttps://reportharmfulcontent.com/.")
    first, second, third = blocks
    assert first["inlines"] == [{"type": "TextRun", "text": "Account:", "weight": "Bolder"},
                                {"type": "TextRun", "text": f" {typed}"}]
    assert second["spacing"] == "None" and third["spacing"] == "Medium"
    assert second["inlines"][0]["text"] == "\u2022 see "
    assert second["inlines"][1]["selectAction"] == {"type": "Action.OpenUrl", "url": "https://www.childline.org.uk/rr/"}
    assert third["inlines"][0]["selectAction"]["url"] == "https://reportharmfulcontent.com/"
    assert third["inlines"][1]["text"] == "."


def test_the_validator_does_catch_a_broken_card():
    (card,) = reply_cards(Reply(key="k", text="Hello"), "Continue")
    broken = {**card, "body": card["body"] + [{"type": "RichTextBlock", "inlines": [], "colour": "red"}]}
    with pytest.raises(AssertionError):
        assert_valid_for_teams(broken)
    with pytest.raises(AssertionError):  # newer than Teams renders
        assert_valid_for_teams({**card, "version": "1.6"})
    with pytest.raises(AssertionError):  # an element newer than the card says
        assert_valid_for_teams({**card, "version": "1.2", "body": [{"type": "Table", "columns": [], "rows": []}]})
    with pytest.raises(AssertionError):  # over Teams' size limit
        assert_valid_for_teams({**card, "body": card["body"] * 2000})


def test_long_text_is_split_into_cards_within_the_size_teams_accepts():
    text = "\n\n".join(f"Paragraph {n}. " + escape("word_with*marks " * 300) for n in range(12))
    choices = [Choice(id="yes", label="Yes"), Choice(id="no", label="No")]
    cards = reply_cards(Reply(key="k", text=text, choices=choices, asks="f.s"), "Continue")
    assert len(cards) > 1
    for card in cards:
        assert size(card) <= MAX_CARD_BYTES
        assert_valid_for_teams(card)
    assert [e["type"] for e in cards[-1]["body"]][-1] == "ActionSet"  # the buttons come last, once
    assert not any(e["type"] == "ActionSet" for c in cards[:-1] for e in c["body"])
    said = "".join(words(c) for c in cards)
    assert said.count("word_with*marks") == 12 * 300


def test_many_long_choices_are_stacked_and_a_few_short_ones_sit_in_a_row():
    many = [Choice(id=f"c{n}", label="A very long label " * 6) for n in range(12)]
    (card,) = reply_cards(Reply(key="k", text="Pick", choices=many, asks="flow.step"), "Continue")
    sets = [e for e in card["body"] if e["type"] == "ActionSet"]
    assert [len(s["actions"]) for s in sets] == [1] * 12
    assert all(len(a["title"]) <= 75 for s in sets for a in s["actions"])
    assert sets[0]["actions"][0]["data"] == {"osb": {"c": "c0", "q": "flow.step"}}
    assert_valid_for_teams(card)
    (row,) = [
        e
        for e in reply_cards(
            Reply(
                key="k",
                text="Sure?",
                choices=many[:0] + [Choice(id="yes", label="Yes"), Choice(id="no", label="No")],
                asks="q",
            ),
            "Continue",
        )[0]["body"]
        if e["type"] == "ActionSet"
    ]
    assert [a["title"] for a in row["actions"]] == ["Yes", "No"]


def test_several_choices_at_once_are_checkboxes_with_one_continue_button():
    choices = [Choice(id=f"p{n}", label=f"Platform {n}") for n in range(12)]
    (card,) = reply_cards(Reply(key="k", text="Pick", choices=choices, multiple=True, asks="f.s"), "Continue")
    (boxes,) = [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
    assert boxes["isMultiSelect"] is True and boxes["style"] == "expanded" and len(boxes["choices"]) == 12
    (button,) = [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]
    assert button["title"] == "Continue" and button["data"] == {"osb": {"q": "f.s", "m": 1}}
    assert_valid_for_teams(card)


def test_a_huge_case_card_is_one_card_within_the_limit_with_its_values_literal():
    fields = [(f"Field {n}", "<at>Dana</at> **x** https://evil.example " * 200) for n in range(15)]
    case = CaseCard(reference="OSB-2026-0001", status="New", urgent=True, title="URGENT case OSB-2026-0001",
                    fields=fields, guidance=["**Rule.** Text."])
    actions = [
        Choice(id=f"case:OSB-2026-0001:{a}", label=a.title()) for a in ("ack", "note", "action", "status", "close")
    ]
    (card,) = reply_cards(Reply(key="case.card", text="New case", card=case, choices=actions, urgent=True), "Continue")
    assert size(card) <= MAX_CARD_BYTES
    assert_valid_for_teams(card)
    runs = [e for e in elements(card) if e.get("type") == "TextRun"]
    assert not any("selectAction" in r for r in runs)
    assert any(r["text"].startswith("<at>Dana</at> **x** https://evil.example") for r in runs)


def test_a_form_is_card_inputs_with_save_and_cancel():
    form = Form(
        id="case_close:OSB-2026-0001",
        title="Close a case",
        submit="Save",
        cancel="Cancel",
        fields=[
            FormField(
                id="outcome", label="Outcome", kind="choice", choices=[Choice(id="content_removed", label="Removed")]
            ),
            FormField(id="note", label="Closing note", kind="text", optional=True),
        ],
    )
    card = form_card(form, max_chars=4000)
    assert_valid_for_teams(card)
    inputs = [e for e in card["body"] if e["type"].startswith("Input.")]
    assert [(e["id"], e["label"], e["isRequired"]) for e in inputs] == [
        ("osb_field_outcome", "Outcome", True), ("osb_field_note", "Closing note", False)]
    assert inputs[1]["maxLength"] == 4000
    save, cancel = card["body"][-1]["actions"]
    assert save["data"] == {"osb": {"f": "case_close:OSB-2026-0001"}} and "associatedInputs" not in save
    assert cancel["data"] == {"osb": {"f": "case_close:OSB-2026-0001", "x": 1}} and cancel["associatedInputs"] == "none"


@pytest.mark.parametrize("env, host, refused", [
    ({"TEAMS_ALLOW_ANONYMOUS": "true"}, "127.0.0.1", None),
    ({"TEAMS_ALLOW_ANONYMOUS": "true"}, "::1", None),
    ({"TEAMS_ALLOW_ANONYMOUS": "true"}, "localhost", None),
    ({"TEAMS_ALLOW_ANONYMOUS": "true"}, "0.0.0.0", "serve it only on a loopback address"),
    ({"TEAMS_ALLOW_ANONYMOUS": "true"}, "192.168.1.20", "serve it only on a loopback address"),
    ({"TEAMS_ALLOW_ANONYMOUS": "true", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, "127.0.0.1",
     "beside Slack's credentials"),
    ({"TEAMS_ALLOW_ANONYMOUS": "true", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"}, "127.0.0.1",
     "beside Slack's credentials"),
    ({"TEAMS_ALLOW_ANONYMOUS": "true", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
      "SLACK_API_URL": "http://127.0.0.1:9/api/"}, "127.0.0.1", None),  # the tests' fake Slack
    ({"TEAMS_ALLOW_ANONYMOUS": "false", "SLACK_BOT_TOKEN": "xoxb-1"}, "0.0.0.0", None),
    (GOOD, "0.0.0.0", None),
])
def test_anonymous_mode_runs_only_on_a_loopback_address_and_beside_no_production_channel(env, host, refused):
    from bot.channels.teams.config import anonymous_refusal

    found = anonymous_refusal(env, host)
    assert (found is None) if refused is None else (refused in found)


def test_serve_refuses_anonymous_mode_on_a_public_address(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_", "CONNECTIONS__", "TEAMS_"))}
    env["TEAMS_ALLOW_ANONYMOUS"] = "true"
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--db", str(tmp_path / "b.db"), "--host", "0.0.0.0",
                           "--port", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "serve it only on a loopback address" in proc.stderr and "Traceback" not in proc.stderr


# --- card size as sent ---------------------------------------------------------------------------------

EMOJI = "\U0001F621"  # 4 bytes in UTF-8, 12 as the SDK sends it (\\ud83d\\ude21)


def test_size_is_measured_as_the_sdk_sends_it_escaped_json():
    card = {"type": "AdaptiveCard", "body": [{"type": "TextRun", "text": EMOJI * 100}]}
    assert size(card) == len(json.dumps(card)) and size(card) > 1200  # not the 400-odd UTF-8 bytes


def test_thousands_of_emoji_are_split_into_cards_that_fit_as_sent_and_nothing_is_lost():
    typed = EMOJI * 3990
    cards = reply_cards(Reply(key="k", text=f"**Description:** {escape(typed)}\nIs this right?",
                              choices=[Choice(id="send", label="Send it")], asks="report.summary"), "Continue")
    assert len(cards) > 1
    for card in cards:
        assert size(card) <= MAX_CARD_BYTES
        assert_valid_for_teams(card)
    assert "".join(words(c) for c in cards).count(EMOJI) == 3990
    assert [e["type"] for e in cards[-1]["body"]][-1] == "ActionSet"


def test_a_case_card_of_emoji_is_one_card_that_fits_as_sent_saying_where_the_rest_is():
    fields = [("Description", EMOJI * 3990), ("Names", "Зоя " + EMOJI * 900), ("Account", "@fake_hillside")]
    case = CaseCard(reference="OSB-2026-0001", status="New", urgent=False, title="Case OSB-2026-0001", fields=fields,
                    guidance=["**Rule.** Text."])
    (card,) = reply_cards(Reply(key="case.card", text="New case", card=case), "Continue", clipped="(see the record)")
    assert size(card) <= MAX_CARD_BYTES
    assert_valid_for_teams(card)
    said = words(card)
    assert said.count("(see the record)") == 2 and "@fake_hillside" in said  # short values stay whole
