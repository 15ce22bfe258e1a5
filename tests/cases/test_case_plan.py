"""The case plan (the five steps fitted to each case) and report packs, through the DSL's case card."""

from __future__ import annotations

import pytest

from bot.core.models import CaseStatus
from testing.chat import Chat, walk

REF = "OSB-2026-0001"


@pytest.fixture
async def dsl(bot, chat: Chat, report_steps) -> Chat:
    await walk(chat, report_steps + [["send"]])
    handler = Chat(bot, "console:dsl")
    await handler.open()
    return handler


def plan_lines(reply) -> list[str]:
    return [line for line in reply.text.splitlines() if line.strip()]


async def test_the_plan_has_the_five_steps_fitted_to_the_case(dsl: Chat):
    await dsl.pick(f"case:{REF}:plan")
    (plan,) = dsl.last
    text = plan.text
    for step in ("Gather evidence", "Initial investigation", "Internal sanctions and support",
                 "Support for those affected", "Report"):
        assert f"**{step}**" in text
    assert "Report it to Instagram" in text  # one item per platform in the case
    assert "LADO" not in text and "police" not in text  # not an allegation, not urgent
    assert "\u2713 Record the link" in text  # links were given in the report, so that item is done
    assert "Record when it was first seen" in text and "\u2713 Record when" in text
    ids = [c.id for c in plan.choices]
    assert f"case:{REF}:tick:report.platform.instagram" in ids
    assert f"case:{REF}:tick:evidence.links" not in ids


async def test_an_allegation_plan_includes_the_lado_and_an_urgent_one_the_police(bot, chat: Chat):
    await walk(
        chat,
        [
            "I need to report something",
            ["allegation", "showing_learners"],
            ["yes"],
            ["other_staff"],
            ["facebook", "tiktok"],
            "skip",
            "skip",
            "Claims and photos",
            ["learners"],
            "skip",
            ["done"],
            ["nobody"],
            ["learner"],
            "skip",
            ["send"],
        ],
    )
    head = Chat(bot, "console:dsl")
    await head.open()
    await head.pick(f"case:{REF}:plan")
    text = head.last[0].text
    assert "police" in text and "Internet Watch Foundation" in text
    # Possible sexual images: no impersonation report that would mean opening or sending the image; POSH at once.
    assert "Report it to Facebook" not in text and "Report it to TikTok" not in text
    assert "Don't report it to Facebook in any way that means opening" in text
    assert "Professionals Online Safety Helpline now" in text and "within 48 hours" not in text
    assert "judges the allegation against the harm test" in text  # the LADO step waits for that decision
    assert "Report it to" not in text  # never a platform's own route for possible sexual images of a child
    assert "Keep screenshots" not in text  # never for possible images of under-18s
    assert "behaviour policy" in text and "Identify any learners" in text


async def test_ticking_an_item_is_an_event_with_who_and_when(bot, dsl: Chat, clock):
    await dsl.pick(f"case:{REF}:plan")
    await dsl.pick(f"case:{REF}:tick:investigation.who_behind")
    assert dsl.keys == ["case.plan.ticked"]
    assert "\u2713 Find out, without contacting the account" in dsl.last[0].text
    case = await bot.store.get_case("default", REF)
    (tick,) = [e for e in await bot.store.case_events(case.id) if e.kind == "plan_ticked"]
    assert (tick.actor, tick.detail, tick.at) == ("console:dsl", {"item": "investigation.who_behind"}, clock.now)
    await dsl.pick(f"case:{REF}:tick:investigation.who_behind")  # ticking again records nothing more
    assert len([e for e in await bot.store.case_events(case.id) if e.kind == "plan_ticked"]) == 1


async def test_recording_an_action_ticks_the_item_it_completes(bot, dsl: Chat):
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick("reported_to_platform")
    await dsl.say("IG-1234")
    await dsl.pick(f"case:{REF}:plan")
    assert "\u2713 Report it to Instagram" in dsl.last[0].text


async def test_a_case_closes_without_a_reason_only_when_every_required_item_is_done(bot, dsl: Chat):
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("content_removed")
    await dsl.say("skip")
    assert dsl.keys == ["case_close.open_items_reason.ask"]
    await dsl.say("skip")  # no reason: not closed, asked again, nothing lost
    assert dsl.keys == ["case.close_reason_required", "case_close.open_items_reason.ask"]
    assert (await bot.store.get_case("default", REF)).status != CaseStatus.CLOSED
    await dsl.say("stop")

    for item in ("investigation.who_behind", "support.reporter_support", "report.platform.instagram"):
        await dsl.pick(f"case:{REF}:tick:{item}")
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("content_removed")
    await dsl.say("skip")
    assert dsl.keys == ["case.closed"]  # nothing required open: no reason asked
    closed = next(
        e for e in await bot.store.case_events((await bot.store.get_case("default", REF)).id) if e.kind == "closed"
    )
    assert "reason" not in closed.detail


async def test_the_report_pack_gives_the_routes_that_fit_a_description_and_a_posh_draft(bot, dsl: Chat, content):
    await dsl.pick(f"case:{REF}:pack")
    assert dsl.keys == ["case.pack.intro", "case.pack.route", "case.pack.route", "case.pack.posh_guidance",
                        "case.pack.description", "case.pack.posh_email"]
    instagram = next(r for r in content.facts.platforms["instagram"].routes if "impersonation_person" in r.harms)
    route = dsl.last[1].text
    assert "impersonation" in route.lower() and "Why this route" in route
    assert str(instagram.web_form) in route and instagram.category in route and "ID" in route
    assert "Bullying or harassment" in dsl.last[2].text  # an account targeting staff may mock rather than pose
    description = dsl.reply("case.pack.description").text
    assert "targeting a member of our staff" in description
    assert r"https\://instagram.com/fake\_hillside" in description
    assert "school website" not in description  # the reporter's own words are never pasted
    posh = dsl.reply("case.pack.posh_email").text
    assert "helpline@saferinternet.org.uk" in posh and REF in posh and "No images are attached" in posh
    assert "We are a school in England." in posh


async def test_the_pack_can_go_to_the_person_impersonated(bot, dsl: Chat, chat: Chat):
    await dsl.pick(f"case:{REF}:pack")
    assert [c.id for c in dsl.reply("case.pack.posh_email").choices] == [f"case:{REF}:pack_reporter",
                                                                           f"case:{REF}:show"]  # and the way back
    await dsl.pick(f"case:{REF}:pack_reporter")
    assert dsl.keys == ["case.pack.sent_to_reporter"]
    await chat.open()
    assert chat.keys[:2] == ["case.pack.for_reporter", "case.pack.route"]
    assert "Instagram" in chat.last[1].text
    case = await bot.store.get_case("default", REF)
    assert "pack_sent_to_reporter" in [e.kind for e in await bot.store.case_events(case.id)]


async def test_the_pack_never_uses_the_names_given(bot, chat: Chat):
    await walk(chat, ["I'm being targeted", ["targeting_staff"], ["no"], ["tiktok"], "@fake", "today",
                      "Mocking videos of a colleague", ["other_staff"], "Priya Shah in Year 8 made it", ["done"],
                      ["nobody"], ["learner"], "skip", ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:pack")
    assert "Priya" not in " ".join(r.text for r in dsl.last)
    assert "case:OSB-2026-0001:pack_reporter" not in dsl.choice_ids()  # not an impersonation of the reporter
