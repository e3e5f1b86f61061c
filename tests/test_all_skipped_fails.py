"""CI's guard: with TRADEWIND_FAIL_ALL_SKIPPED=1 (the tox envs set it) a pytest run whose every
test skipped fails, while a run with one test passing (beside skips) passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SKIPPING = "import pytest\n\ndef test_needs_a_part():\n    pytest.skip('the part is missing')\n"
PASSING = "def test_runs():\n    assert 1 + 1 == 2\n"


def _pytest(folder: Path, flag: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEWIND_FAIL_ALL_SKIPPED": flag}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True, text=True, env=env, cwd=folder, timeout=120,
    )  # fmt: skip


def test_a_run_whose_every_test_skipped_fails(tmp_path):
    (tmp_path / "test_only_skips.py").write_text(SKIPPING)
    proc = _pytest(tmp_path, "1")
    assert proc.returncode == 1, proc.stdout
    assert "every test of this run skipped" in proc.stdout
    # Without the flag pytest's own rule applies: skips alone pass.
    assert _pytest(tmp_path, "0").returncode == 0


def test_a_run_with_a_passing_test_beside_skips_passes(tmp_path):
    (tmp_path / "test_only_skips.py").write_text(SKIPPING)
    (tmp_path / "test_passes.py").write_text(PASSING)
    proc = _pytest(tmp_path, "1")
    assert proc.returncode == 0, proc.stdout
