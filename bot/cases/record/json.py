"""The record as JSON: the model as it is, in the shape of docs/record.schema.json."""

from __future__ import annotations

from bot.cases.record.model import SafeguardingRecord


def to_json(record: SafeguardingRecord) -> str:
    return record.model_dump_json(indent=2) + "\n"
