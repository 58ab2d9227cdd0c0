"""The attack scripts, in short runs: anyone can rerun the long ones
(``scripts/fuzz``, ``scripts/crash``); CI runs these."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_a_short_fuzz_run_finds_no_fault():
    done = subprocess.run(
        [sys.executable, str(ROOT / "attack" / "fuzz.py"), "--schemathesis-examples", "30",
         "--hypothesis-requests", "300", "--min-requests", "300", "--seed", "7"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout and "HTTP 500 (server's count)          0" in done.stdout


def test_a_short_crash_run_loses_and_duplicates_nothing():
    done = subprocess.run(
        [sys.executable, str(ROOT / "attack" / "crash.py"), "--kills", "2", "--settle", "10", "--seed", "11"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "lost (acknowledged, missing)   0" in done.stdout and "duplicated upstream            0" in done.stdout
