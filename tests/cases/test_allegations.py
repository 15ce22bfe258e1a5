"""Allegations about staff as KCSIE Part four has them, seen from each reader's card: the case manager's harm-
threshold decision and the plan steps it makes required, guidance addressed to each reader at the top of the card
(Slack, Teams and the console), and escalation that keeps to routing's exclusions."""

from __future__ import annotations

import pytest

from bot.cases.plan import open_required
from bot.channels.console import to_text
from bot.channels.slack.blocks import card_blocks
from bot.channels.teams.cards import case_blocks
from bot.conversation.engine import Engine
from bot.core.models import Role, StaffMember
from testing.chat import Chat, walk

REF = "OSB-2026-0001"


def allegation(about: str = "other_staff", description: str = "Posts say Mr Smith is a rubbish teacher",
               appears: list[str] | None = None, names: str = "skip") -> list:
    return ["rumours about a teacher", ["allegation"], ["no"], [about], ["facebook"],
            "skip", "skip", description, appears or ["other_staff"], names, ["done"], ["nobody"], ["no_idea"], ["send"]]


async def card_of(bot, user: str):
    reader = Chat(bot, user)
    await reader.open()
    return reader, reader.reply("case.new_card").card


# --- guidance addressed to the reader -----------------------------------------------------------------


async def test_the_case_manager_reads_that_they_are_the_case_manager_with_the_lado_deadline(bot, chat: Chat):
    await walk(chat, allegation())  # Friday 20 November 2026, 21:30
    _, card = await card_of(bot, "console:head")
    assert card.notice[0].startswith("**You are the case manager for this allegation.**")
    assert "tell the LADO by the end of **Monday 23 November 2026**" in card.notice[0]
    assert "may not be suitable to work with children" in card.notice[0]  # the harm test itself
    assert "Don't tell the colleague concerned" in card.notice[1] and "until the LADO has advised" in card.notice[1]
    assert not any("report it straight away to the headteacher" in g for g in card.notice + card.guidance)


async def test_the_chair_reads_that_the_head_is_the_subject(bot, chat: Chat):
    await walk(chat, allegation("headteacher", "Posts about the head", ["headteacher"]))
    _, card = await card_of(bot, "console:chair")
    assert card.notice[0].startswith("**The headteacher is the subject of this allegation: do not tell them")
    assert "Monday 23 November 2026" in card.notice[0]
    assert "until the LADO has advised" in card.notice[1]


async def test_the_dsl_reads_their_own_part_the_childs_welfare(bot, chat: Chat):
    await walk(chat, allegation())
    _, card = await card_of(bot, "console:dsl")
    assert "The case manager (the headteacher) deals with the LADO" in card.notice[0]
    assert "welfare of any child" in card.notice[0]
    assert "You are the case manager" not in " ".join(card.notice)


async def test_the_lado_deadline_skips_the_school_holiday(bot, chat: Chat, clock):
    clock.now = clock.now.replace(year=2026, month=12, day=18, hour=10)  # the last day of the autumn term
    await walk(chat, allegation())
    _, card = await card_of(bot, "console:head")
    assert "Tuesday 5 January 2027" in card.notice[0]  # after the holiday and the INSET day on the 4th


async def test_the_notice_is_at_the_top_of_the_card_on_slack_teams_and_the_console(bot, chat: Chat, content):
    """Just after the card's two summary lines (what, where, since when, how urgent; what is due next)."""
    await walk(chat, allegation())
    head, card = await card_of(bot, "console:head")
    blocks = card_blocks(card)
    assert blocks[0]["type"] == "header"
    assert blocks[1]["type"] == "section" and "Rumours or allegations about staff" in blocks[1]["text"]["text"]
    assert blocks[2]["type"] == "section" and "You are the case manager" in blocks[2]["text"]["text"]
    items = case_blocks(card)[0]["items"]
    assert "Rumours or allegations about staff" in str(items[1]) and "Due next" in str(items[2])
    assert "isSubtle" not in items[3] and "You are the case manager" in str(items[3])
    lines = to_text([head.reply("case.new_card")], content).splitlines()
    top = next(n for n, line in enumerate(lines) if line.startswith("  ┌"))
    assert "Due next" in lines[top + 2] and "You are the case manager" in lines[top + 3]


async def test_a_case_that_is_not_an_allegation_has_no_notice(bot, chat: Chat, report_steps):
    await walk(chat, report_steps + [["send"]])
    _, card = await card_of(bot, "console:dsl")
    assert card.notice == []


# --- the harm threshold -------------------------------------------------------------------------------


async def decide(bot, user: str, decision: str) -> Chat:
    reader = Chat(bot, user)
    await reader.pick(f"case:{REF}:threshold")
    await reader.pick(f"case:{REF}:threshold:{decision}")
    return reader


async def required_open(bot) -> list[str]:
    case = await bot.store.get_case("default", REF)
    return [e.id for e in open_required(await bot.casework.plan_of(await bot.schools.scope(case.school_id), case))]


async def test_before_a_decision_only_the_harm_test_is_required_not_the_lado(bot, chat: Chat):
    await walk(chat, allegation())
    open_ids = await required_open(bot)
    assert "report.harm_test" in open_ids and "report.lado" not in open_ids and "report.lado_consult" not in open_ids


async def test_the_case_manager_is_asked_the_harm_test_with_four_answers(bot, chat: Chat):
    await walk(chat, allegation())
    head = Chat(bot, "console:head")
    await head.pick(f"case:{REF}:threshold")
    ask = head.reply("case.threshold.ask")
    assert "may have harmed a child" in ask.text
    assert [c.id for c in ask.choices] == [f"case:{REF}:threshold:{d}" for d in
                                           ("meets", "not_sure", "low_level", "harassment")]


@pytest.mark.parametrize("decision,required,not_required", [
    ("meets", "report.lado", ["report.lado_consult", "report.low_level_concern", "report.staff_harassment"]),
    ("not_sure", "report.lado_consult", ["report.lado", "report.low_level_concern", "report.staff_harassment"]),
    ("low_level", "report.low_level_concern", ["report.lado", "report.lado_consult", "report.staff_harassment"]),
    ("harassment", "report.staff_harassment", ["report.lado", "report.lado_consult", "report.low_level_concern"]),
])
async def test_each_threshold_decision_makes_its_own_steps_required(bot, chat: Chat, decision, required, not_required):
    await walk(chat, allegation())
    head = await decide(bot, "console:head", decision)
    assert head.keys == ["case.threshold.recorded", "case.plan.show"]
    open_ids = await required_open(bot)
    assert required in open_ids and "report.harm_test" not in open_ids
    assert not set(not_required) & set(open_ids)
    case = await bot.store.get_case("default", REF)
    (event,) = [e for e in await bot.store.case_events(case.id) if e.kind == "threshold_decided"]
    assert event.actor == "console:head" and event.detail == {"decision": decision}


async def test_recording_the_lado_as_informed_completes_the_lado_step(bot, chat: Chat):
    await walk(chat, allegation())
    head = await decide(bot, "console:head", "meets")
    assert "report.lado" in await required_open(bot)
    await head.pick(f"case:{REF}:action")
    await head.pick("lado_informed")
    await head.say("Spoke to the LADO at 9am")
    assert "report.lado" not in await required_open(bot)


async def test_only_the_case_manager_records_the_decision(bot, chat: Chat):
    await walk(chat, allegation())
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:threshold:meets")
    assert dsl.keys == ["case.threshold.case_manager_only"]
    assert "report.harm_test" in await required_open(bot)


async def test_the_chair_is_case_manager_for_an_allegation_about_the_head(bot, chat: Chat):
    await walk(chat, allegation("headteacher", "Posts about the head", ["headteacher"]))
    await decide(bot, "console:chair", "not_sure")
    assert "report.lado_consult" in await required_open(bot)


# --- escalation and reminders keep to the exclusions ----------------------------------------------------


async def test_escalation_never_reaches_a_head_who_is_also_the_dsl_about_whom_the_allegation_is(bot, chat, store,
                                                                                                  clock):
    await store.remove_staff("default", "console:dsl")
    await store.upsert_staff(StaffMember(user="console:head", roles=[Role.HEADTEACHER, Role.DSL], name="Alex Morgan"))
    await walk(chat, allegation("headteacher", "Posts about Mr A Morgan", ["headteacher"]))
    scheduler = bot_scheduler(bot)
    clock.advance(days=10)
    await scheduler.tick()
    case = await bot.store.get_case("default", REF)
    assert not case.is_routed_to("console:head")
    head = Chat(bot, "console:head")
    await head.open()
    assert not [k for k in head.keys if k.startswith(("case.", "reminders."))]


async def test_an_allegation_kept_with_no_chair_goes_to_the_chair_once_added(bot, chat, store, clock):
    await store.remove_staff("default", "console:chair")
    await walk(chat, allegation("headteacher", "Posts about the head", ["headteacher"]))
    assert not (await bot.store.get_case("default", REF)).is_routed_to("console:chair")
    await store.upsert_staff(StaffMember(user="console:chair", roles=[Role.CHAIR_OF_GOVERNORS], name="Chris Wood"))
    clock.advance(minutes=1)
    await bot_scheduler(bot).tick()
    case = await bot.store.get_case("default", REF)
    assert case.is_routed_to("console:chair") and not case.is_routed_to("console:head")
    chair = Chat(bot, "console:chair")
    await chair.open()
    assert chair.reply("case.new_card").card.notice[0].startswith("**The headteacher is the subject")


def bot_scheduler(bot):
    from bot.app.scheduler import Scheduler

    return Scheduler(bot.store, bot.settings, bot.schools, bot.clock)


# --- what staff are promised -----------------------------------------------------------------------------


async def test_the_greeting_says_truthfully_who_may_see_a_report(bot):
    teacher = Chat(bot, "console:teacher")
    await teacher.open()
    text = teacher.reply("common.greeting").text
    assert "goes only to" not in text
    assert "headteacher" in text and "chair of governors" in text and "never to the person it is about" in text
    assert "never your report" in text  # early warning shares an account's name, nothing else


def test_support_says_the_case_manager_works_with_the_lado(content):
    text = content.text("support.in_school", people="Dana Lee")
    assert "the DSL works with" in text and "case manager" in text
    assert text.index("case manager") < text.index("LADO")


# --- urgency --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("description,appears", [
    ("Posts claim Mr Smith kissed a year 10 girl", ["other_staff"]),
    ("Says a teacher is in a relationship with a pupil", ["other_staff"]),
    ("Claims Mr Smith hit someone in class", ["other_staff", "learners"]),
    ("a page saying mr smith is a paedo", ["other_staff"]),  # the word itself says a sexual risk to children
    ("calling sir a nonce", ["other_staff"]),
])
async def test_an_allegation_of_a_sexual_or_physical_nature_involving_a_learner_is_urgent(bot, chat: Chat,
                                                                                          description, appears):
    await walk(chat, allegation(description=description, appears=appears))
    case = await bot.store.get_case("default", REF)
    assert case.urgent and not case.possible_images
    flagged = [e for e in await bot.store.case_events(case.id) if e.kind == "flagged_urgent"]
    assert flagged and description not in str(flagged[0].detail)  # the reason and the word, never the text
    _, card = await card_of(bot, "console:head")
    assert card.urgent and card.title.startswith("URGENT")
    plan = [e.id for e in await bot.casework.plan_of(await bot.schools.scope(case.school_id), case)]
    assert "evidence.no_images" not in plan and "report.iwf" not in plan  # those are for possible images


@pytest.mark.parametrize("description,appears", [
    ("Memes saying Mr Smith is a rubbish teacher with bad breath", ["other_staff"]),
    ("Claims Mr Smith hit his car on the gate", ["other_staff"]),  # physical, but no learner
])
async def test_other_allegations_are_not_urgent(bot, chat: Chat, description, appears):
    await walk(chat, allegation(description=description, appears=appears))
    assert not (await bot.store.get_case("default", REF)).urgent


# --- low-level concerns -----------------------------------------------------------------------------------


def low_level(about: str = "other_staff", description: str = "Mr Smith follows pupils from his personal Instagram",
              appears: list[str] | None = None) -> list:
    return ["I want to report something", ["low_level_concern"], ["no"], [about], ["instagram"], "skip", "skip",
            description, appears or ["other_staff", "learners"], "skip", ["done"], ["nobody"], ["no_idea"], ["send"]]


async def test_a_low_level_concern_is_its_own_category_kept_apart_from_allegations(bot, chat: Chat):
    await walk(chat, low_level())
    case = await bot.store.get_case("default", REF)
    assert case.categories == ["low_level_concern"] and not case.urgent
    assert {r.user: r.reason for r in case.routed_to} == {"console:dsl": "dsl", "console:deputy": "deputy_dsl"}
    plan = [e.id for e in await bot.casework.plan_of(await bot.schools.scope(case.school_id), case)]
    assert "report.low_level_record" in plan
    assert not {"report.harm_test", "report.lado", "report.lado_consult"} & set(plan)
    dsl, card = await card_of(bot, "console:dsl")
    assert card.notice[0].startswith("**This is a low-level concern about a colleague's conduct, not an allegation.**")
    assert f"case:{REF}:threshold" not in [c.id for c in dsl.reply("case.new_card").choices]


async def test_a_self_referral_never_goes_back_to_the_reporter(bot, chat: Chat):
    deputy = Chat(bot, "console:deputy")
    await walk(deputy, low_level("me", "I accepted a follow request from a pupil by mistake", ["me", "learners"]))
    case = await bot.store.get_case("default", REF)
    assert {r.user for r in case.routed_to} == {"console:dsl"}
    assert "The person it is about has not been sent it" in deputy.reply("report.allegation_sent_to").text


def head_first(bot: Engine) -> Chat:
    """The teacher's chat with a deployment set to send low-level concerns to the headteacher first."""
    settings = bot.settings.model_copy(update={"low_level_concerns_to": "headteacher"})
    return Chat(Engine(bot.content, bot.store, settings, clock=bot.clock))


async def test_the_school_may_send_low_level_concerns_to_the_head_first(bot):
    chat = head_first(bot)
    await walk(chat, low_level())
    case = await bot.store.get_case("default", REF)
    assert case.routed_to[0].user == "console:head" and case.routed_to[0].reason == "low_level_concern"


async def test_a_low_level_concern_about_the_head_goes_to_the_chair_never_the_head(bot):
    chat = head_first(bot)
    await walk(chat, low_level("headteacher", "The head follows pupils on TikTok", ["headteacher", "learners"]))
    case = await bot.store.get_case("default", REF)
    assert {r.user: r.reason for r in case.routed_to}["console:chair"] == "low_level_about_headteacher"
    assert not case.is_routed_to("console:head")
    assert "headteacher has not been sent it" in chat.reply("report.allegation_sent_to").text


# --- reminders read every role ----------------------------------------------------------------------------


def test_reminders_reach_a_head_who_is_also_the_dsl_and_never_anyone_barred():
    from bot.cases.reminders import reminder_recipients
    from bot.core.models import Case, Route

    head_dsl = StaffMember(user="console:head", roles=[Role.HEADTEACHER, Role.DSL], name="Alex Morgan")
    deputy = StaffMember(user="console:deputy", roles=[Role.DEPUTY_DSL], name="Sam Patel")
    chair = StaffMember(user="console:chair", roles=[Role.CHAIR_OF_GOVERNORS], name="Chris Wood")
    staff = [head_dsl, deputy, chair]
    case = Case(
        draft_id="d",
        categories=["allegation"],
        reporter="console:teacher",
        content_version="t",
        answers={"allegation_about": "other_staff"},
        routed_to=[
            Route(user="console:head", role=Role.HEADTEACHER, reason="allegation_case_manager"),
            Route(user="console:deputy", role=Role.DEPUTY_DSL, reason="deputy_dsl"),
            Route(user="console:chair", role=Role.CHAIR_OF_GOVERNORS, reason="escalated_not_acknowledged"),
        ],
    )
    # Routed as case manager, the head is still a DSL: reminded as one; the chair is not a DSL.
    assert reminder_recipients(case, staff) == ["console:head", "console:deputy"]
    # Read as about the head ("not sure", the head ticked): the head is never reminded of it.
    named = case.model_copy(update={"answers": {"allegation_about": "not_sure", "who_appears": ["headteacher"]}})
    assert reminder_recipients(named, staff) == ["console:deputy"]


async def test_the_safeguarding_record_names_the_urgency_and_the_threshold_decision_truly(bot, chat: Chat):
    from bot.cases.record import build_record

    await walk(chat, allegation(description="Posts claim Mr Smith kissed a year 10 girl"))
    await decide(bot, "console:head", "meets")
    case = await bot.store.get_case("default", REF)
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:head", fmt="md"
    )
    lines = [e.what for e in record.chronology]
    assert "Marked urgent: an allegation of a sexual or physical nature involving a learner" in lines
    assert not any("sexual images" in line for line in lines)
    assert "Harm-threshold decision: Meets the threshold: tell the LADO" in lines
    decided = next(e for e in record.chronology if e.kind == "threshold_decided")
    assert decided.by.name == "Alex Morgan"


async def test_access_reads_every_role_a_teacher_who_is_also_a_deputy_has_the_handlers_menu(bot, store):
    await store.upsert_staff(StaffMember(user="console:jo", roles=[Role.STAFF, Role.DEPUTY_DSL], name="Jo Green"))
    await store.upsert_staff(StaffMember(user="console:kim", roles=[Role.STAFF], name="Kim Ash"))
    jo, kim = Chat(bot, "console:jo"), Chat(bot, "console:kim")
    await jo.open()
    await kim.open()
    assert "menu:stats" in [c.id for c in jo.reply("menu.ask_first").choices]
    assert "menu:stats" not in [c.id for c in kim.reply("menu.ask_first").choices]


async def test_an_urgent_allegation_about_a_dsl_does_not_send_the_reporter_to_the_dsl(bot, chat: Chat):
    await walk(chat, allegation("dsl", "Posts claim Dana touched a year 9 pupil", ["other_staff", "learners"]))
    assert (await bot.store.get_case("default", REF)).urgent
    sent = chat.reply("report.sent")
    assert sent.urgent and "speak to the DSL" not in sent.text and "report.sent_urgent" not in chat.keys
    assert "The person it is about has not been sent it" in chat.reply("report.allegation_sent_to").text
