"""The export: a case's record rendered as a file, with the export itself recorded on the case, so it joins the
event chain and the record shows the chain's latest hash."""

from __future__ import annotations

from datetime import datetime

from bot.cases.record import json, markdown, pdf
from bot.cases.record.build import build_record
from bot.cases.record.model import FORMATS, SafeguardingRecord
from bot.cases.scope import SchoolScope
from bot.core.content import Content
from bot.core.models import Case, CaseEvent, utcnow
from bot.store import Store


async def export_case(
    store: Store, scope: SchoolScope, case: Case, *, by: str, fmt: str, now: datetime | None = None,
) -> tuple[SafeguardingRecord, bytes]:
    """The record and its file, in the words of the case's school (`scope`). The export is recorded on the case
    (who, which format) only once the record without it has been rendered (an error then records nothing); the
    record is then built and rendered again, so that it ends with that event and carries the chain's hash up to
    and including it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    now = now or utcnow()
    render(await build_record(store, scope, case, exported_by=by, fmt=fmt, exported_at=now), scope.words)
    await store.record_events([CaseEvent(case_id=case.id, actor=by, kind="record_exported", at=now,
                                         detail={"format": fmt})])
    record = await build_record(store, scope, case, exported_by=by, fmt=fmt, exported_at=now)
    return record, render(record, scope.words)


def render(record: SafeguardingRecord, content: Content) -> bytes:
    """The record in its own format, as bytes to write to a file."""
    if record.exported.format == "pdf":
        return pdf.to_pdf(record, content)
    if record.exported.format == "md":
        return markdown.to_markdown(record, content).encode("utf-8")
    return json.to_json(record).encode("utf-8")
