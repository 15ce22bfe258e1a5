"""`flows show ID [--format text|mermaid]`: a flow as a DSL reviews it, a numbered script or a Mermaid diagram, both
made from the flow's own file (bot/core/flowchart.py), so what is signed off is what the bot asks."""

from __future__ import annotations

import argparse

from bot.cli.args import Parents
from bot.cli.words import CliWords, fail
from bot.core.content import Content
from bot.core.flowchart import mermaid, script


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    flows = sub.add_parser("flows", help="the conversations, as a DSL reviews them").add_subparsers(
        dest="action", required=True)
    show = flows.add_parser("show", parents=[parents.common], help="a flow as a numbered script or a Mermaid diagram")
    show.add_argument("flow", help="the flow's id, its file's name in content/flows/ (e.g. report_concern)")
    show.add_argument("--format", choices=["text", "mermaid"], default="text")


def run(args: argparse.Namespace, content: Content) -> int:
    flow = content.flows.get(args.flow)
    if flow is None:
        fail(CliWords(content).text("cli.flows.unknown", value=args.flow, flows=", ".join(sorted(content.flows))))
        return 1
    print(mermaid(flow) if args.format == "mermaid" else script(flow), end="")
    return 0
