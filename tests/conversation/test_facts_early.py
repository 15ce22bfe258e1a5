"""An upset teacher's facts typed at the "wrong" question are kept, never refused or lost: a handle at "Who is it
about?", a day at the account question, "send it" when she has no more to give, "ive got screenshots" before the
evidence question (bot/conversation/dialogs/report_facts.py)."""

from __future__ import annotations

import pytest

from testing.chat import STANDARD_REPORT, Chat, walk

NOT_UNDERSTOOD = {"common.not_understood", "common.not_understood_multi", "common.no_accounts_found",
                  "common.bad_date", "common.did_you_mean"}
# To "Who is it about?": an allegation about staff, no images.
TO_WHO = ["I'm being targeted", ["allegation"], ["no"]]


async def answers_of(bot, chat: Chat) -> dict:
    return (await bot.store.load_conversation(chat._turn().conversation_key)).active.answers


async def test_a_handle_typed_at_who_is_it_about_is_kept_and_its_question_not_asked(chat: Chat, bot):
    await walk(chat, TO_WHO)
    assert chat.keys == ["report_concern.allegation_about.ask"]
    await chat.say("@hillside_muggies")
    assert chat.keys == ["report.noted", "report_concern.allegation_about.ask"]
    assert "@hillside\\_muggies" in chat.text and not NOT_UNDERSTOOD & set(chat.keys)
    await chat.pick("other_staff")
    await chat.pick("instagram")
    assert chat.keys == ["report_concern.first_seen.ask"]  # the account question is already answered
    await walk(chat, ["yesterday", "Posts rumours about a colleague.", ["other_staff"], "skip", ["done"],
                      ["nobody"], ["no_idea"]])
    assert chat.keys == ["report_concern.summary.ask"]
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    assert [a["value"] for a in case.answers["accounts"]] == ["@hillside_muggies"]


async def test_a_day_said_early_is_kept_as_when_it_was_first_seen(chat: Chat, bot):
    await walk(chat, TO_WHO)
    await chat.say("since monday i think")
    assert chat.keys == ["report.noted", "report_concern.allegation_about.ask"]
    assert "Monday 16 November" in chat.text
    answers = await answers_of(bot, chat)
    assert answers["first_seen"] == "2026-11-16" and answers["first_seen_approximate"] is True
    await walk(chat, [["other_staff"], ["instagram"], "@gossip_page"])
    assert chat.keys == ["report_concern.description.ask"]  # "When was it first seen?" is not asked again


async def test_a_day_said_at_the_account_question_is_kept_and_that_question_asked_again(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:4])
    assert chat.keys == ["report_concern.accounts.ask"]
    await chat.say("since monday")
    assert chat.keys == ["report.noted", "report_concern.accounts.ask"]
    answers = await answers_of(bot, chat)
    assert answers["first_seen"] == "2026-11-16" and "accounts" not in answers
    await chat.say("@fake_hillside")
    assert chat.keys == ["report_concern.description.ask"]


@pytest.mark.parametrize("said", ["yesterday", "Monday"])
async def test_a_day_alone_at_the_account_question_is_a_day_not_a_handle(chat: Chat, bot, said):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say(said)
    assert chat.keys == ["report.noted", "report_concern.accounts.ask"]
    answers = await answers_of(bot, chat)
    assert answers["first_seen"] in ("2026-11-19", "2026-11-16") and "accounts" not in answers
    await chat.say("hillside_muggies")  # a bare word is still a handle
    assert chat.keys == ["report_concern.description.ask"]
    assert [a["value"] for a in (await answers_of(bot, chat))["accounts"]] == ["@hillside_muggies"]


async def test_a_day_and_a_platform_with_the_account_are_kept_as_well_as_the_account(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say("@hillside_muggies on tiktok, since monday")
    assert chat.keys == ["report.noted", "report_concern.description.ask"]  # "When?" is already answered
    answers = await answers_of(bot, chat)
    assert [a["value"] for a in answers["accounts"]] == ["@hillside_muggies"]
    assert answers["platforms"] == ["instagram", "tiktok"] and answers["first_seen"] == "2026-11-16"


async def test_a_platform_said_at_the_account_question_is_added(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say("its on tiktok too")
    assert chat.keys == ["report.noted", "report_concern.accounts.ask"]
    assert (await answers_of(bot, chat))["platforms"] == ["instagram", "tiktok"]


async def test_a_platform_said_before_where_is_asked_answers_where(chat: Chat, bot):
    await walk(chat, TO_WHO)
    await chat.say("its on tiktok")
    assert chat.keys == ["report.noted", "report_concern.allegation_about.ask"]
    await chat.pick("other_staff")
    assert chat.keys == ["report_concern.accounts.ask"]
    assert (await answers_of(bot, chat))["platforms"] == ["tiktok"]


async def test_a_choice_that_names_a_platform_is_its_answer_not_a_fact(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:11])
    assert chat.keys == ["report_concern.others_know.ask"]
    await chat.say("reported to tiktok")
    assert chat.keys == ["report_concern.behind_it.ask"]
    answers = await answers_of(bot, chat)
    assert answers["others_know"] == ["reported_platform"] and answers["platforms"] == ["instagram"]


async def test_a_handle_with_other_words_is_kept_and_the_question_answers_the_rest(chat: Chat, bot):
    await walk(chat, TO_WHO)
    await chat.say("@hillside_muggies keeps posting lies")
    assert chat.keys[0] == "report.noted"
    assert [a["value"] for a in (await answers_of(bot, chat))["accounts"]] == ["@hillside_muggies"]


@pytest.mark.parametrize("said", ["send it", "thats all", "done", "finished", "just send it"])
async def test_send_it_at_the_account_question_is_skip_never_an_account(chat: Chat, bot, said):
    await walk(chat, STANDARD_REPORT[:4])
    await chat.say(said)
    assert chat.keys == ["report_concern.first_seen.ask"]
    assert (await answers_of(bot, chat))["accounts"] is None


@pytest.mark.parametrize("said", ["send it", "done", "nothing"])
async def test_send_it_is_never_kept_as_what_it_shows_or_says(chat: Chat, bot, said):
    await walk(chat, STANDARD_REPORT[:6])
    assert chat.keys == ["report_concern.description.ask"]
    await chat.say(said)
    assert chat.keys == ["common.need_words", "report_concern.description.ask"]
    assert "description" not in await answers_of(bot, chat)


@pytest.mark.parametrize("said", ["send it", "thats everything", "done now"])
async def test_send_it_at_the_evidence_question_finishes_it(chat: Chat, bot, said):
    await walk(chat, STANDARD_REPORT[:9])
    assert chat.keys == ["report_concern.evidence.ask"]
    await chat.say(said)
    assert chat.keys == ["report_concern.others_know.ask"]
    assert (await answers_of(bot, chat))["evidence"] == {"files": [], "notes": []}


@pytest.mark.parametrize("turns", [2, 4, 5, 8])  # images, account, when, names
@pytest.mark.parametrize("said", ["ive got screenshots", "I have screenshots of it",
                                  "how do i send you the screenshots"])
async def test_screenshots_mentioned_early_are_asked_for_in_a_moment(chat: Chat, bot, turns, said):
    await walk(chat, STANDARD_REPORT[:turns])
    (question,) = chat.keys
    await chat.say(said)
    assert chat.keys == ["report.evidence_later", question]
    assert not NOT_UNDERSTOOD & set(chat.keys)
    step = question.split(".")[1]
    assert step not in await answers_of(bot, chat)


async def test_screenshots_mentioned_after_the_images_guardrail_are_never_asked_for(chat: Chat):
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["not_sure"]])
    assert chat.keys[-1] == "report_concern.platforms.ask"
    await chat.say("ive got screenshots")
    assert chat.keys == ["report.guardrail_no_files", "report_concern.platforms.ask"]


async def test_screenshots_mentioned_after_the_evidence_question_are_kept_with_it(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:11])
    assert chat.keys == ["report_concern.others_know.ask"]
    await chat.say("ive got more screenshots")
    assert chat.keys == ["report.evidence_added", "report_concern.others_know.ask"]
    assert (await answers_of(bot, chat))["evidence"]["notes"][-1] == "ive got more screenshots"


async def test_screenshots_mentioned_with_names_are_the_names(chat: Chat, bot):
    await walk(chat, STANDARD_REPORT[:8])
    await chat.say("jake in 10B took screenshots")
    assert chat.keys == ["report_concern.evidence.ask"]
    assert (await answers_of(bot, chat))["names"] == "jake in 10B took screenshots"


async def test_a_day_said_with_a_hedge_at_the_images_question_is_kept_and_the_question_asked_again(chat: Chat, bot):
    """"like a week ago maybe" answers when, not the images question: its "maybe" is about the day. It was read
    as "Not sure" (possible images: an urgent alert to the DSL for a page with none). "not sure, maybe last week"
    still is not sure."""
    await walk(chat, ["I'm being targeted", ["targeting_me"]])
    assert chat.keys == ["report_concern.images.ask"]
    await chat.say("like a week ago maybe")
    assert chat.keys == ["report.noted", "report_concern.images.ask"]
    assert "first_seen" in await answers_of(bot, chat) and "images" not in await answers_of(bot, chat)
    await chat.say("not sure, maybe last week")
    assert "report.guardrail" in chat.keys


async def test_a_handle_whose_letters_name_someone_is_an_account_not_an_answer(chat: Chat, bot):
    """"its @mrs_k_fake" at "Who is it about?": the handle is kept; its "mrs" never answers "Another member of
    staff" (the report was routed as about a colleague when it was about the reporter)."""
    await walk(chat, TO_WHO)
    await chat.say("its @mrs_k_fake")
    assert chat.keys == ["report.noted", "report_concern.allegation_about.ask"]
    answers = await answers_of(bot, chat)
    assert "allegation_about" not in answers and [a["value"] for a in answers["accounts"]] == ["@mrs_k_fake"]


async def test_me_at_the_account_question_is_never_the_handle_at_me(chat: Chat, bot):
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"], ["instagram"]])
    assert chat.keys == ["report_concern.accounts.ask"]
    await chat.say("me")
    assert "accounts" not in await answers_of(bot, chat)
