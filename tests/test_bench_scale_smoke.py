"""The Dask benchmarks still run on a real LocalCluster (tests/benchsmoke.py says why); the
scale env runs this file."""

from __future__ import annotations

import pytest

from tests.benchsmoke import run_bench

pytest.importorskip("distributed", reason="the Dask benchmarks need the scale env's dask extra")


@pytest.mark.slow
def test_the_sweep_benchmark_runs() -> None:
    run_bench("bench_sweep_dask.py", ["--grid", "1x2"], "(ranked tables equal)")


@pytest.mark.slow
def test_the_split_backtest_benchmark_runs() -> None:
    run_bench("bench_backtest_split.py", ["--books", "2"], "(merged reports equal)")
