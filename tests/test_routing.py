"""Every routing rule, on the pure function and through a real report."""

from __future__ import annotations

from bot.models import Role, StaffMember
from bot.routing import named_in, route_case
from tests.conftest import STAFF, Chat, walk


def users(routes):
    return {r.user: r.reason for r in routes}


def test_every_case_goes_to_the_dsl_and_deputies():
    routing = route_case(["school_impersonation"], {}, "console:teacher", STAFF, [])
    assert users(routing.routes) == {"console:dsl": "dsl", "console:deputy": "deputy_dsl"}
    assert routing.excluded == []


def test_several_deputies_all_receive_it():
    staff = STAFF + [StaffMember(user="console:deputy2", role=Role.DEPUTY_DSL, name="Lee Cho")]
    routing = route_case(["targeting_me"], {}, "console:teacher", staff, [])
    assert set(users(routing.routes)) == {"console:dsl", "console:deputy", "console:deputy2"}


def test_allegation_about_staff_also_goes_to_the_headteacher():
    routing = route_case(["allegation"], {"allegation_about": "other_staff"}, "console:teacher", STAFF, [])
    assert users(routing.routes) == {
        "console:dsl": "dsl", "console:deputy": "deputy_dsl", "console:head": "allegation_case_manager",
    }


def test_allegation_about_the_headteacher_goes_to_the_chair_and_never_the_head():
    routing = route_case(["allegation"], {"allegation_about": "headteacher"}, "console:teacher", STAFF, [])
    routed = users(routing.routes)
    assert routed["console:chair"] == "allegation_about_headteacher"
    assert "console:head" not in routed
    assert users(routing.excluded) == {"console:head": "allegation_about_headteacher"}


def test_headteacher_named_in_an_allegation_counts_as_about_the_head():
    routing = route_case(["allegation"], {"allegation_about": "not_sure"}, "console:teacher", STAFF,
                         ["Posts claim Mr Morgan did something"])
    routed = users(routing.routes)
    assert "console:head" not in routed and "console:chair" in routed


def test_headteacher_reporting_an_allegation_about_themselves_goes_to_the_chair():
    routing = route_case(["allegation"], {"allegation_about": "me"}, "console:head", STAFF, [])
    routed = users(routing.routes)
    assert "console:head" not in routed and routed["console:chair"] == "allegation_about_headteacher"


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
    staff = [m for m in STAFF if m.role != Role.DEPUTY_DSL]
    routing = route_case(["targeting_me"], {}, "console:dsl", staff, [])
    assert users(routing.routes) == {"console:head": "no_dsl_available"}


def test_with_nobody_in_the_directory_nobody_is_routed():
    assert route_case(["targeting_me"], {}, "console:teacher", [], []).routes == []


def test_names_match_full_name_or_title_and_surname_only():
    dana = StaffMember(user="console:dsl", role=Role.DSL, name="Dana Lee")
    assert named_in("they said dana lee was", dana)
    assert named_in("Ms Lee posted", dana)
    assert named_in("Ms. Lee posted", dana)
    assert not named_in("Leeds United fans", dana)
    assert not named_in("Dana from Year 9", dana)


async def test_routing_reasons_are_recorded_on_the_case(chat: Chat, bot):
    await walk(chat, [
        "there's an account spreading rumours about a teacher", ["allegation"], ["no"], ["headteacher"],
        ["facebook"], "skip", "skip", "Posts say the head was arrested", ["headteacher"], "Alex Morgan",
        ["done"], ["nobody"], ["no_idea"], ["send"],
    ])
    assert chat.reply("report.sent")
    (case,) = await bot.store.list_cases("default")
    assert users(case.routed_to) == {
        "console:dsl": "dsl", "console:deputy": "deputy_dsl", "console:chair": "allegation_about_headteacher",
    }
    routed_event = next(e for e in await bot.store.case_events(case.id) if e.kind == "routed")
    assert {r["user"]: r["reason"] for r in routed_event.detail["excluded"]} == {"console:head": "named_in_report"}

    head = Chat(bot, "console:head")
    await head.open()
    assert "case.new_card" not in head.keys
    chair = Chat(bot, "console:chair")
    await chair.open()
    fields = dict(chair.reply("case.new_card").card.fields)
    assert "chair of governors is the case manager" in fields["Sent to you because"]
    assert any("LADO" in g for g in chair.reply("case.new_card").card.guidance)
