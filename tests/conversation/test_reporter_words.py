"""The reporter's own summary is in their words ("An account targeting you"), while the DSL's card keeps the third
person; the bot refers back to a flow in progress by its noun ("your report", "your privacy check"), never its
title used as a noun."""

from __future__ import annotations

from testing.chat import Chat, walk
from tests.conversation.test_privacy_check import start_check


async def test_the_summary_is_in_the_reporters_words(chat: Chat, report_steps):
    await walk(chat, report_steps)
    summary = chat.reply("report_concern.summary.ask").text
    assert "**What is happening:** An account targeting you" in summary
    assert "You, The school's name or logo" in summary
    assert "the reporter" not in summary.lower()
    assert "No one else yet" in summary


async def test_the_dsl_card_keeps_the_third_person(chat: Chat, chat_as, report_steps):
    await walk(chat, [*report_steps, ["send"]])
    dsl = chat_as("console:dsl")
    await dsl.open()
    card = next(r for r in dsl.last if r.card is not None).card
    shown = " ".join(f"{label} {value}" for label, value in card.fields)
    assert "Targeting the reporter" in shown and "An account targeting you" not in shown


async def test_each_choice_with_first_person_words_has_words_for_the_reporter(content):
    for step in content.flows["report_concern"].steps:
        for choice in step.choices:
            first_person = {"me", "my", "i've", "i", "i'm"} & set(choice.label.lower().replace("(", " ").split())
            if first_person:
                assert choice.yours, f"{step.id}.{choice.id}: the summary would say '{choice.label}' back to them"


async def test_a_report_in_progress_is_your_report_never_its_title(chat: Chat, report_steps):
    await walk(chat, report_steps[:4])
    await chat.open()
    assert chat.reply("common.welcome_back").text == "Welcome back. Let's carry on with your report."
    await chat.pick("menu:report_concern")
    assert "Your report is already in progress" in chat.reply("common.already_started").text
    await chat.say("menu")
    assert chat.reply("menu.ask").choices[0].label == "Carry on with my report"
    assert "Report a concern" not in chat.text.replace("menu:report_concern", "")


async def test_a_privacy_check_in_progress_is_your_privacy_check(chat: Chat):
    await start_check(chat, "x")
    await chat.pick("menu:get_support")
    await chat.pick("finished")
    assert "Now, back to your privacy check." in chat.reply("common.carry_on").text
    await chat.say("menu")
    assert chat.reply("menu.ask").choices[0].label == "Carry on with my privacy check"


async def test_every_flow_has_a_noun_in_lower_case(content):
    for flow in content.flows.values():
        assert flow.noun and flow.noun == flow.noun.lower()
