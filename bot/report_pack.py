"""Report packs: for each platform in a case, exactly how to report it (from content/facts/platforms.yaml),
a ready-to-paste description built from the case, and a draft email to POSH.

The description carries no images and no learner names: the report's "names" answer is never used, and
the DSL is reminded to check the reporter's own words before pasting them.
"""

from __future__ import annotations

from datetime import date

from bot.content import Content
from bot.markup import Markup
from bot.models import Case, Choice, Reply


def _describe(content: Content, school_name: str, case: Case) -> str:
    text = content.text
    parts = [text(f"case.pack.about.{c}", school_name=school_name) for c in case.categories
             if f"case.pack.about.{c}" in content.messages]
    accounts = ", ".join(a["value"] for a in case.answers.get("accounts") or [])
    if accounts:
        parts.append(text("case.pack.about_accounts", value=accounts))
    if case.answers.get("first_seen"):
        parts.append(text("case.pack.about_first_seen", date=date.fromisoformat(case.answers["first_seen"]).strftime("%-d %B %Y")))
    if case.answers.get("description"):
        parts.append(text("case.pack.about_description", value=case.answers["description"]))
    return "\n".join(parts)


def platform_replies(content: Content, school_name: str, case: Case) -> list[Reply]:
    replies = []
    for platform_id in case.answers.get("platforms") or []:
        platform = content.facts.platforms.get(platform_id)
        if platform is None or platform.report is None:
            continue
        route = platform.report
        lines = [content.text("case.pack.platform_title", platform=platform.name),
                 content.text("case.pack.in_app", value=Markup(route.in_app)),
                 content.text("case.pack.category", value=Markup(route.category)),
                 content.text("case.pack.who", value=Markup(route.who_can_report))]
        if route.web_form:
            lines.insert(2, content.text("case.pack.web_form", value=Markup(str(route.web_form))))
        if route.needs:
            lines.append(content.text("case.pack.needs", value=Markup(route.needs)))
        replies.append(Reply(key="case.pack.platform", text="\n".join(lines)))
    return replies


def pack_replies(content: Content, school_name: str, case: Case, offer_reporter: bool) -> list[Reply]:
    """Everything the DSL needs to report the case: one reply per platform, the text to paste, the POSH draft."""
    description = _describe(content, school_name, case)
    if case.answers.get("guardrail"):  # possible sexual images of an under-18: no route that means opening the image
        replies = [Reply(key="case.pack.images_route", text=content.text("case.pack.images_route", reference=case.reference))]
    else:
        replies = [Reply(key="case.pack.intro", text=content.text("case.pack.intro", reference=case.reference))]
        replies += platform_replies(content, school_name, case)
    replies.append(Reply(key="case.pack.description", text=content.text("case.pack.description", value=Markup(description))))
    choices = []
    if offer_reporter:
        choices.append(Choice(id=f"case:{case.reference}:pack_reporter", label=content.text("case.pack.send_to_reporter")))
    replies.append(Reply(key="case.pack.posh_email", choices=choices, text=content.text(
        "case.pack.posh_email", reference=case.reference, school_name=school_name, value=Markup(description))))
    return replies


def reporter_pack(content: Content, school_name: str, case: Case) -> list[Reply]:
    """For the person impersonated: platforms often act only on their own report."""
    return [Reply(key="case.pack.for_reporter", text=content.text("case.pack.for_reporter", reference=case.reference))] \
        + platform_replies(content, school_name, case)
