"""bench/bench_evm.py still runs, at a size that takes seconds (tests/benchsmoke.py says why).

The bench starts its own anvil with the npm contracts, like the session chain of these tests:
both envs that run this directory (venue-evm, and aggregators in CI) install them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[4])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.benchsmoke import run_bench  # noqa: E402

SWAPS, PER_BLOCK, ORDERS = 200, 50, 5


@pytest.mark.slow
def test_the_evm_benchmark_runs_and_ingests_every_swap() -> None:
    out = run_bench(
        "bench_evm.py",
        ["--swaps", str(SWAPS), "--per-block", str(PER_BLOCK), "--orders", str(ORDERS)],
        "quote-to-receipt",
        timeout=120,
    )
    made = re.search(r"swaps generated: (\d+) in (\d+) blocks", out)
    assert made, out
    # every full block of swaps, then the one mined after the last (here empty) block
    assert (int(made[1]), int(made[2])) == (SWAPS, SWAPS // PER_BLOCK + 1), made[0]
    ingested = re.search(r"ingestion, logs -> TickBatch .*: (\d+) events in [\d.]+ ms", out)
    assert ingested, out
    # a swap that reverted would emit no Swap event: one event per swap sent
    assert int(ingested[1]) == SWAPS, ingested[0]
    assert re.search(r"decode only, in-memory logs -> TickBatch .*: [\d,]+ events/s", out), out
    receipts = re.search(r"quote-to-receipt, (\d+) market swaps .*: median [\d.]+ ms", out)
    assert receipts, out
    # the bench asserts each order filled; all of them were timed
    assert int(receipts[1]) == ORDERS, receipts[0]
