"""`content check` also checks the school's own files: its calendar and its retention policy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
