"""Understanding an answer in the person's own words: which of a question's choices it means.

Plain and explainable, in this order: the whole answer is a choice's id, label or one of its phrases; else the
phrases found inside the answer (the longest wins where two overlap), and in the rest of it the same with
typos, by rapidfuzz's edit-distance ratio against a threshold. A phrase that belongs to two choices (unless the
rest of the answer names one of them), or two choices matched where only one may be picked, is never settled
silently: the choices are offered back ("Did
you mean ...?"). Hedges ("I think", "probably") are set aside first. No language model, and nothing leaves the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from rapidfuzz import fuzz, process

from bot.core.text import normalise, plain, plain_phrase

# A phrase this long or longer may be matched with a typo; the ratio (0-100) it needs.
FUZZY_MIN_LENGTH = 5
FUZZY_RATIO = 85  # 80 took "an account" for "fake account" and "a page" for "fake page"
# Two fuzzy candidates closer than this are both offered back.
FUZZY_MARGIN = 6
SHORT_WORD = 2  # a word this short in a phrase is never matched with a typo ("me" is not "mr")
# After a miss, "Did you mean ...?" offers the choices whose phrases are at least this close to the whole answer
# (rapidfuzz's token sort ratio: the words in any order), from phrases of at least CLOSEST_MIN_LENGTH letters.
CLOSEST_RATIO = 62  # 60 took "the police" for "the school" and "i told my husband" for "told the head"
CLOSEST_MIN_LENGTH = 4


@dataclass(frozen=True)
class Option:
    """A choice as the matcher sees it: its id, its label and every other phrase that means it."""

    id: str
    label: str
    phrases: tuple[str, ...] = ()
    by_name: bool = True  # its id and label mean it too (not for cues, whose ids are not words people say)


@dataclass
class Understood:
    picked: list[str] = field(default_factory=list)  # what the answer surely means
    maybe: list[str] = field(default_factory=list)  # what it may mean: offered back, never taken silently


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    option: str
    score: float


def without_hedges(text: str, hedges: Iterable[str]) -> str:
    """`text` normalised, with hedging words taken out ("tiktok i think" is "tiktok")."""
    said = f" {plain(text)} "
    for spaced in _hedges_longest_first(tuple(hedges)):
        said = said.replace(spaced, " ")
    return " ".join(said.split())


@lru_cache(maxsize=64)
def _hedges_longest_first(hedges: tuple[str, ...]) -> tuple[str, ...]:
    """The hedges as answers are read (normalised), longest first, with a space each side; worked out once per
    content's list."""
    spoken = sorted((plain_phrase(h) for h in hedges), key=len, reverse=True)
    return tuple(f" {h} " for h in spoken if h)


def _phrases(option: Option, hedges: Iterable[str]) -> frozenset[str]:
    return _phrases_read(option, tuple(hedges))


@lru_cache(maxsize=4096)
def _phrases_read(option: Option, hedges: tuple[str, ...]) -> frozenset[str]:
    """The option's phrases as answers are read: normalised, and also with hedges set aside where that leaves a
    phrase of some length ("working on it" is also "working it", as "on" is set aside from answers). Options and
    hedges come from the content, so each is worked out once, not on every answer."""
    words = {*((option.id.replace("_", " "), option.label) if option.by_name else ()), *option.phrases}
    read = {plain_phrase(w) for w in words}
    unhedged = {without_hedges(w, hedges) for w in words}
    return frozenset(p for p in read | unhedged if p and (p in read or len(p) >= FUZZY_MIN_LENGTH))


def is_one_of(text: str, words: Iterable[str], hedges: Iterable[str] = ()) -> bool:
    """Whether the whole of `text` says one of `words` (a typo allowed in the longer ones)."""
    said = without_hedges(text, hedges)
    if not said:
        return False
    exact, typo_allowed = _one_of(tuple(words), tuple(hedges))
    return said in exact or process.extractOne(said, typo_allowed, scorer=fuzz.ratio, score_cutoff=90) is not None


def is_made_of(text: str, words: Iterable[str], hedges: Iterable[str] = ()) -> bool:
    """Whether the whole of `text` is one or more of `words` in a row ("yeh thats it", "yes exactly": two ways
    of saying yes), each said exactly; hedges aside, as `is_one_of` sets them aside."""
    said = without_hedges(text, hedges).split()
    if not said:
        return False
    phrases = _one_of(tuple(words), tuple(hedges))[0]
    longest = max((len(p.split()) for p in phrases), default=0)
    ends = {0}  # how many of the words said can be made of whole phrases
    for start in range(len(said)):
        if start in ends:
            ends |= {start + n for n in range(1, longest + 1) if " ".join(said[start:start + n]) in phrases}
    return len(said) in ends


@lru_cache(maxsize=256)
def _one_of(words: tuple[str, ...], hedges: tuple[str, ...] = ()) -> tuple[frozenset[str], tuple[str, ...]]:
    """`words` as answers are read (with any hedge in them set aside, as it is in what is said: "spot on" is read
    as "spot"), and those long enough to be matched with a typo; worked out once per list."""
    read = [without_hedges(w, hedges) if hedges else plain_phrase(w) for w in words]
    read = [w for w in read if w]
    return frozenset(read), tuple(w for w in read if len(w) >= FUZZY_MIN_LENGTH + 3)


def understand(text: str, options: list[Option], *, multiple: bool, hedges: Iterable[str] = ()) -> Understood:
    """Which of `options` the answer `text` means."""
    said = without_hedges(text, hedges) or normalise(text).replace("'", "")
    if not said or not options:
        return Understood()
    hedges = tuple(hedges)
    phrases = {o.id: _phrases(o, hedges) for o in options}
    whole = _whole(said, phrases)
    if whole:
        return Understood(picked=whole) if len(whole) == 1 else Understood(maybe=whole)
    found = _found(said, phrases)
    order = [o.id for o in options]
    typos = [t for t in _fuzzy(said, _typo_choices(tuple(options), hedges), order)
             if not any(f.start < t.end and t.start < f.end for f in found)]
    hits = found + typos
    return _settle(hits, [o.id for o in options], multiple)


def closest(text: str, options: list[Option], hedges: Iterable[str] = (), limit: int = 2) -> list[str]:
    """After a miss: the (at most `limit`) options nearest the whole answer, best first, if any is near enough
    to be worth asking about ("my mate at work" is near "a friend at work", a colleague)."""
    said = without_hedges(text, hedges) or normalise(text).replace("'", "")
    owner: dict[str, str] = {}
    for option in options:
        for phrase in _phrases(option, hedges):
            if len(phrase) >= CLOSEST_MIN_LENGTH:
                owner.setdefault(phrase, option.id)
    found: list[str] = []
    for phrase, _, _ in process.extract(said, list(owner), scorer=fuzz.token_sort_ratio,
                                        score_cutoff=CLOSEST_RATIO, limit=None):
        if owner[phrase] not in found:
            found.append(owner[phrase])
    return found[:limit]


def said_whole(text: str, options: list[Option], hedges: Iterable[str] = ()) -> list[str]:
    """The options whose id, label or one of whose phrases is the whole answer (no phrase found inside it)."""
    said = without_hedges(text, hedges) or normalise(text).replace("'", "")
    hedges = list(hedges)
    return _whole(said, {o.id: _phrases(o, hedges) for o in options}) if said else []


def _whole(said: str, phrases: dict[str, frozenset[str]]) -> list[str]:
    return [option for option, words in phrases.items() if said in words]


def _found(said: str, phrases: dict[str, frozenset[str]]) -> list[_Hit]:
    hits = []
    for option, words in phrases.items():
        for phrase in words:
            if phrase not in said:  # the pattern needs the phrase itself: most are not there at all
                continue
            # a plural said for a phrase's singular counts too: "mums" is "mum", "colleagues" is "colleague"
            for match in re.finditer(rf"(?<!\S){re.escape(phrase)}(?:s|es)?(?!\S)", said):
                hits.append(_Hit(match.start(), match.end(), option, 100.0))
    return hits


@lru_cache(maxsize=1024)
def _typo_choices(options: tuple[Option, ...], hedges: tuple[str, ...]) -> dict[int, tuple[list[str], list[str]]]:
    """The phrases that may be matched with a typo, by their number of words: (the phrases, the option each
    means), built once per question's options rather than on every answer."""
    by_size: dict[int, tuple[list[str], list[str]]] = {}
    for option in options:
        for phrase in sorted(_phrases_read(option, hedges)):
            if len(phrase) >= FUZZY_MIN_LENGTH:
                choices, owners = by_size.setdefault(len(phrase.split()), ([], []))
                choices.append(phrase)
                owners.append(option.id)
    return by_size


def _fuzzy(said: str, by_size: dict[int, tuple[list[str], list[str]]], order: list[str]) -> list[_Hit]:
    """Phrases found with a typo: each run of words in the answer is compared (by rapidfuzz, in one call) with
    every phrase of as many words. Hits come in the options' order."""
    words = list(re.finditer(r"\S+", said))
    hits = []
    for size, (choices, owners) in by_size.items():
        for i in range(len(words) - size + 1):
            start, end = words[i].start(), words[i + size - 1].end()
            run = said[start:end]
            for phrase, score, k in process.extract(run, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_RATIO,
                                                    limit=None):
                if _short_words_kept(run, phrase):
                    hits.append(_Hit(start, end, owners[k], score))
    return sorted(hits, key=lambda h: (order.index(h.option), h.start))


def _short_words_kept(run: str, phrase: str) -> bool:
    """A typo is allowed in a phrase's longer words only: a word of one or two letters must be typed as it is,
    or "mocking mr brown" would be "mocking me" (one letter apart), a page about a colleague read as one about
    the person reporting it."""
    pairs = zip(run.split(), phrase.split(), strict=True)  # as many words: phrases are compared by their size
    return all(typed == word for typed, word in pairs if len(word) <= SHORT_WORD)


def _settle(hits: list[_Hit], order: list[str], multiple: bool) -> Understood:
    """Overlapping hits: the longest (then the best) wins. A phrase that means two choices equally leaves both
    unsure, unless another part of the answer names one of them ("fake account of me": of me)."""
    kept: list[_Hit] = []
    tied: dict[tuple[int, int], set[str]] = {}
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), -h.score)):
        rivals = [k for k in kept if k.start < hit.end and hit.start < k.end]
        if not rivals:
            kept.append(hit)
            continue
        level = [r for r in rivals if r.option != hit.option and (r.start, r.end) == (hit.start, hit.end)
                 and r.score - hit.score < FUZZY_MARGIN]
        if level:
            tied.setdefault((hit.start, hit.end), set()).update({hit.option, *(r.option for r in level)})
    sure = {h.option for h in kept if (h.start, h.end) not in tied}
    unsure = set().union(*(group for group in tied.values() if not group & sure))
    found = sorted(sure | unsure, key=order.index)
    if not found:
        return Understood()
    if unsure or (len(found) > 1 and not multiple):
        return Understood(maybe=found)
    return Understood(picked=found)
