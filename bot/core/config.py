"""Settings for one deployment, from the environment (OSB_*) with command-line overrides."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Literal, Mapping
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError

DEFAULT_DB = "data/online-safety-bot.db"


class ConfigError(Exception):
    pass


class Settings(BaseModel):
    db: str = Field(default=DEFAULT_DB, description="a SQLite file path, or a postgresql:// URL")
    content_dir: Path | None = Field(default=None, description="content/ folder; the repository's by default")
    school_id: str = "default"
    school_name: str = "your school"
    school_nation: Literal["england", "wales", "scotland", "northern_ireland"] | None = Field(
        default=None, description="the nation of the deployment's one school (the `default` school)")
    reference_prefix: str = Field(default="OSB", pattern=r"^[A-Z]{2,6}$")
    idle_days: float = Field(default=7, gt=0, description="a conversation silent this long is set aside")
    max_text_chars: int = Field(default=4000, ge=200)
    max_attachment_mb: float = Field(default=25, gt=0)
    # Reminders and escalation (bot/app/scheduler.py): a case still new is reminded, then escalated.
    urgent_remind_minutes: float = Field(default=15, gt=0, le=1440, description="urgent: remind after, at any hour")
    urgent_escalate_minutes: float = Field(default=30, gt=0, le=1440, description="urgent: escalate after, at any hour")
    remind_school_hours: float = Field(default=4, gt=0, le=100, description="others: remind after, in school hours")
    escalate_school_days: float = Field(default=1, gt=0, le=20, description="others: escalate after, in school days")
    school_calendar: Path | None = Field(default=None, description="school hours and term dates; content's by default")
    platform_follow_up_hours: float = Field(default=48, gt=0, le=720,
                                            description="no platform reply this long: offer POSH")
    report_harmful_content_days: float = Field(default=7, gt=0, le=90,
                                               description="still none: offer Report Harmful Content")
    scheduler_seconds: float = Field(default=30, ge=1, le=3600, description="how often serve looks for due reminders")
    delivery_lease_seconds: float = Field(default=120, ge=1, le=3600, description=(
        "a notification being sent is another process's to send again only after this long (its sender died)"))
    retention_file: Path | None = Field(default=None,
                                        description="the school's own retention periods (bot/cases/retention.py)")
    low_level_concerns_to: Literal["dsl", "headteacher"] = Field(default="dsl", description=(
        "who receives a low-level concern about a colleague, as the school's low-level concerns policy says"))
    # Early warning across schools (bot/cases/early_warning.py): the same account or naming pattern reported by
    # this many schools within this many days alerts the authority's safeguarding team.
    early_warning_days: float = Field(default=14, gt=0, le=365)
    early_warning_schools: int = Field(default=2, ge=2, le=100)
    max_accounts_per_report: int = Field(default=30, ge=1, le=500, description="handles and links one report may list")
    guardrail_alerts_per_hour: int = Field(default=3, ge=1, le=60, description=(
        "urgent alerts one person's unfinished reports may send in an hour; later ones wait for the report itself"))
    now: datetime | None = Field(default=None, description=(
        "OSB_NOW, ISO 8601: the bot's clock starts here and runs on, to try what staff see at 10 pm on a Friday; "
        "a time without a zone is UK time"))

    def clock(self) -> Callable[[], datetime]:
        """The bot's clock: the real time, or one that starts at OSB_NOW and runs on from there."""
        if self.now is None:
            return lambda: datetime.now(timezone.utc)
        start = self.now if self.now.tzinfo else self.now.replace(tzinfo=ZoneInfo("Europe/London"))
        offset = start.astimezone(timezone.utc) - datetime.now(timezone.utc)
        return lambda: datetime.now(timezone.utc) + offset

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.max_attachment_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if env is None else env
        names = {
            "db": "OSB_DB", "content_dir": "OSB_CONTENT_DIR", "school_name": "OSB_SCHOOL_NAME",
            "school_nation": "OSB_SCHOOL_NATION",
            "reference_prefix": "OSB_REFERENCE_PREFIX", "idle_days": "OSB_IDLE_DAYS",
            "max_text_chars": "OSB_MAX_TEXT_CHARS", "max_attachment_mb": "OSB_MAX_ATTACHMENT_MB",
            "urgent_remind_minutes": "OSB_URGENT_REMIND_MINUTES",
            "urgent_escalate_minutes": "OSB_URGENT_ESCALATE_MINUTES",
            "remind_school_hours": "OSB_REMIND_SCHOOL_HOURS", "escalate_school_days": "OSB_ESCALATE_SCHOOL_DAYS",
            "school_calendar": "OSB_SCHOOL_CALENDAR", "platform_follow_up_hours": "OSB_PLATFORM_FOLLOW_UP_HOURS",
            "report_harmful_content_days": "OSB_REPORT_HARMFUL_CONTENT_DAYS",
            "scheduler_seconds": "OSB_SCHEDULER_SECONDS",
            "delivery_lease_seconds": "OSB_DELIVERY_LEASE_SECONDS",
            "retention_file": "OSB_RETENTION_FILE", "early_warning_days": "OSB_EARLY_WARNING_DAYS",
            "early_warning_schools": "OSB_EARLY_WARNING_SCHOOLS", "now": "OSB_NOW",
            "guardrail_alerts_per_hour": "OSB_GUARDRAIL_ALERTS_PER_HOUR",
            "low_level_concerns_to": "OSB_LOW_LEVEL_CONCERNS_TO",
            "max_accounts_per_report": "OSB_MAX_ACCOUNTS_PER_REPORT",
        }
        values: dict[str, object] = {field: env[var] for field, var in names.items() if env.get(var)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            raise ConfigError(f"{names.get(field, field)}: {err['msg']}") from None
