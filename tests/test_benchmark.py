"""The reader benchmark keeps running and keeps agreeing with entsoe-py (figures: docs/)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_reader_benchmark_runs_and_both_readers_agree():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "reader.py"), "--days", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "values equal: True" in result.stdout
    assert "speed-up vs entsoe-py" in result.stdout
