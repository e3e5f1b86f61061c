"""The ticks file's read on a thread of its own beside a busy main thread (issue 17).

    python bench/bench_read_ahead.py [--ticks 2000000] [--rounds 3] [--workdir DIR]

``tradewind backtest`` reads its ticks parquet file on a thread (``tradewind.market.preload``
through ``tradewind.ahead``) while its main thread imports the engine's modules and builds the
engine. The read spends most of its time in pyarrow and numpy with the GIL released, and comes
back for it between their calls: a busy main thread hands the GIL over once per switch interval
(CPython's default 5 ms). Timed here, each ``--rounds`` times (medians, wall): the read alone on
the main thread; on a thread with the main thread waiting; on a thread beside a main thread
running Python, at CPython's default switch interval; and the same through ``tradewind.ahead``
(which shortens the interval to ``ahead.SWITCH_INTERVAL_S`` while a call runs ahead). The file:
``--ticks`` synthetic BTCUSDT ticks at the sample's ~80 trades a minute (bench_pipeline.py's
seed, the peer benchmark's ``one_<ticks>_1x.parquet``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline


def _busy_until(done: Callable[[], bool]) -> None:
    """Python work on the calling thread (it holds the GIL but for the interval's hand-overs)."""
    x = 0
    while not done():
        x += sum(range(1000))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tw-read-ahead")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"one_{args.ticks}_1x.parquet"
    if not data.exists():
        b = bench_pipeline.synth_ticks(args.ticks, "BTCUSDT", bench_pipeline.SEED, 1.0)
        bench_pipeline.write_data(data, {"BTCUSDT": b})

    from tradewind import ahead
    from tradewind.market.importers import load

    load(data)  # the readers' imports and the file in the page cache

    def alone() -> None:
        load(data)

    def thread(busy: bool) -> Callable[[], None]:
        def run() -> None:
            out: list[Any] = []
            t = threading.Thread(target=lambda: out.append(load(data)))
            t.start()
            if busy:
                _busy_until(lambda: not t.is_alive())
            t.join()
            assert out

        return run

    def through_ahead() -> None:
        call = ahead.Ahead("bench-read", lambda: load(data))
        _busy_until(lambda: not call._thread.is_alive())
        assert call.result() is not None

    default = sys.getswitchinterval()
    cases = [
        ("the main thread alone", alone),
        ("a thread, the main thread waiting", thread(False)),
        (f"a thread beside a busy main thread ({default * 1e3:g} ms interval)", thread(True)),
        (
            f"tradewind.ahead beside a busy main thread "
            f"({ahead.SWITCH_INTERVAL_S * 1e3:g} ms interval while it runs)",
            through_ahead,
        ),
    ]
    print(
        f"read of {data.name} ({args.ticks:,} ticks), {args.rounds} round(s), medians of wall; "
        f"load avg {os.getloadavg()[0]:.1f}"
    )
    for label, run in cases:
        walls = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            run()
            walls.append(time.perf_counter() - t)
        print(f"  {label:<75} {statistics.median(walls) * 1e3:7.1f} ms")
    assert sys.getswitchinterval() == default


if __name__ == "__main__":
    main()
