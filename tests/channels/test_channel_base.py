"""What every channel shares (bot/channels/base.py): placing a person in a school with that school's words, the
kind answer for someone the deployment cannot place, and the engine flagging a stale button press on its reply."""

from __future__ import annotations

import pytest

from bot.channels.base import resolve_turn
from bot.core.models import School, Workspace
from testing.chat import Chat

HILL_WORDS = "common:\n  you_chose: |\n    Hillside noted your answer: {value}.\n"


@pytest.fixture
async def two_schools(store, tmp_path):
    """Hillside (Slack workspace T0HILL, its own wording for "you chose") and Oakfield (tenant 0a4, shared words)."""
    messages = tmp_path / "hill" / "messages"
    messages.mkdir(parents=True)
    (messages / "common.yaml").write_text(HILL_WORDS, encoding="utf-8")
    await store.upsert_school(School(id="hill", name="Hillside Academy", content_dir=str(messages.parent),
                                     workspaces=[Workspace(platform="slack", id="T0HILL")]))
    await store.upsert_school(School(id="oak", name="Oakfield Primary",
                                     workspaces=[Workspace(platform="teams", id="0a4")]))
    return store


async def test_with_one_school_and_no_workspaces_everyone_is_placed_in_it(bot):
    place = await resolve_turn(bot.schools, "slack", "T0ANY", "U1")
    assert place.school_id == "default"
    assert place.words.text("common.you_chose", value="Instagram") == bot.content.text("common.you_chose",
                                                                                        value="Instagram")


async def test_a_workspace_is_placed_in_its_school_and_speaks_in_its_words(bot, two_schools):
    hill = await resolve_turn(bot.schools, "slack", "T0HILL", "U1")
    assert hill.school_id == "hill"
    assert hill.words.text("common.you_chose", value="Instagram") == "Hillside noted your answer: Instagram."
    oak = await resolve_turn(bot.schools, "teams", "0a4", "8f1")
    assert oak.school_id == "oak"
    assert oak.words.text("common.you_chose", value="Instagram") == bot.content.text("common.you_chose",
                                                                                      value="Instagram")


async def test_someone_the_deployment_cannot_place_gets_the_kind_answer(bot, two_schools):
    for platform, workspace in (("slack", "T0NOBODY"), ("slack", None), ("teams", "T0HILL")):
        place = await resolve_turn(bot.schools, platform, workspace, "U1")
        assert place.school_id is None
        assert [r.key for r in place.no_school()] == ["common.no_school"]
        assert place.no_school()[0].text == bot.content.text("common.no_school")


async def test_serving_many_tenants_only_a_mapped_one_is_placed(bot):
    """With one school and no workspaces everyone is placed, except where only mapped tenants may be served."""
    assert (await resolve_turn(bot.schools, "teams", "0b5", "8f1")).school_id == "default"
    assert (await resolve_turn(bot.schools, "teams", "0b5", "8f1", mapped_only=True)).school_id is None
    assert (await resolve_turn(bot.schools, "teams", None, "8f1", mapped_only=True)).school_id is None


async def test_a_stale_button_press_is_flagged_on_the_reply_and_a_current_one_is_not(chat: Chat):
    await chat.open()
    await chat.pick("menu:report_concern")
    stale = await chat.pick("targeting_staff", answering="menu")
    assert [r.key for r in stale][0] == "common.moved_on" and stale[0].moved_on
    assert not any(r.moved_on for r in stale[1:])
    current = await chat.pick("targeting_me", answering="report_concern.categories")
    assert not any(r.moved_on for r in current)
