"""A flow file alone makes a working flow: its menu entry, who may see it, the phrases that start it and its
closing words all come from content/flows/, with no module of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.conversation.engine import Engine
from bot.core.content import load_content
from testing.chat import Chat

ROOT = Path(__file__).resolve().parents[2]

SURVEY = """\
id: staff_survey
title: Staff survey
noun: survey
menu: {label: "Answer the staff survey", order: 35}
starts_with:
  - "staff survey"
done: |
  Thank you: your answers help the DSL plan next term's training.
steps:
  - id: confidence
    type: choice
    title: Confidence
    ask: |
      **How confident are you about your own privacy settings?**
    choices:
      - {id: very, label: "Very confident"}
      - {id: unsure, label: "Not sure", means: unsure}
  - id: wish
    type: text
    optional: true
    title: What would help
    ask: |
      **What would help you most?** Say "skip" if nothing comes to mind.
"""


@pytest.fixture
def survey_bot(tmp_path, staffed, settings, clock) -> Engine:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    (tmp_path / "content" / "flows" / "staff_survey.yaml").write_text(SURVEY)
    handlers_only = SURVEY.replace("staff_survey", "leaders_survey").replace(
        "order: 35}", "order: 70, handlers_only: true}"
    )
    (tmp_path / "content" / "flows" / "leaders_survey.yaml").write_text(
        handlers_only.replace('"staff survey"', '"leaders survey"')
    )
    return Engine(load_content(tmp_path / "content"), staffed, settings, clock=clock)


async def test_a_flow_from_one_yaml_file_is_in_the_menu_and_runs_to_its_end(survey_bot):
    teacher = Chat(survey_bot)
    await teacher.say("menu")
    assert "menu:staff_survey" in teacher.choice_ids()
    labels = [c.label for r in teacher.last for c in r.choices]
    assert labels.index("Answer the staff survey") == labels.index("Get support") + 1  # order 35: after support
    assert "menu:leaders_survey" not in teacher.choice_ids()  # for case handlers only

    await teacher.pick("menu:staff_survey")
    assert teacher.keys == ["staff_survey.confidence.ask"]
    await teacher.say("not sure")
    assert teacher.keys == ["staff_survey.wish.ask"]
    await teacher.say("A short session on Instagram's settings")
    assert teacher.keys == ["staff_survey.done"] and "next term's training" in teacher.text


async def test_its_phrase_starts_it_and_who_may_see_it_may_start_it(survey_bot):
    teacher = Chat(survey_bot)
    await teacher.say("can I do the staff survey now?")
    assert teacher.keys == ["staff_survey.confidence.ask"]

    await teacher.say("stop")
    refused = Chat(survey_bot, "console:deputy_teacher")
    await refused.pick("menu:leaders_survey")
    assert refused.keys[0] == "common.handlers_only"
    dsl = Chat(survey_bot, "console:dsl")
    await dsl.say("menu")
    assert "menu:leaders_survey" in dsl.choice_ids()
    await dsl.say("leaders survey")
    assert dsl.keys == ["leaders_survey.confidence.ask"]


def test_the_shipped_flows_menu_is_as_it_was(content):
    menu = sorted((f.menu.order, f.id) for f in content.flows.values() if f.menu)
    assert [f for _, f in menu] == ["report_concern", "privacy_check", "get_support", "prevention_review"]
    assert content.flows["prevention_review"].menu.handlers_only
    assert content.text("menu.get_support") == "Get support"  # the flow's label is its menu message too
    assert list(content.intents)[:2] == ["my_cases", "report_concern"]
