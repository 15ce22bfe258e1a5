"""A flow as people review it: a numbered script a DSL can read and sign off, and a Mermaid diagram.

Both come from the flow's own data (content/flows/), so neither can drift from what the bot asks.
`online-safety-bot flows show ID [--format text|mermaid]` prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.content import Condition, Flow, Step
from bot.core.markup import to_plain

END = "done"  # "end" is a word of Mermaid's own


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a step id, or END
    label: str  # "" when it always follows


def condition_words(flow: Flow, when: Condition) -> str:
    """A step's condition as a reviewer reads it: "if What is happening includes An allegation"."""
    asked = flow.step(when.step)
    if when.answered is not None:
        return f"if {asked.title} was {'answered' if when.answered else 'skipped'}"
    labels = {c.id: c.label for c in asked.choices}
    return f"if {asked.title} includes " + " or ".join(labels.get(i, i) for i in when.includes)


def edges(flow: Flow) -> list[Edge]:
    """From each step, the steps that may come next: each later step asked only on a condition (labelled with
    it), up to and including the first one always asked (labelled "otherwise" if conditions came before it)."""
    found: list[Edge] = []
    for index, step in enumerate(flow.steps):
        conditional = False
        for following in flow.steps[index + 1:]:
            if following.when is not None:
                found.append(Edge(step.id, following.id, condition_words(flow, following.when)))
                conditional = True
                continue
            found.append(Edge(step.id, following.id, "otherwise" if conditional else ""))
            break
        else:
            found.append(Edge(step.id, END, "otherwise" if conditional else ""))
    return found


def _plain(text: str) -> str:
    return " ".join(to_plain(text).split())


def script(flow: Flow) -> str:
    """The flow as a numbered script: each question in full, its choices, and when it is asked."""
    lines = [f"{flow.title} ({flow.id})", ""]
    for number, step in enumerate(flow.steps, 1):
        lines.append(f"{number}. {step.title} [{step.id}, {step.type}{', optional' if step.optional else ''}]")
        if step.when is not None:
            lines.append(f"   Asked only {condition_words(flow, step.when)}.")
        lines.append(f"   Asks: {_plain(step.ask)}")
        for choice in step.choices:
            lines.append(f"   - {choice.label} [{choice.id}]")
        if step.choices_from:
            lines.append(f"   - (the choices are the platforms in content/facts: {step.choices_from})")
        if step.help:
            lines.append(f"   Help: {_plain(step.help)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def mermaid_label(text: str) -> str:
    """Text safe inside a Mermaid node or edge label: quotes and the characters Mermaid reads as syntax become
    its entity codes."""
    codes = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;", "|": "#124;", "[": "#91;", "]": "#93;",
             "{": "#123;", "}": "#125;", "(": "#40;", ")": "#41;", "`": "#96;"}
    return re.sub(r'["<>#|\[\]{}()`]', lambda m: codes[m.group()], text)


def node_id(step_id: str) -> str:
    """A step's node: prefixed, so no step id can be one of Mermaid's own words ("end", "graph")."""
    return "finish" if step_id == END else f"step_{step_id}"


def _node(step: Step, number: int) -> str:
    return f'    {node_id(step.id)}["{number}. {mermaid_label(step.title)}"]'


def mermaid(flow: Flow) -> str:
    """The flow as a Mermaid flowchart: every step a node, every way from one step to the next an edge."""
    lines = ["flowchart TD", f'    start(["{mermaid_label(flow.title)}"])']
    lines += [_node(step, number) for number, step in enumerate(flow.steps, 1)]
    lines.append(f'    {node_id(END)}(["Done"])')
    lines.append(f"    start --> {node_id(flow.steps[0].id)}")
    for edge in edges(flow):
        arrow = f' -->|"{mermaid_label(edge.label)}"| ' if edge.label else " --> "
        lines.append(f"    {node_id(edge.source)}{arrow}{node_id(edge.target)}")
    return "\n".join(lines) + "\n"
