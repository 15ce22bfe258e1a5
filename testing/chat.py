"""One person's conversation with the engine, in process, and the standard report the tests and benchmarks walk."""

from __future__ import annotations

from bot.conversation.engine import Engine
from bot.core.models import Attachment, Reply, Turn


class Chat:
    """One person's conversation with the bot, in process."""

    def __init__(self, bot: Engine, user: str = "console:teacher", school: str = "default"):
        self.bot = bot
        self.platform, _, self.user_id = user.partition(":")
        self.school = school
        self.last: list[Reply] = []

    def _turn(self, **fields) -> Turn:
        return Turn(platform=self.platform, user_id=self.user_id, conversation_id=self.user_id,
                    school_id=self.school, **fields)

    async def open(self) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(kind="open"))
        return self.last

    async def say(self, text: str, **fields) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(text=text, **fields))
        return self.last

    async def pick(self, *ids: str, **fields) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(choices=list(ids), **fields))
        return self.last

    async def attach(self, *files: Attachment, text: str | None = None) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(attachments=list(files), text=text))
        return self.last

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.last]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def reply(self, key: str) -> Reply:
        for r in self.last:
            if r.key == key:
                return r
        raise AssertionError(f"no reply {key!r} in {self.keys}")

    def choice_ids(self) -> list[str]:
        return [c.id for r in self.last for c in r.choices]


# A report that reaches the summary; each entry is one turn (text, or a list of choice ids).
STANDARD_REPORT: list[str | list[str]] = [
    "I'm being targeted",
    ["targeting_me"],
    ["no"],
    ["instagram"],
    "@fake_hillside https://www.instagram.com/fake_hillside/?igsh=abc",
    "yesterday",
    "It posts photos of me from the school website with mocking captions.",
    ["me", "school_brand"],
    "skip",
    "I have screenshots saved on the school laptop",
    ["done"],
    ["nobody"],
    ["no_idea"],
]


async def walk(chat: Chat, steps: list[str | list[str]]) -> None:
    for step in steps:
        if isinstance(step, list):
            await chat.pick(*step)
        else:
            await chat.say(step)
