"""The UK nations: each school follows its own nation's statutory guidance.

Facts carry the nations they hold for (`nations` in content/facts/, every nation when not given). A
message has a nation's own version under `by_nation.<nation>.<message key>` (content/messages/nations.yaml).
For a school in another nation, a message that relies on a fact its nation does not have, and that has
no version for that nation, says plainly that the guidance is England's. Case plan items apply only in
the nations they name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.core.content import NATIONS, PLACEHOLDER, CasePlan, Content

BY_NATION = "by_nation."


def for_nation(content: Content, nation: str) -> Content:
    """The content as a school in `nation` sees it."""
    messages = {k: v for k, v in content.messages.items() if not k.startswith(BY_NATION)}
    own = f"{BY_NATION}{nation}."
    overrides = {k.removeprefix(own): v for k, v in content.messages.items() if k.startswith(own)}
    note = content.messages["nations.england_only"].replace("{nation}", content.messages[f"nations.{nation}.name"])
    for key, template in messages.items():
        if key in overrides:
            messages[key] = overrides[key]
        elif _relies_on_another_nation(content, template, nation):
            messages[key] = f"{template}\n{note}"
    plan = CasePlan(steps=[step.model_copy(update={"items": [i for i in step.items if nation in i.nations]})
                           for step in content.plan.steps])
    return content.model_copy(update={"messages": messages, "plan": plan})


def _relies_on_another_nation(content: Content, template: str, nation: str) -> bool:
    for name in PLACEHOLDER.findall(template):
        fact = _fact(content, name)
        if fact is not None and nation not in fact.nations:
            return True
    return False


def _fact(content: Content, placeholder: str) -> Any:
    """The sourced fact a placeholder such as `rules.lado_one_working_day.text` or `lado.name` reads from."""
    head, _, rest = placeholder.partition(".")
    if head == "rules":
        return content.facts.rules.get(rest.partition(".")[0])
    if head == "platforms":
        return None
    return content.facts.helplines.get(head)


def facts_by_nation(content: Content) -> dict[str, list[str]]:
    """For `content check`: which facts and plan items hold only for some nations, by nation."""
    found: dict[str, list[str]] = defaultdict(list)
    named: list[tuple[str, Any]] = [(f"helplines.{h.id}", h) for h in content.facts.helplines.values()]
    named += [(f"rules.{r.id}", r) for r in content.facts.rules.values()]
    named += [(f"plan.{s.id}.{i.id}", i) for s in content.plan.steps for i in s.items]
    for name, item in named:
        if set(item.nations) != set(NATIONS):
            for nation in item.nations:
                found[nation].append(name)
    versions = {k.removeprefix(BY_NATION).split(".", 1)[0] for k in content.messages if k.startswith(BY_NATION)}
    for nation in versions:
        prefix = f"{BY_NATION}{nation}."
        found[nation] += [f"messages.{k.removeprefix(prefix)}" for k in content.messages if k.startswith(prefix)]
    return {n: sorted(found[n]) for n in NATIONS}
