"""Settings for one deployment, from the environment (OSB_*) with command-line overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, Field, ValidationError

DEFAULT_DB = "data/online-safety-bot.db"


class ConfigError(Exception):
    pass


class Settings(BaseModel):
    db: str = Field(default=DEFAULT_DB, description="SQLite file path")
    content_dir: Path | None = Field(default=None, description="content/ folder; the repository's by default")
    school_id: str = "default"
    school_name: str = "your school"
    reference_prefix: str = Field(default="OSB", pattern=r"^[A-Z]{2,6}$")
    idle_days: float = Field(default=7, gt=0, description="a conversation silent this long is set aside")
    max_text_chars: int = Field(default=4000, ge=200)
    max_attachment_mb: float = Field(default=25, gt=0)

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.max_attachment_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if env is None else env
        names = {
            "db": "OSB_DB", "content_dir": "OSB_CONTENT_DIR", "school_name": "OSB_SCHOOL_NAME",
            "reference_prefix": "OSB_REFERENCE_PREFIX", "idle_days": "OSB_IDLE_DAYS",
            "max_text_chars": "OSB_MAX_TEXT_CHARS", "max_attachment_mb": "OSB_MAX_ATTACHMENT_MB",
        }
        values: dict[str, object] = {field: env[var] for field, var in names.items() if env.get(var)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            raise ConfigError(f"{names.get(field, field)}: {err['msg']}") from None
