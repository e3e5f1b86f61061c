"""bench/bench_api.py still runs (tests/benchsmoke.py says why), at a size that takes seconds,
in both serving modes, and its requests all succeed."""

from __future__ import annotations

import pytest

from tests.benchsmoke import run_bench


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["process", "thread"])
def test_the_api_benchmark_runs(serve: str) -> None:
    args = ["--serve", serve, "--seconds", "1", "--warmup", "20", "--rounds", "1"]
    out = run_bench("bench_api.py", args, "decision latency under load")
    for path in ("/api/v1/status", "/api/v1/trades"):
        lines = [
            line for line in out.splitlines() if line.strip().startswith(path) and "req/s" in line
        ]
        assert lines, f"no figures for {path}:\n{out[-4000:]}"
        assert all(", 0 errors," in line for line in lines), lines
