"""The exit monitors' cost per stepped piece: each monitor's ``on_ticks`` over the pieces the
engine steps around a position, compiled loops against the Python paths.

    python bench/bench_exit_pieces.py                 # pieces of 1 to 300 trades, 5 runs
    python bench/bench_exit_pieces.py --pieces 2000 --runs 3

A backtest steps the trades around each position (from an entry order to its fill, the rest of
the interval, the interval where an exit triggers) and every exit monitor's ``on_ticks`` reads
each such piece. Here the seed's five monitors (reversal, adverse, trailing, max hold, guard:
bench_scheduler.py's config) read a random walk of ~80 trades a minute in pieces of 1 to 300
trades (the sizes the engine's steps have at that intensity), a long position held throughout
(no trigger ends it: each monitor's state is carried as in a held stretch), through a filter
context over a portfolio holding it. Each line is one monitor's CPU per piece (the median of
the runs), with the adverse and trailing monitors' compiled loops (``_kernel.c``) and with
their Python paths (``_kernel`` set to None: the code before the kernels); the decisions and
states printed are the same either way.
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal
from typing import Any

import numpy as np


def pieces(n: int, seed: int = 7) -> list[Any]:
    """``n`` pieces of a random walk at ~80 trades a minute, 1 to 300 trades each."""
    from tradewind.model import TickBatch
    from tradewind.venues.sim import default_instrument

    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 5, 60, 90, 150, 300], size=n, p=[0.3, 0.1, 0.1, 0.2, 0.15, 0.1, 0.05])
    total = int(sizes.sum())
    gaps = rng.exponential(0.75e9, size=total).astype(np.int64)  # ~80 trades a minute
    ts = 1_700_000_000 * 10**9 + np.cumsum(gaps)
    prices = np.round(30_000 + np.cumsum(rng.normal(0.0, 1.0, size=total)), 1)
    key = default_instrument().key
    tape = TickBatch.from_arrays(key, ts, prices, np.full(total, 0.01), np.ones(total))
    out, a = [], 0
    for k in sizes.tolist():
        out.append(tape.slice(a, a + k))
        a += k
    return out


def run(batches: list[Any], compiled: bool) -> tuple[dict[str, float], str]:
    """CPU seconds per piece of each monitor, and what they decided (a digest)."""
    from tradewind.filtering.context import FilterContext
    from tradewind.model import Position
    from tradewind.trading.portfolio import Portfolio
    from tradewind.venues.sim import default_instrument
    from tradewind_exit_adverse import plugin as adverse
    from tradewind_exit_adverse.config import AdverseConfig
    from tradewind_exit_guard.config import GuardConfig
    from tradewind_exit_guard.plugin import PortfolioGuard
    from tradewind_exit_maxhold.plugin import MaxHold, MaxHoldConfig
    from tradewind_exit_reversal.plugin import CascadeReversal, ReversalConfig
    from tradewind_exit_trailing import plugin as trailing

    kernels = (adverse._kernel, trailing._kernel)
    if not compiled:
        adverse._kernel = trailing._kernel = None  # type: ignore[assignment]
    try:
        inst = default_instrument()
        portfolio = Portfolio({inst.key: inst}, Decimal("100000"))
        first = batches[0]
        entry = Decimal(repr(float(first.price[0])))
        pos = Position(
            instrument=inst.key,
            quantity=Decimal("0.1"),
            avg_price=entry,
            opened_ts_ns=first.first_ts,
            lots=((Decimal("0.1"), entry),),
        )
        portfolio.restore_position(pos)
        portfolio.mark(inst.key, float(first.price[0]), first.first_ts)
        ctx = FilterContext(portfolio, {})
        monitors = [
            CascadeReversal(ReversalConfig(analyzer="orderflow")),
            adverse.AdverseMoves(AdverseConfig()),
            trailing.TrailingStop(trailing.TrailingConfig(trail_pct=0.5)),  # held throughout
            MaxHold(MaxHoldConfig(max_hold_minutes=1e9)),
            PortfolioGuard(GuardConfig(leader="")),  # one instrument, as the bench config
        ]
        spent = dict.fromkeys((m.name for m in monitors), 0.0)
        decided: list[Any] = []
        clock = time.process_time
        for piece in batches:
            for mon in monitors:
                c = clock()
                d = mon.on_ticks(pos, piece, ctx)
                spent[mon.name] += clock() - c
                if d is not None:
                    decided.append((mon.name, d.ts_ns, d.price))
            portfolio.mark(inst.key, float(piece.price[-1]), piece.last_ts)
        state = monitors[1]._state[inst.key][1]
        digest = f"{len(decided)} decisions, {decided[:2]}, adverse state {state}, best "
        digest += repr(monitors[2]._best.get(inst.key))
        return {k: v / len(batches) for k, v in spent.items()}, digest
    finally:
        adverse._kernel, trailing._kernel = kernels


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=4_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    batches = pieces(args.pieces)
    trades = sum(len(b) for b in batches)
    got: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    digests = set()
    for _ in range(args.runs):
        for compiled in (True, False):  # interleaved: the same load on both
            spent, digest = run(batches, compiled)
            got[compiled].append(spent)
            digests.add(digest)
    print(
        f"{args.pieces:,} pieces, {trades:,} trades, median of {args.runs} runs, "
        f"load avg {os.getloadavg()[0]:.1f}; the same decisions and states: {len(digests) == 1}"
    )
    for name in got[True][0]:
        c = statistics.median(r[name] for r in got[True]) * 1e6
        p = statistics.median(r[name] for r in got[False]) * 1e6
        print(f"  {name:9s} compiled {c:6.2f} us/piece   Python paths {p:6.2f} us/piece")
    for d in sorted(digests):
        print(" ", d)


if __name__ == "__main__":
    main()
