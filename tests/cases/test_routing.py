"""Every routing rule, on the pure function and through a real report.

Allegations follow KCSIE Part four: never to the person it is about, whatever other roles they hold; the
headteacher is the case manager, or the chair of governors when it is (or may be) about the head."""

from __future__ import annotations

import pytest

from bot.cases.routing import named_in, route_case, routing_gaps
from bot.core.models import Role, StaffMember
from testing.chat import Chat, walk
from tests.conftest import STAFF


def users(routes):
    return {r.user: r.reason for r in routes}


def member(user: str, *roles: Role, name: str) -> StaffMember:
    return StaffMember(user=f"console:{user}", roles=list(roles), name=name)


DSL = member("dsl", Role.DSL, name="Dana Lee")
DEPUTY = member("deputy", Role.DEPUTY_DSL, name="Sam Patel")
HEAD = member("head", Role.HEADTEACHER, name="Alex Morgan")
CHAIR = member("chair", Role.CHAIR_OF_GOVERNORS, name="Chris Wood")
TEACHER = member("teacher", Role.STAFF, name="Jo Brown")
HEAD_DSL = member("head", Role.HEADTEACHER, Role.DSL, name="Alex Morgan")
DEPUTY_TEACHER = member("deputy", Role.DEPUTY_DSL, Role.STAFF, name="Sam Patel")

DIRECTORIES = {
    "standard": [DSL, DEPUTY, HEAD, CHAIR, TEACHER],
    "head_is_dsl": [HEAD_DSL, DEPUTY, CHAIR, TEACHER],
    "deputy_also_teacher": [DSL, DEPUTY_TEACHER, HEAD, CHAIR, TEACHER],
    "no_chair": [DSL, DEPUTY, HEAD, TEACHER],
    "head_only_handler": [HEAD_DSL, TEACHER],
}
ABOUT = ["me", "other_staff", "headteacher", "dsl", "not_sure"]
# The same people as reporters write them: (text, who it names).
NAMES = [
    ("", None),
    ("Mr A Morgan", "console:head"),
    ("Mr. A. Morgan (head)", "console:head"),
    ("Morgan", "console:head"),
    ("alex", "console:head"),
    ("the head", "console:head"),
    ("@alexmorgan_out", "console:head"),
    ("Mrs Morgon", "console:head"),
    ("Dana", "console:dsl"),
    ("Ms Lee", "console:dsl"),
    ("Mr Patel", "console:deputy"),
    ("S. Patel, who teaches year 9", "console:deputy"),
]


def route(about: str, staff: list[StaffMember], names: str = "", reporter: str = "console:teacher",
          appears: list[str] | None = None):
    answers = {"allegation_about": about, "who_appears": appears or [], "names": names}
    return route_case(["allegation"], answers, reporter, staff, [names] if names else [])


# --- the whole matrix: what must hold whatever the combination ------------------------------------


@pytest.mark.parametrize("directory", DIRECTORIES)
@pytest.mark.parametrize("about", ABOUT)
@pytest.mark.parametrize("names,named", NAMES)
def test_an_allegation_never_reaches_its_subject_and_never_goes_nowhere_silently(directory, about, names, named):
    staff = DIRECTORIES[directory]
    for reporter in ("console:teacher", "console:head", "console:dsl"):
        routing = route(about, staff, names, reporter=reporter)
        routed = set(users(routing.routes))
        assert reporter not in routed
        assert not routed & routing.barred
        if named and any(m.user == named for m in staff):
            assert named not in routed, "a person the report names never receives it"
        about_head = about == "headteacher" or (about == "me" and reporter == "console:head") \
            or named == "console:head"
        if about_head:
            assert not [m for m in staff if m.has(Role.HEADTEACHER) and m.user in routed]
            assert routing.about == "headteacher"
        if about == "dsl" and not named:
            assert not [m for m in staff if m.has(Role.DSL, Role.DEPUTY_DSL) and m.user in routed]
        if not routing.routes or (about_head and "console:chair" not in routed):
            assert routing.contact_directly, "the reporter must be told whom to contact"


# --- who gets it, case by case -----------------------------------------------------------------------


def test_every_case_goes_to_the_dsl_and_deputies():
    routing = route_case(["school_impersonation"], {}, "console:teacher", STAFF, [])
    assert users(routing.routes) == {"console:dsl": "dsl", "console:deputy": "deputy_dsl"}
    assert routing.excluded == [] and routing.contact_directly == []


def test_several_deputies_all_receive_it():
    staff = STAFF + [StaffMember(user="console:deputy2", role=Role.DEPUTY_DSL, name="Lee Cho")]
    routing = route_case(["targeting_me"], {}, "console:teacher", staff, [])
    assert set(users(routing.routes)) == {"console:dsl", "console:deputy", "console:deputy2"}


def test_allegation_about_staff_goes_to_the_head_as_case_manager_first():
    routing = route("other_staff", DIRECTORIES["standard"])
    assert [(r.user, r.reason) for r in routing.routes] == [
        ("console:head", "allegation_case_manager"), ("console:dsl", "dsl"), ("console:deputy", "deputy_dsl")]
    assert routing.about == "staff"


def test_allegation_about_the_headteacher_goes_to_the_chair_and_never_the_head():
    routing = route("headteacher", DIRECTORIES["standard"])
    assert users(routing.routes) == {"console:chair": "allegation_about_headteacher", "console:dsl": "dsl",
                                     "console:deputy": "deputy_dsl"}
    assert users(routing.excluded) == {"console:head": "allegation_about_headteacher"}


def test_a_head_who_is_also_the_dsl_never_receives_an_allegation_about_the_head():
    routing = route("headteacher", DIRECTORIES["head_is_dsl"])
    assert users(routing.routes) == {"console:chair": "allegation_about_headteacher", "console:deputy": "deputy_dsl"}
    assert users(routing.excluded) == {"console:head": "allegation_about_headteacher"}


def test_a_head_who_is_also_the_dsl_is_the_case_manager_for_other_staff():
    routing = route("other_staff", DIRECTORIES["head_is_dsl"])
    assert users(routing.routes) == {"console:head": "allegation_case_manager", "console:deputy": "deputy_dsl"}


def test_not_sure_with_the_head_ticked_and_written_as_mr_a_morgan_counts_as_about_the_head():
    """The red team's case: "Not sure", the headteacher ticked under who appears, the head as "Mr A Morgan"."""
    routing = route("not_sure", DIRECTORIES["standard"], "Mr A Morgan", appears=["headteacher", "learners"])
    assert "console:head" not in users(routing.routes)
    assert users(routing.routes)["console:chair"] == "allegation_about_headteacher"
    # Ticking the head is enough without a name.
    routing = route("not_sure", DIRECTORIES["standard"], appears=["headteacher"])
    assert routing.about == "headteacher" and "console:head" in routing.barred


def test_not_sure_without_the_head_goes_to_the_head_as_case_manager():
    routing = route("not_sure", DIRECTORIES["standard"], appears=["other_staff"])
    assert users(routing.routes)["console:head"] == "allegation_case_manager"


def test_headteacher_reporting_an_allegation_about_themselves_goes_to_the_chair():
    routing = route("me", DIRECTORIES["standard"], reporter="console:head")
    routed = users(routing.routes)
    assert "console:head" not in routed and routed["console:chair"] == "allegation_about_headteacher"


def test_allegation_about_a_named_dsl_goes_to_the_head_and_the_other_safeguarding_staff():
    routing = route("dsl", DIRECTORIES["standard"], "Dana")
    assert users(routing.routes) == {"console:head": "allegation_case_manager", "console:deputy": "deputy_dsl"}
    assert users(routing.excluded) == {"console:dsl": "named_in_report"}


def test_allegation_about_an_unnamed_dsl_or_deputy_reaches_none_of_them():
    routing = route("dsl", DIRECTORIES["standard"])
    assert users(routing.routes) == {"console:head": "allegation_case_manager"}
    assert users(routing.excluded) == {"console:dsl": "allegation_about_dsl", "console:deputy": "allegation_about_dsl"}


def test_allegation_about_an_unnamed_dsl_where_the_head_is_a_dsl_goes_to_the_chair():
    routing = route("dsl", DIRECTORIES["head_is_dsl"])
    assert users(routing.routes) == {"console:chair": "allegation_about_headteacher"}
    assert {"console:head", "console:deputy"} <= routing.barred


def test_a_deputy_who_also_teaches_named_in_the_report_is_kept_off_it():
    routing = route("other_staff", DIRECTORIES["deputy_also_teacher"], "S. Patel, who teaches year 9")
    assert users(routing.routes) == {"console:head": "allegation_case_manager", "console:dsl": "dsl"}
    assert users(routing.excluded) == {"console:deputy": "named_in_report"}


def test_a_dsl_named_only_by_first_name_never_receives_it():
    routing = route("other_staff", DIRECTORIES["standard"], "Posts say Dana is lying to parents")
    assert "console:dsl" not in users(routing.routes)
    assert users(routing.excluded) == {"console:dsl": "named_in_report"}


def test_with_no_chair_an_allegation_about_the_head_tells_the_reporter_whom_to_contact():
    routing = route("headteacher", DIRECTORIES["no_chair"])
    assert users(routing.routes) == {"console:dsl": "dsl", "console:deputy": "deputy_dsl"}
    assert routing.contact_directly == ["chair_of_governors", "lado"]


def test_where_the_head_is_the_only_handler_an_allegation_about_them_goes_to_no_one_and_says_so():
    routing = route("headteacher", DIRECTORIES["head_only_handler"])
    assert routing.routes == []
    assert routing.contact_directly == ["chair_of_governors", "lado"]


def test_an_allegation_with_no_head_in_the_directory_has_no_case_manager_and_says_so():
    routing = route("other_staff", [DSL, DEPUTY, TEACHER])
    assert set(users(routing.routes)) == {"console:dsl", "console:deputy"}
    assert routing.contact_directly == ["headteacher", "lado"]


def test_a_person_named_in_the_report_never_receives_it():
    routing = route_case(["allegation"], {"allegation_about": "other_staff"}, "console:teacher", STAFF,
                         ["The page says Dana Lee is lying"])
    assert "console:dsl" not in users(routing.routes)
    assert users(routing.excluded) == {"console:dsl": "named_in_report"}
    assert "console:deputy" in users(routing.routes)


def test_a_dsl_who_reports_is_not_their_own_route():
    routing = route_case(["targeting_me"], {}, "console:dsl", STAFF, [])
    assert users(routing.routes) == {"console:deputy": "deputy_dsl"}
    assert users(routing.excluded) == {"console:dsl": "reporter"}


def test_with_no_dsl_left_the_headteacher_receives_it_so_it_is_not_lost():
    staff = [m for m in STAFF if not m.has(Role.DEPUTY_DSL)]
    routing = route_case(["targeting_me"], {}, "console:dsl", staff, [])
    assert users(routing.routes) == {"console:head": "no_dsl_available"}


def test_with_nobody_in_the_directory_nobody_is_routed_and_the_reporter_is_told_to_see_the_dsl():
    routing = route_case(["targeting_me"], {}, "console:teacher", [], [])
    assert routing.routes == [] and routing.contact_directly == ["dsl"]


# --- names, as people write them ---------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "they said dana lee was", "Ms Lee posted", "Ms. Lee posted", "Dana from Year 9", "D. Lee", "Mrs D Lee",
    "@danalee_fan", "https://tiktok.com/@fake.dana.lee", "posts about lee's car",
])
def test_names_match_as_people_write_them(text):
    assert named_in(text, DSL)


@pytest.mark.parametrize("text", ["Mr A Morgan", "Morgan", "Mr Morgon", "Alex", "alexmorgan99 on insta"])
def test_the_head_is_matched_by_surname_initials_a_slip_or_a_handle(text):
    assert named_in(text, HEAD)


@pytest.mark.parametrize("text", ["Leeds United fans", "a deal was done", "Jolene posted", "the head of year 9"])
def test_names_do_not_match_inside_other_words(text):
    assert not named_in(text, DSL) and not named_in(text, TEACHER)
    assert not named_in(text, HEAD, [Role.HEADTEACHER])


def test_a_role_written_instead_of_a_name_counts_only_in_an_allegation():
    assert named_in("the head posted it", HEAD, [Role.HEADTEACHER])
    assert not named_in("the head posted it", HEAD)
    impersonation = route_case(["school_impersonation"], {}, "console:teacher", DIRECTORIES["standard"],
                               ["I told the head already"])
    assert impersonation.excluded == []


# --- the directory's gaps, for the operator -----------------------------------------------------------


def test_routing_gaps_name_what_the_directory_cannot_route():
    assert routing_gaps(DIRECTORIES["standard"]) == []
    assert routing_gaps(DIRECTORIES["no_chair"]) == ["no_chair"]
    assert routing_gaps(DIRECTORIES["head_only_handler"]) == ["no_chair"]
    assert routing_gaps([TEACHER]) == ["no_chair", "no_head", "no_dsl"]
    assert routing_gaps([]) == []


# --- through a real report ----------------------------------------------------------------------------


async def test_routing_reasons_are_recorded_on_the_case(chat: Chat, bot):
    await walk(chat, [
        "I need to report something", ["allegation"], ["no"], ["headteacher"],
        ["facebook"], "skip", "skip", "Posts say the head was arrested", ["headteacher"], "Alex Morgan",
        ["done"], ["nobody"], ["no_idea"], ["send"],
    ])
    (case,) = await bot.store.list_cases("default")
    assert users(case.routed_to) == {
        "console:dsl": "dsl", "console:deputy": "deputy_dsl", "console:chair": "allegation_about_headteacher",
    }
    routed_event = next(e for e in await bot.store.case_events(case.id) if e.kind == "routed")
    assert {r["user"]: r["reason"] for r in routed_event.detail["excluded"]} == {
        "console:head": "allegation_about_headteacher"}

    head = Chat(bot, "console:head")
    await head.open()
    assert "case.new_card" not in head.keys
    chair = Chat(bot, "console:chair")
    await chair.open()
    fields = dict(chair.reply("case.new_card").card.fields)
    assert "chair of governors is the case manager" in fields["Sent to you because"]


async def test_a_head_entered_as_head_and_dsl_gets_no_card_about_themselves(chat: Chat, bot, store):
    await store.remove_staff("default", "console:dsl")
    await store.upsert_staff(HEAD_DSL)
    await walk(chat, [
        "I need to report something", ["allegation"], ["no"], ["not_sure"],
        ["facebook"], "skip", "skip", "It says Mr A Morgan bullies staff", ["headteacher"], "Mr A. Morgan (head)",
        ["done"], ["nobody"], ["no_idea"], ["send"],
    ])
    (case,) = await bot.store.list_cases("default")
    assert set(users(case.routed_to)) == {"console:chair", "console:deputy"}
    head = Chat(bot, "console:head")
    await head.open()
    assert "case.new_card" not in head.keys


def allegation_report(about: str, description: str, names: str, appears: list[str]) -> list[str | list[str]]:
    return ["there's an account spreading rumours about a teacher", ["allegation"], ["no"], [about], ["facebook"],
            "skip", "skip", description, appears, names, ["done"], ["nobody"], ["no_idea"], ["send"]]


async def test_the_reporter_is_told_who_was_sent_it_by_role_and_that_the_head_was_not(chat: Chat, bot):
    await walk(chat, allegation_report("headteacher", "Posts say the head shouts at pupils", "skip", ["headteacher"]))
    text = chat.reply("report.allegation_sent_to").text
    assert "the chair of governors, the DSL and a deputy DSL" in text
    assert "The headteacher has not been sent it" in text
    assert "report.contact_directly" not in chat.keys


async def test_the_reporter_is_told_a_named_colleague_was_not_sent_it(chat: Chat, bot):
    await walk(chat, allegation_report("dsl", "Posts say Dana is lying", "Dana", ["other_staff"]))
    text = chat.reply("report.allegation_sent_to").text
    assert "the headteacher and a deputy DSL" in text and "The person it is about has not been sent it" in text


async def test_an_unnamed_colleague_means_the_reporter_is_asked_to_go_to_the_head(chat: Chat, bot):
    await walk(chat, allegation_report("other_staff", "Posts say a teacher is cruel", "skip", ["other_staff"]))
    assert "please tell the headteacher" in chat.reply("report.allegation_sent_to").text


async def test_with_no_chair_the_reporter_is_told_to_contact_the_chair_or_the_lado(chat: Chat, bot, store):
    await store.remove_staff("default", "console:chair")
    await walk(chat, allegation_report("headteacher", "Posts about the head", "skip", ["headteacher"]))
    assert "the DSL and a deputy DSL" in chat.reply("report.allegation_sent_to").text
    contact = chat.reply("report.contact_directly").text
    assert "the chair of governors" in contact and "LADO" in contact and "0 people" not in contact


async def test_where_the_head_is_the_only_handler_the_report_is_kept_and_the_reporter_told_whom_to_contact(
        chat: Chat, bot, store):
    for user in ("console:chair", "console:dsl", "console:deputy"):
        await store.remove_staff("default", user)
    await store.upsert_staff(HEAD_DSL)
    await walk(chat, allegation_report("headteacher", "Posts about the head", "skip", ["headteacher"]))
    assert chat.reply("report.saved_allegation_unrouted")
    assert "the chair of governors" in chat.reply("report.contact_directly").text
    assert not any("0 people" in r.text for r in chat.last)
    (case,) = await bot.store.list_cases("default")
    assert case.routed_to == [] and users(case.excluded) == {"console:head": "allegation_about_headteacher"}


def test_a_head_reporting_an_allegation_about_a_colleague_is_told_only_of_the_lado():
    routing = route("other_staff", DIRECTORIES["standard"], reporter="console:head")
    assert "console:head" not in users(routing.routes) and routing.contact_directly == ["lado"]
