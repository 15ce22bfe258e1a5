"""The governors' termly safeguarding report on online safety: `online-safety-bot cases report --term autumn`.

A PDF of counts only, for the termly report to governors (who should not see individual cases): the cases
reported in the term by category, platform and month, their outcomes, the times to pick a case up and to close
it, and the charts of bot/charts.py. No reference, name, handle, link or anything anyone wrote goes into it.

The term comes from the school's calendar (content/school_calendar.yaml, or the school's own): every term of that
kind whose name says so ("Autumn term 2026", "Autumn 1"), or, for a name that does not, whose start month does
(August to December autumn, January to March spring, April to July summer), in the school year asked for.
The wording is in content/messages/governors.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from bot.cases.charts import chart_data, chart_png
from bot.cases.record.pdf import FONT, FONT_BOLD, pdf_safe, registered_fonts
from bot.cases.school_calendar import SchoolCalendar, Term
from bot.cases.stats import MILESTONES, CaseStats, category_label, compute_stats, describe_duration
from bot.core.content import Content
from bot.core.models import Case, CaseEvent, utcnow
from bot.store import Store

TERM_KINDS = ("autumn", "spring", "summer")


@dataclass(frozen=True)
class TermSpan:
    kind: str
    school_year: int = 0  # the year the school year starts in: 2026 for 2026-27
    start: date = date.min
    end: date = date.max

    @property
    def months(self) -> list[str]:
        """YYYY-MM of every month the term touches."""
        months, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def term_kind(term: Term) -> str:
    named = [kind for kind in TERM_KINDS if kind in term.name.lower()]
    if named:
        return named[0]
    return "autumn" if term.start.month >= 8 else "spring" if term.start.month <= 3 else "summer"


def school_year(day: date) -> int:
    """The year a school year starts in (it starts in August or September)."""
    return day.year if day.month >= 8 else day.year - 1


def term_span(calendar: SchoolCalendar, kind: str, year: int | None, today: date) -> TermSpan:
    """The term of `kind` in the school year starting in `year` (by default the latest such term that has
    started by `today`, else the first to come). Raises LookupError if the calendar has none."""
    terms = [t for t in calendar.terms if term_kind(t) == kind]
    years = sorted({school_year(t.start) for t in terms})
    if year is None:
        started = [y for y in years if min(t.start for t in terms if school_year(t.start) == y) <= today]
        year = started[-1] if started else (years[0] if years else None)
    chosen = [t for t in terms if school_year(t.start) == year]
    if year is None or not chosen:
        raise LookupError(f"the school calendar has no {kind} term"
                          + (f" in the school year {year}-{(year + 1) % 100:02d}" if year else ""))
    return TermSpan(kind=kind, school_year=year, start=min(t.start for t in chosen), end=max(t.end for t in chosen))


def in_term(case: Case, span: TermSpan, calendar: SchoolCalendar) -> bool:
    return span.start <= case.created_at.astimezone(calendar.tz).date() <= span.end


def term_stats(school_id: str, cases: list[Case], events: dict[str, list[CaseEvent]], span: TermSpan,
               calendar: SchoolCalendar, now: datetime) -> CaseStats:
    """The figures for the cases reported in the term (by the school's local date), over its months."""
    chosen = [c for c in cases if in_term(c, span, calendar)]
    end = datetime.combine(span.end, time(23, 59), calendar.tz).astimezone(timezone.utc)
    stats = compute_stats(school_id, chosen, events, now=min(now, end))
    stats.by_month = {m: stats.by_month.get(m, 0) for m in span.months}
    stats.repeated_accounts = []  # accounts are handles and links: not for governors
    return stats


async def governors_report(store: Store, content: Content, calendar: SchoolCalendar, school_id: str,
                           school_name: str, kind: str, year: int | None, now: datetime | None = None,
                           ) -> tuple[TermSpan, CaseStats, bytes]:
    """The term, its figures and the PDF, read from the store now."""
    now = now or utcnow()
    span = term_span(calendar, kind, year, now.astimezone(calendar.tz).date())
    cases = await store.list_cases(school_id)
    events = await store.events_of_cases([c.id for c in cases], MILESTONES)
    stats = term_stats(school_id, cases, events, span, calendar, now)
    chart = chart_png(content, chart_data([c for c in cases if in_term(c, span, calendar)], events, span.months))
    return span, stats, governors_pdf(content, school_name, span, stats, chart, now)


# --- the PDF --------------------------------------------------------------------------------------------


def figure_rows(content: Content, stats: CaseStats) -> dict[str, list[tuple[str, str]]]:
    """Each table of the report: heading key -> (label, value) rows, every value a count or a duration."""
    t = content.text
    platforms = content.facts.platforms

    def platform(p: str) -> str:
        return platforms[p].name if p in platforms else t("report.platform_other") if p == "other" else p

    times = []
    for name in ("time_to_acknowledge", "time_to_close"):
        d = getattr(stats, name)
        value = (t("governors.duration", value=describe_duration(content, d.median_seconds),
                   limit=describe_duration(content, d.p90_seconds), count=d.count, left=d.pending)
                 if d.count else t("governors.duration_none", left=d.pending))
        times.append((t(f"governors.{name}"), value))
    return {
        "governors.heading.summary": [(t("governors.total"), str(stats.total)), (t("governors.open"), str(stats.open)),
                                      (t("governors.closed"), str(stats.closed)),
                                      (t("governors.urgent"), str(stats.urgent))],
        "governors.heading.by_category": [(category_label(content, k), str(v)) for k, v in stats.by_category.items()],
        "governors.heading.by_platform": [(platform(k), str(v)) for k, v in stats.by_platform.items()],
        "governors.heading.by_month": [(datetime.strptime(m, "%Y-%m").strftime("%B %Y"), str(n))
                                       for m, n in stats.by_month.items()],
        "governors.heading.by_outcome": [(t(f"outcomes.{k}"), str(v)) for k, v in stats.by_outcome.items()],
        "governors.heading.times": times,
    }


def governors_pdf(content: Content, school_name: str, span: TermSpan, stats: CaseStats, chart: bytes,
                  now: datetime) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    registered_fonts()
    t = content.text
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13)
    h1 = ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4)
    width = A4[0] - 36 * mm

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(xml_escape(pdf_safe(text)).replace("\n", "<br/>"), style)

    def table(rows: list[tuple[str, str]]) -> Table:
        grid = Table([[p(label), p(value)] for label, value in rows] or [[p(t("governors.none")), p("")]],
                     colWidths=[width * 0.6, width * 0.4])
        grid.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                                  ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#cccccc")),
                                  ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return grid

    term = t(f"governors.term.{span.kind}", value=f"{span.school_year}-{(span.school_year + 1) % 100:02d}")
    dates = t("governors.dates", date=span.start.strftime("%-d %B %Y"), value=span.end.strftime("%-d %B %Y"))
    story: list[Any] = [p(t("governors.title"), h1), p(f"{school_name}: {term}", h2), p(dates),
                        Spacer(1, 4), p(t("governors.about")), Spacer(1, 4)]
    for heading, rows in figure_rows(content, stats).items():
        story += [p(t(heading), h2), table(rows)]
    if stats.total:
        story += [p(t("governors.heading.charts"), h2), Image(BytesIO(chart), width=width, height=width * 4.5 / 11)]
    story += [Spacer(1, 8), p(t("governors.made", date=now.strftime("%-d %B %Y")))]
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                      bottomMargin=16 * mm, title=pdf_safe(t("governors.title")), author="online-safety-bot"
                      ).build(story)
    return out.getvalue()
