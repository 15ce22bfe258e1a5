"""The first message is the start of the report: what it already says, read into the report's answers.

Categories, who appears and who may be behind it come from the phrases in content/phrases.yaml `first_message`;
platforms from their names (and other names) and from links; accounts from @handles and links; when it was first
seen from a date said in it (bot/dates.py); and the words themselves, when they describe something, become the
draft description. The bot says this back to be confirmed (bot/conversation/dialogs/report_concern.py), never guessing
silently: a phrase that could mean two answers to one question pre-fills nothing for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.core.content import Content
from bot.core.dates import find_date
from bot.core.text import normalise, parse_accounts
from bot.core.understand import Option, understand

# A first message with this many words or more besides a request for a report ("I need to report something")
# describes something: it becomes the draft description, and it starts a report even when nothing in it is
# recognised.
DESCRIBES_WORDS = 4


@dataclass
class FirstMessage:
    answers: dict[str, Any] = field(default_factory=dict)  # report answers it gives, by step id
    describes: bool = False  # long enough to be the draft description

    @property
    def names_facts(self) -> bool:
        """Whether it says what a report is about (what, where, which account, who), not only how someone feels."""
        return bool(set(self.answers) & {"categories", "platforms", "accounts", "who_appears", "behind_it"})

    @property
    def worth_confirming(self) -> bool:
        """Whether there is more to say back than a category: a short "I'm being targeted" just starts."""
        told = set(self.answers) - {"description"}
        return bool(told - {"categories"}) or (bool(told) and self.describes)


def _options(cues: dict[str, list[str]]) -> list[Option]:
    return [Option(id=choice, label=choice.replace("_", " "), phrases=tuple(words)) for choice, words in cues.items()]


def _picked(text: str, cues: dict[str, list[str]], content: Content) -> list[str]:
    if not cues:
        return []
    result = understand(text, _options(cues), multiple=True, hedges=content.phrases.hedges)
    return result.picked


def _platforms(text: str, content: Content, from_links: list[str]) -> list[str]:
    names = {p.id: [p.name, *content.phrases.platform_names.get(p.id, [])] for p in content.facts.platforms.values()}
    named = _picked(text, names, content)
    return [p for p in content.facts.platforms if p in named or p in from_links]


def _besides_asking(content: Content, text: str) -> str:
    """`text` without the phrases that ask for a report (content/phrases.yaml `intents`), matched on word starts."""
    said = normalise(text)
    for phrase in sorted(content.intents.get("report_concern", []), key=len, reverse=True):
        said = re.sub(rf"(?<!\S){re.escape(normalise(phrase))}\S*", " ", said)
    return said


def read_first_message(content: Content, text: str, today: date, half_terms: list[date] | None = None) -> FirstMessage:
    """What `text`, the message that starts a report, already answers."""
    cues = content.phrases.first_message
    answers: dict[str, Any] = {}
    accounts, _ = parse_accounts(text)
    # a single word is never a handle here ("report"): only an @handle or a link is an account
    accounts = [a for a in accounts if a.kind == "url" or f"@{a.value.lstrip('@')}" in text.lower()]
    for step in ("categories", "who_appears"):
        picked = _picked(text, cues.get(step, {}), content)
        if picked:
            answers[step] = picked
    behind = _picked(text, cues.get("behind_it", {}), content)
    if len(behind) == 1:
        answers["behind_it"] = behind[0]
    platforms = _platforms(text, content, [a.platform for a in accounts if a.platform])
    if platforms:
        answers["platforms"] = platforms
    if accounts:
        answers["accounts"] = [a.model_dump() for a in accounts]
    seen = find_date(text, today, half_terms)
    if seen:
        answers["first_seen"] = seen.isoformat()
    describes = len(_besides_asking(content, text).split()) >= DESCRIBES_WORDS
    if describes:
        answers["description"] = text
    return FirstMessage(answers=answers, describes=describes)


def starts_a_report(content: Content, text: str, reading: FirstMessage) -> bool:
    """A message no intent claimed starts a report when it asks for one in other words or with a typo ("repot a
    concern"), or says something a report would: a category, a platform, an account, who appears, or a
    description."""
    if reading.describes or reading.names_facts:
        return True
    asks = Option(id="report", label="report", phrases=tuple(content.intents.get("report_concern", [])))
    return bool(understand(text, [asks], multiple=False, hedges=content.phrases.hedges).picked)
