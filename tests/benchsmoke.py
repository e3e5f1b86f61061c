"""Run a benchmark script as docs/performance.md does, only smaller, for the smoke tests.

Benchmarks are not timed tests and CI records none of their figures; the smoke tests check
that a change elsewhere has not broken one (a bench that crashes at start goes unnoticed until
someone needs its figure).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, args: list[str], expect: str, timeout: float = 300) -> str:
    """Run ``bench/<script>`` with this interpreter; it must exit 0, print no traceback and
    print ``expect``. Returns its output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{out[-4000:]}"
    assert "Traceback" not in out, out[-4000:]
    assert expect in out, f"{script} printed no {expect!r}:\n{out[-4000:]}"
    return out
