"""`content check` also checks the school's own files: its calendar and its retention policy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(content_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSB_")}
    return subprocess.run([sys.executable, "-m", "bot", "content", "check", "--content", str(content_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_content_check_reports_the_calendar_it_read(tmp_path):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    proc = check(tmp_path / "content")
    assert proc.returncode == 0, proc.stderr
    assert "School calendar" in proc.stdout and "terms covered until" in proc.stdout


def test_a_broken_school_calendar_is_named_with_its_field(tmp_path):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    calendar = tmp_path / "content" / "school_calendar.yaml"
    calendar.write_text(calendar.read_text().replace('"08:00"', '"25:99"', 1))
    proc = check(tmp_path / "content")
    assert proc.returncode == 2
    assert "school_calendar.yaml" in proc.stderr


def test_content_check_lists_unconfirmed_facts_the_default_front_door_and_facts_by_nation(tmp_path):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    proc = check(tmp_path / "content")
    assert proc.returncode == 0, proc.stderr
    assert "unconfirmed: helplines.nspcc: The phone line's hours" in proc.stdout
    assert "platforms.facebook.routes.1 (impersonation_organisation)" in proc.stdout
    assert "warning: the safeguarding front door is still the shipped default" in proc.stdout
    nations = dict(line.strip().split(": ", 1) for line in proc.stdout.splitlines()
                   if line.strip().split(":")[0] in ("england", "wales", "scotland", "northern_ireland"))
    assert "rules.kcsie" in nations["england"] and "rules.lado_one_working_day" in nations["england"]
    assert "rules.wales_allegations_dos" in nations["wales"] and "messages.case.guidance.allegation" in nations["wales"]
    assert "rules.kcsie" not in nations["wales"]


def test_a_fact_naming_a_harm_that_does_not_exist_is_refused(tmp_path):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    platforms = tmp_path / "content" / "facts" / "platforms.yaml"
    platforms.write_text(platforms.read_text().replace("harms: [hacked]", "harms: [hackd]", 1))
    proc = check(tmp_path / "content")
    assert proc.returncode == 2 and "'hackd' is not a harm in harms.yaml" in proc.stderr
