"""Report packs: how to report a case on each of its platforms, by the kind of harm it is.

The harms that fit a case (content/facts/harms.yaml) are picked from its categories, who may be behind it
and words in its description, most useful first, each with why it fits; each platform's route for each
harm comes from content/facts/platforms.yaml. Possible sexual images of an under-18 never get a
platform's route: the IWF, CEOP, the police, Report Remove and POSH instead, and no pasted text.

The text to paste is written for the platform in the third person from the facts of the case (the
account, when it was first seen, what kind of case it is), never from the reporter's own words, so it
carries no names given in the report, no staff name and no words of an allegation.
"""

from __future__ import annotations

import re

from bot.core.content import Content, Harm, Helpline, ReportRoute
from bot.core.markup import Markup
from bot.core.models import Case, Choice, Reply, School
from bot.core.report import Report

# The order a case's categories decide the POSH draft's subject in: the most serious first.
SUBJECT_ORDER = ("allegation", "showing_learners", "school_impersonation", "targeting_staff", "targeting_me")
# Who the person impersonated is, for the routes only they (or a parent) can use.
PERSONAL_ROUTES = ("the_person", "the_person_or_parent")


def possible_images_of_a_child(case: Case) -> bool:
    """The guardrail: possible sexual images of an under-18 (urgent for that, or "yes" or "not sure" to the
    question), not a case urgent for another reason (danger, an allegation, a handler marking it)."""
    return case.possible_images or Report.of(case.answers).images in ("yes", "not_sure")


def harms_for(content: Content, case: Case) -> list[Harm]:
    """The kinds of harm that fit the case, most useful first; none for possible images of a child."""
    if possible_images_of_a_child(case):
        return []
    description = (Report.of(case.answers).description or "").lower()
    return [h for h in content.facts.harms.values() if _fits(h, case, description)]


def _fits(harm: Harm, case: Case, description: str) -> bool:
    if not (harm.categories or harm.behind_it or harm.signs):
        return False
    if harm.categories and not set(harm.categories) & set(case.categories):
        return False
    if harm.behind_it and Report.of(case.answers).behind_it not in harm.behind_it:
        return False
    return not harm.signs or any(re.search(r"\b" + re.escape(sign), description) for sign in harm.signs)


def route_for(content: Content, platform_id: str, harm_id: str) -> ReportRoute | None:
    platform = content.facts.platforms.get(platform_id)
    return next((r for r in platform.routes if harm_id in r.harms), None) if platform else None


def _route_lines(content: Content, platform_name: str, route: ReportRoute) -> list[str]:
    text = content.text
    lines = [text("case.pack.platform_title", platform=platform_name)]
    if route.in_app:
        lines.append(text("case.pack.in_app", value=Markup(route.in_app)))
    if route.web_form:
        lines.append(text("case.pack.web_form", value=Markup(str(route.web_form))))
    lines.append(text("case.pack.category", value=Markup(route.category)))
    lines.append(text("case.pack.who", value=Markup(route.who_can_report)))
    account = {True: "yes", False: "no", None: "unknown"}[route.needs_account]
    lines.append(text(f"case.pack.account_{account}"))
    if route.needs:
        lines.append(text("case.pack.needs", value=Markup(route.needs)))
    return [_with_unconfirmed(content, "\n".join(lines), route.unconfirmed)]


def _helpline_line(content: Content, helpline: Helpline) -> str:
    contact = " · ".join(str(x) for x in (helpline.phone, helpline.hours, helpline.url) if x)
    line = content.text("case.pack.helpline", value=Markup(f"**{helpline.name}**: {contact}. {helpline.who_for}"))
    return _with_unconfirmed(content, line, helpline.unconfirmed)


def _with_unconfirmed(content: Content, line: str, unconfirmed: str | None) -> str:
    return f"{line}\n{content.text('case.pack.unconfirmed', value=Markup(unconfirmed))}" if unconfirmed else line


def harm_reply(content: Content, case: Case, harm: Harm, personal_only: bool = False) -> Reply | None:
    """One kind of harm: why it fits, each platform's route for it, then Report Harmful Content and helplines."""
    platforms = content.facts.platforms
    lines = [content.text("case.pack.harm_title", value=Markup(harm.title)),
             content.text("case.pack.why", value=Markup(harm.why))]
    routes = 0
    reported_on_platforms = any(harm.id in r.harms for p in platforms.values() for r in p.routes)
    for platform_id in Report.of(case.answers).platforms:
        platform = platforms.get(platform_id)
        if platform is None:
            continue
        route = route_for(content, platform_id, harm.id)
        if route is None:
            if reported_on_platforms and not personal_only:
                lines.append(content.text("case.pack.no_route", platform=platform.name))
            continue
        if personal_only and route.who not in PERSONAL_ROUTES:
            continue
        lines += _route_lines(content, platform.name, route)
        if route.who in PERSONAL_ROUTES and not personal_only:
            lines.append(content.text(f"case.pack.who_note.{route.who}"))
        routes += 1
    if personal_only and not routes:
        return None
    if harm.report_harmful_content and not personal_only:
        lines.append(content.text("case.pack.report_harmful_content", value=Markup(harm.report_harmful_content)))
    if not personal_only:
        lines += [_helpline_line(content, content.facts.helplines[h]) for h in harm.helplines]
    return Reply(key="case.pack.route", text="\n".join(lines))


def paste_text(content: Content, school_name: str, case: Case) -> str:
    """The description to paste into a platform's report: third person, facts only, no names."""
    text = content.text
    parts = [text(f"case.pack.about.{c}", school_name=school_name) for c in case.categories
             if f"case.pack.about.{c}" in content.messages]
    report = Report.of(case.answers)
    accounts = ", ".join(a.value for a in report.accounts)
    if accounts:
        parts.append(text("case.pack.about_accounts", value=accounts))
    if report.first_seen:
        parts.append(text("case.pack.about_first_seen", date=report.first_seen.strftime("%-d %B %Y")))
    parts.append(text("case.pack.about_posts"))
    return "\n".join(parts)


def _posh_guidance(content: Content, nation: str) -> Helpline | None:
    helplines = content.facts.helplines
    return helplines.get(f"posh_reputation_guidance_{nation}") or helplines.get("posh_reputation_guidance")


def nation_name(content: Content, nation: str) -> str:
    return content.text(f"nations.{nation}.name")


def posh_draft(content: Content, school: School, case: Case, offer_reporter: bool) -> Reply:
    guardrail = possible_images_of_a_child(case)
    kind = "guardrail" if guardrail else next((c for c in SUBJECT_ORDER if c in case.categories), "other")
    values = {"reference": case.reference, "school_name": school.name}
    body = content.text("case.pack.posh_body_guardrail") if guardrail else \
        content.text("case.pack.posh_body", value=Markup(paste_text(content, school.name, case)))
    choices = [Choice(id=f"case:{case.reference}:pack_reporter", label=content.text("case.pack.send_to_reporter"))] \
        if offer_reporter else []
    return Reply(key="case.pack.posh_email", choices=choices, text=content.text(
        "case.pack.posh_email", **values,
        when=Markup(content.text("case.pack.posh_when_now" if guardrail else "case.pack.posh_when_48_hours")),
        subject=Markup(content.text(f"case.pack.posh_subject.{kind}", **values)),
        nation=nation_name(content, school.nation), value=Markup(body)))


def pack_replies(content: Content, school: School, case: Case, offer_reporter: bool) -> list[Reply]:
    """Everything the DSL needs to report the case: the routes that fit, the text to paste, the POSH draft."""
    if possible_images_of_a_child(case):
        guide = content.text("case.pack.guardrail_guidance")
        return [Reply(key="case.pack.guardrail", text=content.text("case.pack.guardrail", reference=case.reference)
                      + "\n" + guide),
                posh_draft(content, school, case, offer_reporter=False)]
    replies = [Reply(key="case.pack.intro", text=content.text("case.pack.intro", reference=case.reference))]
    replies += [r for h in harms_for(content, case) if (r := harm_reply(content, case, h))]
    guidance = _posh_guidance(content, school.nation)
    if guidance is not None:
        replies.append(Reply(key="case.pack.posh_guidance", text=_with_unconfirmed(content, content.text(
            "case.pack.posh_guidance", value=Markup(f"{guidance.name}: {guidance.url}")), guidance.unconfirmed)))
    replies.append(Reply(key="case.pack.description", text=content.text(
        "case.pack.description", value=Markup(paste_text(content, school.name, case)))))
    offer_reporter = offer_reporter and len(reporter_pack(content, school, case)) > 1  # only with steps for them
    replies.append(posh_draft(content, school, case, offer_reporter))
    return replies


def reporter_pack(content: Content, school: School, case: Case) -> list[Reply]:
    """For the person impersonated: the routes only they (or a parent) can use."""
    harms = [h for h in harms_for(content, case) if h.id == "impersonation_person"]
    routes = [r for h in harms if (r := harm_reply(content, case, h, personal_only=True))]
    intro = Reply(key="case.pack.for_reporter", text=content.text("case.pack.for_reporter", reference=case.reference))
    return [intro] + routes
