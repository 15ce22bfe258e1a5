"""Issue 18, second round: what the lead found as an upset teacher in the console.

"nope" at "Does anyone else already know?", misses that repeat the same words, fact-free words lost when a report
starts, the same warm reply twice, a platform said late, rough dates kept as exact ones.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.cases.card import describe_answer
from bot.core.answers import answer_options, meaning_choice, whole_meaning
from bot.core.dates import is_rough
from bot.core.first_message import read_first_message
from bot.core.models import Choice
from bot.core.report import Report
from bot.core.understand import understand
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.process.test_cli import chat_json, keys, run_cli

NO_WORDS = ["no", "nope", "nah", "no one", "nobody", "none", "not yet", "not that i know", "no-one knows yet"]


def choice_questions(content):
    """Every question with choices in every flow, as (flow id, step)."""
    return [(flow.id, step) for flow in content.flows.values() for step in flow.steps
            if step.type in ("choice", "multi") and step.choices]


def picks(content, step, text: str) -> list[str]:
    """What the step's reading of answers takes `text` to pick (as StepDialog.understood does, without a chat)."""
    meaning = whole_meaning(content, text)
    if meaning and (choice := meaning_choice(step, meaning)):
        return [choice]
    if meaning == "unsure":
        return []
    options = answer_options(content, step, [Choice(id=c.id, label=c.label) for c in step.choices])
    return understand(text, options, multiple=step.type == "multi", hedges=content.phrases.hedges).picked


@pytest.mark.parametrize("said", NO_WORDS)
def test_every_no_picks_the_no_one_choice_on_every_question_that_has_one(content, said):
    with_none = [(f, s) for f, s in choice_questions(content) if any(c.means == "none" for c in s.choices)]
    assert len(with_none) >= 3  # who appears, who already knows, anything else in support
    for flow, step in with_none:
        none = next(c.id for c in step.choices if c.means == "none")
        assert picks(content, step, said) == [none], (flow, step.id, said)


@pytest.mark.parametrize("said", ["not sure", "dont know", "no idea"])
def test_not_knowing_never_picks_a_choice_by_a_word_in_it(content, said):
    """"not sure" is not "sure" (yes): it picks the not-knowing choice, or nothing and is asked about."""
    for flow, step in choice_questions(content):
        unsure = next((c.id for c in step.choices if c.means == "unsure"), None)
        assert picks(content, step, said) == ([unsure] if unsure else []), (flow, step.id, said)


async def test_nope_at_who_already_knows_is_no_one_yet(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:11])
    assert chat.keys == ["report_concern.others_know.ask"]
    await chat.say("nope")
    assert chat.keys == ["report_concern.behind_it.ask"]
    await chat.say("nah")
    assert chat.keys == ["report_concern.summary.ask"]
    answers = (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers
    assert answers["others_know"] == ["nobody"] and answers["behind_it"] == "no_idea"


async def reach_who_knows(chat: Chat) -> None:
    await walk(chat, STANDARD_REPORT[:11])
    assert chat.keys == ["report_concern.others_know.ask"]


async def test_a_first_miss_asks_did_you_mean_the_nearest_choice_with_a_button_for_all(chat: Chat, bot):
    await reach_who_knows(chat)
    await chat.say("my mate at work")
    assert chat.keys == ["common.did_you_mean"]
    assert "I've told a colleague" in chat.text
    assert chat.choice_ids() == ["colleague", "all_choices"]
    await chat.pick("all_choices")
    assert chat.keys == ["report_concern.others_know.ask"]
    await chat.say("my mate at work")
    await chat.say("yes")
    assert chat.keys == ["report_concern.behind_it.ask"]
    answers = (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers
    assert answers["others_know"] == ["colleague"]


async def test_misses_in_a_row_never_repeat_the_same_words(chat: Chat, bot):
    await reach_who_knows(chat)
    replies = []
    for said in ("the police", "whatever", "pass"):
        await chat.say(said)
        replies.append((chat.keys, chat.text))
    assert replies[0][0] == ["common.not_understood_multi", "report_concern.others_know.ask"]
    assert replies[1][0] == ["common.not_understood_again.multi"]  # short: no whole question again
    assert replies[2][0] == ["report_concern.others_know.help", "common.not_understood_again.multi"]
    assert len({text for _, text in replies}) == 3
    assert chat.choice_ids() == ["nobody", "colleague", "reported_platform", "learners_talking", "parents_aware",
                               "family_friends", "not_sure"]
    await chat.say("1")  # the numbered list works
    assert chat.keys == ["report_concern.behind_it.ask"]


async def test_at_a_question_that_keeps_words_a_second_miss_keeps_them_as_written(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:12])
    assert chat.keys == ["report_concern.behind_it.ask"]
    await chat.say("the police")
    assert chat.keys == ["common.not_understood", "report_concern.behind_it.ask"]
    await chat.say("whoever runs the bakery account")
    assert chat.keys[0] == "common.kept_as_written"
    answers = (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers
    assert answers["behind_it"] == "someone_else"
    assert answers["behind_it_detail"] == "whoever runs the bakery account"


async def test_a_question_of_theirs_is_never_kept_as_an_answer(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:12])
    await chat.say("the police")
    await chat.say("how do i send the screenshots")
    assert chat.keys[0] != "common.kept_as_written"
    await chat.say("who do i even ask?")
    assert "common.kept_as_written" not in chat.keys
    answers = (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers
    assert "behind_it" not in answers and "behind_it_detail" not in answers


async def state_of(bot, chat: Chat):
    return await bot.store.load_conversation(chat._turn().conversation_key)


UNCLEAR = "my class are being horrible online"


async def test_words_that_name_nothing_are_offered_as_the_start_of_the_report(chat: Chat, bot):
    await chat.say(UNCLEAR)
    assert chat.keys == ["common.listening", "menu.ask"]
    await chat.pick("menu:report_concern")
    assert chat.keys == ["report.earlier_words"]
    assert UNCLEAR in chat.text
    await chat.say("yes")
    assert chat.keys == ["report_concern.categories.ask"]
    await walk(chat, [["targeting_me"], ["no"], ["instagram"], "skip", "yesterday"])
    assert chat.keys == ["report_concern.description.ask"]  # still asked: the words are only its start
    await chat.say("they post memes of me with nasty captions")
    description = (await state_of(bot, chat)).active.answers["description"]
    assert description == f"{UNCLEAR}\n\nthey post memes of me with nasty captions"
    assert (await state_of(bot, chat)).unclear_words is None


async def test_no_to_the_earlier_words_leaves_them_out(chat: Chat, bot):
    await chat.say("hi sorry to bother u this late")
    await chat.say(UNCLEAR)
    await chat.say("report")
    assert chat.keys == ["report.earlier_words"]
    assert "sorry to bother" not in chat.text  # a greeting is never kept
    await chat.say("no")
    assert chat.keys == ["report_concern.categories.ask"]
    assert "description" not in (await state_of(bot, chat)).active.answers


async def test_a_fact_rich_message_after_unclear_words_keeps_both(chat: Chat, bot):
    await chat.say(UNCLEAR)
    await chat.say("they made a tiktok about me")
    assert chat.keys == ["report.earlier_words"]
    await chat.say("yes")
    assert chat.keys[0] == "report.understood_kept"
    await chat.say("yes")
    answers = (await state_of(bot, chat)).active.answers
    assert answers["description"] == f"{UNCLEAR}\n\nthey made a tiktok about me"
    assert answers["platforms"] == ["tiktok"]


@pytest.mark.parametrize("text", ["hi", "hello sorry to bother you", "hi sorry to bother u this late"])
async def test_a_greeting_is_not_kept_for_a_report(chat: Chat, bot, text):
    await chat.say(text)
    assert (await state_of(bot, chat)).unclear_words is None
    await chat.say("report")
    assert chat.keys == ["report_concern.categories.ask"]


async def test_stop_lets_the_unclear_words_go(chat: Chat, bot):
    await chat.say(UNCLEAR)
    await chat.say("stop")
    assert (await state_of(bot, chat)).unclear_words is None
    await chat.say("report")
    assert chat.keys == ["report_concern.categories.ask"]


async def test_unclear_words_are_not_offered_after_the_conversation_went_idle(chat: Chat, bot, clock):
    await chat.say(UNCLEAR)
    clock.advance(days=bot.settings.idle_days + 1)
    await chat.say("report")
    assert chat.keys == ["report_concern.categories.ask"]


async def test_a_second_message_that_names_nothing_gets_other_words(chat: Chat):
    await chat.say("hi sorry to bother u this late")
    first = chat.text
    await chat.say(UNCLEAR)
    assert chat.keys == ["common.listening_again", "menu.ask"]
    assert chat.text != first
    await chat.say("my cases")  # anything else in between: the next warm reply is the first wording again
    await chat.say("hello")
    assert chat.keys == ["common.listening", "menu.ask"]


async def test_a_platform_said_later_is_added_and_the_question_asked_again(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:5])
    assert chat.keys == ["report_concern.first_seen.ask"]
    await chat.say("its on tiktok too")
    assert chat.keys == ["report.noted", "report_concern.first_seen.ask"]
    assert "TikTok" in chat.text
    await chat.say("a few days ago")
    assert chat.keys == ["report_concern.description.ask"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["platforms"] == ["instagram", "tiktok"]


async def test_a_platform_or_handle_in_an_answer_is_added_as_well_as_the_answer(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:9])
    assert chat.keys == ["report_concern.evidence.ask"]
    note = "screenshots on my laptop, and theres a second one @hillside.roasts2 on snap"
    await chat.say(note)
    assert chat.keys[:2] == ["report.noted", "common.evidence_received"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["platforms"] == ["instagram", "snapchat"]
    assert [a["value"] for a in answers["accounts"]][-1] == "@hillside.roasts2"
    assert answers["evidence"]["notes"] == [note]


async def test_a_platform_already_on_the_report_is_not_said_again(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:8])
    assert chat.keys == ["report_concern.names.ask"]
    await chat.say("the instagram one is run by Jake in 10B")
    assert chat.keys == ["report_concern.evidence.ask"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["platforms"] == ["instagram"] and answers["names"] == "the instagram one is run by Jake in 10B"


@pytest.mark.parametrize("said, rough", [
    ("maybe last week", True), ("a few days ago", True), ("about 2 weeks ago", True), ("last month", True),
    ("over half term", True), ("the other day", True),
    ("yesterday", False), ("Monday", False), ("3 days ago", False), ("14/11/2026", False), ("today", False),
])
def test_a_date_said_roughly_is_known_as_rough(said, rough):
    assert is_rough(said) is rough


async def sent_case(chat: Chat, bot, when: str):
    await walk(chat, [*STANDARD_REPORT[:5], when, *STANDARD_REPORT[6:]])
    assert chat.keys == ["report_concern.summary.ask"]
    summary = chat.text
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    return summary, case


async def test_a_rough_date_is_kept_as_approximate_and_shown_as_around(chat: Chat, bot):
    summary, case = await sent_case(chat, bot, "maybe last week")
    report = Report.of(case.answers)
    assert report.first_seen is not None and report.first_seen_approximate
    shown = report.first_seen.strftime("%-d %B %Y")
    assert f"around {shown}" in summary
    assert describe_answer(await bot.schools.scope("default"), case, "first_seen") == f"around {shown}"


async def test_an_exact_date_is_not_approximate(chat: Chat, bot):
    summary, case = await sent_case(chat, bot, "yesterday")
    assert not Report.of(case.answers).first_seen_approximate
    assert "around" not in describe_answer(await bot.schools.scope("default"), case, "first_seen")


async def test_a_rough_date_in_the_first_message_is_approximate_too(chat: Chat, bot):
    await chat.say("some kids made a tiktok about me maybe last week")
    assert "first seen around" in chat.text
    await chat.say("yes")
    answers = (await state_of(bot, chat)).active.answers
    assert answers["first_seen_approximate"] is True


async def test_words_that_are_not_an_account_twice_are_kept_with_the_description(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:4])
    assert chat.keys == ["report_concern.accounts.ask"]
    await chat.say("its not an account its a group chat")
    assert chat.keys == ["common.no_accounts_found", "report_concern.accounts.ask"]
    await chat.say("the group is called 10B banter")
    assert chat.keys == ["common.kept_as_written", "report_concern.first_seen.ask"]
    await chat.say("yesterday")
    await chat.say("they post memes of me")
    answers = (await state_of(bot, chat)).active.answers
    assert answers["accounts"] is None
    assert answers["description"] == "the group is called 10B banter\n\nthey post memes of me"


async def test_a_platform_added_late_leaves_a_skipped_account_question_not_given(chat: Chat, bot):
    await walk(chat, [*STANDARD_REPORT[:4], "skip"])
    await chat.say("its on tiktok too")
    answers = (await state_of(bot, chat)).active.answers
    assert answers["platforms"] == ["instagram", "tiktok"] and answers["accounts"] is None


async def test_a_greeting_that_asks_to_report_is_not_kept_as_the_description(chat: Chat, bot):
    await chat.say("hello? is this the thing for reporting stuff")
    assert chat.keys == ["report_concern.categories.ask"]
    assert "description" not in (await state_of(bot, chat)).active.answers


SAID_AT_WHAT = "someone is saying things about my colleague, that he is too friendly with a year 9 girl"


async def test_an_answer_to_what_is_happening_that_says_more_keeps_its_words(chat: Chat, bot):
    await chat.say("report")
    await chat.say(SAID_AT_WHAT)
    assert chat.keys == ["report.words_kept", "report_concern.images.ask"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["categories"] == ["targeting_staff", "allegation"]
    assert answers["description"] == SAID_AT_WHAT


@pytest.mark.parametrize("said", ["an account targeting me", "me and some pupils", "its about me"])
async def test_an_answer_to_what_is_happening_in_its_own_words_is_not_a_description(chat: Chat, bot, said):
    await chat.say("report")
    await chat.say(said)
    assert chat.keys == ["report_concern.images.ask"]
    assert "description" not in (await state_of(bot, chat)).active.answers


async def test_no_to_what_was_understood_that_says_what_it_is_answers_the_question(chat: Chat, bot):
    await chat.say("theres something horrible going round about me and i dont know what to do")
    assert chat.keys == ["report.understood_kept"]
    await chat.say("not really its more like rumours")
    assert chat.keys == ["report_concern.images.ask"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["categories"] == ["allegation"]
    assert answers["description"].startswith("theres something horrible")


@pytest.mark.parametrize("said", ["how would i know that", "i dont"])
async def test_not_knowing_the_account_in_other_words_skips_it(chat: Chat, bot, said):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say(said)
    assert chat.keys == ["report_concern.first_seen.ask"]
    assert (await state_of(bot, chat)).active.answers["accounts"] is None


async def test_a_second_miss_too_short_to_be_words_is_not_kept(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say("the one with the videos")
    await chat.say("9")
    assert chat.keys[0] == "common.no_accounts_found"
    assert "description" not in (await state_of(bot, chat)).active.answers


async def test_nothing_then_why_at_evidence_keeps_the_words_and_moves_on(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:9])
    await chat.say("nothing, its all word of mouth")
    assert chat.keys == ["report_concern.others_know.ask"]
    answers = (await state_of(bot, chat)).active.answers
    assert answers["evidence"] == {"files": [], "notes": ["nothing, its all word of mouth"]}


LEAD_AT_10PM = [
    "hi sorry to bother u this late",
    UNCLEAR,
    "report",
    "yes",
    "an account targeting me",
    "no",
    "tiktok",
    "skip",
    "maybe last week",
    "they post memes of me with nasty captions",
    "me",
    "skip",
    "done",
    "nope",
    "a formr pupil",
    "the former one",
    "nah",
    "send it",
]


def test_the_lead_s_upset_teacher_through_chat_json(tmp_path):
    db = tmp_path / "bot.db"
    run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--db", db)
    turns = chat_json(db, LEAD_AT_10PM, env={"OSB_NOW": "2026-11-20T22:00"})
    said = [keys(turn) for turn in turns]
    assert said[1] == ["common.listening", "menu.ask"] and said[2] == ["common.listening_again", "menu.ask"]
    assert said[3] == ["report.earlier_words"]
    assert said[14] == ["report_concern.behind_it.ask"]  # "nope" at who already knows
    assert said[15] == ["common.did_you_mean"]  # a former pupil, or a learner?
    assert said[17] == ["report_concern.summary.ask"]  # "nah" skips what makes you think so
    assert "report.sent" in said[-1]
    shown = json.loads(run_cli("cases", "show", "OSB-2026-0001", "--json", "--db", db).stdout.decode())
    answers = shown["answers"]
    assert answers["description"].startswith(UNCLEAR)
    assert answers["others_know"] == ["nobody"] and answers["first_seen_approximate"] is True


async def test_the_same_unclear_answer_three_times_never_gets_the_same_reply_three_times(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:2])
    assert chat.keys == ["report_concern.images.ask"]
    said = []
    for _ in range(4):
        await chat.say("yes or no")  # two choices where one may be picked: asked about, then made easier
        said.append((chat.keys, chat.text))
    assert [keys for keys, _ in said] == [["common.did_you_mean"], ["common.not_understood_again.one"],
                                          ["report_concern.images.help", "common.not_understood_again.one"],
                                          ["common.not_understood_again.one"]]
    assert all(said[i][1] != said[i + 1][1] for i in range(3))


@pytest.mark.parametrize("said", ["no", "yep", "ok", "?"])
async def test_no_or_yes_after_a_miss_is_never_kept_as_words(chat: Chat, bot, said):
    await chat.say("report")
    await chat.say("the police")
    await chat.say(said)
    answers = (await state_of(bot, chat)).active.answers
    assert "description" not in answers and "categories" not in answers


def test_a_fake_account_of_our_school_is_read_as_pretending_to_be_the_school(content):
    reading = read_first_message(content, "someone set up a fake insta of our school asking parents for money",
                                 date(2026, 12, 5))
    assert reading.answers["categories"] == ["school_impersonation"]
    assert reading.answers["platforms"] == ["instagram"]
    assert "behind_it" not in reading.answers  # "asking parents" says nothing of who made it


@pytest.mark.parametrize("yes", ["yeh thats it", "yeah that's it", "yes exactly", "spot on", "yh", "that's the one",
                                 "yep thats right", "yeah definitely"])
async def test_yes_as_people_say_it_confirms_what_was_understood(chat: Chat, yes):
    """Said back ("It sounds like an account targeting you on Instagram. Is that right?"), every way of saying yes
    confirms it; it was "Sorry, I didn't quite get that" and the report went back to "what is happening?"."""
    await chat.say("someone made a fake insta pretending to be me")
    assert chat.keys == ["report.understood_kept"]
    await chat.say(yes)
    assert chat.keys == ["report_concern.images.ask"]


@pytest.mark.parametrize("not_yes", ["yes no", "no", "not quite", "yes but its a page"])
async def test_a_mixed_or_different_answer_is_not_read_as_yes(chat: Chat, not_yes):
    await chat.say("someone made a fake insta pretending to be me")
    await chat.say(not_yes)
    assert chat.keys[-1] != "report_concern.images.ask"
