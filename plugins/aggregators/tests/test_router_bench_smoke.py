"""bench/bench_router.py still runs, at a size that takes seconds (tests/benchsmoke.py says
why). The aggregators env, which runs this directory in CI, installs all four plugins."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.benchsmoke import run_bench  # noqa: E402

ROUNDS = 20


@pytest.mark.slow
def test_the_router_benchmark_runs_with_every_aggregator_answering() -> None:
    out = run_bench("bench_router.py", ["--rounds", str(ROUNDS)], "router decision", timeout=120)
    line = re.search(
        r"router decision, 4 aggregators on loopback, (\d+) rounds: p50 [\d.]+ ms, "
        r"p99 [\d.]+ ms",
        out,
    )
    assert line, out
    assert int(line[1]) == ROUNDS, line[0]
    quotes = re.search(r"quotes: (\d+) answered, (\d+) failed", out)
    assert quotes, out
    # four aggregators quoted in every round, the warm-up's included; none failed
    assert (int(quotes[1]), int(quotes[2])) == (4 * (ROUNDS + 20), 0), quotes[0]
