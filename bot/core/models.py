"""The neutral shapes that pass between adapters, the engine and the store.

Nothing here knows which chat platform a turn came from: a user is `platform:id`
and adapters translate their own payloads into `Turn` and `Reply` objects.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


# --- Inbound -----------------------------------------------------------------------------


class Attachment(BaseModel):
    """A file the user shared. The bot records what it is and where it lives, never its bytes."""

    name: str
    ref: str = Field(description="where the file lives: a path, a platform file id or a permalink")
    content_type: str | None = None
    size: int | None = Field(default=None, description="bytes, where the platform says")
    sha256: str | None = None
    missing: bool = Field(default=False, description="the file named could not be found")


class Turn(BaseModel):
    """One thing a user did: opened the chat, sent text, clicked a choice or shared files."""

    platform: str
    user_id: str
    conversation_id: str
    kind: Literal["message", "open"] = "message"
    text: str | None = None
    choices: list[str] = Field(default_factory=list, description="ids picked (a button, or several checkboxes)")
    attachments: list[Attachment] = Field(default_factory=list)
    answering: str | None = Field(default=None, description="the question a clicked button belonged to (Reply.asks)")
    forms: bool = Field(default=False, description="the channel can show a form in answer to this turn")
    files: bool = Field(default=False, description="the channel can deliver a file in answer to this turn")
    updates_cards: bool = Field(default=False, description="the channel updates a case card in place once shown")
    form_id: str | None = Field(default=None, description="the form these values were submitted from (Form.id)")
    form_values: dict[str, str] = Field(default_factory=dict, description="field id -> what was entered or picked")
    turn_id: str | None = Field(default=None, description="the platform's delivery id, used to ignore retries")
    display_name: str | None = Field(default=None, description="the name the platform gives the person, if it says")
    school_id: str = "default"
    question_unseen: bool = Field(default=False, description="the channel could not show the person the last question "
                                  "before they wrote this (the platform refused it): typed words are not its answer")

    @property
    def user(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def conversation_key(self) -> str:
        return f"{self.school_id}/{self.platform}:{self.conversation_id}"


# --- Outbound ----------------------------------------------------------------------------


class Choice(BaseModel):
    id: str
    label: str


class CaseCard(BaseModel):
    """What a case handler sees of a case: the facts and why it reached them."""

    reference: str
    status: str
    urgent: bool
    title: str
    summary: list[str] = Field(default_factory=list, description="what, where, since when, how urgent, what is "
                               "due next and by when: the card's first lines")
    fields: list[tuple[str, str]] = Field(default_factory=list)
    notice: list[str] = Field(default_factory=list, description="what this reader must do or not do, shown first")
    guidance: list[str] = Field(default_factory=list)
    mentions: dict[str, str] = Field(default_factory=dict, description="field label -> the person it names (user "
                                     "key), for channels that can add a mention to the name")


class FormField(BaseModel):
    id: str
    label: str
    kind: Literal["text", "choice"]
    choices: list[Choice] = Field(default_factory=list)
    optional: bool = False


class Form(BaseModel):
    """Several questions at once, for channels that can show a form (a Slack modal, Teams card inputs)."""

    id: str
    title: str
    submit: str
    cancel: str
    fields: list[FormField]


class FileReply(BaseModel):
    """A file for the user (a safeguarding record): only ever sent to the person who asked for it."""

    name: str
    media_type: str
    content: bytes


class Reply(BaseModel):
    key: str = Field(description="the content key of the wording, so tests and adapters need not match on text")
    text: str
    choices: list[Choice] = Field(default_factory=list)
    multiple: bool = Field(default=False, description="several choices may be picked at once")
    card: CaseCard | None = None
    form: Form | None = None
    file: FileReply | None = None
    urgent: bool = False
    asks: str | None = Field(default=None, description="the question these choices answer, to spot stale buttons")
    moved_on: bool = Field(default=False, description="a button was pressed on a question that has moved on: this "
                           "reply says so, and the pressed message keeps no note of the choice")
    after_change: bool = Field(default=False, description="the card follows a change the person has just made to it: "
                               "a channel that shows the card again, rather than updating it in place, may show its "
                               "summary alone")


# --- Conversation state ------------------------------------------------------------------


class Frame(BaseModel):
    """One flow in progress: where it is and what has been answered."""

    flow: str
    step: str
    answers: dict[str, Any] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list)
    draft_id: str = Field(default_factory=new_id)
    started_at: datetime = Field(default_factory=utcnow)
    editing: bool = Field(default=False, description="answering one step again from the summary")


class ConversationState(BaseModel):
    frames: list[Frame] = Field(default_factory=list, description="a stack: the last one is active")
    paused: list[Frame] = Field(default_factory=list, description="frames set aside after a long silence")
    offered: list[dict[str, str]] = Field(default_factory=list, description="choices shown last turn")
    numbered: list[str] = Field(default_factory=list, description="ids of the last question's choices, in order")
    offered_multiple: bool = False
    case_in_focus: str | None = Field(default=None, description="the reference of the last case shown to this person "
                                      "here, so its card's actions can be typed")
    back_to: str | None = Field(default=None, description="the button a typed \"back\" presses, from what was shown "
                                "last: the case from its plan or report pack, the list of cases from a card")
    case_list: list[str] = Field(default_factory=list, description="the references of the list of cases shown last, "
                                 "in its order, so \"next\" opens the one after the case in focus")
    unclear_words: str | None = Field(default=None, description="what someone said that named nothing a report "
                                      "would (not a greeting), offered as the start of the next report's description; "
                                      "kept only until a report starts, stop, or the conversation goes idle")
    listened: bool = Field(default=False, description="the last reply was the warm one to a message that named "
                           "nothing, so the next such reply is worded differently")
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def active(self) -> Frame | None:
        return self.frames[-1] if self.frames else None


# --- People and cases --------------------------------------------------------------------


class Role(StrEnum):
    DSL = "dsl"
    DEPUTY_DSL = "deputy_dsl"
    HEADTEACHER = "headteacher"
    CHAIR_OF_GOVERNORS = "chair_of_governors"
    STAFF = "staff"
    # Above school level: the local authority's or trust's safeguarding team, in the deployment's
    # authority (a school record of kind "authority"). Gets early-warning alerts, never case details.
    AUTHORITY_SAFEGUARDING = "authority_safeguarding"


CASE_HANDLER_ROLES = {Role.DSL, Role.DEPUTY_DSL, Role.HEADTEACHER, Role.CHAIR_OF_GOVERNORS}


class StaffMember(BaseModel):
    """A person in a school's directory, with every role they hold (in many primary schools the head is
    also the DSL). Routing, escalation and access ask `has(...)`, never one role alone."""

    user: str = Field(description="platform:id")
    roles: list[Role] = Field(min_length=1, description="every role the person holds, the main one first")
    name: str
    school_id: str = "default"

    @model_validator(mode="before")
    @classmethod
    def _one_role(cls, data: Any) -> Any:
        """`role=X` (one role, as directories made before several roles held it) reads as `roles=[X]`."""
        if isinstance(data, dict) and "role" in data:
            data = dict(data)
            role = data.pop("role")
            data.setdefault("roles", [role])
        return data

    @field_validator("roles")
    @classmethod
    def _once_each(cls, roles: list[Role]) -> list[Role]:
        return list(dict.fromkeys(roles))

    def has(self, *roles: Role) -> bool:
        """True when the person holds any of `roles`."""
        return any(r in self.roles for r in roles)

    @property
    def handles_cases(self) -> bool:
        return self.has(*CASE_HANDLER_ROLES)


class Workspace(BaseModel):
    """Where a school's staff talk to the bot: a Slack workspace (team id) or a Microsoft 365 tenant."""

    platform: str
    id: str


class School(BaseModel):
    """One tenant of a deployment. A trust may share one workspace among several schools: then the staff
    directory says which school each person is in."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["school", "authority"] = "school"
    reference_prefix: str | None = Field(default=None, pattern=r"^[A-Z]{2,6}$",
                                         description="for case references; the deployment's (OSB) if unset")
    content_dir: str | None = Field(default=None, description="the school's own content folder (bot/core/content.py)")
    nation: Literal["england", "wales", "scotland", "northern_ireland"] = Field(
        default="england",
        description="the UK nation whose statutory guidance the school follows (bot/core/nations.py)")
    workspaces: list[Workspace] = Field(default_factory=list)


class CaseStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Route(BaseModel):
    user: str
    role: Role
    reason: str


class Case(BaseModel):
    id: str = Field(default_factory=new_id)
    school_id: str = "default"
    reference: str = ""
    draft_id: str
    status: CaseStatus = CaseStatus.NEW
    urgent: bool = False
    categories: list[str]
    reporter: str
    answers: dict[str, Any]
    routed_to: list[Route] = Field(default_factory=list)
    excluded: list[Route] = Field(default_factory=list, description="who was kept off the route, and why")
    content_version: str
    outcome: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def possible_images(self) -> bool:
        """Urgent because it may involve sexual images of an under-18 (the guardrail), not because someone may be
        in danger, an allegation of a sexual or physical nature involves a learner or a handler marked it urgent.
        A case keeps whether the guardrail rose (`answers["guardrail"]`); one opened before it did is read as
        urgent for images unless it was urgent for an allegation."""
        if "guardrail" in self.answers:
            return self.urgent and bool(self.answers["guardrail"])
        return self.urgent and not self.answers.get("allegation_harm")

    def is_routed_to(self, user: str) -> bool:
        return any(r.user == user for r in self.routed_to)


class CaseEvent(BaseModel):
    case_id: str
    actor: str
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)
    prev_hash: str | None = Field(default=None, description="the hash of the case's previous event (set by the store)")
    hash: str | None = Field(default=None, description="this event's hash in the case's chain (set by the store)")


class Evidence(BaseModel):
    case_id: str
    name: str
    ref: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    added_by: str
    added_at: datetime = Field(default_factory=utcnow)


class Notification(BaseModel):
    """Replies waiting for someone who is not in this conversation."""

    id: str = Field(default_factory=new_id)
    school_id: str = "default"
    recipient: str
    case_id: str | None = None
    draft_id: str | None = Field(default=None, description=(
        "the report draft it was sent about before its case existed (the images guardrail's alert), so that "
        "it goes when that case is purged"))
    kind: Literal["message", "card_update"] = Field(
        default="message", description="card_update: replace the case card already shown to the recipient, if any"
    )
    replies: list[Reply]
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class Reminder(BaseModel):
    id: str = Field(default_factory=new_id)
    school_id: str = "default"
    recipient: str
    kind: str
    due_at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)
    sent_at: datetime | None = None


class Sighting(BaseModel):
    """One account named in one school's case: what early warning keeps, and nothing more."""

    school_id: str
    case_id: str
    account: str  # normalised by bot.core.text.account_key: "@hillside_muggies", or the link
    pattern: str | None  # "muggies": the handle without the school's name, digits or separators
    pattern_key: str | None = None  # "mugs": what variants of the pattern share (`pattern_key`)
    platform: str | None
    seen_at: datetime
