"""Answers in people's own words: synonyms, yes and no, typos, "Did you mean ...?", and the words that skip an
optional question (bot/understand.py, bot/answers.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.content import Flow
from bot.core.understand import Option, understand
from testing.chat import Chat, walk

HEDGES = ["i think", "probably"]
WHO = [
    Option("me", "Me", ("myself",)),
    Option("other_staff", "Other staff", ("staff", "a colleague")),
    Option("headteacher", "The headteacher", ("the head", "head teacher", "ht")),
    Option("learners", "Learners", ("pupils", "kids", "students")),
]


def test_whole_answer_label_id_or_synonym():
    assert understand("learners", WHO, multiple=True).picked == ["learners"]
    assert understand("The Head", WHO, multiple=True).picked == ["headteacher"]
    assert understand("HT", WHO, multiple=True).picked == ["headteacher"]
    assert understand("other staff", WHO, multiple=True).picked == ["other_staff"]


def test_phrases_inside_an_answer_and_hedges():
    assert understand("probably some kids in my year 10 class", WHO, multiple=False).picked == ["learners"]
    assert understand("me and a colleague i think", WHO, multiple=True).picked == ["me", "other_staff"]


def test_longest_phrase_wins_where_two_overlap():
    # "other staff" holds "staff": one choice, not two
    assert understand("other staff mostly", WHO, multiple=False, hedges=["mostly"]).picked == ["other_staff"]


def test_typos_within_reason():
    assert understand("studnets", WHO, multiple=True).picked == ["learners"]
    assert understand("headteahcer", WHO, multiple=False).picked == ["headteacher"]
    assert understand("xyzzy", WHO, multiple=False).picked == []


def test_two_close_choices_are_never_settled_silently():
    both = [Option("parent", "Possibly a parent", ("parent",)), Option("parents", "Parents know", ("parent",))]
    result = understand("a parent", both, multiple=False)
    assert result.picked == [] and result.maybe == ["parent", "parents"]
    one_only = understand("me and the head", WHO, multiple=False)
    assert one_only.picked == [] and one_only.maybe == ["me", "headteacher"]


# --- in the chat --------------------------------------------------------------------------------------------


async def to_step(chat: Chat, report_steps, index: int) -> None:
    await chat.open()
    await walk(chat, report_steps[:index])


async def test_images_question_takes_no_in_its_many_forms(chat: Chat, report_steps):
    await to_step(chat, report_steps, 2)
    await chat.say("no i dont think so")
    assert chat.keys == ["report_concern.platforms.ask"]


async def test_not_sure_words_on_the_images_question_raise_the_guardrail(chat: Chat, report_steps):
    await to_step(chat, report_steps, 2)
    await chat.say("maybe, i didn't look properly")
    assert "report.guardrail" in chat.keys


async def test_platform_by_another_name_or_with_a_typo(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 3)
    await chat.say("insta and tiktk i think")
    assert chat.keys == ["report_concern.accounts.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["platforms"] == ["instagram", "tiktok"]


async def test_who_appears_in_their_words(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 7)
    await chat.say("me, some kids and the head")
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["who_appears"] == ["me", "headteacher", "learners"]


async def test_no_one_knows_yet_and_kids_as_who_may_be_behind_it(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 11)
    await chat.say("no one knows yet")
    assert chat.keys == ["report_concern.behind_it.ask"]
    await chat.say("probably some kids in my year 10 class")
    assert chat.keys == ["report_concern.behind_it_detail.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["others_know"] == ["nobody"] and frame.answers["behind_it"] == "learner"


async def test_send_it_in_plain_words(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, len(report_steps))
    await chat.say("ok send it")
    assert "report.sent" in chat.keys
    assert len(await bot.store.list_cases("default")) == 1


async def test_yes_sends_from_the_summary(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, len(report_steps))
    await chat.say("yes")
    assert "report.sent" in chat.keys


async def test_an_unclear_answer_gets_did_you_mean_and_yes_takes_it(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 12)
    await chat.say("a parent or a former pupil")  # two choices where only one may be picked
    assert chat.keys == ["common.did_you_mean"]
    assert chat.choice_ids() == ["parent", "former", "all_choices"]
    await chat.pick("former")
    assert chat.keys == ["report_concern.behind_it_detail.ask"]


async def test_a_single_guess_is_confirmed_with_yes(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 12)
    await chat.say("the kids or the parents")
    assert chat.keys == ["common.did_you_mean"]
    await chat.pick("learner")
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["behind_it"] == "learner"


async def test_second_miss_keeps_the_words_where_a_free_answer_is_allowed(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 1)
    await chat.say("hmm hard to explain")
    assert chat.keys == ["common.not_understood_multi", "report_concern.categories.ask"]
    await chat.say("a blog by a neighbour with odd posts")
    assert chat.keys == ["common.kept_as_written", "report_concern.images.ask"]
    await walk(chat, [["no"], ["instagram"], "skip", "yesterday"])
    assert chat.keys == ["report_concern.who_appears.ask"]  # the description was not asked again
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["categories"] == ["something_else"]
    assert frame.answers["description"] == "a blog by a neighbour with odd posts"


async def test_nothing_words_are_never_kept_as_names_or_evidence(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 8)
    await chat.say("no")
    assert chat.keys == ["report_concern.evidence.ask"]
    await chat.say("i havent got anything")
    assert chat.keys == ["report_concern.others_know.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["names"] is None
    assert frame.answers["evidence"] == {"files": [], "notes": []}


async def test_ok_and_nope_end_the_evidence_after_a_note(chat: Chat, bot, report_steps):
    for word in ("ok", "nope", "that's it", "none"):
        c = Chat(bot, f"console:t-{word}")
        await to_step(c, report_steps, 9)
        await c.say("screenshots on my laptop")
        await c.say(word)
        assert c.keys == ["report_concern.others_know.ask"], word
        frame = (await bot.store.load_conversation(c._turn().conversation_key)).active
        assert frame.answers["evidence"]["notes"] == ["screenshots on my laptop"], word


async def test_yes_to_give_names_asks_for_them(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 8)
    await chat.say("yes")
    assert chat.keys == ["common.go_ahead"]
    await chat.say("Mr Smith")
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["names"] == "Mr Smith"


async def test_a_required_description_of_two_letters_or_emoji_is_asked_again(chat: Chat, report_steps):
    await to_step(chat, report_steps, 6)
    for said in ("ok", "👍👍", "?!"):
        await chat.say(said)
        assert chat.keys == ["common.need_words", "report_concern.description.ask"], said
    await chat.say("Mocking posts")
    assert chat.keys == ["report_concern.who_appears.ask"]


async def test_optional_accounts_skipped_with_none_is_no_handle(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 4)
    await chat.say("none")
    assert chat.keys == ["report_concern.first_seen.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["accounts"] is None


# --- evidence questions and long pastes ---------------------------------------------------------------------


async def test_how_do_i_send_screenshots_gets_the_channels_own_steps_and_is_not_kept(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 9)
    await chat.say("I've got screenshots on my phone, not sure how to send them here")
    assert chat.keys == ["report.evidence_how.console"]
    assert "/attach" in chat.text and chat.choice_ids() == ["done"]
    await chat.say("done")
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["evidence"] == {"files": [], "notes": []}


async def test_how_to_send_in_slack_and_teams_names_their_buttons(bot, report_steps):
    for platform, words in (("slack", "**+**"), ("teams", "**Attach**")):
        c = Chat(bot, f"{platform}:U1")
        await to_step(c, report_steps, 9)
        await c.say("how do i attach them?")
        assert c.keys == [f"report.evidence_how.{platform}"] and words in c.text


async def test_a_long_paste_becomes_the_description_and_the_rest_a_note(chat: Chat, bot, report_steps):
    await to_step(chat, report_steps, 6)
    first = "They posted this. " * 200  # 3,600 characters
    rest = "And then this about me. " * 60  # 1,440 more
    await chat.say(first + rest)
    assert chat.keys == ["common.long_kept", "report_concern.who_appears.ask"]
    frame = (await bot.store.load_conversation(chat._turn().conversation_key)).active
    assert frame.answers["description"] == (first + rest)[:4000].rsplit(". ", 1)[0] + "."
    kept = frame.answers["evidence"]["notes"]
    assert len(kept) == 1 and (frame.answers["description"] + " " + kept[0]).split() == (first + rest).split()
    await walk(chat, report_steps[7:10])
    await chat.say("done")
    await walk(chat, report_steps[11:])
    await chat.say("send")
    (case,) = await bot.store.list_cases("default")
    assert case.answers["evidence"]["notes"][0] == kept[0]


def test_a_step_keeps_words_only_in_a_later_text_step():
    steps = [{"id": "what", "type": "choice", "ask": "?", "title": "What", "keeps_words_in": "why",
              "choices": [{"id": "other", "label": "Other", "means": "other"}]},
             {"id": "why", "type": "text", "ask": "?", "title": "Why"}]
    assert Flow(id="f", title="F", steps=steps).steps[0].keeps_words_in == "why"
    with pytest.raises(ValidationError, match="not a later text step"):
        Flow(id="f", title="F", steps=[{**steps[0], "keeps_words_in": "nowhere"}, steps[1]])
