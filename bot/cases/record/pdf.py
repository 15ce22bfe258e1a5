"""The record as a PDF (A4), one function per section; every page's footer carries the log's hash."""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from bot.cases.record.model import Moment, SafeguardingRecord, uk_text, utc_text
from bot.cases.record.wording import PlainWords, evidence_facts, plan_state
from bot.core.content import Content

# ReportLab (BSD licence) with the Bitstream Vera fonts it ships, which cover Latin-1 and the common
# punctuation (é, ë, —, ’, €). Characters outside them are written safely instead of crashing: a letter
# with an accent the font lacks loses the accent, and anything else (an emoji, another script) is named
# in brackets. The JSON and Markdown records always keep the text exactly.

FONT, FONT_BOLD = "OSBVera", "OSBVera-Bold"


@lru_cache(maxsize=1)
def registered_fonts() -> frozenset[int]:
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    regular = TTFont(FONT, os.path.join(folder, "Vera.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(FONT_BOLD, os.path.join(folder, "VeraBd.ttf")))
    for bold, italic, name in ((0, 0, FONT), (1, 0, FONT_BOLD), (0, 1, FONT), (1, 1, FONT_BOLD)):
        addMapping(FONT, bold, italic, name)
    return frozenset(regular.face.charToGlyph)


def pdf_safe(text: str, covered: frozenset[int] | None = None) -> str:
    """`text` using only characters the PDF font can draw."""
    covered = registered_fonts() if covered is None else covered
    out = []
    for ch in text:
        if ch == "\n" or ord(ch) in covered:
            out.append(ch)
            continue
        if unicodedata.category(ch).startswith(("C", "Z")):  # controls, odd spaces
            out.append(" ")
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if ord(c) in covered and not unicodedata.combining(c))
        if base:
            out.append(base)
        elif unicodedata.category(ch).startswith("S"):  # emoji and other symbols: say what they were
            out.append(f"[{unicodedata.name(ch, f'U+{ord(ch):04X}').lower()}]")
        else:
            out.append(f"[U+{ord(ch):04X}]")
    return "".join(out)


PIECE_CHARS = 800  # at most about a dozen lines in the narrowest column: a row never outgrows a page


def _pieces(text: str) -> list[str]:
    """A value as the pieces the PDF gives a table row each: its lines, and a line longer than PIECE_CHARS cut at
    a space before that length where there is one."""
    pieces: list[str] = []
    for line in text.split("\n"):
        while len(line) > PIECE_CHARS:
            cut = line.rfind(" ", PIECE_CHARS // 2, PIECE_CHARS)
            cut = cut if cut > 0 else PIECE_CHARS
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        pieces.append(line)
    return pieces



def to_pdf(record: SafeguardingRecord, content: Content) -> bytes:
    # ReportLab is imported here, not at the top: only an export needs it, and it is slow to import.
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    registered_fonts()
    say = PlainWords(content)
    story = _Story(record, say)
    for section in (story.case, story.summary, story.routing, story.actions, story.outcome, story.plan,
                    story.chronology, story.evidence, story.content, story.integrity, story.export):
        section()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        # The chain's head on every page: a printed page pins the log as it was (docs/safeguarding-record.md).
        canvas.drawString(18 * mm, 10 * mm, pdf_safe(say("record.page", reference=record.reference, position=doc.page,
                                                         value=record.integrity.head or say("record.none"))))
        canvas.restoreState()

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=pdf_safe(record.title), author=pdf_safe(record.school), subject=pdf_safe(say("record.heading.case")),
        creator=record.exported.generator, invariant=True,
    )
    doc.build(story.flowables, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


class _Story:
    """The flowables of one record's PDF, written section by section."""

    def __init__(self, record: SafeguardingRecord, say: PlainWords):
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_LEFT
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm

        self.record, self.say = record, say
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, alignment=TA_LEFT)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10,
                                    textColor=colors.HexColor("#333333"))
        self.bold = ParagraphStyle("bold", parent=self.body, fontName=FONT_BOLD)
        self.h1 = ParagraphStyle("h1", parent=self.body, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=4)
        self.h2 = ParagraphStyle("h2", parent=self.body, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10,
                                 spaceAfter=4)
        self.h3 = ParagraphStyle("h3", parent=self.body, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=6,
                                 spaceAfter=2)
        self.line_colour = colors.HexColor("#999999")
        self.grey = colors.HexColor("#eeeeee")
        self.mm = mm
        self.width = A4[0] - 36 * mm
        self.flowables: list[Any] = []

    def p(self, text: str, style: Any = None) -> Any:
        from reportlab.platypus import Paragraph

        return Paragraph(xml_escape(pdf_safe(text)).replace("\n", "<br/>"), style or self.body)

    def when(self, m: Moment) -> str:
        return f"{utc_text(m)}\n{uk_text(m)}"

    def table(self, cells: list[list[Any]], widths: list[float], style: list[Any], repeat_rows: int = 0) -> Any:
        from reportlab.platypus import Table, TableStyle

        table = Table(cells, colWidths=widths, repeatRows=repeat_rows)
        table.setStyle(TableStyle(style))
        return table

    def facts(self, rows: list[tuple[str, str]]) -> Any:
        """Label and value, one table row for each piece of a value (see `_pieces`), so that a long answer flows
        on to the next page instead of making one row taller than a page."""
        line_colour, mm = self.line_colour, self.mm
        cells: list[list[Any]] = []
        style: list[Any] = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.4, line_colour),
                            ("LINEAFTER", (0, 0), (0, -1), 0.4, line_colour),
                            ("BACKGROUND", (0, 0), (0, -1), self.grey),
                            ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4)]
        for label, value in rows:
            if cells:
                style.append(("LINEABOVE", (0, len(cells)), (-1, len(cells)), 0.4, line_colour))
            cells += [[self.p(label, self.bold) if n == 0 else "", self.p(piece)]
                      for n, piece in enumerate(_pieces(value))]
        return self.table(cells, [48 * mm, self.width - 48 * mm], style)

    def heading(self, key: str, style: Any = None) -> None:
        self.flowables.append(self.p(self.say(key), style or self.h2))

    def case(self) -> None:
        from reportlab.platypus import Spacer

        record, say = self.record, self.say
        self.flowables += [self.p(record.title, self.h1), self.p(record.confidential, self.bold), Spacer(1, 3),
                           self.p(say("record.times_note"), self.small)]
        self.heading("record.heading.case")
        rows = [(say("record.field.school"), record.school), (say("record.field.reference"), record.reference),
                (say("record.field.status"), record.status.label), (say("record.field.urgency"), record.urgency)]
        if record.urgent_reason:
            rows.append((say("record.field.urgent_reason"), record.urgent_reason))
        rows += [(say("record.field.reported_by"), record.reported_by.display),
                 (say("record.field.reported_at"), self.when(record.reported_at))]
        self.flowables.append(self.facts(rows))

    def summary(self) -> None:
        self.heading("record.heading.summary")
        self.flowables.append(self.facts([(f.label, f.value) for f in self.record.summary]))

    def routing(self) -> None:
        record = self.record
        self.heading("record.heading.routing")
        self.flowables.append(self.facts([(r.person.display, r.reason) for r in record.routed_to])
                              if record.routed_to else self.p(self.say("record.nobody")))
        if record.excluded:
            self.heading("record.heading.excluded", self.h3)
            self.flowables.append(self.facts([(r.person.display, r.reason) for r in record.excluded]))

    def actions(self) -> None:
        from reportlab.platypus import KeepTogether

        say = self.say
        self.heading("record.heading.actions")
        if not self.record.actions:
            self.flowables.append(self.p(say("record.field.no_actions")))
        for e in self.record.actions:
            self.flowables.append(KeepTogether([self.p(e.what, self.h3), self.facts(
                [(say("record.field.when"), self.when(e.at)), (say("record.field.who"), e.by.display)]
                + [(f.label, f.value) for f in e.details])]))

    def outcome(self) -> None:
        record, say = self.record, self.say
        self.heading("record.heading.outcome")
        if record.closed:
            rows = [(say("record.field.outcome"), record.outcome.label if record.outcome else record.closed.what)]
            rows += [(f.label, f.value) for f in record.closed.details]
            rows += [(say("record.field.closed_by"), record.closed.by.display),
                     (say("record.field.closed_at"), self.when(record.closed.at))]
            self.flowables.append(self.facts(rows))
        else:
            self.flowables.append(self.p(say("record.field.not_closed")))

    def plan(self) -> None:
        if not self.record.plan:
            return
        self.heading("record.heading.plan")
        cells = [[self.p(f"{line.step}: {line.item}"), self.p(plan_state(line, self.say), self.small)]
                 for line in self.record.plan]
        self.flowables.append(self.table(cells, [self.width - 58 * self.mm, 58 * self.mm],
                                         [("VALIGN", (0, 0), (-1, -1), "TOP"),
                                          ("GRID", (0, 0), (-1, -1), 0.4, self.line_colour)]))

    def chronology(self) -> None:
        say, bold, line_colour, mm = self.say, self.bold, self.line_colour, self.mm
        self.heading("record.heading.chronology")
        header = [self.p("#", bold), self.p(say("record.field.when"), bold), self.p(say("record.field.who"), bold),
                  self.p(say("record.field.what"), bold)]
        lines = [header]
        event_lines: list[Any] = []
        for e in self.record.chronology:  # an event's details take a row for each piece, as in `facts`
            event_lines.append(("LINEABOVE", (0, len(lines)), (-1, len(lines)), 0.4, line_colour))
            lines.append([self.p(str(e.position)), self.p(self.when(e.at), self.small), self.p(e.by.display),
                          self.p(e.what, bold)])
            lines += [["", "", "", self.p(piece)] for f in e.details for piece in _pieces(f"{f.label}: {f.value}")]
        self.flowables.append(self.table(lines, [9 * mm, 40 * mm, 42 * mm, self.width - 91 * mm], [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BOX", (0, 0), (-1, -1), 0.4, line_colour), ("INNERGRID", (0, 0), (-1, 0), 0.4, line_colour),
            ("LINEAFTER", (0, 0), (2, -1), 0.4, line_colour),
            ("BACKGROUND", (0, 0), (-1, 0), self.grey),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            *event_lines,
        ], repeat_rows=1))

    def evidence(self) -> None:
        from reportlab.platypus import KeepTogether

        self.heading("record.heading.evidence")
        if not self.record.evidence:
            self.flowables.append(self.p(self.say("record.evidence_none")))
            return
        self.flowables.append(self.p(self.say("record.evidence_note"), self.small))
        for ev in self.record.evidence:
            self.flowables.append(KeepTogether([self.p(ev.name, self.h3), self.facts(evidence_facts(ev, self.say))]))

    def content(self) -> None:
        say = self.say
        self.heading("record.heading.content")
        self.flowables.append(self.facts([
            (say("record.field.content_version"), self.record.content_version),
            (say("record.field.content_version_current"), self.record.content_version_current)]))

    def integrity(self) -> None:
        integrity, say = self.record.integrity, self.say
        self.heading("record.heading.integrity")
        self.flowables.append(self.facts([
            (say("record.field.integrity_result"), "\n".join([integrity.result] + integrity.problems)),
            (say("record.field.integrity_events"), str(integrity.events)),
            (say("record.field.integrity_head"), integrity.head or say("record.none"))]))

    def export(self) -> None:
        exported, say = self.record.exported, self.say
        self.heading("record.heading.export")
        self.flowables.append(self.facts([
            (say("record.field.exported_by"), exported.by.display),
            (say("record.field.exported_at"), self.when(exported.at)),
            (say("record.field.format"), say.get(f"record.format.{exported.format}", exported.format)),
            (say("record.field.generator"), exported.generator)]))
