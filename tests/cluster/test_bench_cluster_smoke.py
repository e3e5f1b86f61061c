"""bench/bench_cluster.py still runs on a real nats-server (tests/benchsmoke.py says why)."""

from __future__ import annotations

import pytest

from tests.benchsmoke import run_bench


@pytest.mark.slow
def test_the_cluster_benchmark_runs() -> None:
    args = ["--ticks", "20000", "--chunk", "2000", "--decisions", "5"]
    out = run_bench("bench_cluster.py", args, "signal-to-order across hosts")
    assert "(0 missed)" in out, out[-4000:]
