"""What the API's trade answers cost as a paper run's trades pile up.

    python bench/bench_api_trades.py [--ticks 60000] [--every 10] [--asks-every 10]

The churning paper engine of ``bench_paper_throughput.py`` (one flipping market order per
``--every`` ticks: each fill closes a round trip and opens the next) runs with the HTTP API's
in-thread view attached; every ``--asks-every`` engine steps the trade endpoints are asked of
the view as a request would ask them (on the engine's thread here, so nothing else runs
meanwhile): ``status``, ``count``, ``profit``, ``performance``, ``stats``, ``daily``, the
newest and the oldest page of ``trades`` (500, as the bytes sent), and the first trade and
the one in the middle by id.
Printed per endpoint: the median and the maximum CPU time of one answer (``time.thread_time``)
over the asks of the run's second half, and the trades at the end. The view keeps what a paper
run's API keeps (``tradewind.api.snapshot.KEEP_RECENT`` fills and as many trades).

Run it against two cores (``PYTHONPATH``) one after the other, a few times each, to compare
them: CPU time, so the machine's load matters less than for wall time, but not nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_paper_throughput  # noqa: E402


def _trade(view: Any, trade_id: int) -> Any:
    by_id = getattr(view, "trade_by_id", None)
    if by_id is not None:
        t = by_id(trade_id)
    else:  # a core whose views keep every trade: the list
        trades = view.trades()
        t = trades[trade_id - 1] if 0 < trade_id <= len(trades) else None
    return None if t is None else view.trade_json(t)


def run(ticks: int, every: int, asks_every: int, workdir: Path) -> dict[str, Any]:
    """One run; CPU seconds of each endpoint's answers, asked in the run's second half."""
    from tradewind.api.views import HostView

    engine = bench_paper_throughput.paper_engine(ticks, 100, every, workdir)
    view = HostView(engine)
    spent: dict[str, list[float]] = {}
    steps = [0]
    total_steps = ticks // 100

    def timed(name: str, fn: Any, *args: Any) -> Any:
        t0 = time.thread_time()
        out = fn(*args)
        if steps[0] > total_steps // 2:
            spent.setdefault(name, []).append(time.thread_time() - t0)
        return out

    def ask() -> None:
        steps[0] += 1
        if steps[0] % asks_every:
            return
        timed("status", view.status)
        timed("count", view.count)
        total = int(timed("profit", view.profit)["trade_count"])
        timed("performance", view.performance)
        timed("stats", view.stats)
        timed("daily", view.periodic, "days", 7)
        timed("trades newest 500", view.trades_page_json, 500, max(0, total - 500))
        timed("trades oldest 500", view.trades_page_json, 500, 0)
        timed("trade 1", _trade, view, 1)
        timed("trade in the middle", _trade, view, total // 2)

    engine.step_sinks.append(ask)
    anyio.run(engine.run)
    trades = int(view.profit()["trade_count"])
    view.close()
    return {"spent": spent, "trades": trades}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=60_000)
    ap.add_argument("--every", type=int, default=10, help="ticks per fill")
    ap.add_argument("--asks-every", type=int, default=10, help="engine steps between asks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tw-bench-api-trades-") as tmp:
        out = run(args.ticks, args.every, args.asks_every, Path(tmp))
    print(f"trades at the end: {out['trades']:,}")
    for name, xs in out["spent"].items():
        print(
            f"{name:>20}: median {statistics.median(xs) * 1e6:9.0f} µs, "
            f"max {max(xs) * 1e6:9.0f} µs ({len(xs)} asks)"
        )


if __name__ == "__main__":
    main()
