"""The report as the code reads it (bot/core/report.py): typed fields, older answers kept, and content check
refusing a report flow without the ids the code relies on."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot.core.content import ContentError, load_content
from bot.core.report import RELIED_ON, Report

ROOT = Path(__file__).resolve().parents[2]


def test_answers_read_as_typed_fields_and_unknown_or_odd_ones_do_not_fail_the_case():
    report = Report.of({
        "categories": ["allegation"], "first_seen": "2026-11-20", "platforms": ["tiktok", 3],
        "accounts": [{"kind": "handle", "value": "@hill_muggies"}], "names": None, "an_old_question": "kept",
    })
    assert report.first_seen == date(2026, 11, 20)
    assert [a.value for a in report.accounts] == ["@hill_muggies"]
    assert report.platforms == []  # not a list of names: read as not given, the case still opens
    assert report.answered("names") and not report.subject_pending  # the names question was skipped
    assert report.model_extra == {"an_old_question": "kept"}
    assert Report.of({"categories": ["allegation"]}).subject_pending


def test_every_id_the_code_relies_on_is_in_the_shipped_report_flow(content):
    steps = {s.id: s for s in content.flows["report_concern"].steps}
    for step_id, choices in RELIED_ON.items():
        assert choices <= {c.id for c in steps[step_id].choices}, step_id


@pytest.mark.parametrize(
    "old, new, named",
    [
        ("  - id: who_appears\n", "  - id: who_is_shown\n", "'who_appears' is missing"),
        (
            '{id: headteacher, label: "The headteacher", summary: "The headteacher"',
            '{id: head, label: "The headteacher", summary: "The headteacher"',
            "steps.allegation_about.choices: 'headteacher'",
        ),
    ],
)
def test_content_check_names_the_file_and_id_when_the_report_flow_loses_one(tmp_path, old, new, named):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    path = tmp_path / "content" / "flows" / "report_concern.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1).replace("step: who_appears", "step: who_is_shown"))
    with pytest.raises(ContentError, match=f"report_concern.yaml: .*{named}"):
        load_content(tmp_path / "content")
