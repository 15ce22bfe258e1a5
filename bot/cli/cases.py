"""`cases list | show | export | verify | stats | purge`: one school's cases, their records and event chains, their
trends (counts, never content) and their deletion when the retention period has run out."""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.cases.record import FORMATS, chain_words, export_case
from bot.cases.retention import PurgeResult, RetentionPolicy, load_retention, purge, report_categories
from bot.cases.schools import Schools
from bot.cases.stats import MILESTONES, case_stats, stats_lines
from bot.cli.args import Parents, date_arg, user_arg
from bot.cli.database import exports_folder
from bot.cli.words import CliWords, fail
from bot.core.config import Settings
from bot.core.content import Content
from bot.core.markup import to_plain
from bot.core.models import Case
from bot.core.private import write_private
from bot.store import Store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    group = sub.add_parser("cases", help="cases")
    group.set_defaults(run=run)
    cases = group.add_subparsers(dest="action", required=True)
    one_school = [parents.one_school]
    cases_list = cases.add_parser("list", parents=one_school, help="list cases")
    cases_list.add_argument("--json", action="store_true")
    show = cases.add_parser("show", parents=one_school, help="show one case and its events")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true")
    export = cases.add_parser("export", parents=one_school,
                              help="write a case's safeguarding record for the child-protection file")
    export.add_argument("reference")
    export.add_argument("--format", choices=list(FORMATS), default="pdf", help="pdf (default), json or md")
    export.add_argument("--out", help="where to write it; '-' for standard output "
                                      "(default: REFERENCE.pdf for pdf, standard output for json and md)")
    export.add_argument("--by", type=user_arg, help="who is making the record, PLATFORM:USER; recorded on the case "
                                                    "(default: cli:LOGIN-NAME)")
    verify = cases.add_parser("verify", parents=one_school, help="check that cases' event logs are unchanged")
    verify.add_argument("reference", nargs="?", help="one case (default: every case)")
    verify.add_argument("--json", action="store_true")
    stats = cases.add_parser("stats", parents=one_school, help="trends across cases: counts and times, never content")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--since", type=date_arg, help="only cases reported on or after DATE (YYYY-MM-DD)")
    stats.add_argument("--chart", nargs="?", const="", metavar="FILE",
                       help="also draw the trends as a PNG chart, to FILE (default: trends-DATE.png in the exports "
                            "folder beside the database)")
    report = cases.add_parser("report", parents=one_school,
                              help="the governors' termly report as a PDF: counts and times only, never a case")
    report.add_argument("--term", required=True, choices=["autumn", "spring", "summer"])
    report.add_argument("--year", type=int, help="the year the school year starts in, e.g. 2026 for 2026-27 "
                                                 "(default: the latest such term that has started)")
    report.add_argument("--out", help="where to write it (default: governors-TERM-YEAR.pdf in the exports folder "
                                      "beside the database)")
    purging = cases.add_parser("purge", parents=one_school,
                               help="delete closed cases whose retention period has run out")
    purging.add_argument("--dry-run", action="store_true", help="only list what is due; delete nothing")
    purging.add_argument("--now", type=date_arg, help="decide as on DATE (YYYY-MM-DD); a later date than today "
                                                      "only with --dry-run")
    purging.add_argument("--by", type=user_arg, help="who is purging, PLATFORM:USER; kept on each tombstone "
                                                     "(default: cli:LOGIN-NAME)")
    purging.add_argument("--json", action="store_true")


async def run(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    actions = {"list": list_cases, "show": show_case, "export": export_record, "verify": verify_chains,
               "stats": show_stats, "report": governors_report, "purge": purge_cases}
    return await actions[args.action](args, settings, content, store)


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference, "status": case.status.value, "urgent": case.urgent,
        "categories": case.categories, "reporter": case.reporter, "routed_to": [r.user for r in case.routed_to],
        "created_at": case.created_at.isoformat(), "outcome": case.outcome,
    }


async def list_cases(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    found = await store.list_cases(settings.school_id)
    if args.json:
        print(json.dumps([case_summary(c) for c in found]))
        return 0
    say = CliWords(content)
    if not found:
        print(say.text("cli.no_cases"))
    for c in found:
        flag = say.text("cli.cases.urgent") + " " if c.urgent else ""
        print(f"{c.reference}  {flag}{c.status.value:12} {c.created_at:%Y-%m-%d %H:%M}  {', '.join(c.categories)}")
    return 0


async def show_case(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    case = await store.get_case(settings.school_id, args.reference)
    if case is None:
        fail(CliWords(content).text("cli.no_case", reference=args.reference))
        return 1
    events = await store.case_events(case.id)
    evidence = await store.case_evidence(case.id)
    if args.json:
        print(json.dumps({
            **case_summary(case), "answers": case.answers, "excluded": [r.model_dump() for r in case.excluded],
            "routes": [r.model_dump() for r in case.routed_to], "content_version": case.content_version,
            "evidence": [e.model_dump(mode="json") for e in evidence],
            "events": [e.model_dump(mode="json") for e in events],
        }))
        return 0
    print(json.dumps(case_summary(case), indent=2))
    for e in events:
        print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:24} {e.kind:16} {json.dumps(e.detail) if e.detail else ''}")
    return 0


def cli_user() -> str:
    """Who is running the command, when they do not say: cli:LOGIN-NAME."""
    try:
        login = re.sub(r"[\s:]+", "_", getpass.getuser())[:128]
    except (KeyError, OSError):  # no login name (some containers)
        login = ""
    return f"cli:{login or 'unknown'}"


async def export_record(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases export`: record the export on the case (it joins the event chain), then write the record.
    The file is created readable by its owner only: it is a child-protection record."""
    say = CliWords(content)
    case = await store.get_case(settings.school_id, args.reference)
    if case is None:
        fail(say.text("cli.no_case", reference=args.reference))
        return 1
    out = args.out or (f"{case.reference}.pdf" if args.format == "pdf" else "-")
    if out == "-" and args.format == "pdf" and sys.stdout.isatty():
        fail(say.text("cli.export.not_to_terminal"))
        return 2
    scope = await Schools(store, content, settings).scope(case.school_id)  # the case's school, its words and nation
    record, data = await export_case(store, scope, case, by=args.by or cli_user(), fmt=args.format)
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        target = write_private(out, data)  # 0600, never through a link, never keeping a looser mode
        print(say.text("cli.export.written", path=target, reference=case.reference, value=args.format),
              file=sys.stderr)
    # The chain's head, on every export: kept apart from the server, it pins the log as it is now.
    print(say.text("cli.export.head", reference=case.reference, value=record.integrity.head), file=sys.stderr)
    if not record.integrity.intact:
        fail(say.text("cli.export.broken", reference=case.reference))
    return 0


async def verify_chains(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases verify`: recompute each case's event chain. Exit 0 when every chain holds, 1 naming each case
    and the event where its chain breaks."""
    say = CliWords(content)
    if args.reference:
        case = await store.get_case(settings.school_id, args.reference)
        if case is None:
            fail(say.text("cli.no_case", reference=args.reference))
            return 1
        found = [case]
    else:
        found = sorted(await store.list_cases(settings.school_id), key=lambda c: c.reference)
    results = []
    broken = 0
    for case in found:
        report = await store.verify_case_chain(case.id)
        result, problems = chain_words(content, report)
        broken += not report.intact
        results.append({"reference": case.reference, "intact": report.intact, "events": report.events,
                        "unsealed": report.unsealed, "head": report.head, "result": result, "problems": problems,
                        "broken_at": [p.model_dump(mode="json") for p in report.problems]})
        if not args.json:
            print(f"{case.reference}: {result}")
            for problem in problems:
                print(f"  {problem}")
    if args.json:
        print(json.dumps(results))
    elif not found:
        print(say.text("cli.no_cases"))
    elif broken:
        print(say.text("cli.verify.broken", count=broken, total=len(found)), file=sys.stderr)
    return 1 if broken else 0


async def show_stats(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases stats`: counts, times and repeated accounts; never a reporter, a name or free text."""
    stats = await case_stats(store, settings.school_id, since=args.since)
    if args.json:
        print(stats.model_dump_json())
    else:
        for line in stats_lines(content, stats):
            print(to_plain(line))
    if args.chart is not None:
        from bot.cases.charts import chart_data, chart_png  # matplotlib, loaded only when a chart is drawn

        cases = await store.list_cases(settings.school_id)
        data = chart_data(cases, await store.events_of_cases([c.id for c in cases], MILESTONES), list(stats.by_month))
        default = exports_folder(settings) / f"trends-{stats.generated_at:%Y-%m-%d}.png"
        saved = write_private(Path(args.chart) if args.chart else default, chart_png(content, data))
        said = to_plain(content.text("stats.chart.saved", value=str(saved)))
        print(said, file=sys.stderr if args.json else sys.stdout)  # --json: standard output stays JSON
    return 0


async def governors_report(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases report`: the governors' termly report, a PDF of counts and times for one term of the school's
    calendar; never a reference, a name, an account or anything anyone wrote."""
    from bot.cases import governors

    scope = await Schools(store, content, settings).scope(settings.school_id)  # its own words and calendar
    try:
        span, _stats, pdf = await governors.governors_report(
            store, scope.words, scope.calendar, scope.id, scope.name, args.term, args.year, now=settings.clock()())
    except LookupError as exc:
        fail(str(exc))
        return 1
    name = f"governors-{span.kind}-{span.school_year}.pdf"
    saved = write_private(args.out or exports_folder(settings) / name, pdf)
    print(to_plain(scope.text("governors.saved", value=str(saved))))
    return 0


async def purge_cases(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases purge`: list the closed cases whose retention period has run out and, unless --dry-run, delete
    each, leaving a tombstone. Exit 1 if any due case could not be deleted."""
    policy = load_retention(settings.content_dir, settings.retention_file, report_categories(content))
    today = datetime.now(timezone.utc).date()
    when = args.now or today
    if when > today and not args.dry_run:
        fail(CliWords(content).text("cli.purge.later_than_today", date=when))
        return 2
    result = await purge(store, settings.school_id, policy, when, purged_by=args.by or cli_user(),
                         dry_run=args.dry_run)
    if args.json:
        print(result.model_dump_json())
        return 1 if result.failed else 0
    print_policy(content, policy)
    print_due(content, result, when.isoformat())
    if result.dry_run:
        return 0
    print_purged(content, result)
    return 1 if result.failed else 0


def print_policy(content: Content, policy: RetentionPolicy) -> None:
    say = CliWords(content)

    def period(rule: Any) -> str:
        basis = (content.text("retention.basis.set_by_school", reason=rule.reason or "-") if rule.set_by_school
                 else content.text(f"retention.basis.{rule.basis}"))
        return content.text("retention.period", count=rule.keep_years, status=rule.anchor) + f" ({basis})"

    print(say.text("retention.policy", value=", ".join(policy.files)))
    for category, rule in policy.categories.items():
        print(say.text("retention.rule_category", categories=category, value=period(rule)))
    print(say.text("retention.rule_default", value=period(policy.default)))
    print()


def print_due(content: Content, result: PurgeResult, on: str) -> None:
    say = CliWords(content)
    if result.due:
        print(say.text("retention.dry_run" if result.dry_run else "retention.due", date=on, count=len(result.due)))
        for d in result.due:
            closed = f"{d.closed_at:%Y-%m-%d}" if d.closed_at else "?"
            categories = f"{','.join(d.categories):32}"
            print("  " + say.text("cli.purge.due_case", reference=d.reference, categories=categories,
                                  date=f"{d.created_at:%Y-%m-%d}", when=closed, value=d.due_on, reason=d.rule))
    else:
        print(say.text("retention.none_due", date=on))
    if result.not_due:
        print(say.text("retention.not_due", count=len(result.not_due), date=result.not_due[0].due_on.isoformat()))
    print(say.text("retention.open_cases", count=result.open_cases))
    evidence = sum(d.evidence for d in result.due)
    if result.dry_run and evidence:
        print(say.text("retention.evidence_due", count=evidence))


def print_purged(content: Content, result: PurgeResult) -> None:
    say = CliWords(content)
    for tombstone in result.purged:
        print(say.text("retention.purged", reference=tombstone.reference, count=tombstone.events_removed))
        if tombstone.still_mentioned:
            print(say.text("retention.still_mentioned", reference=tombstone.reference,
                           value=", ".join(tombstone.still_mentioned)))
    for reference, reason in result.failed.items():
        print(say.text("retention.failed", reference=reference, reason=reason))
    removed = sum(t.removed.get("evidence", 0) for t in result.purged)
    if removed:
        print(say.text("retention.evidence_note", count=removed))
