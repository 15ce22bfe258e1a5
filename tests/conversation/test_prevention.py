"""The prevention review for the DSL and senior leaders, and the privacy-check nudge to all staff."""

from __future__ import annotations

from testing.chat import Chat, walk
from tests.conftest import STAFF


async def test_only_case_handlers_are_offered_or_given_the_review(bot):
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert "menu:prevention_review" in dsl.choice_ids()
    teacher = Chat(bot, "console:teacher")
    await teacher.open()
    assert "menu:prevention_review" not in teacher.choice_ids()
    await teacher.pick("menu:prevention_review")
    assert teacher.keys[0] == "common.handlers_only"
    await teacher.say("prevention review")
    assert teacher.keys[0] == "common.handlers_only"


async def test_the_review_saves_progress_advises_on_gaps_and_nudges_everyone(bot, clock):
    dsl = Chat(bot, "console:dsl")
    await dsl.say("prevention review")
    assert dsl.keys == ["prevention_review.policies.ask"]
    await walk(dsl, [["in_place"], ["not_yet"]])
    # Progress is kept: a new bot on the same store picks up at the same question.
    from bot.conversation.engine import Engine

    again = Chat(Engine(bot.content, bot.store, bot.settings, clock=clock), "console:dsl")
    await again.open()
    assert again.keys == ["common.welcome_back", "prevention_review.curriculum.ask"]
    await walk(again, [["in_progress"], ["in_place"], ["not_yet"], ["not_yet"], ["send"]])
    keys = again.keys
    assert keys[0] == "prevention.summary"
    assert "**Policies cover online behaviour:** In place" in again.last[0].text
    assert "prevention.next.learner_expectations" in keys and "prevention.next.staff_privacy" in keys
    assert "prevention.next.published_photos" in keys  # photos on the school's website are what fakes copy
    assert "prevention.next.policies" not in keys
    assert "4 member(s)" in again.reply("prevention.nudged").text
    assert "0 of the 5 people" in again.reply("prevention.completed_count").text

    teacher = Chat(bot, "console:teacher")
    await teacher.open()
    nudge = teacher.reply("prevention.nudge")
    assert [c.id for c in nudge.choices] == ["menu:privacy_check"]
    await teacher.say("1")
    assert teacher.keys == ["privacy_check.platforms.ask"]


async def test_the_count_grows_as_staff_complete_the_check_and_names_no_one(bot, clock):
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [["menu:privacy_check"], ["whatsapp"]])
    while teacher.keys[-1] == "privacy_check.item.ask":
        await teacher.pick("done")
    await teacher.pick("no_thanks")
    dsl = Chat(bot, "console:dsl")
    await walk(dsl, ["prevention review", ["in_place"], ["in_place"], ["in_place"], ["in_place"], ["in_place"],
                     ["in_place"], ["not_now"]])
    count = dsl.reply("prevention.completed_count").text
    assert f"1 of the {len(STAFF)} people" in count
    assert "Jo Brown" not in " ".join(r.text for r in dsl.last)
    assert "prevention.nudged" not in dsl.keys


async def test_trends_cover_only_the_cases_routed_to_the_viewer(bot, chat: Chat, report_steps):
    await walk(chat, report_steps + [["send"]])  # routed to the DSL and deputy
    await walk(chat, ["I need to report something", ["allegation"], ["no"], ["other_staff"],
                      ["instagram"], "@fake_hillside", "skip", "Posts about Dana Lee", ["other_staff"], "Dana Lee",
                      ["done"], ["nobody"], ["no_idea"], ["send"]])  # names the DSL: not routed to her
    dsl = Chat(bot, "console:dsl")
    await dsl.pick("menu:stats")
    (stats,) = dsl.last
    assert stats.key == "stats.summary"
    assert "OSB-2026-0002" not in stats.text
    deputy = Chat(bot, "console:deputy")
    await deputy.pick("menu:stats")
    assert "OSB-2026-0001" in deputy.last[0].text and "OSB-2026-0002" in deputy.last[0].text  # the same account twice
    teacher = Chat(bot, "console:teacher")
    await teacher.open()
    assert "menu:stats" not in teacher.choice_ids()
