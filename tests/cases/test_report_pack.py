"""Report packs by kind of harm: the routes that fit each kind of case, never a platform's route for possible
sexual images of a child, third-person text to paste with no names, and a POSH draft fitted to the case and
to the school's nation."""

from __future__ import annotations

import pytest

from bot.cases.report_pack import harms_for, pack_replies, reporter_pack
from bot.core.content import Content
from bot.core.models import Case, School
from bot.core.nations import for_nation

SCHOOL = School(id="hillside", name="Hillside Academy")


def case_of(categories: list[str], platforms: list[str], *, images: str = "no", urgent: bool = False,
            description: str = "", behind_it: str = "no_idea", names: str | None = None) -> Case:
    """A case with the answers the report flow stores (see content/flows/report_concern.yaml)."""
    answers = {"categories": categories, "images": images, "platforms": platforms,
               "accounts": [{"value": "@hillside_fake"}], "first_seen": "2026-11-30",
               "description": description, "who_appears": ["other_staff"], "behind_it": behind_it}
    if names:
        answers["names"] = names
    return Case(reference="OSB-2026-0007", draft_id="d1", categories=categories, reporter="console:teacher",
                answers=answers, content_version="test", urgent=urgent)


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


def route_replies(replies):
    return [r for r in replies if r.key == "case.pack.route"]


def harm_ids(content: Content, case: Case) -> list[str]:
    return [h.id for h in harms_for(content, case)]


def test_impersonation_of_a_person_gets_the_impersonation_route_first(content):
    case = case_of(["targeting_me"], ["instagram"], description="It uses my name and photo and pretends to be me")
    assert harm_ids(content, case)[:2] == ["impersonation_person", "bullying_harassment"]
    first = route_replies(pack_replies(content, SCHOOL, case, offer_reporter=True))[0].text
    assert "Pretending to be someone else (impersonation)" in first and "Why this route" in first
    assert "Only the person concerned, or a parent or carer" in first  # Instagram acts only for them


def test_impersonation_of_the_school_is_reported_as_an_organisation_not_as_me(content):
    case = case_of(["school_impersonation"], ["facebook", "instagram"], description="A page using our logo")
    assert harm_ids(content, case)[0] == "impersonation_organisation"
    routes = route_replies(pack_replies(content, SCHOOL, case, offer_reporter=False))
    text = texts(routes)
    assert "Pretending to be another business" in text and "A business or organisation" in text
    assert "trademark" in text
    assert "choose Me" not in text and "Pretending to be someone else (impersonation)" not in text


@pytest.mark.parametrize("categories", [["showing_learners"], ["allegation"], ["targeting_staff"]])
def test_what_is_not_impersonation_of_the_school_never_gets_the_organisation_route(content, categories):
    case = case_of(categories, ["instagram"], description="Posts mocking people")
    assert "impersonation_organisation" not in harm_ids(content, case)


def test_learners_shown_get_the_image_removal_route_and_bullying_not_impersonation(content):
    case = case_of(
        ["showing_learners"], ["instagram", "youtube"], description="Photos of year 7 pupils with rude captions"
    )
    assert harm_ids(content, case)[:2] == ["minor_images", "bullying_harassment"]
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "Privacy complaint" in text and "violates my privacy" in text
    assert "give parents the route" in text
    assert "impersonation" not in text.lower().replace("an impersonation report for an account", "")


def test_an_allegation_gets_bullying_and_harassment_never_impersonation(content):
    case = case_of(["allegation"], ["snapchat"], description="A story saying a teacher did something")
    assert harm_ids(content, case) == ["bullying_harassment"]
    routes = route_replies(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert len(routes) == 1
    assert "Bullying or harassment" in routes[0].text and "pretending to be me" not in routes[0].text
    assert "Report Harmful Content" in routes[0].text and "Bullying or Harassment" in routes[0].text


def test_learners_behind_it_add_the_under_13_route_last(content):
    case = case_of(["targeting_staff"], ["tiktok"], behind_it="learner")
    assert harm_ids(content, case)[-1] == "under_13"
    assert "User may be under 13" in texts(pack_replies(content, SCHOOL, case, offer_reporter=False))


def test_words_in_the_description_add_threats_hate_and_helplines(content):
    case = case_of(["targeting_staff"], ["snapchat"], description="Racist posts and a threat to stab a teacher")
    ids = harm_ids(content, case)
    assert {"threats", "hate"} <= set(ids)
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "Police (non-emergency)" in text and "101" in text


def test_a_fake_school_page_asking_for_money_shows_report_fraud(content):
    case = case_of(["school_impersonation"], ["facebook"], description="It asks parents to pay for a raffle")
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "Report Fraud" in text and "0300 123 2040" in text


def test_intimate_images_of_adult_staff_show_the_revenge_porn_helpline_and_stopncii(content):
    case = case_of(["targeting_me"], ["x"], description="A deepfake nude of me is being shared")
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "Revenge Porn Helpline" in text and "0345 6000 459" in text and "StopNCII" in text


def test_a_platform_with_no_route_for_the_harm_says_so_rather_than_giving_another(content):
    case = case_of(["showing_learners"], ["linkedin"])
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "our content has no route for this yet" in text
    assert "Fake account (fake profile or impersonation)" not in text


@pytest.mark.parametrize("images,urgent", [("yes", True), ("not_sure", True), ("yes", False)])
def test_possible_sexual_images_of_a_child_never_get_a_platform_route(content, images, urgent):
    case = case_of(["showing_learners"], ["snapchat", "whatsapp", "instagram"], images=images, urgent=urgent,
                   description="nudes of a year 10 girl", names="Amy Jones")
    assert harms_for(content, case) == []
    replies = pack_replies(content, SCHOOL, case, offer_reporter=True)
    assert [r.key for r in replies] == ["case.pack.guardrail", "case.pack.posh_email"]
    text = texts(replies)
    for route_words in ("In the app:", "Web form:", "Choose:", "Report and block", "pretending to be me",
                        "Report a Safety Concern"):
        assert route_words not in text
    iwf, ceop, remove = (content.facts.helplines[h].url for h in ("iwf", "ceop", "report_remove"))
    assert str(iwf) in text and str(ceop) in text and str(remove) in text
    assert "101" in text and "999" in text and content.facts.helplines["posh"].phone in text
    assert "now" in replies[1].text and "48 hours" not in replies[1].text
    assert "Urgent: possible sexual images" in replies[1].text
    assert "nudes" not in replies[1].text and "Amy" not in text and "@hillside_fake" not in text
    assert replies[1].choices == []  # nothing for the reporter to report themselves


def test_the_paste_text_is_third_person_and_carries_no_names_or_allegation_words(content):
    case = case_of(["allegation", "targeting_me"], ["instagram"], names="Mr Patel (maths), Priya Shah",
                   description="My page says Mr Patel is having sex with a year 11 girl. I'm so upset.")
    replies = pack_replies(content, SCHOOL, case, offer_reporter=True)
    paste = next(r for r in replies if r.key == "case.pack.description").text
    posh = next(r for r in replies if r.key == "case.pack.posh_email").text
    for text in (paste, posh):
        for word in ("Patel", "Priya", "Shah", "sex", "year 11", "My page", "I'm"):
            assert word not in text
    assert "a member of our staff" in paste and r"@hillside\_fake" in paste and "30 November 2026" in paste
    assert "Check it before pasting" in paste and "[one or two sentences, without names]" in paste


@pytest.mark.parametrize("categories,subject", [
    (["allegation"], "Allegations about a member of staff posted online"),
    (["showing_learners"], "Account posting images of learners at Hillside Academy"),
    (["school_impersonation"], "Fake account impersonating Hillside Academy"),
    (["targeting_me"], "Account targeting a member of staff at Hillside Academy"),
])
def test_the_posh_draft_subject_fits_the_case(content, categories, subject):
    posh = pack_replies(content, SCHOOL, case_of(categories, ["tiktok"]), offer_reporter=False)[-1]
    assert posh.key == "case.pack.posh_email"
    assert f"Subject: {subject}" in posh.text and "We are a school in England." in posh.text


def test_a_welsh_schools_posh_draft_and_guidance_name_wales(content):
    welsh = for_nation(content, "wales")
    school = SCHOOL.model_copy(update={"nation": "wales"})
    replies = pack_replies(welsh, school, case_of(["allegation"], ["facebook"]), offer_reporter=False)
    text = texts(replies)
    assert "We are a school in Wales." in text and "England" not in text
    assert "hwb.gov.wales" in text  # POSH's guidance for Wales
    guidance = welsh.text("case.guidance.allegation", school_name=school.name)
    assert "Wales" in guidance and "Designated Officer for Safeguarding" in guidance and "24 hours" in guidance
    assert "LADO" not in guidance and "England" not in guidance


def test_a_welsh_schools_guardrail_pack_points_to_the_welsh_nudes_advice(content):
    welsh = for_nation(content, "wales")
    school = SCHOOL.model_copy(update={"nation": "wales"})
    text = texts(pack_replies(welsh, school, case_of(["showing_learners"], ["snapchat"], images="yes"), False))
    assert "In Wales, the DSP follows" in text and "We are a school in Wales." in text


def test_a_school_in_a_nation_without_its_own_guidance_is_told_the_guidance_is_englands(content):
    scottish = for_nation(content, "scotland")
    guidance = scottish.text("case.guidance.allegation", school_name="Glen School")
    assert "This is England's statutory guidance. Glen School is in Scotland" in guidance
    assert "England's" not in for_nation(content, "england").text("case.guidance.allegation", school_name="X")
    assert "We are a school in Scotland." in pack_replies(
        scottish, SCHOOL.model_copy(update={"nation": "scotland"}), case_of(["targeting_me"], ["x"]), False)[-1].text


def test_the_case_plan_follows_the_schools_nation(content):
    items = {
        n: {i.id for s in for_nation(content, n).plan.steps for i in s.items} for n in ("england", "wales", "scotland")
    }
    assert "lado" in items["england"] and "designated_officer_wales" not in items["england"]
    assert "designated_officer_wales" in items["wales"] and "lado" not in items["wales"]
    assert "allegation_own_nation" in items["scotland"] and "lado" not in items["scotland"]
    assert all("consult_local_authority" in ids for ids in items.values())


def test_the_reporter_gets_only_the_routes_they_can_use_themselves(content):
    case = case_of(["targeting_me"], ["instagram", "linkedin", "x"])
    replies = reporter_pack(content, SCHOOL, case)
    assert replies[0].key == "case.pack.for_reporter"
    text = texts(replies[1:])
    assert "Instagram" in text and "X (formerly Twitter)" in text
    assert "LinkedIn" not in text  # any member can report there: the DSL does it


def test_a_harm_with_helplines_only_lists_no_platform_as_missing_a_route(content):
    case = case_of(["school_impersonation"], ["facebook"], description="It asks parents for money")
    fraud = next(r for r in route_replies(pack_replies(content, SCHOOL, case, False)) if "asking for money" in r.text)
    assert "no route" not in fraud.text and "Report Fraud" in fraud.text


def test_steps_are_offered_to_the_reporter_only_when_some_route_is_theirs_to_use(content):
    theirs = pack_replies(content, SCHOOL, case_of(["targeting_me"], ["instagram"]), offer_reporter=True)[-1]
    assert [c.id for c in theirs.choices] == ["case:OSB-2026-0007:pack_reporter"]
    anyones = pack_replies(content, SCHOOL, case_of(["targeting_me"], ["linkedin"]), offer_reporter=True)[-1]
    assert anyones.choices == []  # any LinkedIn member can report it: nothing for them to do themselves


def test_threats_on_x_get_xs_violence_and_threats_route(content):
    case = case_of(["targeting_staff"], ["x"], description="A post threatening to kill a teacher")
    text = texts(pack_replies(content, SCHOOL, case, offer_reporter=False))
    assert "Violence and threats" in text and "Threats" in text


def test_signs_match_the_start_of_a_word_not_the_middle_of_another(content):
    feeling = case_of(["school_impersonation"], ["facebook"], description="I feel awful; it shows our skills day")
    assert not {"fraud", "threats"} & set(harm_ids(content, feeling))
    paying = case_of(["school_impersonation"], ["facebook"], description="It asks parents for school trip fees")
    assert "fraud" in harm_ids(content, paying)
