"""Replies of words and choices are rendered once and kept, on Slack (Block Kit) and Teams (Adaptive Cards): the same
reply renders the same, one school's wording never shows in another's, and no caller can spoil what is kept."""

from __future__ import annotations

import pytest

from bot.channels.slack import blocks
from bot.channels.teams import cards
from bot.core.models import CaseCard, Choice, Reply

CHOICES = [Choice(id="targeting_me", label="Someone is targeting me"),
           Choice(id="impersonating", label="An account pretends to be the school")]


def question(text: str = "Which of these happened?", multiple: bool = True, **extra) -> Reply:
    return Reply(key="report_concern.categories", text=text, multiple=multiple, asks="report_concern.categories",
                 **{"choices": CHOICES, **extra})


def slack(reply: Reply, label: str):
    return blocks.reply_message(reply, label)


def teams(reply: Reply, label: str):
    return cards.reply_cards(reply, label)


RENDERERS = [pytest.param(slack, blocks._rendered, id="slack"), pytest.param(teams, cards._rendered, id="teams")]


@pytest.mark.parametrize(("render", "kept"), RENDERERS)
def test_the_same_reply_renders_equal_and_is_rendered_once(render, kept):
    kept.cache_clear()
    first = render(question(), "Continue")
    again = render(question(), "Continue")
    assert first == again
    assert first is not again
    assert kept.cache_info().hits == 1 and kept.cache_info().misses == 1


@pytest.mark.parametrize(("render", "kept"), RENDERERS)
def test_one_schools_wording_never_shows_in_anothers(render, kept):
    # The same question and choices; the schools differ only in their "continue" label (content/ per school).
    kept.cache_clear()
    ours = str(render(question(), "Continue"))
    theirs = str(render(question(), "Next step"))
    assert "Continue" in ours and "Next step" not in ours
    assert "Next step" in theirs and "Continue" not in theirs
    relabelled = question(choices=[Choice(id="targeting_me", label="Someone targets me")])
    assert "Someone targets me" in str(render(relabelled, "Continue"))


@pytest.mark.parametrize(("render", "kept"), RENDERERS)
def test_a_caller_changing_what_it_got_changes_nothing_kept(render, kept):
    kept.cache_clear()
    got = render(question(), "Continue")
    pristine = render(question(), "Continue")
    if isinstance(got, dict):  # Slack: the keyword arguments of chat.postMessage
        got["blocks"][0]["text"]["text"] = "changed"
        got["blocks"].clear()
    else:  # Teams: the cards
        got[0]["body"][0]["inlines"][0]["text"] = "changed"
        got.clear()
    assert render(question(), "Continue") == pristine


def test_urgency_is_part_of_what_a_teams_card_is_kept_by():
    calm = cards.reply_cards(question(multiple=False), "Continue")
    urgent = cards.reply_cards(question(multiple=False, urgent=True), "Continue")
    assert calm != urgent
    assert urgent[0]["body"][0]["style"] == "attention"


@pytest.mark.parametrize(("render", "kept"), RENDERERS)
def test_a_case_card_is_rendered_each_time_not_kept(render, kept):
    card = CaseCard(reference="OSB-2026-0001", status="open", urgent=False, title="Case OSB-2026-0001",
                    fields=[("Reported by", "Jo Brown")])
    kept.cache_clear()
    render(Reply(key="case.card", text="A new case", card=card), "Continue")
    assert kept.cache_info().currsize == 0
