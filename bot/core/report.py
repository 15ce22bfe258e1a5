"""A report as the code reads it: the answers of content/flows/report_concern.yaml by their step ids, typed, and what
the bot adds (the images guardrail, the safety check's flags, why an allegation is urgent).

A case keeps its answers as they were given (`Case.answers`, a mapping, so a case opened with older content keeps
every answer); the code reads them through `Case.report` (or `Report.of(answers)` for a report still in progress).
An answer of an unexpected shape, from older content, reads as not given rather than failing the case.

The code relies on some of the flow's step and choice ids by name (`RELIED_ON`): content check refuses a
report_concern.yaml without them, naming the file and the id.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator


def _or(default: Callable[[], Any]) -> WrapValidator:
    """A field that reads as its default when the stored value is not of its type (an answer from older content)."""

    def read(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return default()

    return WrapValidator(read)


class AccountAnswer(BaseModel):
    """One account or link the report names (bot/core/text.py `parse_accounts` makes them)."""

    value: str
    kind: str | None = None  # "handle" or "url"
    platform: str | None = None


class EvidenceAnswer(BaseModel):
    files: list[dict[str, Any]] = Field(default_factory=list)  # name, ref, content_type, size, sha256
    notes: list[str] = Field(default_factory=list)


class Report(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    categories: Annotated[list[str], _or(list)] = Field(default_factory=list)
    images: Annotated[str | None, _or(lambda: None)] = None
    allegation_about: Annotated[str | None, _or(lambda: None)] = None
    platforms: Annotated[list[str], _or(list)] = Field(default_factory=list)
    accounts: Annotated[list[AccountAnswer], _or(list)] = Field(default_factory=list)
    first_seen: Annotated[date | None, _or(lambda: None)] = None
    first_seen_approximate: Annotated[bool, _or(lambda: False)] = False  # said roughly: "around" that day
    description: Annotated[str | None, _or(lambda: None)] = None
    who_appears: Annotated[list[str], _or(list)] = Field(default_factory=list)
    names: Annotated[str | None, _or(lambda: None)] = None
    evidence: Annotated[EvidenceAnswer | None, _or(lambda: None)] = None
    others_know: Annotated[list[str], _or(list)] = Field(default_factory=list)
    behind_it: Annotated[str | None, _or(lambda: None)] = None
    behind_it_detail: Annotated[str | None, _or(lambda: None)] = None
    # added by the bot, never asked
    guardrail: Annotated[dict[str, Any] | None, _or(lambda: None)] = None  # possible sexual images of under-18s
    safety: Annotated[dict[str, Any] | None, _or(lambda: None)] = None  # what the safety check found, where
    allegation_harm: Annotated[dict[str, str] | None, _or(lambda: None)] = None  # why an allegation is urgent

    @classmethod
    def of(cls, answers: Mapping[str, Any]) -> Report:
        return cls.model_validate(dict(answers))

    def answered(self, step_id: str) -> bool:
        return step_id in self.model_fields_set or step_id in (self.model_extra or {})

    @property
    def subject_pending(self) -> bool:
        """An allegation that has not yet said whom it is about: neither the reporter nor the head was picked, and
        the names question is still to come (once it is answered or skipped, what the report says is all there
        is)."""
        return ("allegation" in self.categories and self.allegation_about not in ("me", "headteacher")
                and not self.answered("names"))


# The step and choice ids of content/flows/report_concern.yaml that the code names.
RELIED_ON: dict[str, set[str]] = {
    "categories": {"school_impersonation", "targeting_me", "targeting_staff", "showing_learners", "allegation",
                   "low_level_concern"},
    "images": {"yes", "not_sure", "no"},
    "allegation_about": {"me", "headteacher", "dsl"},
    "platforms": set(),
    "accounts": set(),
    "first_seen": set(),
    "description": set(),
    "who_appears": {"learners"},
    "names": set(),
    "evidence": set(),
    "behind_it": set(),
}
