"""The Slack adapter's parts on their own: the manifest, the configuration, and Block Kit within limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from bot.channels.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_SECTION_TEXT,
    card_blocks,
    reply_message,
    to_mrkdwn,
)
from bot.channels.slack.config import slack_config
from bot.channels.slack.payloads import bolt_body, from_slack_text, to_attachments
from bot.core.config import ConfigError
from bot.core.models import CaseCard, Choice, Reply

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
RAW = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def manifest_validator() -> Draft7Validator:
    """The official top-level schema, its remote $refs served from the copies kept in tests/schemas."""
    resources = [
        (
            RAW + f"manifest.schema.{v}.json",
            Resource.from_contents(json.loads((SCHEMAS / f"slack-manifest.schema.{v}.json").read_text())),
        )
        for v in ("1.0.0", "2.0.0")
    ]
    schema = json.loads((SCHEMAS / "slack-manifest.schema.json").read_text())
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


@pytest.mark.parametrize("name", ["manifest.yaml", "manifest.socket-mode.yaml"])
def test_the_slack_manifest_is_valid_against_the_official_schema(name):
    manifest = yaml.safe_load((ROOT / "manifest" / "slack" / name).read_text())
    errors = sorted(manifest_validator().iter_errors(manifest), key=str)
    assert errors == []
    assert manifest["features"]["slash_commands"][0]["command"] == "/online-safety"
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "message.im", "app_home_opened", "app_uninstalled", "tokens_revoked"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    # The least scopes: nothing that reads channels or posts publicly as anyone else.
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write",
        "im:history",
        "im:write",
        "commands",
        "files:read",
        "files:write",
        "users:read",
    }
    assert manifest["settings"]["socket_mode_enabled"] is (name == "manifest.socket-mode.yaml")


def test_the_validator_does_catch_a_broken_manifest():
    manifest = yaml.safe_load((ROOT / "manifest" / "slack" / "manifest.yaml").read_text())
    manifest["settings"]["socket_mode_enabled"] = "yes"
    del manifest["display_information"]
    assert list(manifest_validator().iter_errors(manifest))


def test_no_slack_settings_means_the_channel_is_off():
    assert slack_config({}) is None
    assert slack_config({"OSB_DB": "x"}) is None


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99aaabbb85a5"}, "SLACK_BOT_TOKEN is missing"),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_SIGNING_SECRET": "8f742231b10e8888"},
            "SLACK_BOT_TOKEN is malformed",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2"}, "SLACK_SIGNING_SECRET is missing"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": "not hex!"}, "SLACK_SIGNING_SECRET is malformed"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN is malformed"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": "ftp:/x"},
            "SLACK_API_URL is malformed",
        ),
    ],
)
def test_wrong_slack_settings_stop_start_up_naming_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        slack_config(env)


def test_socket_mode_needs_no_signing_secret():
    config = slack_config({"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_APP_TOKEN": "xapp-1-A1-2"})
    assert config.socket_mode and config.signing_secret is None


def test_serve_stops_with_a_clear_message_when_slack_settings_are_wrong(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_"))}
    env["SLACK_BOT_TOKEN"] = "not-a-token"
    proc = subprocess.run([sys.executable, "-m", "bot", "serve", "--db", str(tmp_path / "b.db"), "--port", "0"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "SLACK_BOT_TOKEN is malformed" in proc.stderr


def test_user_text_can_never_become_a_link_a_mention_or_formatting():
    from bot.core.markup import escape

    typed = "<!channel> <@U123> *bold* ~strike~ `code` [click](https://evil.example) https://evil.example & co"
    out = to_mrkdwn(f"**Account:** {escape(typed)}")
    assert out.startswith("*Account:* ")
    assert "<!channel>" not in out and "<@U123>" not in out and "<https://evil" not in out
    assert "&lt;!channel&gt;" in out and "&amp; co" in out
    for char in "*~`":
        assert char not in out.removeprefix("*Account:* ")
    message = reply_message(Reply(key="k", text=f"x {escape(typed)}"), "Continue")
    assert message["blocks"][0]["text"]["verbatim"] is True  # Slack itself links nothing


def test_the_bots_own_links_and_bold_are_kept():
    assert (
        to_mrkdwn("**Call** [Report Remove](https://www.childline.org.uk/rr/)")
        == "*Call* <https://www.childline.org.uk/rr/|Report Remove>"
    )
    assert to_mrkdwn("see https://reportharmfulcontent.com/.") == "see <https://reportharmfulcontent.com/>."
    assert to_mrkdwn("- one\n- two") == "\u2022 one\n\u2022 two"


def test_long_text_is_split_into_sections_within_slack_limits():
    text = "\n\n".join(f"Paragraph {n}. " + "word " * 300 for n in range(12))
    message = reply_message(Reply(key="k", text=text), "Continue")
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) > 1
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in sections)
    assert "".join(b["text"]["text"] for b in sections).replace("\n", "").replace(" ", "") == text.replace(
        "\n", ""
    ).replace(" ", "")
    assert len(message["blocks"]) <= MAX_BLOCKS and len(message["text"]) <= 3000


def test_buttons_stay_within_limits():
    choices = [Choice(id=f"c{n}", label="A very long label " * 10) for n in range(30)]
    message = reply_message(Reply(key="k", text="Pick", choices=choices, asks="flow.step"), "Continue")
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 5]
    assert all(len(e["text"]["text"]) <= MAX_BUTTON_TEXT for b in actions for e in b["elements"])
    ids = [e["action_id"] for b in actions for e in b["elements"]]
    assert len(ids) == len(set(ids))
    assert json.loads(actions[0]["elements"][0]["value"]) == {"c": "c0", "q": "flow.step"}


def test_many_checkboxes_are_grouped_by_ten_with_one_continue_button():
    choices = [Choice(id=f"p{n}", label=f"Platform {n}") for n in range(12)]
    message = reply_message(Reply(key="k", text="Pick", choices=choices, multiple=True, asks="f.s"), "Continue")
    groups = [e for b in message["blocks"] for e in b.get("elements", []) if e["type"] == "checkboxes"]
    assert [len(g["options"]) for g in groups] == [10, 2]
    buttons = [e for b in message["blocks"] for e in b.get("elements", []) if e["type"] == "button"]
    assert [b["text"]["text"] for b in buttons] == ["Continue"]


def test_a_case_card_renders_values_as_literal_text():
    card = CaseCard(reference="OSB-2026-0001", status="New", urgent=True, title="URGENT case OSB-2026-0001",
                    fields=[("Account", "<!here> https://evil.example")] * 12, guidance=["**Rule.** Text."])
    blocks = card_blocks(card)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "URGENT case OSB-2026-0001", "emoji": False},
    }
    sections = [b for b in blocks if b["type"] == "section"]
    assert [len(s["fields"]) for s in sections] == [10, 2]
    assert "<!here>" not in json.dumps(blocks) and "<https://evil" not in json.dumps(blocks)


def test_slack_markup_in_what_users_type_is_unwrapped():
    assert (
        from_slack_text("see <https://www.instagram.com/fake|instagram.com/fake> &amp; &lt;3", 4000)
        == "see https://www.instagram.com/fake & <3"
    )
    assert from_slack_text("mail <mailto:dsl@school.example|dsl@school.example>", 4000) == "mail dsl@school.example"
    assert from_slack_text(None, 4000) == ""


@pytest.mark.parametrize("typed", [
    "<@U0DANA0001>", "ask <@U0DANA0001> about it", "<@U0DANA0001|dana>", "<!here>", "<!channel> look",
    "<!subteam^S0TEACH|@teachers>", "<#C0STAFF|staffroom>", "<#C0STAFF>",
])
def test_a_slack_mention_is_never_read_as_an_account_handle(typed):
    from bot.core.text import parse_accounts

    text = from_slack_text(typed, 4000, "(a Slack mention)")
    assert parse_accounts(text) == ([], [])
    assert "U0DANA0001" not in text and "@" not in text


def test_a_mention_beside_a_real_account_leaves_only_the_account():
    from bot.core.text import parse_accounts

    typed = ("<https://www.tiktok.com/@fake_hillside|tiktok.com/@fake_hillside> and @fake.hill &amp; "
             "<mailto:head@hillside.sch.uk|head@hillside.sch.uk> ask <@U0DANA0001> in <#C0STAFF|staffroom>")
    accounts, _ = parse_accounts(from_slack_text(typed, 4000, "(a Slack mention)"))
    assert [a.value for a in accounts] == ["https://tiktok.com/@fake_hillside", "@fake.hill"]


def test_shared_files_are_recorded_by_reference():
    (a,) = to_attachments([{"id": "F1", "name": "a.png", "mimetype": "image/png", "size": 10, "permalink": "https://x/F1"}])
    assert (a.name, a.ref, a.size, a.content_type) == ("a.png", "https://x/F1", 10, "image/png")


# --- the content's titles and labels within Slack's limits -----------------------------------------


@pytest.mark.parametrize("file, old, new, named", [
    ("flows/case_action.yaml", "form_title: Record an action", "form_title: Record an action on a case", "form_title"),
    ("flows/case_action.yaml", "form_title: Record an action", "form_title: null", "title"),  # the long title instead
    ("messages/common.yaml", "save_label: Save", "save_label: Save this to the case record", "common.save_label"),
    ("flows/get_support.yaml", 'menu: {label: "Get support", order: 30}',
     f'menu: {{label: "{"Get support " * 7}", order: 30}}', "menu.label"),
    ("messages/menu.yaml", 'my_cases: "My cases and reports"', f'my_cases: "{"My cases " * 9}"', "menu.my_cases"),
    ("messages/case.yaml", "    note: Add a note", f"    note: {'Add a note ' * 8}", "case.action.note"),
    ("messages/case.yaml", 'title: "Case {reference}"', f'title: "{"Case " * 27}{{reference}}"', "case.title"),
])
def test_content_check_refuses_a_title_or_label_longer_than_slack_shows(tmp_path, file, old, new, named):
    import shutil

    from bot.core.content import ContentError, load_content

    shutil.copytree(ROOT / "content", tmp_path / "content")
    path = tmp_path / "content" / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ContentError, match=named):
        load_content(tmp_path / "content")


def test_every_form_title_fits_a_slack_modal(content):
    from bot.channels.slack.blocks import MAX_MODAL_TITLE

    forms = [f for f in content.flows.values() if f.id.startswith("case_")]
    assert forms and all(len(f.form_title or f.title) <= MAX_MODAL_TITLE for f in forms)


def _strings(node, where=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _strings(value, f"{where}[{n}]")
    elif isinstance(node, str):
        yield where, node


def _breaks_mid_sentence(text: str) -> list[str]:
    """Line breaks a reader sees in the middle of a sentence: Slack shows every newline as it is. A break is fine
    after a sentence ends (or a colon, or a closing bracket or bold), before a list item or bold heading, and after
    a placeholder when the next line starts a new sentence (the placeholder's words end one) or is a placeholder
    alone (a list, as the digest's cases)."""
    import re

    found = []
    lines = text.strip().split("\n")
    for before, after in zip(lines, lines[1:], strict=False):
        before, after = before.rstrip(), after.strip()
        if not before.strip() or not after or re.match(r"(- |\d+[.)] |• |\*\*|#)", after):
            continue
        if re.search(r"[.!?:)]\**$|\*\*$", before) or (before.endswith("}") and (after[:1].isupper()
                                                                               or re.fullmatch(r"\{\w+\}", after))):
            continue
        found.append(f"…{before[-30:]}⏎{after[:30]}…")
    return found


def test_no_message_breaks_a_line_in_the_middle_of_a_sentence():
    """Every piece of wording in content/ (messages, flows, facts), as the bot renders it."""
    wrapped = {}
    for path in sorted((ROOT / "content").rglob("*.yaml")):
        for where, text in _strings(yaml.safe_load(path.read_text())):
            if _breaks_mid_sentence(text):
                wrapped[f"{path.relative_to(ROOT)}{where}"] = _breaks_mid_sentence(text)
    assert wrapped == {}


def test_a_line_broken_mid_sentence_is_caught():
    assert _breaks_mid_sentence("I can help you report a fake or harmful\naccount, or find support.")
    assert not _breaks_mid_sentence("Call 999 now.\nThen tell the DSL: {dsl_names}.\n- a list item\n**Bold**")
    assert not _breaks_mid_sentence("Good morning. {summary}\n{cases}")
    assert _breaks_mid_sentence("Good morning. {summary}\nand {cases}")


def test_slack_text_far_over_the_limit_is_cut_unread(monkeypatch):
    """Slack allows 40,000 characters; the bot reads 4,000. Text over twice that is too long whatever its links
    unwrap to: it reaches the engine just over the limit (to be refused kindly), and no pattern reads it."""
    from bot.channels.slack import payloads as app

    read: list[int] = []
    pattern = app._SLACK_LINK

    class Spy:
        def sub(self, repl, text):
            read.append(len(text))
            return pattern.sub(repl, text)

    monkeypatch.setattr(app, "_SLACK_LINK", Spy())
    hostile = "<http://a" * 5000  # 45,000 characters with raw `<`, as a message posted through the API can be
    assert from_slack_text(hostile, 4000) == hostile[:4001]
    assert read == []
    assert from_slack_text("<https://x.com/a|x.com/a> hi", 4000) == "https://x.com/a hi" and read == [28]


def test_unwrapping_slack_links_never_runs_past_the_next_angle_bracket():
    assert from_slack_text("<http://a" * 800, 4000) == "<http://a" * 800
    assert from_slack_text("<mailto:a" * 800 + "<https://x.com/a>", 4000) == "<mailto:a" * 800 + "https://x.com/a"


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("fixture", sorted(p.name for p in (ROOT / "tests/fixtures/slack").glob("*.json")))
def test_bolt_reads_each_real_payload_as_it_would_have_from_the_form_itself(fixture):
    """Interactions come as a form (`payload=<JSON>`): Bolt is given the JSON, undone in C, and must read exactly
    what it read from the form (events come as JSON, and go as they came)."""
    from urllib.parse import urlencode

    from slack_bolt.request.async_request import AsyncBoltRequest

    payload = json.loads((ROOT / "tests/fixtures/slack" / fixture).read_text())
    payload = payload.get("body", payload)
    for body, content_type in ((urlencode({"payload": json.dumps(payload)}), FORM),
                               (json.dumps(payload), "application/json")):
        as_it_was = AsyncBoltRequest(body=body, headers={"content-type": content_type}).body
        assert AsyncBoltRequest(body=bolt_body(body), headers={"content-type": content_type}).body == as_it_was


@pytest.mark.parametrize("body", [
    "payload=%7B%22type%22%3A+%22block_actions%22%2C+%22t%22%3A+%22%E2%9C%93+%F0%9F%98%80+a%2Bb+%25zz%22%7D",
    "payload=%7B%22a%22%3A1%7D&payload=%7B%22a%22%3A2%7D",  # the last one, as Bolt reads a form
    "payload=+%7B%22a%22%3A1%7D",  # JSON may start with a space
    "token=abc&team_id=T1&text=hello+world",  # a form with no payload: as it came
    "xpayload=1",
])
def test_an_odd_form_is_read_as_bolt_would_read_it(body):
    from slack_bolt.request.async_request import AsyncBoltRequest

    as_it_was = AsyncBoltRequest(body=body, headers={"content-type": FORM}).body
    assert AsyncBoltRequest(body=bolt_body(body), headers={"content-type": FORM}).body == as_it_was


@pytest.mark.parametrize("body", ["payload=abc", "payload=%5B1%5D", "payload=12"])
def test_a_payload_that_is_not_a_json_object_is_refused_as_bolt_refuses_it(body):
    with pytest.raises(ValueError):
        bolt_body(body)
