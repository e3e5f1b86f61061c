"""A backtest's block set-up with and without its threaded analyzers on a thread of their own.

    python bench/bench_block_setup.py [--ticks 2000000] [--speedup 1] [--pairs 5]

Writes the peer benchmark's synthetic ticks (``bench_pipeline.one_instrument_file``, the same
seed as ``bench/peers/run.py``), then runs the default plugin set's backtest on them in this
process ``--pairs`` times each way, alternating: the blocks' set-up with the analyzers that
declare ``"block-thread"`` (the profile) on a thread of their own beside the others
(``tradewind.blocks.opened_rows``, as shipped), and all of it on the engine's thread
(``THREAD_MIN_TICKS`` out of reach, as before). For each run: the wall time of the
blocks' set-up (``Engine._open_block``, summed over the run's blocks), its main thread's own
CPU, and the whole run's wall and main-thread CPU. A machine's load moves the walls; the
main thread's CPU shows what left it, the walls' minimum what a free core gives.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
import bench_pipeline
import tradewind.blocks as blocks
from tradewind.config import load_config
from tradewind.trading.engine import Engine


def _run(cfg: Path, journal: Path) -> tuple[float, float, float, float]:
    spent = [0.0, 0.0]
    real = Engine._open_block

    def timed(self, *args):  # type: ignore[no-untyped-def]
        w, c = time.perf_counter(), time.thread_time()
        try:
            return real(self, *args)
        finally:
            spent[0] += time.perf_counter() - w
            spent[1] += time.thread_time() - c

    for p in (journal, Path(f"{journal}.wal")):
        p.unlink(missing_ok=True)
    Engine._open_block = timed  # type: ignore[method-assign]
    try:
        engine = Engine(load_config(cfg), journal_path=str(journal))
        w, c = time.perf_counter(), time.thread_time()
        anyio.run(engine.run)
        whole = (time.perf_counter() - w, time.thread_time() - c)
    finally:
        Engine._open_block = real  # type: ignore[method-assign]
    return spent[0], spent[1], *whole


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2_000_000)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-blocks"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sp = "" if args.speedup == 1.0 else f"_{args.speedup:g}x"
    data = bench_pipeline.one_instrument_file(
        args.workdir / f"blocks_{args.ticks}{sp}.parquet", args.ticks, args.speedup
    )
    journal = args.workdir / "blocks.duckdb"
    cfg = args.workdir / "blocks.toml"
    cfg.write_text(
        bench_pipeline.config_text(data, ["BTCUSDT"], 1_000_000, journal), encoding="utf-8"
    )
    shipped = blocks.THREAD_MIN_TICKS
    got: dict[str, list[tuple[float, float, float, float]]] = {"thread": [], "one thread": []}
    _run(cfg, journal)  # warm: imports, the file's pages
    for _ in range(args.pairs):
        for way, least in (("one thread", 10**15), ("thread", shipped)):
            blocks.THREAD_MIN_TICKS = least
            got[way].append(_run(cfg, journal))
    blocks.THREAD_MIN_TICKS = shipped
    print(
        f"{args.ticks:,} ticks, blocks of 1,000,000, {args.pairs} pairs "
        f"(load avg {os.getloadavg()[0]:.1f}):"
    )
    for way, runs in got.items():
        cols = list(zip(*runs, strict=True))
        print(
            f"  {way:10s} set-up wall min {min(cols[0]) * 1e3:6.1f} ms, median "
            f"{statistics.median(cols[0]) * 1e3:6.1f}; its main-thread CPU median "
            f"{statistics.median(cols[1]) * 1e3:6.1f} ms; run wall min {min(cols[2]):.3f} s, "
            f"main-thread CPU median {statistics.median(cols[3]):.3f} s"
        )


if __name__ == "__main__":
    main()
