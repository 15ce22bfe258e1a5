"""Who a case goes to, and why: decided from the staff directory and the report's answers.

The rules (KCSIE Part four for allegations; the school's child-protection policy for the rest):
- every case goes to the DSL and the deputy DSLs;
- an allegation about a member of staff also goes to the headteacher as case manager, or to the
  chair of governors instead when the allegation is about the headteacher, who then never receives it;
- nobody named in the report receives it, and a reporter is never their own route;
- if no DSL or deputy is left, the headteacher (or else the chair) receives it so it is never lost.
Each decision carries a reason code; `content/messages/routing.yaml` words them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from bot.models import Role, Route, StaffMember

TITLES = r"(?:mr|mrs|ms|miss|mx|dr|sir|madam|prof)\.?"


class Routing(BaseModel):
    routes: list[Route]
    excluded: list[Route]


def named_in(text: str, member: StaffMember) -> bool:
    """True when `text` names `member`: their full name, or a title with their surname ("Mrs Patel")."""
    parts = member.name.split()
    if not parts:
        return False
    full = r"\b" + r"\s+".join(re.escape(p) for p in parts) + r"\b"
    if re.search(full, text, re.IGNORECASE):
        return True
    if len(parts) > 1:
        return re.search(rf"\b{TITLES}\s+{re.escape(parts[-1])}\b", text, re.IGNORECASE) is not None
    return False


def route_case(
    categories: list[str], answers: dict[str, Any], reporter: str, staff: list[StaffMember], named_text: list[str]
) -> Routing:
    text = "\n".join(named_text)
    reporter_member = next((m for m in staff if m.user == reporter), None)
    allegation = "allegation" in categories
    about = answers.get("allegation_about")
    heads = [m for m in staff if m.role == Role.HEADTEACHER]
    about_head = allegation and (
        about == "headteacher"
        or (about == "me" and reporter_member is not None and reporter_member.role == Role.HEADTEACHER)
        or any(named_in(text, h) for h in heads)
    )

    excluded: dict[str, Route] = {}
    for m in staff:
        if m.role == Role.STAFF:
            continue
        if m.user == reporter:
            excluded[m.user] = Route(user=m.user, role=m.role, reason="reporter")
        elif named_in(text, m):
            excluded[m.user] = Route(user=m.user, role=m.role, reason="named_in_report")
        elif about_head and m.role == Role.HEADTEACHER:
            excluded[m.user] = Route(user=m.user, role=m.role, reason="allegation_about_headteacher")

    routes: dict[str, Route] = {}

    def add(members: list[StaffMember], reason: str) -> None:
        for m in members:
            if m.user not in excluded and m.user not in routes:
                routes[m.user] = Route(user=m.user, role=m.role, reason=reason)

    add([m for m in staff if m.role == Role.DSL], "dsl")
    add([m for m in staff if m.role == Role.DEPUTY_DSL], "deputy_dsl")
    chairs = [m for m in staff if m.role == Role.CHAIR_OF_GOVERNORS]
    if allegation:
        if about_head:
            add(chairs, "allegation_about_headteacher")
        else:
            add(heads, "allegation_case_manager")
    if not routes:
        add(heads, "no_dsl_available")
    if not routes:
        add(chairs, "no_dsl_available")
    return Routing(routes=list(routes.values()), excluded=list(excluded.values()))


def alert_route(reporter: str, staff: list[StaffMember]) -> list[Route]:
    """Who gets an urgent heads-up before a report is finished: the DSLs and deputies, never the reporter."""
    return route_case([], {}, reporter, staff, []).routes
