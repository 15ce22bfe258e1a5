"""The command line as a real process, as a newcomer or an operator runs it, for the tests that need it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str | Path, input: bytes | str | None = None, env: dict[str, str] | None = None,
            expect: int | None = 0, cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m bot ARGS` with no OSB_* settings but `env`; check the exit code unless expect is None."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("OSB_")}
    clean_env.update(env or {})
    if isinstance(input, str):
        input = input.encode("utf-8")
    proc = subprocess.run([sys.executable, "-m", "bot", *map(str, args)], cwd=cwd, input=input or b"",
                          capture_output=True, timeout=60, env=clean_env)
    if expect is not None:
        assert proc.returncode == expect, (
            f"exit {proc.returncode}, wanted {expect}\nstdout:\n{proc.stdout.decode()[-3000:]}\n"
            f"stderr:\n{proc.stderr.decode()[-3000:]}"
        )
    return proc


def out(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stdout.decode("utf-8")


def err(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stderr.decode("utf-8")
