"""bench/bench_solana.py still runs, at a size that takes seconds (tests/benchsmoke.py says
why). The solana env, which runs this directory in CI, installs LiteSVM, the Jupiter plugin and
the npm SDKs whose golden vectors the bench decodes (TRADEWIND_SOLANA_NPM)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[4])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.benchsmoke import run_bench  # noqa: E402

ORDERS, ROUNDS = 4, 3


@pytest.mark.slow
def test_the_solana_benchmark_runs() -> None:
    out = run_bench(
        "bench_solana.py",
        ["--orders", str(ORDERS), "--quotes", str(ROUNDS)],
        "Raydium AMM v4 + CPMM decode + quote",
        timeout=120,
    )
    orders = re.search(r"quote-to-confirmed on LiteSVM: (\d+) orders, median [\d.]+ ms", out)
    assert orders, out
    # the bench asserts each order (buys and sells alternating) filled; all were timed
    assert int(orders[1]) == ORDERS, orders[0]
    for pools in ("Whirlpool", "Raydium AMM v4 + CPMM"):
        line = re.search(
            re.escape(pools) + r" decode \+ quote: [\d,]+/s \((\d+) vectors x (\d+) rounds", out
        )
        assert line, f"no {pools} line:\n{out}"
        # the SDKs' golden vectors were read (none would quote nothing), every round ran
        assert int(line[1]) > 0 and int(line[2]) == ROUNDS, line[0]
