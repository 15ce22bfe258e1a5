"""What one turn works with: the turn, the conversation's state, the person, the school's scope, and the few
services a flow may call. Nothing here reaches back to the engine: flows, the safety check and casework are
handed a `Context`, and through `ctx.services` only what the `Services` protocol names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.cases.plan import PlanEntry
from bot.cases.scope import SchoolScope
from bot.core.config import Settings
from bot.core.content import Content
from bot.core.models import Attachment, Case, CaseCard, Choice, ConversationState, Frame, Reply, StaffMember, Turn
from bot.store import Store


@dataclass
class Input:
    """What the user gave this turn, already cleaned and with typed choices resolved to ids."""

    text: str = ""
    picked: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    overflow: str = ""  # the rest of a message too long for one answer (kept as a note: StepDialog.keep_overflow)


class CaseDesk(Protocol):
    """The casework a flow may ask for (bot/conversation/casework.py)."""

    async def alert_urgent(self, ctx: Context, frame: Frame, key: str) -> str: ...
    async def send_held_details(self, ctx: Context, frame: Frame) -> None: ...
    async def not_yet_reachable(self, school_id: str, users: list[str]) -> list[str]: ...
    async def handler_names(self, ctx: Context) -> str: ...
    async def open_case(self, ctx: Context, frame: Frame) -> Case: ...
    async def plan_of(self, scope: SchoolScope, case: Case) -> list[PlanEntry]: ...
    async def already_done(self, ctx: Context, case: Case, action: str, **detail: Any) -> None: ...
    async def add_note(self, ctx: Context, reference: str, note: str) -> None: ...
    async def record_action(self, ctx: Context, reference: str, action: str, detail: str | None) -> None: ...
    async def set_status(self, ctx: Context, reference: str, status: str) -> None: ...
    async def close(self, ctx: Context, reference: str, outcome: str, note: str | None,
                    reason: str | None = None) -> None: ...


class FlowRunner(Protocol):
    """What a flow may ask of the conversation it runs in (the engine provides it)."""

    async def ask_again(self, ctx: Context) -> None: ...
    async def show_menu(self, ctx: Context) -> None: ...
    async def start_flow(self, ctx: Context, flow_id: str, **answers: Any) -> None: ...
    async def emergency(self, ctx: Context) -> None: ...


@dataclass(frozen=True)
class Services:
    """The few things a flow may use beyond its own turn: the store, the settings, casework and the conversation."""

    store: Store
    settings: Settings
    casework: CaseDesk
    conversation: FlowRunner


@dataclass
class Context:
    services: Services
    scope: SchoolScope
    turn: Turn
    state: ConversationState
    member: StaffMember | None
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)  # notifications shown this turn: marked when it is saved
    way_back: str | None = None  # the button a typed "back" presses: what the last turn showed said so (back_to)

    @property
    def content(self) -> Content:
        """The school's words: the shared content with its own folder merged over it (bot/cases/schools.py)."""
        return self.scope.words

    @property
    def user(self) -> str:
        return self.turn.user

    @property
    def school_id(self) -> str:
        return self.turn.school_id

    def text(self, key: str, **values: Any) -> str:
        return self.scope.text(key, **values)

    def say(
        self, key: str, *, choices: list[Choice] | None = None, multiple: bool = False, card: CaseCard | None = None,
        urgent: bool = False, asks: str | None = None, **values: Any,
    ) -> Reply:
        reply = Reply(
            key=key, text=self.text(key, **values), choices=choices or [], multiple=multiple, card=card,
            urgent=urgent, asks=asks,
        )
        self.replies.append(reply)
        return reply

    def choice(self, id: str, key: str, **values: Any) -> Choice:
        return Choice(id=id, label=self.text(key, **values))


