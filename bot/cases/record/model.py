"""The safeguarding record's shape: the pydantic models an exported record is made of, and their JSON schema
(docs/record.schema.json is `record_schema()`, written out). Times are `Moment`s, in UTC and in UK time."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = "1"
FORMATS = ("pdf", "json", "md")
Format = Literal["pdf", "json", "md"]
UK = ZoneInfo("Europe/London")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Moment(_Strict):
    utc: datetime = Field(description="the time in UTC")
    uk: datetime = Field(description="the same time in UK local time (Europe/London), with its offset")
    uk_zone: str = Field(description="GMT or BST")


class Person(_Strict):
    id: str = Field(description="platform:id, or 'bot' for the bot itself")
    name: str | None = Field(default=None, description="from the staff directory; None if not in it")
    role: str | None = Field(default=None, description="their role, worded")
    display: str = Field(description="how the record names them")


class Fact(_Strict):
    label: str
    value: str


class Coded(_Strict):
    code: str
    label: str


class RouteEntry(_Strict):
    person: Person
    reason_code: str
    reason: str


class Entry(_Strict):
    """One event of the case, worded."""

    position: int = Field(description="its place in the case's event log, from 1")
    kind: str = Field(description="the event's kind as stored, e.g. note_added")
    what: str = Field(description="what happened, worded")
    at: Moment
    by: Person
    details: list[Fact] = Field(default_factory=list)
    hash: str | None = Field(default=None, description="the event's hash in the case's chain")


class PlanLine(_Strict):
    """One item of the case plan (content/case_plan.yaml) as it stood when the record was made."""

    id: str
    step: str
    item: str
    required: bool
    done: bool
    by: Person | None = None
    at: Moment | None = None


class EvidenceItem(_Strict):
    name: str
    ref: str = Field(description="where the file is kept: a path, a platform file id or a permalink")
    content_type: str | None = None
    size: int | None = Field(default=None, description="bytes")
    sha256: str | None = None
    added_by: Person
    added_at: Moment


class Integrity(_Strict):
    intact: bool
    events: int
    hashed: int
    unsealed: int = Field(description="events from before the log was hash-chained, not yet covered by a later one")
    head: str | None = Field(description="the hash of the latest event: a copy of this record fixes the log up to here")
    result: str
    problems: list[str] = Field(default_factory=list)


class Export(_Strict):
    by: Person
    at: Moment
    format: Format
    generator: str


class SafeguardingRecord(_Strict):
    """A case as a record for the school's child-protection file."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    title: str
    confidential: str
    school: str
    reference: str
    status: Coded
    urgent: bool
    urgency: str
    urgent_reason: str | None = None
    categories: list[Coded]
    reported_by: Person
    reported_at: Moment
    summary: list[Fact] = Field(description="the report's answers, labelled as the report asked them")
    routed_to: list[RouteEntry]
    excluded: list[RouteEntry]
    actions: list[Entry]
    outcome: Coded | None = None
    closed: Entry | None = Field(default=None, description="the closing event, with the outcome and its reasons")
    plan: list[PlanLine] = Field(default_factory=list, description="the case plan's items, done or open")
    chronology: list[Entry]
    evidence: list[EvidenceItem]
    content_version: str = Field(description="the version of the wording and facts the reporter saw")
    content_version_current: str
    integrity: Integrity
    exported: Export


def record_schema() -> dict[str, Any]:
    """The JSON schema of an exported record (docs/record.schema.json is this, written out)."""
    schema = SafeguardingRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/online-safety-bot/online-safety-bot/docs/record.schema.json"
    return schema


def moment(at: datetime) -> Moment:
    if at.tzinfo is None:  # stored times are UTC; an old naive one is taken as UTC too
        at = at.replace(tzinfo=timezone.utc)
    utc = at.astimezone(timezone.utc)
    uk = utc.astimezone(UK)
    return Moment(utc=utc, uk=uk, uk_zone=uk.tzname() or "UK")


def utc_text(m: Moment) -> str:
    return f"{m.utc:%Y-%m-%d %H:%M:%S} UTC"


def uk_text(m: Moment) -> str:
    return f"{m.uk:%-d %B %Y, %H:%M:%S} {m.uk_zone}"

