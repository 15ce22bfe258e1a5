"""Loads and checks `content/`: every word the bot says and every fact it relies on.

The files are YAML so that a DSL can review them without reading code. Each fact carries
its source and the date it was last checked. `load_content` validates everything with
pydantic and raises `ContentError` naming the file and the field that is wrong.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.markup import escape

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"

PLACEHOLDER = re.compile(r"\{([a-z0-9_]+(?:\.[a-z0-9_]+)*)\}")

# Values the engine fills in at run time; any other placeholder must name a fact.
RUNTIME_VARIABLES = {
    "reference", "name", "dsl_names", "deputy_names", "school_name", "question", "limit", "max_chars",
    "max_size", "file_name", "summary", "routed_count", "step_title", "platform", "item", "done_count",
    "skipped_count", "left", "status", "outcome", "count", "cases", "date", "reporter", "role",
    "reason", "urgency", "categories", "started", "value", "reasons", "people", "position", "total",
    "open_required", "nation", "subject", "when", "where", "phone", "hours", "opens",
    "user", "school", "kind", "host", "port", "channels", "path", "flows", "facts", "setting",  # the command line's
}


class ContentError(Exception):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Nation = Literal["england", "wales", "scotland", "northern_ireland"]
NATIONS: tuple[Nation, ...] = get_args(Nation)


class Sourced(Strict):
    """A fact: where it comes from and when someone last checked it there. `unconfirmed` says what could not
    be confirmed at the source (the bot shows it as such, and `content check` lists it); `nations` are the
    UK nations the fact holds for (statutory guidance differs between them)."""

    source: HttpUrl
    checked: date
    unconfirmed: str | None = Field(default=None, description="why it could not be confirmed at its source; "
                                                               "`content check` lists every such fact")
    nations: list[Nation] = Field(default_factory=lambda: list(NATIONS))


# --- Facts -------------------------------------------------------------------------------


class OpenHours(Strict):
    """When a helpline answers, in UK time, as its `hours` says in words: every hour of every day, or a span on
    some weekdays (bank holidays are not known, so they count as the weekday they fall on)."""

    always: bool = False
    days: list[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]] = Field(
        default_factory=list)
    start: time | None = None
    end: time | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):  # unquoted, YAML reads 10:00 as the number 600
            raise ValueError('write the time in quotes as "HH:MM", for example "10:00"')
        return value

    @model_validator(mode="after")
    def _complete(self) -> "OpenHours":
        if not self.always and not (self.days and self.start and self.end and self.start < self.end):
            raise ValueError("give always: true, or days with a start earlier than the end")
        return self


class Helpline(Sourced):
    id: str
    name: str
    who_for: str
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    open_hours: OpenHours | None = Field(default=None, description="the hours as data, so the bot can say what is "
                                         "open now and when the rest open")
    url: HttpUrl | None = None


class Rule(Sourced):
    """A piece of official guidance the bot applies, in our own words."""

    id: str
    text: str


class ReportRoute(Sourced):
    """How to report some kinds of harm (content/facts/harms.yaml) on one platform."""

    harms: list[str] = Field(min_length=1)
    in_app: str | None = None
    web_form: HttpUrl | None = None
    category: str
    who: Literal["anyone", "the_person", "the_person_or_parent", "parent", "rights_holder"] = Field(
        description="who the platform acts for: anyone, only the person concerned (or also a parent), a parent, "
                    "or the owner of the name or logo")
    who_can_report: str
    needs_account: bool | None = Field(default=None, description="whether the reporter needs an account on the "
                                                                  "platform (None: not confirmed)")
    needs: str | None = None

    @model_validator(mode="after")
    def _has_a_way(self) -> "ReportRoute":
        if not (self.in_app or self.web_form):
            raise ValueError("a route needs in_app steps or a web_form")
        return self


class PrivacyItem(Sourced):
    id: str
    title: str
    how: str
    why: str


class PublicLimit(Sourced):
    text: str


class Platform(Strict):
    id: str
    name: str
    routes: list[ReportRoute] = Field(default_factory=list)
    privacy: list[PrivacyItem] = Field(default_factory=list)
    always_public: list[PublicLimit] = Field(default_factory=list)


class Harm(Sourced):
    """A kind of harm a report pack routes by. It fits a case when each condition given matches (any of
    its values): the case's categories, who may be behind it, words in the description."""

    id: str
    title: str
    why: str = Field(description="why this route fits, as the report pack says it")
    categories: list[str] = Field(default_factory=list)
    behind_it: list[str] = Field(default_factory=list)
    signs: list[str] = Field(default_factory=list, description="words in the description that suggest it")
    report_harmful_content: str | None = Field(default=None, description="Report Harmful Content's category for it")
    helplines: list[str] = Field(default_factory=list, description="helplines to show with it")


class Facts(Strict):
    helplines: dict[str, Helpline]
    rules: dict[str, Rule]
    platforms: dict[str, Platform]
    harms: dict[str, Harm] = Field(default_factory=dict)

    def lookup(self, path: str) -> Any:
        """`posh.phone` or `rules.lado_timing.text` style look-up; helplines are the default root."""
        head, _, rest = path.partition(".")
        if head == "rules":
            node: Any = self.rules
            parts = rest.split(".")
        elif head == "platforms":
            node = self.platforms
            parts = rest.split(".")
        else:
            node = self.helplines
            parts = path.split(".")
        for part in parts:
            if isinstance(node, dict):
                node = node[part]
            else:
                node = getattr(node, part)
        if node is None:
            raise KeyError(path)
        return node


FACT_FILES: dict[str, TypeAdapter[Any]] = {
    "helplines": TypeAdapter(dict[str, Helpline]), "rules": TypeAdapter(dict[str, Rule]),
    "platforms": TypeAdapter(dict[str, Platform]), "harms": TypeAdapter(dict[str, Harm]),
}


# --- Flows -------------------------------------------------------------------------------


class ChoiceSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(max_length=75)
    summary: str | None = Field(default=None, description="how the choice reads in a summary or case card")
    synonyms: list[str] = Field(default_factory=list, description="other ways people say it (bot/understand.py)")
    means: Literal["yes", "no", "none", "unsure", "other"] | None = Field(
        default=None, description="the choice also takes every word for this meaning in phrases.yaml `answers`")
    yours: str | None = Field(default=None, description="how the choice reads to the person who gave it, in their "
                              "summary (\"An account targeting you\"); the label where none is given")


class Condition(Strict):
    step: str
    includes: list[str] = Field(default_factory=list, description="asked when the answer includes any of these")
    answered: bool | None = None


StepType = Literal["choice", "multi", "text", "accounts", "date", "evidence", "summary", "info"]


class Step(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    type: StepType
    ask: str
    help: str | None = None
    title: str = Field(description="how the step is named in a summary and on the case card")
    choices: list[ChoiceSpec] = Field(default_factory=list)
    choices_from: Literal["platforms", "privacy_platforms"] | None = None
    optional: bool = False
    when: Condition | None = None
    keeps_words_in: str | None = Field(default=None, description="a later text step: after two misses, the words "
                                       "are kept there as written and the choice that means 'other' is picked")

    @model_validator(mode="after")
    def _choices_fit_type(self) -> "Step":
        if self.type in ("choice", "multi") and not (self.choices or self.choices_from):
            raise ValueError(f"step '{self.id}' of type {self.type} needs choices or choices_from")
        ids = [c.id for c in self.choices]
        if len(ids) != len(set(ids)):
            raise ValueError(f"step '{self.id}' repeats a choice id")
        return self


class FlowMenu(Strict):
    """A flow's entry in the menu."""

    label: str = Field(max_length=75, description="the menu button; also the message `menu.<flow id>`")
    order: int = Field(description="its place in the menu (the menu's own entries: My cases 40, Trends 50)")
    handlers_only: bool = Field(default=False, description="offered to, and startable by, case handlers only")


class Flow(Strict):
    id: str
    title: str
    menu: FlowMenu | None = Field(default=None, description="its menu entry; a flow with none is started from "
                                  "elsewhere (a case card, another flow)")
    starts_with: list[str] = Field(default_factory=list, description="phrases that start it, anywhere in a "
                                   "message, when nothing is running")
    done: str | None = Field(default=None, description="what the bot says when the last step is answered, for a "
                             "flow with no code of its own")
    noun: str | None = Field(default=None, description="how the bot refers back to the flow in progress "
                             "(\"your report\"); the title in lower case where none is given")
    form_title: str | None = Field(default=None, description="a short title for the flow shown as one form (a Slack "
                                   "modal's title holds 24 characters); the title where none is given")
    steps: list[Step]

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"{self.id}.{step_id}")

    @model_validator(mode="after")
    def _steps_are_consistent(self) -> "Flow":
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError("two steps share an id")
        for s in self.steps:
            if s.when and s.when.step not in ids[: ids.index(s.id)]:
                raise ValueError(f"step '{s.id}' depends on '{s.when.step}', which is not an earlier step")
            later_text = [t.id for t in self.steps[ids.index(s.id) + 1:] if t.type == "text"]
            if s.keeps_words_in and s.keeps_words_in not in later_text:
                raise ValueError(f"step '{s.id}' keeps words in '{s.keeps_words_in}', which is not a later text step")
        return self


# --- The case plan ---------------------------------------------------------------------


CaseFlag = Literal["images", "danger", "police", "sextortion"]


class PlanWhen(Strict):
    """An item applies when `urgent` matches (if given), the case has one of `flags` (if given) and none of
    `not_flags`, and, if categories or suspects are given, either matches. Flags are what the safety check
    found (bot/conversation/safety.py): possible sexual images of under-18s, danger, a police matter, sextortion."""

    urgent: bool | None = None
    flags: list[CaseFlag] = Field(default_factory=list)
    not_flags: list[CaseFlag] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    behind_it: list[str] = Field(default_factory=list)
    threshold: list[str] = Field(default_factory=list, description="an allegation's harm-threshold decision, "
                                 "as the case manager recorded it: meets, not_sure, low_level, harassment")


class PlanItem(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    text: str
    required: bool = False
    when: PlanWhen | None = None
    per_platform: bool = Field(default=False, description="one item for each platform in the case: {platform}")
    done_by_action: str | None = Field(default=None, description="recording this action ticks the item")
    done_when_answered: Literal["accounts", "first_seen", "evidence_files", "threshold"] | None = None
    nations: list[Nation] = Field(default_factory=lambda: list(NATIONS), description="the nations it applies in")


class PlanStep(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    items: list[PlanItem]


class CasePlan(Strict):
    steps: list[PlanStep]


# --- Phrases -----------------------------------------------------------------------------


class WelshWords(Strict):
    """Common Welsh words and greetings: a message with them gets the short bilingual reply."""

    review: str = Field(description="who must check the Welsh before it is relied on")
    words: list[str] = Field(min_length=1)


class Phrases(Strict):
    """Deterministic matching: a whole-message command, or a phrase contained in the message."""

    commands: dict[Literal["stop", "back", "menu", "help", "skip", "done", "pause", "resume", "delete"], list[str]]
    allegation_harm: list[str] = Field(default_factory=list, description="an allegation of a sexual or physical "
                                       "nature: with a learner involved, the case is urgent")
    learners: list[str] = Field(default_factory=list, description="words that say a learner is involved")
    intents: dict[str, list[str]] = Field(default_factory=dict, description="phrases that start something that is "
                                          "not a flow (My cases); a flow's own are in its file (`starts_with`)")
    answers: dict[Literal["yes", "no", "none", "unsure"], list[str]] = Field(
        default_factory=dict, description="the many ways of saying yes, no, nothing or not sure (bot/understand.py)")
    hedges: list[str] = Field(default_factory=list, description="words that soften an answer without changing it")
    adding: list[str] = Field(default_factory=list, description="the words of saying where else it is: a message of "
                              "these, platforms and accounts alone only adds them (\"its on tiktok too\")")
    small_talk: list[str] = Field(default_factory=list, description="the words of greetings and apologies: a message "
                                  "of these alone is not kept for a report (bot/core/first_message.py)")
    evidence_how: list[str] = Field(default_factory=list, description="asking how to send files, at the evidence step")
    has_evidence: list[str] = Field(default_factory=list, description="saying they have screenshots or evidence, "
                                    "before the evidence question: it is asked for later")
    platform_names: dict[str, list[str]] = Field(default_factory=dict, description="other names for each platform")
    first_message: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="phrases in a first message that pre-fill a report's answer: step, choice")
    switch: dict[Literal["report_concern", "privacy_check", "get_support", "my_cases"], list[str]] = Field(
        default_factory=dict, description="whole messages that ask for something else while a flow is running")
    feelings: list[str] = Field(default_factory=list, description="words that say how someone feels: acknowledged "
                                "before any options")
    wants_to_talk: list[str] = Field(default_factory=list, description="words that ask for a person to talk to: "
                                     "support first, whatever else the message says")
    welsh: WelshWords | None = None


class WordList(Sourced):
    words: list[str] = Field(min_length=1)


class PoliceWords(Sourced):
    """Harms that are matters for the police (101, or 999 if anyone is in immediate danger)."""

    doxxing: list[str]
    stalking: list[str]
    hate: list[str]
    harassment: list[str]


class SafetyWords(Strict):
    """content/safety.yaml: what the safety check (bot/conversation/safety.py) looks for in every message."""

    negations: WordList
    uncertain: WordList
    crisis_self: WordList
    crisis_words: WordList
    writer: WordList
    others: WordList
    danger_now: WordList
    danger_maybe: WordList
    threats: WordList
    police: PoliceWords
    images: WordList
    sextortion: WordList
    pictures: WordList


class Meta(Strict):
    version: str
    reviewed: date
    reviewed_by: str


class Content(BaseModel):
    meta: Meta
    messages: dict[str, str]
    phrases: Phrases
    safety: SafetyWords
    facts: Facts
    flows: dict[str, Flow]
    plan: CasePlan
    version: str

    @cached_property
    def intents(self) -> dict[str, list[str]]:
        """What each phrase starts, in the order they are tried: phrases.yaml's `intents` (My cases), then each
        flow's own `starts_with`, in menu order."""
        found = {key: list(phrases) for key, phrases in self.phrases.intents.items()}
        for flow in sorted(self.flows.values(), key=lambda f: f.menu.order if f.menu else 1000):
            if flow.starts_with:
                found.setdefault(flow.id, []).extend(flow.starts_with)
        return found

    def text(self, key: str, **values: Any) -> str:
        """The wording for `key` with its placeholders filled: facts first, then `values`."""
        template = self.messages[key]
        return render(template, self.facts, values)


def render(template: str, facts: Facts, values: dict[str, Any]) -> str:
    """Fill a template: run-time values are escaped unless they are `Markup`; facts are trusted content."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return escape(values[name])
        return str(facts.lookup(name))

    if "{" not in template:  # most have no placeholder
        return template.strip()
    return PLACEHOLDER.sub(fill, template).strip()


# --- Loading -----------------------------------------------------------------------------


MAX_YAML_BYTES = 512 * 1024  # the largest shipped file is about 22 KB


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases (`*name`): a few hundred bytes of nested aliases expand to gigabytes (an "alias
    bomb"), so files a school or an operator writes may not use them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed here", mark)
        return super().compose_node(parent, index)


def read_yaml(path: Path, error: type[ContentError] = ContentError, *, aliases: bool = False) -> Any:
    """A YAML file's data, or `error` naming the file. Files over MAX_YAML_BYTES are refused before they are
    read, and aliases only where `aliases` (the content shipped with the bot, which uses them)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise error(f"{path}: larger than {MAX_YAML_BYTES // 1024} KB: not a content file")
        return yaml.load(raw.decode("utf-8"), Loader=yaml.SafeLoader if aliases else _NoAliasLoader)
    except FileNotFoundError:
        raise error(f"{path}: file is missing") from None
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for an impossible date (and bad UTF-8)
        raise error(f"{path}: not valid YAML: {exc}") from None


def validated(model: Any, path: Path, data: Any, prefix: str = "", error: type[ContentError] = ContentError) -> Any:
    """Validate `data` (with a model class or a TypeAdapter); `error` names the file and the field."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join([prefix] * bool(prefix) + [str(p) for p in err['loc']]) or '(top)'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise error(f"{path}: {problems}") from None


def _flatten(prefix: str, node: Any, out: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out, path)
    elif isinstance(node, str):
        out[prefix] = node.strip()
    else:
        raise ContentError(f"{path}: {prefix}: expected text, found {type(node).__name__}")


def _keyed(items: Any, path: Path, field: str) -> dict[str, Any]:
    if not isinstance(items, list):
        raise ContentError(f"{path}: {field}: expected a list")
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise ContentError(f"{path}: {field}.{i}: each entry needs an id")
        if item["id"] in out:
            raise ContentError(f"{path}: {field}.{i}: id '{item['id']}' is used twice")
        out[item["id"]] = item
    return out


def load_content(directory: Path | None = None, overlay: Path | None = None) -> Content:
    """The content in `directory` (the repository's by default). A school's `overlay` folder has the same
    layout and holds only what it changes: each of its files is merged over the matching file (mappings
    key by key, lists of items with an `id` item by item), for its LADO, its safeguarding front door or
    its own wording. Only messages/ and facts/ can change (and the folder may hold the school's
    school_calendar.yaml); a file with no matching content file is an error, so a typo cannot hide."""
    root = Path(directory or DEFAULT_CONTENT_DIR)
    layered = _Layers(root, Path(overlay) if overlay else None)
    meta = validated(Meta, root / "meta.yaml", layered.read("meta.yaml"))

    messages: dict[str, str] = {}
    message_files: dict[str, Path] = {}
    for path in sorted((root / "messages").glob("*.yaml")):
        flat: dict[str, str] = {}
        _flatten("", layered.read(path.relative_to(root)), flat, path)
        messages.update(flat)
        message_files.update(dict.fromkeys(flat, path))

    phrases = validated(Phrases, root / "phrases.yaml", layered.read("phrases.yaml"))
    safety = validated(SafetyWords, root / "safety.yaml", layered.read("safety.yaml"))

    facts_data: dict[str, Any] = {}
    for name, adapter in FACT_FILES.items():
        path = root / "facts" / f"{name}.yaml"
        data = layered.read(path.relative_to(root))
        if not isinstance(data, dict):
            raise ContentError(f"{path}: expected a '{name}:' list at the top")
        facts_data[name] = validated(adapter, path, _keyed(data.get(name), path, name), name)
    facts = Facts(**facts_data)
    _check_harm_references(facts, root / "facts")

    flows: dict[str, Flow] = {}
    for path in sorted((root / "flows").glob("*.yaml")):
        flow = validated(Flow, path, layered.read(path.relative_to(root)))
        if flow.id != path.stem:
            raise ContentError(f"{path}: id: '{flow.id}' should match the file name '{path.stem}'")
        flows[flow.id] = flow
        if flow.menu:  # its menu label, as every other label, is a message too (a school's wording wins)
            messages.setdefault(f"menu.{flow.id}", flow.menu.label)
            message_files.setdefault(f"menu.{flow.id}", path)
    _check_report_ids(flows, root / "flows" / "report_concern.yaml")
    plan = validated(CasePlan, root / "case_plan.yaml", layered.read("case_plan.yaml"))
    actions = {c.id for c in flows["case_action"].step("action").choices} if "case_action" in flows else set()
    for step in plan.steps:
        for item in step.items:
            if item.done_by_action and item.done_by_action not in actions:
                raise ContentError(f"{root / 'case_plan.yaml'}: {step.id}.{item.id}.done_by_action: "
                                   f"'{item.done_by_action}' is not an action in flows/case_action.yaml")

    content = Content(
        meta=meta, messages=messages, phrases=phrases, safety=safety, facts=facts, flows=flows, plan=plan,
        version=f"{meta.version}+{_digest(root, layered.overlay)}",
    )
    _check_placeholders(content, message_files, root)
    _check_platform_limits(content, message_files, root)
    layered.check_all_used()
    return content


def _check_report_ids(flows: dict[str, Flow], path: Path) -> None:
    """The report's steps and choices that the code names (bot/core/report.py) are all in its flow."""
    from bot.core.report import RELIED_ON

    report = flows.get("report_concern")
    if report is None:
        raise ContentError(f"{path}: the report flow is missing; the bot cannot take a report without it")
    steps = {s.id: s for s in report.steps}
    for step_id, choice_ids in RELIED_ON.items():
        if step_id not in steps:
            raise ContentError(f"{path}: steps: '{step_id}' is missing; the code reads it (bot/core/report.py)")
        missing = sorted(choice_ids - {c.id for c in steps[step_id].choices})
        if missing:
            raise ContentError(f"{path}: steps.{step_id}.choices: {', '.join(repr(m) for m in missing)} missing; the "
                               "code reads them (bot/core/report.py)")


OVERLAY_FOLDERS = ("messages", "facts")


class _Layers:
    """Reads content files, each merged with the overlay's file of the same name if there is one."""

    def __init__(self, root: Path, overlay: Path | None):
        self.root = root
        self.overlay = overlay
        self.used: set[str] = set()
        if overlay is not None and not overlay.is_dir():
            raise ContentError(f"{overlay}: the school's content folder does not exist")

    def read(self, relative: Path | str) -> Any:
        relative = Path(relative).as_posix()
        data = read_yaml(self.root / relative, aliases=True)  # shipped with the bot; the school's own may not
        if self.overlay is not None and (self.overlay / relative).is_file():
            self.used.add(relative)
            data = _merge(data, read_yaml(self.overlay / relative))
        return data

    def check_all_used(self) -> None:
        if self.overlay is None:
            return
        for path in sorted(self.overlay.rglob("*.yaml")):
            relative = path.relative_to(self.overlay).as_posix()
            if relative == "school_calendar.yaml":  # the school's term dates: read by bot/cases/school_calendar.py
                continue
            if relative.split("/")[0] not in OVERLAY_FOLDERS:
                raise ContentError(f"{path}: a school's folder changes only messages/ and facts/ (and its "
                                   f"school_calendar.yaml); the flows and case plan are the same for every school")
            if relative not in self.used:
                raise ContentError(f"{path}: there is no content file of that name to change")


def _merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{k: _merge(base[k], v) if k in base else v for k, v in change.items()}}
    if isinstance(base, list) and isinstance(change, list) and all(
            isinstance(x, dict) and "id" in x for x in [*base, *change]):
        changes = {x["id"]: x for x in change}
        merged = [_merge(x, changes.pop(x["id"])) if x["id"] in changes else x for x in base]
        return merged + list(changes.values())
    return change


def _check_harm_references(facts: Facts, folder: Path) -> None:
    """Each platform route names harms in harms.yaml, and each harm names helplines that exist."""
    for platform in facts.platforms.values():
        for n, route in enumerate(platform.routes):
            for harm_id in route.harms:
                if harm_id not in facts.harms:
                    raise ContentError(f"{folder / 'platforms.yaml'}: {platform.id}.routes.{n}.harms: '{harm_id}' "
                                       f"is not a harm in harms.yaml")
    for harm in facts.harms.values():
        for helpline in harm.helplines:
            if helpline not in facts.helplines:
                raise ContentError(f"{folder / 'harms.yaml'}: {harm.id}.helplines: '{helpline}' is not a helpline")


def _check_placeholders(content: Content, message_files: dict[str, Path], root: Path) -> None:
    """Every placeholder must be a run-time value or a fact that exists."""
    texts: list[tuple[Path, str, str]] = [(message_files[k], k, v) for k, v in content.messages.items()]
    for flow in content.flows.values():
        path = root / "flows" / f"{flow.id}.yaml"
        for step in flow.steps:
            texts.append((path, f"steps.{step.id}.ask", step.ask))
            if step.help:
                texts.append((path, f"steps.{step.id}.help", step.help))
    for path, key, text in texts:
        for name in PLACEHOLDER.findall(text):
            if name in RUNTIME_VARIABLES:
                continue
            try:
                content.facts.lookup(name)
            except (KeyError, AttributeError):
                raise ContentError(
                    f"{path}: {key}: '{{{name}}}' is neither a run-time value nor a known fact") from None


# The platforms' limits on what the bot's words become (Slack's Block Kit reference; Teams' Adaptive Cards allow more),
# so no title or label is ever cut short: a modal's title, submit and close buttons, a button's or option's text, and a
# header (the case card's title).
MODAL_TITLE_CHARS, BUTTON_TEXT_CHARS, HEADER_CHARS = 24, 75, 150
PLACEHOLDER_ROOM = 20  # what each placeholder in a label is allowed to fill (a case reference, a count, a flow title)
MODAL_BUTTON_KEYS = ("common.save_label", "common.cancel_label")
HEADER_KEYS = ("case.title", "case.title_urgent")
BUTTON_KEYS = re.compile(r"^(?:.+_label|menu\.(?!ask).+|case\.action\..+|case\.pack\.send_to_reporter"
                         r"|reminders\.(?:record_reply|open_case))$")


def _check_platform_limits(content: Content, message_files: dict[str, Path], root: Path) -> None:
    """Every title and label the bot shows fits the tightest platform's limit for where it is shown."""
    def check(path: Path, key: str, text: str, limit: int, what: str) -> None:
        size = len(PLACEHOLDER.sub("", text.strip())) + PLACEHOLDER_ROOM * len(PLACEHOLDER.findall(text))
        if size > limit:
            counting = f", counting {PLACEHOLDER_ROOM} for each placeholder" if "{" in text else ""
            raise ContentError(f"{path}: {key}: '{text.strip()}' is too long for {what} "
                               f"(at most {limit} characters{counting})")

    for key, text in content.messages.items():
        if key in MODAL_BUTTON_KEYS:
            check(message_files[key], key, text, MODAL_TITLE_CHARS, "a form's button")
        elif key in HEADER_KEYS:
            check(message_files[key], key, text, HEADER_CHARS, "a card's header")
        elif BUTTON_KEYS.match(key):
            check(message_files[key], key, text, BUTTON_TEXT_CHARS, "a button")
    for flow in content.flows.values():
        path = root / "flows" / f"{flow.id}.yaml"
        check(path, "form_title" if flow.form_title else "title", flow.form_title or flow.title, MODAL_TITLE_CHARS,
              "a form's title (give the flow a shorter form_title)")
        for step in flow.steps:  # a step's title is a button when choosing which answer to change
            check(path, f"steps.{step.id}.title", step.title, BUTTON_TEXT_CHARS, "a button")
    for platform in content.facts.platforms.values():  # a platform's name is an option to tick
        check(root / "facts" / "platforms.yaml", f"{platform.id}.name", platform.name, BUTTON_TEXT_CHARS, "an option")


def _digest(root: Path, overlay: Path | None = None) -> str:
    """A short hash of every content file (the school's own included), so a case records exactly which
    wording its reporter saw."""
    h = hashlib.sha256()
    for folder in (root, overlay) if overlay else (root,):
        for path in sorted(folder.rglob("*.yaml")):
            h.update(path.relative_to(folder).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:10]

