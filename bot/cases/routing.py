"""Who a case goes to, and who must never receive it: decided from the staff directory and the report's answers.

The rules (KCSIE Part four for allegations; the school's child-protection policy for the rest):
- every case goes to the DSL and the deputy DSLs;
- an allegation about a member of staff also goes to the headteacher as case manager, or to the chair of
  governors instead when the allegation is (or may be) about the headteacher; then nobody who holds the
  headteacher role receives it, whatever other roles they hold;
- an allegation about a DSL or deputy never reaches that person; when the report does not say which one,
  none of them receives it (an uncertain match excludes rather than includes) and the case manager does;
- nobody named in the report receives it (names are matched as people write them: a first name or surname
  alone, a title or initials with the surname, a handle containing a name, "the head"), and a reporter is
  never their own route;
- if no DSL or deputy is left, the headteacher (or else the chair) receives it so it is never lost.
Each decision carries a reason code; `content/messages/routing.yaml` words them. Where a case has nobody to
go to, or an allegation has no case manager, `Routing.contact_directly` says whom the reporter must contact.

`route_case` is the one function that answers "who may receive this case, and who must never (and why)",
for cases, escalation, reminders and urgent alerts alike: pass whatever answers are known so far.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from bot.core.models import Role, Route, StaffMember
from bot.core.report import Report

NAMED_TEXT_STEPS = ("names", "description", "behind_it_detail")
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "madam", "prof"}
# How people write a role instead of a name, in an allegation.
ROLE_WORDS = {
    Role.HEADTEACHER: re.compile(r"\b(?:head\s*teacher|head\s*mistress|head\s*master|principal"
                                 r"|the\s+head(?!\s+of\b)|head's)\b", re.IGNORECASE),
    Role.DSL: re.compile(r"\b(?:dsl|safeguarding\s+lead|designated\s+safeguarding)\b", re.IGNORECASE),
    Role.DEPUTY_DSL: re.compile(r"\b(?:deputy\s+dsl|ddsl|deputy\s+safeguarding)\b", re.IGNORECASE),
}
SAFEGUARDING_ROLES = (Role.DSL, Role.DEPUTY_DSL)
FUZZY_MIN_LENGTH = 5  # shorter names must be written exactly: "Lee" is not "Leeds"
FUZZY_SCORE = 80  # one slip in a name of five or six letters ("Morgon", "Smyth")
HANDLE_MIN_LENGTH = 4  # a name this long found inside a handle ("@alexmorgan99") counts
CASE_MANAGER_REASONS = {"allegation_case_manager", "allegation_about_headteacher", "low_level_about_headteacher"}
STAFF_CONCERNS = {"allegation", "low_level_concern"}  # reports about a member of staff's conduct


class Routing(BaseModel):
    routes: list[Route]
    excluded: list[Route] = Field(description="who must never receive the case, each with the reason")
    about: str | None = Field(default=None, description="whom an allegation or low-level concern is about, as "
                                                       "routing read it: headteacher, dsl, staff; else None")
    contact_directly: list[str] = Field(default_factory=list, description="whom the reporter must contact "
                                        "themselves, because the bot has nobody in the directory to send it to")

    @property
    def barred(self) -> set[str]:
        return {r.user for r in self.excluded}


# --- names -------------------------------------------------------------------------------------


def named_text(answers: dict[str, Any]) -> list[str]:
    """The parts of a report that may name people: the free-text answers and the accounts' handles."""
    texts = [answers[k] for k in NAMED_TEXT_STEPS if isinstance(answers.get(k), str)]
    return texts + [a.value for a in Report.of(answers).accounts]


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text)


def _handles(text: str) -> list[str]:
    """Handles and link paths, letters only and lower case: "@Mr_Morgan99" -> "mrmorgan"."""
    found = re.findall(r"(?:@|https?://\S*/)([\w.\-]+)", text)
    found += [t for t in re.findall(r"\S+", text) if re.search(r"[_\d]", t) and re.search(r"[^\W\d_]", t)]
    return [re.sub(r"[^a-z]", "", h.lower()) for h in found]


def _word_matches(name: str, word: str, all_lower: bool) -> bool:
    """One name word against one word of the text, as people write names: capitalised, unless the writer
    used no capitals at all; exactly for short names, with one slip for longer ones."""
    if not (word[:1].isupper() or all_lower):
        return False
    a, b = name.lower(), word.lower()
    if a == b or (b.endswith(("'s", "’s")) and b[:-2] == a):
        return True
    return len(a) >= FUZZY_MIN_LENGTH and fuzz.ratio(a, b) >= FUZZY_SCORE


def named_in(text: str, member: StaffMember, roles: Iterable[Role] = ()) -> bool:
    """True when `text` may name `member`: their first name or surname alone (one slip allowed in longer
    names), so also a title or initials with the surname; a handle containing either; or one of `roles`
    that they hold, written instead of a name ("the head"). When unsure, True."""
    parts = [p for p in _words(member.name) if p.lower() not in TITLES and len(p) > 1]
    words = _words(text)
    all_lower = not any(w[:1].isupper() for w in words)
    if any(_word_matches(p, w, all_lower) for p in parts for w in words):
        return True
    handles = _handles(text)
    if any(p.lower() in h for p in parts if len(p) >= HANDLE_MIN_LENGTH for h in handles):
        return True
    return any(member.has(role) and ROLE_WORDS[role].search(text) for role in roles)


# --- who the allegation is about -----------------------------------------------------------------


def allegation_subject(answers: dict[str, Any], reporter: StaffMember | None, staff: list[StaffMember],
                       text: str) -> str:
    """"headteacher" when the allegation is or may be about a head (answered so; the reporter is the head and
    said "me"; "not sure" with the head ticked under who appears; a head named), "dsl" for "a DSL or deputy",
    else "staff"."""
    report = Report.of(answers)
    about, appears = report.allegation_about, report.who_appears
    if (
        about == "headteacher"
        or (about == "me" and reporter is not None and reporter.has(Role.HEADTEACHER))
        or (about == "not_sure" and "headteacher" in appears)
        or any(named_in(text, m, [Role.HEADTEACHER]) for m in staff if m.has(Role.HEADTEACHER))
    ):
        return "headteacher"
    if about == "dsl":  # (a DSL who says "me" is the reporter, kept off it as such; the others need not be)
        return "dsl"
    return "staff"


# --- routing ------------------------------------------------------------------------------------


def _exclusions(allegation: bool, about_head: bool, about_dsl: bool, reporter: str, staff: list[StaffMember],
                text: str) -> dict[str, Route]:
    handlers = [m for m in staff if m.handles_cases]
    # In an allegation, "the head" names the head; "the DSL" names the DSLs only when the allegation is about one.
    roles = [Role.HEADTEACHER] if allegation else []
    roles += list(SAFEGUARDING_ROLES) if about_dsl else []
    named = {m.user for m in handlers if named_in(text, m, roles)}
    # "A DSL or deputy" with none of them named: any of them may be the subject, so none receives it.
    unnamed_dsl = about_dsl and not any(m.user in named for m in handlers if m.has(*SAFEGUARDING_ROLES))
    excluded: dict[str, Route] = {}
    for m in handlers:
        if m.user == reporter:
            reason = "reporter"
        elif about_head and m.has(Role.HEADTEACHER):
            reason = "allegation_about_headteacher"
        elif m.user in named:
            reason = "named_in_report"
        elif unnamed_dsl and m.has(*SAFEGUARDING_ROLES):
            reason = "allegation_about_dsl"
        else:
            continue
        excluded[m.user] = Route(user=m.user, role=m.roles[0], reason=reason)
    return excluded


def route_case(
    categories: list[str], answers: dict[str, Any], reporter: str, staff: list[StaffMember], named_text: list[str],
    low_level_to: str = "dsl",
) -> Routing:
    """Who receives the case, in order (the case manager of an allegation first), and who must never.
    A low-level concern about a colleague (not an allegation) goes to the DSLs, or with `low_level_to`
    "headteacher" to the head first, as the school's policy says; never to the person it is about either."""
    text = "\n".join(named_text)
    reporter_member = next((m for m in staff if m.user == reporter), None)
    allegation = "allegation" in categories
    low_level = not allegation and "low_level_concern" in categories
    about_staff = allegation or low_level
    subject = allegation_subject(answers, reporter_member, staff, text) if about_staff else None
    about_dsl = subject == "dsl"
    excluded = _exclusions(about_staff, subject == "headteacher", about_dsl, reporter, staff, text)
    if about_dsl and any(m.has(Role.HEADTEACHER) and m.user in excluded and excluded[m.user].reason != "reporter"
                         for m in staff):  # the head is also a DSL, and may be the one it is about
        subject = "headteacher"
        excluded = _exclusions(about_staff, True, about_dsl, reporter, staff, text)
    routes: dict[str, Route] = {}

    def add(role: Role, reason: str) -> None:
        for m in staff:
            if m.has(role) and m.user not in excluded and m.user not in routes:
                routes[m.user] = Route(user=m.user, role=role, reason=reason)

    if subject == "headteacher":
        add(Role.CHAIR_OF_GOVERNORS, "allegation_about_headteacher" if allegation else "low_level_about_headteacher")
    elif allegation:
        add(Role.HEADTEACHER, "allegation_case_manager")
    elif low_level and low_level_to == "headteacher":
        add(Role.HEADTEACHER, "low_level_concern")
    has_case_manager = bool(routes)
    add(Role.DSL, "dsl")
    add(Role.DEPUTY_DSL, "deputy_dsl")
    if not routes:
        add(Role.HEADTEACHER, "no_dsl_available")
    if not routes:
        add(Role.CHAIR_OF_GOVERNORS, "no_dsl_available")

    contact = _contact_directly(allegation, low_level, subject, has_case_manager, bool(routes), reporter_member)
    return Routing(routes=list(routes.values()), excluded=list(excluded.values()), about=subject,
                   contact_directly=contact)


def _contact_directly(allegation: bool, low_level: bool, subject: str | None, has_case_manager: bool,
                      routed: bool, reporter_member: StaffMember | None) -> list[str]:
    """Whom the reporter must contact themselves, because the routing reached no one in that role."""
    if allegation and not has_case_manager:
        if subject == "headteacher":
            return ["chair_of_governors", "lado"]
        # a head who reports it is its case manager already: they need only the LADO
        return ["lado"] if reporter_member and reporter_member.has(Role.HEADTEACHER) else ["headteacher", "lado"]
    if low_level and subject == "headteacher" and not has_case_manager:
        return ["chair_of_governors"]
    if not routed:
        return ["dsl"]
    return []


def routing_gaps(staff: list[StaffMember]) -> list[str]:
    """What a directory cannot route, for an operator to fix: "no_chair" (an allegation about the head would
    reach no case manager), "no_head" (an allegation about staff would have no case manager), "no_dsl"."""
    if not staff:
        return []
    gaps = []
    if not any(m.has(Role.CHAIR_OF_GOVERNORS) for m in staff):
        gaps.append("no_chair")
    if not any(m.has(Role.HEADTEACHER) for m in staff):
        gaps.append("no_head")
    if not any(m.has(*SAFEGUARDING_ROLES) for m in staff):
        gaps.append("no_dsl")
    return gaps


def route_of_case(case: Any, staff: list[StaffMember], low_level_to: str = "dsl") -> Routing:
    """`route_case` for a stored case (or anything with categories, answers and a reporter), by today's directory."""
    return route_case(case.categories, case.answers, case.reporter, staff, named_text(case.answers), low_level_to)
