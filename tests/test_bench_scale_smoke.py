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


@pytest.mark.slow
def test_the_orders_upsert_benchmark_runs_on_postgresql() -> None:
    """``--postgres`` starts a throwaway cluster (tests/pg.py: Debian's postgresql, which the
    scale env installs), with and without migration 3's index."""
    pytest.importorskip("psycopg", reason="the PostgreSQL journal needs the scale env's psycopg")
    for extra in ([], ["--without-index"]):
        out = run_bench(
            "bench_journal_upsert.py",
            ["--rows", "2000", "--rounds", "2", "--postgres", *extra],
            "order rows",
        )
        assert "PostgreSQL" in out and "wall ms" in out, out
