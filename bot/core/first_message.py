"""The first message is the start of the report: what it already says, read into the report's answers.

Categories, who appears and who may be behind it come from the phrases in content/phrases.yaml `first_message`;
platforms from their names (and other names) and from links; accounts from @handles and links; when it was first
seen from a date said in it (bot/dates.py); and the words themselves, when they describe something, become the
draft description. The bot says this back to be confirmed (bot/conversation/dialogs/report_concern.py), never guessing
silently: a phrase that could mean two answers to one question pre-fills nothing for it (for what is happening,
those answers are kept as `unsure`, so the question can ask only which of them it is).

A message starts a report only when it names facts (what, where, which account, who, when) or asks for one: a
greeting, an apology or a hedge ("hi sorry to bother u this late") starts nothing, however long it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from bot.core.content import Content
from bot.core.dates import find_date, is_rough, rough_key, when_said
from bot.core.text import normalise, normalise_phrase, parse_accounts, plain, without_accounts
from bot.core.understand import Option, Understood, understand, without_hedges

# A message with this many words or more besides a request for a report ("I need to report something") describes
# something: when it starts a report, it becomes the draft description. Its length alone never starts one.
DESCRIBES_WORDS = 4
# A message with fewer words than this outside small talk is only a greeting or an apology.
SMALL_TALK_MAX_WORDS = 2
# What a message may tell about a report, each the answer to the question (step) of the same id.
FACTS = ("categories", "platforms", "accounts", "who_appears", "behind_it", "first_seen")
# Beside first_seen: it was said roughly ("maybe last week"), so the report says "around" that day.
ROUGH_DATE = rough_key("first_seen")


@dataclass
class FirstMessage:
    answers: dict[str, Any] = field(default_factory=dict)  # report answers it gives, by step id
    describes: bool = False  # long enough to be the draft description
    unsure: list[str] = field(default_factory=list)  # what is happening, when the words fit several ("fake account")

    @property
    def facts(self) -> dict[str, Any]:
        """The answers it gives besides the description."""
        return {k: v for k, v in self.answers.items() if k in FACTS}

    @property
    def names_facts(self) -> bool:
        """Whether it says what a report is about (what, where, which account), or two things of one (who, when,
        who may be behind it), not only how someone feels or that they are sorry to bother anyone: "sorry to
        message so late tonight" names a when and nothing else."""
        facts = self.facts
        return bool(self.unsure or set(facts) & {"categories", "platforms", "accounts"} or len(facts) >= 2)

    @property
    def worth_confirming(self) -> bool:
        """Whether there is more to say back than a category: a short "I'm being targeted" just starts."""
        told = set(self.answers) - {"description"}
        return bool(told - {"categories"}) or (bool(told) and self.describes)


def _options(cues: dict[str, list[str]]) -> list[Option]:
    return [Option(id=choice, label=choice.replace("_", " "), phrases=tuple(words), by_name=False)
            for choice, words in cues.items()]


def _read(text: str, cues: dict[str, list[str]], content: Content) -> Understood:
    if not cues:
        return Understood()
    return understand(text, _options(cues), multiple=True, hedges=content.phrases.hedges)


def _picked(text: str, cues: dict[str, list[str]], content: Content) -> list[str]:
    return _read(text, cues, content).picked


def _platforms(text: str, content: Content, from_links: list[str]) -> list[str]:
    names = {p.id: [p.name, *content.phrases.platform_names.get(p.id, [])] for p in content.facts.platforms.values()}
    named = _picked(text, names, content)
    return [p for p in content.facts.platforms if p in named or p in from_links]


@lru_cache(maxsize=8)
def _fake_platform(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\bfake (?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")


def _platform_as_account(content: Content, text: str) -> str:
    """"a fake tiktok", "a fake insta" read as "a fake account" is: a platform said where the account would be."""
    names = tuple(normalise_phrase(n) for p in content.facts.platforms.values()
                  for n in (p.name, *content.phrases.platform_names.get(p.id, [])))
    return _fake_platform(names).sub("fake account", normalise(text))


def _besides_asking(content: Content, text: str) -> str:
    """`text` without the phrases that ask for a report (content/phrases.yaml `intents`), matched on word starts."""
    said = normalise(text)
    for pattern in _asking_patterns(tuple(content.intents.get("report_concern", []))):
        said = pattern.sub(" ", said)
    return said


@lru_cache(maxsize=8)
def _asking_patterns(phrases: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The phrases that ask for a report, longest first, each as a pattern matched on word starts: made once."""
    return tuple(re.compile(rf"(?<!\S){re.escape(normalise_phrase(phrase))}\S*")
                 for phrase in sorted(phrases, key=len, reverse=True))


def read_first_message(content: Content, text: str, today: date, half_terms: list[date] | None = None) -> FirstMessage:
    """What `text`, the message that starts a report, already answers."""
    cues = content.phrases.first_message
    answers: dict[str, Any] = {}
    words = without_accounts(text)
    categories = _read(_platform_as_account(content, words), cues.get("categories", {}), content)
    if categories.picked:
        answers["categories"] = categories.picked
    who = _picked(words, cues.get("who_appears", {}), content)
    if who:
        answers["who_appears"] = who
    behind = _picked(words, cues.get("behind_it", {}), content)
    if len(behind) == 1:
        answers["behind_it"] = behind[0]
    answers.update(where_named(content, text))
    seen = find_date(text, today, half_terms)
    if seen:
        answers["first_seen"] = seen.isoformat()
        if is_rough(when_said(text)):
            answers[ROUGH_DATE] = True
    besides = _besides_asking(content, text)
    describes = len(besides.split()) >= DESCRIBES_WORDS and not only_small_talk(content, besides)
    if describes:
        answers["description"] = text
    return FirstMessage(answers=answers, describes=describes, unsure=categories.maybe)


def where_named(content: Content, text: str) -> dict[str, Any]:
    """Only the platforms and accounts `text` names, as `read_first_message` reads them: its answers' "platforms"
    and "accounts" (for a later answer that may say where else it is, without reading all the rest again)."""
    answers: dict[str, Any] = {}
    accounts, _ = parse_accounts(text)
    # a single word is never a handle here ("report"): only an @handle or a link is an account
    accounts = [a for a in accounts if a.kind == "url" or f"@{a.value.lstrip('@')}" in text.lower()]
    platforms = _platforms(without_accounts(text), content, [a.platform for a in accounts if a.platform])
    if platforms:
        answers["platforms"] = platforms
    if accounts:
        answers["accounts"] = [a.model_dump() for a in accounts]
    return answers


def only_small_talk(content: Content, text: str) -> bool:
    """Whether `text` is only a greeting, an apology or a hedge ("hi sorry to bother u this late", "um hi, are you
    there"): fewer than two of its words are outside content/phrases.yaml `small_talk` and `hedges`, so there is
    nothing in it worth keeping for a report."""
    known = {normalise_phrase(w).replace("'", "") for w in content.phrases.small_talk}
    said = without_hedges(text, content.phrases.hedges)
    return len([w for w in said.split() if w not in known]) < SMALL_TALK_MAX_WORDS


def only_adds(content: Content, text: str) -> bool:
    """Whether `text` only says where else it is ("its on tiktok too", "also @hillside.roasts on insta"): nothing
    is left once its platforms, accounts, small talk and content/phrases.yaml `adding` words are set aside."""
    said = f" {plain(without_accounts(text))} "
    names = [p.name for p in content.facts.platforms.values()]
    names += [n for others in content.phrases.platform_names.values() for n in others]
    for name in sorted((normalise(n).replace("'", "") for n in names), key=len, reverse=True):
        said = said.replace(f" {name} ", " ")
    known = {normalise(w).replace("'", "") for w in [*content.phrases.small_talk, *content.phrases.adding]}
    return not [w for w in without_hedges(said, content.phrases.hedges).split() if w not in known]


def starts_a_report(content: Content, text: str, reading: FirstMessage) -> bool:
    """A message no intent claimed starts a report when it asks for one in other words or with a typo ("repot a
    concern"), or names facts a report would: what is happening, a platform, an account, who appears, or when.
    Words alone, however many, do not: "hi sorry to bother u this late" is answered, not made a report."""
    if reading.names_facts:
        return True
    asks = Option(id="report", label="report", phrases=tuple(content.intents.get("report_concern", [])))
    return bool(understand(text, [asks], multiple=False, hedges=content.phrases.hedges).picked)
