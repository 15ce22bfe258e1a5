"""The safety check on every message, in every state: crisis, danger, the images guardrail, the police route,
sextortion and out of hours. Messages are written as staff really write them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.cases.record import build_record
from bot.cli import check_content
from bot.conversation import safety
from bot.core.models import Attachment
from bot.core.text import plain
from testing.chat import Chat, walk
from tests.process.test_cli import chat_json, keys, message

SHOT = Attachment(name="shot.png", ref="file:///tmp/shot.png", size=1000, sha256="cd" * 32)
REF = "OSB-2026-0001"
# Up to the description, an ordinary report about a member of staff.
TO_DESCRIPTION: list[str | list[str]] = [
    "I'm being targeted",
    ["targeting_staff"],
    ["no"],
    ["instagram"],
    "skip",
    "skip",
]
# From the question after the description to the summary.
AFTER_DESCRIPTION: list[str | list[str]] = [["other_staff"], "skip", ["done"], ["nobody"], ["no_idea"]]


async def alerts_for(chat_as, user: str) -> list[str]:
    handler = chat_as(user)
    await handler.open()
    return [k for k in handler.keys if k.endswith("_alert")]


# --- a member of staff in crisis ---------------------------------------------------------------


@pytest.mark.parametrize("said", [
    "I want to kill myself", "suicidal", "i cant go on", "I can’t go on like this", "I just want to end my life",
    "honestly I feel like hurting myself", "im suicidal", "I've been having suicidal thoughts since it started",
])
async def test_crisis_words_when_idle_get_the_crisis_lines_and_nothing_goes_to_the_dsl(chat: Chat, chat_as, said):
    await chat.say(said)
    assert chat.keys == ["safety.crisis", "safety.crisis_nothing_sent"]
    text = chat.text
    for line in ("Samaritans", "116 123", "111, option 2", "08000 562 561", "999", "someone you trust"):
        assert line in text
    assert "If a child has been harmed" not in text  # not the child-protection reply
    assert await alerts_for(chat_as, "console:dsl") == []


async def test_crisis_mid_report_keeps_the_report_to_carry_on_later(chat: Chat, bot, chat_as):
    await walk(chat, TO_DESCRIPTION)
    await chat.say("i can't go on with this anymore, I want to die")
    assert chat.keys == ["safety.crisis", "safety.crisis_report_kept"]
    assert "menu:resume" in chat.choice_ids()
    assert chat.bot  # the report is set aside, not lost: carrying on returns to the same question
    await chat.pick("menu:resume")
    assert chat.keys == ["common.welcome_back", "report_concern.description.ask"]
    await chat.say("Mocking posts about a colleague")
    await walk(chat, [*AFTER_DESCRIPTION, ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.answers["platforms"] == ["instagram"] and not case.urgent
    assert await alerts_for(chat_as, "console:dsl") == []


# --- negations and uncertainty -----------------------------------------------------------------


@pytest.mark.parametrize("said", [
    "It's not an emergency, I'm not in danger, just really upset about what they wrote",
    "No one is in danger, it's just nasty",
    "I'm not in danger but I'm scared",
    "nobody is at risk",
])
async def test_negations_do_not_set_off_the_999_reply(chat: Chat, said):
    await chat.say(said)
    assert not any(k.startswith("safety.") or k == "common.emergency" for k in chat.keys)
    assert "999" not in chat.text


async def test_a_negated_danger_in_a_description_is_just_the_answer(chat: Chat, bot):
    await walk(chat, TO_DESCRIPTION)
    await chat.say("It's not an emergency, no one is in danger, but it is nasty")
    assert chat.keys == ["report_concern.who_appears.ask"]
    await walk(chat, [*AFTER_DESCRIPTION, ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert not case.urgent


def test_every_phrase_on_a_safety_list_is_found_by_its_list_wherever_it_stands(content):
    """A list is searched in one go before any phrase alone: that search must find each phrase, after other words,
    at the end of a clause, with an ending where the phrase allows one, and never inside another word."""
    words = content.safety
    lists = [getattr(words, name).words for name in ("negations", "uncertain", "crisis_self", "crisis_words", "writer",
                                                     "others", "danger_now", "danger_maybe", "threats", "images",
                                                     "sextortion", "pictures")]
    lists += [getattr(words.police, kind) for kind in ("doxxing", "stalking", "hate", "harassment")]
    for phrases in lists:
        for phrase in phrases:
            said = plain(phrase.rstrip("*")) + ("ing" if phrase.endswith("*") else "")
            for before, after in (("", ""), ("i heard that ", ""), ("i heard that ", " again")):
                clause = before + said + after
                assert safety._has(clause, phrases) and len(before) in safety._find(clause, phrases), (phrase, clause)
            assert not safety._has(f"x{said}", [phrase]), phrase
    assert safety._find("not in danger but in danger now", words.danger_now.words) == [4, 18]


def test_every_phrase_a_clause_is_read_for_is_found_alone_and_among_other_words(content):
    """A clause is read for crisis, danger and the police only when it holds one of their phrases (one search):
    each phrase of each of those lists, said alone or inside a sentence, must still be found."""
    words = content.safety
    lists = [words.crisis_self.words, words.crisis_words.words, words.threats.words, words.danger_now.words,
             words.danger_maybe.words, words.police.doxxing, words.police.stalking, words.police.hate,
             words.police.harassment]
    for phrases in lists:
        for phrase in phrases:
            said = plain(phrase.rstrip("*")) + ("ing" if phrase.endswith("*") else "")
            for text in (said, f"Honestly, I heard that {said} today."):
                found = safety.read(words, text)
                assert found.crisis or found.danger or found.unsure or found.police, (phrase, text)


async def test_when_unsure_it_asks_one_yes_no_question(chat: Chat, chat_as):
    await chat.say("I'm worried a pupil might be at risk")
    assert chat.keys == ["safety.ask_danger"]
    await chat.say("no")
    assert chat.keys[0] == "safety.danger_no"
    assert await alerts_for(chat_as, "console:dsl") == []
    await chat.say("I think a learner could be in danger")
    assert chat.keys == ["safety.ask_danger"]
    await chat.pick("safety:danger_yes")
    assert chat.keys[:3] == ["safety.danger", "safety.danger_alerted", "safety.report_started"]
    assert await alerts_for(chat_as, "console:dsl") == ["case.danger_alert"]


async def test_unsure_words_as_a_description_are_kept_and_the_question_comes_before_the_next_one(chat: Chat, bot):
    await walk(chat, TO_DESCRIPTION)
    await chat.say("Nasty posts; I'm not sure if she could be at risk")
    assert chat.keys == ["safety.ask_danger", "report_concern.who_appears.ask"]
    await chat.say("no")
    assert chat.keys == ["safety.danger_no", "report_concern.who_appears.ask"]
    await walk(chat, [*AFTER_DESCRIPTION, ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.answers["description"] == "Nasty posts; I'm not sure if she could be at risk" and not case.urgent


async def test_unsure_words_at_a_choice_question_ask_first_then_the_question_again(chat: Chat):
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"]])
    await chat.say("a pupil might be in danger")
    assert chat.keys == ["safety.ask_danger"]
    await chat.pick("safety:danger_no")
    assert chat.keys == ["safety.danger_no", "report_concern.platforms.ask"]


async def test_the_guardrail_raised_in_words_at_the_images_question_does_not_ask_it_again(chat: Chat):
    await walk(chat, ["I'm being targeted", ["showing_learners"]])
    await chat.say("there are nudes of a year 10 girl going round")
    assert chat.keys == ["report.guardrail", "report.guardrail_alerted", "report_concern.platforms.ask"]


# --- danger to someone now ---------------------------------------------------------------------


async def test_a_threat_typed_as_the_description_is_kept_moves_on_and_goes_to_the_police(chat: Chat, bot, chat_as):
    await walk(chat, TO_DESCRIPTION)
    await chat.say("it says it's going to kill Mr Jones")
    assert chat.keys == ["safety.danger", "safety.danger_alerted", "safety.police", "report_concern.who_appears.ask"]
    assert "999" in chat.text and "101" in chat.reply("safety.police").text
    await walk(chat, AFTER_DESCRIPTION)
    await chat.say("They posted where he lives too")  # no second 999 reply in the same report
    assert "safety.danger" not in chat.keys
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and case.answers["description"] == "it says it's going to kill Mr Jones"
    assert "threat" in case.answers["safety"]["police"]["kinds"]
    events = [e.kind for e in await bot.store.case_events(case.id)]
    assert "flagged_urgent" in events
    assert await alerts_for(chat_as, "console:dsl") == ["case.danger_alert"]
    dsl = chat_as("console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:plan")
    assert "999 if anyone is in immediate danger, otherwise 101" in dsl.text


async def test_someone_in_danger_mid_report_marks_it_urgent_and_alerts_the_dsls(chat: Chat, bot, chat_as):
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"]])
    await chat.say("someone is in danger right now")
    assert chat.keys == ["safety.danger", "safety.danger_alerted", "report_concern.platforms.ask"]
    assert chat.last[0].urgent
    for user in ("console:dsl", "console:deputy"):
        assert await alerts_for(chat_as, user) == ["case.danger_alert"]
    await walk(chat, [["instagram"], "skip", "skip", "They are threatening to come to my house tonight",
                      ["me"], "skip", ["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="md"
    )
    assert record.urgent_reason and "danger" in record.urgent_reason


async def test_a_posted_home_address_starts_a_report_not_the_privacy_check(chat: Chat):
    await chat.say("someone breached my privacy by posting my home address online")
    assert chat.keys == ["safety.police", "safety.report_started", "report_concern.categories.ask"]
    assert "101" in chat.text


# --- the images guardrail at any moment --------------------------------------------------------


async def test_the_guardrail_from_a_first_message_starts_an_urgent_report_with_files_refused(chat: Chat, bot, chat_as):
    await chat.say("there are nudes of a year 10 girl going round")
    assert chat.keys == ["report.guardrail", "report.guardrail_alerted", "safety.report_started",
                         "report_concern.categories.ask"]
    assert await alerts_for(chat_as, "console:dsl") == ["case.guardrail_alert"]
    await chat.pick("showing_learners")
    assert chat.keys == ["report_concern.platforms.ask"]  # the images question is already answered
    await walk(chat, [["snapchat"]])
    assert chat.keys == ["report.accounts_guardrail"]
    assert "don't go back to the post" in chat.text and "Copy link" not in chat.text
    await chat.say("help")
    assert chat.keys[0] == "report.guardrail_help" and "Copy link" not in chat.text
    await walk(chat, ["skip", "skip", "Pictures of a pupil", ["learners"], "skip"])
    await chat.attach(SHOT)
    assert "report.guardrail_no_files" in chat.keys
    await walk(chat, [["done"], ["learners_talking"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and case.answers["images"] == "yes" and await bot.store.case_evidence(case.id) == []


async def test_the_guardrail_from_the_support_menu(chat: Chat, chat_as):
    await chat.say("support")
    await chat.say("a pupil showed me a nudified picture of a girl in year 8")
    assert chat.keys[:3] == ["report.guardrail", "report.guardrail_alerted", "safety.report_started"]
    assert chat.keys[-1] == "report_concern.categories.ask"
    assert await alerts_for(chat_as, "console:dsl") == ["case.guardrail_alert"]


@pytest.mark.parametrize("said", [
    "someone made a deepfake of a learner", "an AI generated picture of a pupil", "they used a nudify app on her photo",
    "her photo with the clothes removed", "sexualised edits of year 9 girls", "an upskirt video from the corridor",
    "porn with a pupil's face on it", "a boy is a victim of sextortion", "a dick pic sent to a year 7",
    "photos of girls in their underwear", "explicit pictures of a student", "intimate images of a year 11",
    "a pupil is being sextorted",
])
async def test_each_new_term_raises_the_guardrail_from_a_first_message(chat: Chat, said):
    await chat.say(said)
    assert chat.keys[0] == "report.guardrail"


async def test_the_images_question_says_ai_made_and_fake_images_count(chat: Chat):
    await walk(chat, ["I'm being targeted", ["targeting_me"]])
    ask = chat.reply("report_concern.images.ask").text
    assert "AI" in ask and "fake" in ask


async def test_files_before_a_late_trigger_are_named_to_the_reporter_the_dsl_and_the_record(chat: Chat, bot, chat_as):
    await walk(chat, [*TO_DESCRIPTION, "Mocking posts", ["other_staff"], "skip"])
    await chat.attach(SHOT)
    await chat.attach(SHOT.model_copy(update={"name": "shot2.png", "sha256": "ef" * 32}))
    await walk(chat, [["done"], ["nobody"], ["learner"]])
    await chat.say("a learner told me they are sharing nudes of a girl from it")  # "why they may be behind it"
    assert chat.keys[:3] == ["report.guardrail", "report.guardrail_alerted", "report.guardrail_files_dropped"]
    dropped = chat.reply("report.guardrail_files_dropped").text
    assert "2 file(s)" in dropped and "don't open, forward or delete" in dropped
    assert "Marked urgent" in chat.reply("report_concern.summary.ask").text
    await chat.pick("send")
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and await bot.store.case_evidence(case.id) == []
    assert case.answers["guardrail"]["files_before"] == {"count": 2, "platform": "console"}

    dsl = chat_as("console:dsl")
    await dsl.open()
    fields = dict(dsl.reply("case.new_card").card.fields)
    assert "2 file(s) were uploaded into the reporter's chat with the bot (the console) before the concern" in \
        fields["Files shared before the concern was raised"]
    images = fields["Possible sexual images of under-18s"]
    assert images.startswith("No; raised later") and "Why they may be behind it" in images
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="md"
    )
    summary = {f.label: f.value for f in record.summary}
    assert "copies may still be in that chat" in summary["Files shared before the concern was raised"]
    assert summary["Possible sexual images of under-18s"].startswith("No; raised later")


async def test_files_before_name_the_platform_they_were_shared_on(bot, chat_as):
    teams = Chat(bot, "teams:29:abc")
    await walk(teams, [*TO_DESCRIPTION, "Mocking posts", ["other_staff"], "skip"])
    await teams.attach(SHOT)
    await teams.say("one screenshot is a naked picture of a pupil")
    assert "chat (Microsoft Teams)" in teams.reply("report.guardrail_files_dropped").text


async def test_the_frontline_list_is_in_the_guardrail(chat: Chat):
    await chat.say("there are nudes going round year 10")
    text = chat.reply("report.guardrail").text
    for words in ("don't view it again", "copy, screenshot, save, print, share or forward", "Don't delete it",
                  "ask the young person to delete it or to send it", "Don't question the children",
                  "look through a device", "hand it to the DSL", "not your fault", "get support"):
        assert words in text, words


# --- sextortion --------------------------------------------------------------------------------


async def test_sextortion_gets_its_own_advice_and_an_urgent_report_with_ceop_on_the_plan(chat: Chat, bot, chat_as):
    await chat.say("a boy in year 9 is being blackmailed, they say they'll share his nudes unless he pays")
    assert chat.keys[:3] == ["report.guardrail", "report.guardrail_alerted", "safety.sextortion"]
    advice = chat.reply("safety.sextortion")
    assert advice.urgent
    for words in ("don't pay", "don't delete", "CEOP", "0800 1111", "Report Remove", "childline.org.uk/remove"):
        assert words in advice.text, words
    await walk(chat, [["showing_learners"], ["snapchat"], "skip", "skip", "Threats to a pupil", ["learners"], "skip",
                      ["done"], ["nobody"], ["no_idea"], ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and "sextortion" in case.answers["safety"]
    dsl = chat_as("console:dsl")
    await dsl.open()
    assert any("Sextortion" in g for g in dsl.reply("case.new_card").card.guidance)
    await dsl.pick(f"case:{REF}:plan")
    assert "CEOP" in dsl.text


# --- in people's own words, at any step of a report ---------------------------------------------

# Where in a report a message is typed: the first message, a question answered by picking, the description (in
# words), the evidence question, and after the report has been sent.
STEPS: dict[str, list[str | list[str]]] = {
    "first message": [],
    "a choice question": ["I'm being targeted"],
    "the description": TO_DESCRIPTION,
    "the evidence question": [*TO_DESCRIPTION, "Mocking posts about a colleague", ["other_staff"], "skip"],
    "after sending": [*TO_DESCRIPTION, "Mocking posts about a colleague", *AFTER_DESCRIPTION, ["send"]],
}
SAFETY_KEYS = ("safety.", "report.guardrail")


def safety_keys(chat: Chat) -> list[str]:
    return [k for k in chat.keys if k.startswith(SAFETY_KEYS)]


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("said", [
    "honestly i just want to disappear", "i want to end it", "i just want it all to stop", "i cant take it anymore",
    "i dont see the point in anything anymore", "i feel like giving up on everything",
    "everyone would be better off without me", "i dont want to be alive", "im going to do something stupid tonight",
    "i've took some pills", "i'm not coping at all", "tbh i dont think i can do this anymore",
    "im gonna unalive myself", "im so suicidal because of them", "they've made me want to self harm",
    "nothing helps i want to die", "nobody cares i want to disappear",  # the negation is not about the wish
    "i cant do this no more", "i cnt cope", "im done with life", "life isnt worth living", "whats the point anymore",
    "i want to kil myself", "i just want to sleep forever", "i cant keep going like this", "im at breaking point",
    "ive had enough of everything",
])
async def test_the_writers_own_crisis_in_their_words_gets_the_crisis_lines_at_any_step(chat: Chat, chat_as, step, said):
    await walk(chat, STEPS[step])
    await chat.say(said)
    assert chat.keys[0] == "safety.crisis" and "116 123" in chat.text
    assert "safety.danger" not in chat.keys
    assert await alerts_for(chat_as, "console:dsl") == []


@pytest.mark.parametrize("said", [
    "my pupil said he wants to end it all", "a child said they want to die", "she told me shes been cutting",
    "a boy in my class says he'll kill himself", "a year 9 said she wants to unalive herself",
    "a pupil took an overdose last night",
])
async def test_someone_elses_crisis_is_danger_to_them_not_the_writers_crisis(chat: Chat, chat_as, said):
    await chat.say(said)
    assert safety_keys(chat)[:2] == ["safety.danger", "safety.danger_alerted"]
    assert "safety.crisis" not in chat.keys
    assert await alerts_for(chat_as, "console:dsl") == ["case.danger_alert"]


async def test_a_pupil_who_may_hurt_themselves_is_danger_and_no_threat_for_the_police(chat: Chat, bot):
    await walk(chat, TO_DESCRIPTION)
    await chat.say("a student said hes going to hurt himself because of the page")
    assert chat.keys == ["safety.danger", "safety.danger_alerted", "report_concern.who_appears.ask"]
    await walk(chat, [*AFTER_DESCRIPTION, ["send"]])
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and "police" not in case.answers["safety"]


@pytest.mark.parametrize("said", [
    "someone told me to kill myself in the comments", "they told me to kms",
])
async def test_being_told_to_kill_yourself_is_harassment_for_a_report_not_the_writers_crisis(chat: Chat, said):
    await chat.say(said)
    assert safety_keys(chat) == ["safety.police", "safety.report_started"]


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("said", [
    "not suicidal just exhausted", "im not suicidal or anything, just tired", "im fine, dont worry",
    "i'm not feeling suicidal", "im not going to kill myself", "I'm not in danger", "i have never self harmed",
    "its not that serious lol", "i dont want to die, i just want this page gone", "i would never hurt myself",
    "no, im not going to do anything stupid", "this page is killing me lol", "what they wrote really hurt me",
    "they keep following my account and liking old posts", "the account used a photoshopped school logo",
    "can i send pics of the posts", "theyre threatening to post screenshots of my messages",
    "the parents are coming to the school tomorrow to complain", "hes missing lessons because of it",
    "i want to smash my phone lol",
])
async def test_negated_jokey_and_ordinary_words_set_nothing_off_at_any_step(chat: Chat, chat_as, step, said):
    await walk(chat, STEPS[step])
    await chat.say(said)
    assert safety_keys(chat) == []
    assert "999" not in chat.text and "116 123" not in chat.text
    assert await alerts_for(chat_as, "console:dsl") == []


@pytest.mark.parametrize("step", ["first message", "the description", "the evidence question", "after sending"])
@pytest.mark.parametrize("said", [
    "theres a video of a year 8 getting changed", "theres a photoshopped picture of her with no clothes on",
    "a video of a year 7 in the showers", "someone is asking a pupil to send pics", "a pupil has got an onlyfans",
    "theyre sending noods round the year group", "someone filmed girls in the changing rooms",
    "a video of a boy wanking", "they filmed them having sex", "theres a sex tape of two year 11s",
    "she sent him a pic of her tits", "sexual pics of a year 9", "someone has been sending d pics to year 7s",
])
async def test_images_in_peoples_own_words_raise_the_guardrail_at_any_step(chat: Chat, step, said):
    await walk(chat, STEPS[step])
    await chat.say(said)
    assert safety_keys(chat)[:2] == ["report.guardrail", "report.guardrail_alerted"]


@pytest.mark.parametrize("said", [
    "someone sent a kid a pic and is asking for money or theyll share it", "they're threatening to leak photos",
    "a year 9 boy is being blackmailed over a photo he sent",
    "he said if she doesnt send more pictures he'll post them",
])
async def test_sextortion_told_without_a_sexual_word_gets_the_guardrail_and_its_advice(chat: Chat, said):
    await chat.say(said)
    assert safety_keys(chat)[:3] == ["report.guardrail", "report.guardrail_alerted", "safety.sextortion"]


@pytest.mark.parametrize(("said", "expected"), [
    ("im not safe at home tonight", ["safety.danger", "safety.danger_alerted", "safety.report_started"]),
    ("they said theyll find where i live and hurt me",
     ["safety.danger", "safety.danger_alerted", "safety.police", "safety.report_started"]),
    ("i dont feel safe at home", ["safety.ask_danger"]),
    ("theyre going to batter him after school",
     ["safety.danger", "safety.danger_alerted", "safety.police", "safety.report_started"]),
    ("im being followed home", ["safety.police", "safety.report_started"]),
    ("an adult is grooming a year 8 on snapchat", ["safety.ask_danger"]),
    ("someone is sending sexual messages to a year 8", ["safety.ask_danger"]),
    ("a pupil has gone missing and her mum is frantic", ["safety.ask_danger"]),
    ("a pupil is missing and her mum is frantic", ["safety.ask_danger"]),
    ("a pupil is on the roof", ["safety.ask_danger"]),
    ("i'm scared to go home, he's outside", ["safety.police", "safety.ask_danger", "safety.report_started"]),
])
async def test_danger_threats_and_maybes_in_peoples_own_words(chat: Chat, said, expected):
    await chat.say(said)
    assert safety_keys(chat) == expected


# --- out of hours and the urgent DSL route -----------------------------------------------------


URGENT_REPORT: list[str | list[str]] = [
    "I'm being targeted", ["showing_learners"], ["yes"], ["snapchat"], "skip", "skip", "Pictures of pupils",
    ["learners"], "skip", ["done"], ["nobody"], ["no_idea"], ["send"],
]


async def test_an_urgent_report_on_a_friday_night_says_what_to_do_tonight(chat: Chat, clock):
    assert clock.now == datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc) and clock.now.strftime("%A") == "Friday"
    await walk(chat, URGENT_REPORT)
    sent = chat.reply("report.sent_urgent_closed")
    assert "today" not in sent.text
    assert "children's social care" in sent.text and "999" in sent.text and "101" in sent.text
    assert "Monday 23 November at 8:00" in sent.text


async def test_an_urgent_report_in_school_hours_asks_them_to_see_the_dsl(chat: Chat, clock):
    clock.now = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # a Monday in term
    await walk(chat, URGENT_REPORT)
    assert "report.sent_urgent" in chat.keys and "report.sent_urgent_closed" not in chat.keys


async def test_the_urgent_images_case_leads_the_dsl_with_the_ukcis_route(chat: Chat, chat_as):
    await walk(chat, URGENT_REPORT)
    dsl = chat_as("console:dsl")
    await dsl.open()
    guidance = dsl.reply("case.new_card").card.guidance[0]
    for words in ("risk", "children's social care", "unless that would put the child at risk",
                  "https://www.iwf.org.uk/report", "CEOP", "Report Remove", "now, not after 48 hours"):
        assert words in guidance, words
    await dsl.pick(f"case:{REF}:pack")
    assert "case.pack.guardrail" in dsl.keys and not [k for k in dsl.keys if k.startswith("case.pack.harm")]
    assert "Another account is pretending to be me" not in dsl.text


async def test_when_no_one_picks_up_an_urgent_case_the_reporter_is_told_what_to_do(bot, chat: Chat, chat_as, clock):
    from bot.app.scheduler import Scheduler

    await walk(chat, URGENT_REPORT)
    clock.advance(minutes=31)
    with_bot = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    await with_bot.tick()
    await chat.open()
    waiting = chat.reply("reminders.reporter_urgent_waiting")
    assert waiting.urgent and "children's social care" in waiting.text and "101" in waiting.text


# --- a case handler writing on a case ----------------------------------------------------------


async def test_a_case_note_with_danger_words_shows_the_guidance_and_is_saved(chat: Chat, bot, chat_as):
    await walk(chat, [*TO_DESCRIPTION, "Mocking posts", *AFTER_DESCRIPTION, ["send"]])
    dsl = chat_as("console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:note")
    await dsl.say("Spoke to Jo; the account now says it is going to kill Mr Jones")
    assert "safety.danger_on_case" in dsl.keys and "safety.report_started" not in dsl.keys
    (case,) = await bot.store.list_cases("default")
    notes = [e for e in await bot.store.case_events(case.id) if e.kind == "note_added"]
    assert len(notes) == 1


# --- content, and the command line -------------------------------------------------------------


def test_content_check_lists_the_facts_not_confirmed_at_their_source(content, capsys):
    assert check_content(content) == 0
    printed = capsys.readouterr().out
    for fact in ("helplines.nhs_111_mental_health", "helplines.nspcc", "helplines.education_support",
                 "rules.never_view_images"):
        assert f"unconfirmed: {fact}:" in printed
    assert "unconfirmed: helplines.samaritans" not in printed


def test_osb_now_starts_the_clock_there_and_a_time_without_a_zone_is_uk_time():
    from bot.core.config import Settings

    clock = Settings.from_env({"OSB_NOW": "2026-07-03T22:00"}).clock()
    assert abs((clock() - datetime(2026, 7, 3, 21, 0, tzinfo=timezone.utc)).total_seconds()) < 60  # BST
    assert Settings.from_env({}).now is None


def test_chat_json_with_osb_now_on_a_friday_night(tmp_path):
    db = tmp_path / "bot.db"
    from testing.cli_runner import run_cli

    run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", "--db", db)
    lines = ["I want to kill myself", "there are nudes of a year 10 girl going round", "2", "snapchat", "skip", "skip",
             "Pictures of pupils", "4", "skip", "done", "1", "1", "Send it"]
    turns = chat_json(db, lines, env={"OSB_NOW": "2026-11-20T21:30:00+00:00"})
    assert keys(turns[1]) == ["safety.crisis", "safety.crisis_nothing_sent"]
    assert keys(turns[2])[:3] == ["report.guardrail", "report.guardrail_alerted", "safety.report_started"]
    sent = message(turns[-1], "report.sent_urgent_closed")
    assert "today" not in sent["text"] and "Monday 23 November at 8:00" in sent["text"]
