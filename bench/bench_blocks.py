"""Engine-only backtest throughput by block size (``[run] block_ticks``), medians of K.

    python bench/bench_blocks.py [--ticks 300000] [--speedup 1] [--repeat 3]
                                 [--blocks 0,1000000]

The embedded default backtest (the same config as ``bench_pipeline.py``: four analyzers,
strategy, the seed's filters and exits, the simulated venue, the DuckDB journal) over
calibrated synthetic BTCUSDT ticks (``--speedup 20``: ~1,600 trades a minute instead of ~80),
replayed in one feed batch. ``block_ticks = 0`` advances candles and analyzers one decision
interval at a time (the per-candle path, what the engine did before blocks); a large value
advances them over the whole batch at once (``tradewind.blocks``). "Engine" is the process
CPU of ``Engine.run`` without the replay venue's file load. Every run of a scenario must end
with the same summary (the bit-identity tests check the whole journal); the figures live in
docs/performance.md, never in a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
from bench_pipeline import SEED, config_text, synth_ticks, write_data


def run(data: Path, block: int, workdir: Path) -> tuple[float, float, dict[str, Any]]:
    """One run in this process: (engine CPU s without the load, load CPU s, summary)."""
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    journal = workdir / f"blocks_{block}.duckdb"
    for p in (journal, Path(str(journal) + ".wal")):
        p.unlink(missing_ok=True)
    text = config_text(data, ["BTCUSDT"], 10**12, journal)
    text = text.replace("[run]\n", f"[run]\nblock_ticks = {block}\n", 1)
    cfg = workdir / f"blocks_{block}.toml"
    cfg.write_text(text, encoding="utf-8")
    engine = Engine(load_config(cfg), run_id="blocks")  # one id: the summaries compare
    replay = engine.venues["replay"]
    connect = replay.connect
    load = [0.0]

    async def timed_connect() -> None:
        c = time.process_time()
        await connect()
        load[0] += time.process_time() - c

    replay.connect = timed_connect
    c = time.process_time()
    result = anyio.run(engine.run)
    cpu = time.process_time() - c
    return cpu - load[0], load[0], dict(result.summary)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blocks", default="0,1000000")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tradewind-bench-blocks"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"blocks_{args.ticks}_{args.speedup:g}x.parquet"
    if not data.exists():
        write_data(data, {"BTCUSDT": synth_ticks(args.ticks, "BTCUSDT", SEED, args.speedup)})
    blocks = [int(b) for b in args.blocks.split(",")]
    summaries: dict[int, dict[str, Any]] = {}
    times: dict[int, list[float]] = {b: [] for b in blocks}
    for _ in range(args.repeat):
        for block in blocks:  # alternating, so machine load hits every block size alike
            engine_cpu, _, summary = run(data, block, args.workdir)
            times[block].append(engine_cpu)
            summaries.setdefault(block, summary)
            if summary != summaries[block]:
                raise SystemExit(f"block_ticks={block}: two runs gave different summaries")
    first = summaries[blocks[0]]
    for block in blocks:
        same = "same summary" if summaries[block] == first else "DIFFERENT SUMMARY"
        med = statistics.median(times[block])
        s = summaries[block]
        print(
            f"block_ticks={block:>13,}: {s['ticks']:,} ticks, {s['decisions']:,} decisions, "
            f"{s['fills']} fills; engine CPU median {med:.2f} s of {args.repeat} "
            f"({', '.join(f'{t:.2f}' for t in times[block])}) = {s['ticks'] / med / 1e6:.3f} "
            f"M ticks/s, {med / s['decisions'] * 1e6:.0f} µs per decision; {same}"
        )


if __name__ == "__main__":
    main()
