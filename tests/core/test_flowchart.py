"""`flows show`: the flow as a numbered script and as a Mermaid diagram, both from the flow's own data."""

from __future__ import annotations

import re

from bot.core.content import Flow
from bot.core.flowchart import END, edges, mermaid, mermaid_label, node_id, script


def test_every_step_is_a_node_and_every_transition_an_edge(content):
    flow = content.flows["report_concern"]
    chart = mermaid(flow)
    nodes = dict(re.findall(r'^\s+(\w+)\["\d+\. (.*)"\]$', chart, re.M))
    assert set(nodes) == {node_id(s.id) for s in flow.steps}
    drawn = set(re.findall(r"^\s+(\w+) -->(?:\|\"[^\"]*\"\|)? (\w+)$", chart, re.M))
    assert drawn == {(node_id(e.source), node_id(e.target)) for e in edges(flow)} | {("start", "step_categories")}
    # the allegation's question is asked only for allegations: an edge to it and one around it
    assert ("step_images", "step_allegation_about") in drawn and ("step_images", "step_platforms") in drawn
    assert ("step_summary", node_id(END)) in drawn


def test_labels_are_escaped_so_a_title_cannot_break_the_diagram():
    assert mermaid_label('A "quote" (or two) <b> | [x] {y} #1') == (
        "A #quot;quote#quot; #40;or two#41; #lt;b#gt; #124; #91;x#93; #123;y#125; #35;1")
    flow = Flow.model_validate({"id": "t", "title": 'Odd "title"', "steps": [
        {"id": "end", "type": "text", "ask": "Say it", "title": 'A "step" (end)'},
        {"id": "graph", "type": "choice", "ask": "Pick", "title": "Pick one", "choices": [{"id": "a", "label": "A|B"}]},
        {"id": "then", "type": "text", "ask": "More", "title": "Then", "when": {"step": "graph", "includes": ["a"]}},
    ]})
    chart = mermaid(flow)
    assert 'step_end["1. A #quot;step#quot; #40;end#41;"]' in chart  # Mermaid's own word "end" is never an id
    assert 'step_graph -->|"if Pick one includes A#124;B"| step_then' in chart
    assert 'step_graph -->|"otherwise"| finish' in chart


def test_the_script_reads_every_question_in_order_with_its_choices_and_conditions(content):
    flow = content.flows["report_concern"]
    text = script(flow)
    numbers = re.findall(r"^(\d+)\. (.+?) \[", text, re.M)
    assert [title for _, title in numbers] == [s.title for s in flow.steps]
    assert "   Asked only if What is happening includes Rumours or allegations about staff" in text
    assert "   - Not sure [not_sure]" in text
    assert "**" not in text  # the light markdown is read as plain text


def test_flows_show_prints_the_script_and_the_diagram_and_names_the_flows_it_knows(capsys, content):
    from bot.cli import main

    assert main(["flows", "show", "report_concern", "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == mermaid(content.flows["report_concern"])
    assert main(["flows", "show", "privacy_check"]) == 0
    assert capsys.readouterr().out == script(content.flows["privacy_check"])
    assert main(["flows", "show", "report"]) == 1
    assert "no flow 'report' (flows: case_action" in capsys.readouterr().err
