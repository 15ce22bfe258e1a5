"""What a flow's answers mean in words, from the content: the phrases behind each choice, and the words for
"nothing", "yes" and the like. The matching itself is bot/understand.py."""

from __future__ import annotations

import re

from bot.core.content import Content, Step
from bot.core.models import Choice
from bot.core.text import contains_phrase, normalise, plain, plain_phrase
from bot.core.understand import Option, is_made_of, is_one_of, understand, without_hedges

# An answer already dealt with (a "Did you mean ...?" asked, say): the step neither takes it nor asks again.
ASKED = object()

_MEANING_CHOICES = {"skip": "none", "done": "none"}


def answer_options(content: Content, step: Step, choices: list[Choice]) -> list[Option]:
    """The choices offered at `step`, each with its synonyms, its platform's other names and its meaning's words."""
    specs = {c.id: c for c in step.choices}
    words = content.phrases.answers
    options = []
    for choice in choices:
        spec = specs.get(choice.id)
        phrases = list(spec.synonyms) if spec else []
        if step.choices_from:
            platform = content.facts.platforms.get(choice.id)
            phrases += content.phrases.platform_names.get(choice.id, []) + ([platform.name] if platform else [])
        meaning = spec.means if spec else _MEANING_CHOICES.get(choice.id)
        takes = _meaning_words(step, meaning)
        for key, said in words.items():
            if key in takes:
                phrases += said
        if choice.id in ("skip", "done") and not spec:
            phrases += content.phrases.commands["skip" if choice.id == "skip" else "done"]
        options.append(Option(id=choice.id, label=choice.label, phrases=tuple(phrases)))
    return options


def _meaning_words(step: Step, meaning: str | None) -> list[str]:
    """Which of content/phrases.yaml `answers` a choice that means `meaning` takes: its own, and for the
    no-one/none choice every way of saying "no" too ("nope", "nah"), unless another choice means "no"."""
    if meaning is None:
        return []
    if meaning == "none" and not any(c.means == "no" for c in step.choices):
        return ["none", "no"]
    return [meaning]


def whole_meaning(content: Content, text: str) -> str | None:
    """"unsure", "none" or "no" when the whole answer says only that ("not sure", "nobody", "nope"), else None:
    such an answer never picks a choice by a word inside it ("not sure" is not "sure")."""
    answers, hedges = content.phrases.answers, content.phrases.hedges
    for meaning in ("unsure", "none", "no"):
        if is_one_of(text, answers.get(meaning, []), hedges):
            return meaning
    return None


def meaning_choice(step: Step, meaning: str) -> str | None:
    """The step's choice for a whole answer that means `meaning`: not knowing picks its not-knowing choice; "no"
    or "none" its no-one choice, else its "no" choice, else a not-knowing choice that itself lists "no" among its
    synonyms ("Where is it?" or "Any idea who is behind it?": "nah" is not knowing). Where none fits ("Who is
    it about?"), None: the answer is not guessed."""
    if meaning == "unsure":
        return next((c.id for c in step.choices if c.means == "unsure"), None)
    for kind in ("none", "no"):
        found = next((c.id for c in step.choices if c.means == kind), None)
        if found:
            return found
    return next((c.id for c in step.choices if c.means == "unsure" and "no" in c.synonyms), None)


def kept_words_choice(step: Step) -> str | None:
    """The choice that means "other" on a step that keeps the words as written, if it has one."""
    if not step.keeps_words_in:
        return None
    return next((c.id for c in step.choices if c.means == "other"), None)


def said_nothing(content: Content, text: str) -> bool:
    """"skip", "done", "no", "none", "nothing", "ok", "that's it", "I haven't got anything" and the like."""
    if not text:
        return False
    phrases = content.phrases
    words = [*phrases.commands["skip"], *phrases.commands["done"], *phrases.answers.get("none", []),
             *phrases.answers.get("no", [])]
    return is_one_of(text, words, phrases.hedges)


def said_unsure(content: Content, text: str, or_none: bool = False) -> bool:
    """Whether not knowing is said anywhere in `text` ("not sure when", "dont know what its called"), or with
    `or_none` not having it either ("i dont have the name sorry"): on a question whose answer could not be read,
    that is the answer. Phrases of fewer than four letters ("na", "?") are left to whole answers."""
    answers = content.phrases.answers
    phrases = [*answers.get("unsure", []), *content.phrases.commands["skip"], *(answers["none"] if or_none else [])]
    words = [w for w in phrases if len(normalise(w).replace(" ", "")) >= 4 or w in answers.get("unsure", [])]
    return bool(text) and contains_phrase(text, [w for w in words if normalise(w)]) is not None


def unsure_choice(step: Step) -> str | None:
    """The step's choice that means not knowing ("Not sure", "No idea", "Somewhere else, or not sure")."""
    return next((c.id for c in step.choices if c.means == "unsure"), None)


def said_yes(content: Content, text: str) -> bool:
    """"yes", "spot on", and ways of saying yes said together ("yeh thats it", "yes exactly")."""
    yes, hedges = content.phrases.answers.get("yes", []), content.phrases.hedges
    return bool(text) and (is_one_of(text, yes, hedges) or is_made_of(text, yes, hedges))


def first_clause(text: str) -> str:
    """`text` up to its first comma, full stop, dash or semicolon: "nothing" in "nothing, its all word of mouth"."""
    return re.split(r"[,.;:!?]| - ", text, maxsplit=1)[0].strip()


def too_short(text: str) -> bool:
    """Under three letters or digits: "ok", "?", an emoji."""
    return len(re.sub(r"[\W_]", "", text)) < 3


def asks_how_to_send(content: Content, text: str) -> bool:
    """"How do I send screenshots?" and the like (content/phrases.yaml `evidence_how`), typos allowed."""
    if not text:
        return False
    asking = Option(id="how", label="how", phrases=tuple(content.phrases.evidence_how))
    return bool(understand(text, [asking], multiple=False, hedges=content.phrases.hedges).picked)


def says_has_evidence(content: Content, text: str) -> bool:
    """"ive got screenshots", "i took screenshots of it all" and the like (content/phrases.yaml `has_evidence`),
    matched on word starts."""
    return _evidence_phrase(content, text) is not None


def says_only_has_evidence(content: Content, text: str) -> bool:
    """Whether `text` says only that they have evidence ("ive got screenshots", "i have screenshots of it"): nothing
    is left once its longest `has_evidence` phrase, hedges, small talk and `adding` words ("ive", "got") are set
    aside ("jake took screenshots" leaves "jake")."""
    phrase = _evidence_phrase(content, text)
    if phrase is None:
        return False
    said = re.sub(rf"(?<!\S){re.escape(phrase)}\S*", " ", plain(text))
    small = {plain_phrase(w) for w in [*content.phrases.small_talk, *content.phrases.adding]}
    return not [w for w in without_hedges(said, content.phrases.hedges).split() if w not in small]


def _evidence_phrase(content: Content, text: str) -> str | None:
    """The longest `has_evidence` phrase in `text` (normalised, without apostrophes), matched on word starts."""
    said = f" {plain(text)} "
    found = [p for p in (plain_phrase(w) for w in content.phrases.has_evidence) if p and f" {p}" in said]
    return max(found, key=len) if found else None


def split_long(text: str, limit: int) -> tuple[str, str]:
    """`text` cut to at most `limit` characters at the last paragraph, sentence or word end in its second half,
    and the rest."""
    head = text[:limit]
    for boundary in ("\n\n", "\n", ". ", " "):
        cut = head.rfind(boundary)
        if cut >= limit // 2:
            head = head[:cut + len(boundary)]
            break
    return head.rstrip(), text[len(head):].strip()
