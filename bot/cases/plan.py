"""The case plan: the five steps of content/case_plan.yaml, fitted to one case and marked with what is done.

Nothing is stored as "the plan": it is worked out each time from the case's answers, its evidence and its
events (ticks are `plan_ticked` events; recorded actions tick the items they complete), so the plan can
never disagree with the record.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bot.core.content import Content, PlanItem
from bot.core.markup import Markup
from bot.core.models import Case, CaseEvent, Choice, Evidence, Reply
from bot.core.report import Report


class PlanEntry(BaseModel):
    id: str
    step: str
    text: str
    required: bool
    done: bool
    by: str | None = None
    at: datetime | None = None


def case_flags(case: Case) -> set[str]:
    """What the safety check found on a case: "images" (the guardrail), "danger", "police", "sextortion"."""
    report = Report.of(case.answers)
    found = set(report.safety or {})
    if report.guardrail:
        found.add("images")
    return found


def threshold_decision(events: list[CaseEvent]) -> CaseEvent | None:
    """The case manager's latest harm-threshold decision on an allegation (a `threshold_decided` event)."""
    return next((e for e in reversed(events) if e.kind == "threshold_decided"), None)


def _applies(item: PlanItem, case: Case, threshold: str | None) -> bool:
    when = item.when
    if when is None:
        return True
    if when.urgent is not None and when.urgent != case.possible_images:  # the urgent items are about images
        return False
    if when.threshold and threshold not in when.threshold:
        return False
    flags = case_flags(case)
    if when.flags and not flags & set(when.flags):
        return False
    if flags & set(when.not_flags):
        return False
    if not (when.categories or when.behind_it):
        return True
    return bool(set(when.categories) & set(case.categories)) or Report.of(case.answers).behind_it in when.behind_it


def case_plan(content: Content, case: Case, events: list[CaseEvent], evidence: list[Evidence]) -> list[PlanEntry]:
    platforms = content.facts.platforms
    report = Report.of(case.answers)
    case_platforms = [p for p in report.platforms if p in platforms]
    actions = [e for e in events if e.kind == "action_recorded"]
    ticks = {e.detail.get("item"): e for e in events if e.kind == "plan_ticked"}
    decided = threshold_decision(events)
    threshold = decided.detail.get("decision") if decided else None
    answered = {
        "threshold": decided is not None,
        "accounts": bool(report.accounts),
        "first_seen": bool(report.first_seen),
        "evidence_files": bool(evidence),
    }
    entries: list[PlanEntry] = []
    for step in content.plan.steps:
        for item in step.items:
            if not _applies(item, case, threshold):
                continue
            variants = [(f"{step.id}.{item.id}.{p}", platforms[p].name) for p in case_platforms] if item.per_platform \
                else [(f"{step.id}.{item.id}", None)]
            for entry_id, platform in variants:
                done_by = next((e for e in actions
                                if item.done_by_action and e.detail.get("action") == item.done_by_action
                                and (platform is None or len(case_platforms) == 1)), None)
                tick = ticks.get(entry_id)
                event = tick or done_by or (decided if item.done_when_answered == "threshold" else None)
                done = event is not None or bool(item.done_when_answered and answered[item.done_when_answered])
                entries.append(PlanEntry(
                    id=entry_id, step=step.title, text=item.text.replace("{platform}", platform or ""),
                    required=item.required, done=done,
                    by=event.actor if event else None, at=event.at if event else None,
                ))
    return entries


def open_required(entries: list[PlanEntry]) -> list[PlanEntry]:
    return [e for e in entries if e.required and not e.done]


def plan_reply(
    content: Content, school_name: str, case: Case, entries: list[PlanEntry], key: str = "case.plan.show",
) -> Reply:
    """The plan as one reply: each step's items marked done or open, and a button to tick each open one."""

    def text(k: str, **values: object) -> str:
        return content.text(k, school_name=school_name, **values)

    lines: list[str] = []
    choices: list[Choice] = []
    step = None
    for entry in entries:
        if entry.step != step:
            step = entry.step
            lines.append(f"\n**{step}**")
        if entry.done:
            lines.append(text("case.plan.done_item", value=Markup(entry.text)))
        else:
            choices.append(Choice(id=f"case:{case.reference}:tick:{entry.id}",
                                  label=text("case.plan.tick_label", count=len(choices) + 1)))
            item_key = "case.plan.open_required_item" if entry.required else "case.plan.open_item"
            lines.append(text(item_key, count=len(choices), value=Markup(entry.text)))
    required_open = len(open_required(entries))
    summary = text("case.plan.summary", count=sum(e.done for e in entries), total=len(entries), left=required_open)
    title = text("case.plan.title", reference=case.reference)
    return Reply(key=key, text=title + "\n" + summary + "\n" + "\n".join(lines).strip(), choices=choices)
