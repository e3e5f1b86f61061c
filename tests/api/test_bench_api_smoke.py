"""bench/bench_api.py still runs (see tests/e2e/test_bench_smoke.py for why), at a size that
takes seconds, in both serving modes, and its requests all succeed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["process", "thread"])
def test_the_api_benchmark_runs(serve: str) -> None:
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "bench_api.py"), "--serve", serve,
            "--seconds", "1", "--warmup", "20", "--rounds", "1",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"bench_api.py exited {done.returncode}:\n{out[-4000:]}"
    assert "Traceback" not in out, out[-4000:]
    for path in ("/api/v1/status", "/api/v1/trades"):
        lines = [
            line for line in out.splitlines() if line.strip().startswith(path) and "req/s" in line
        ]
        assert lines, f"no figures for {path}:\n{out[-4000:]}"
        assert all(", 0 errors," in line for line in lines), lines
