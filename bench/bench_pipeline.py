"""Full-pipeline backtest throughput: replay → validation → candles 1m/5m/15m → the four
analyzers → strategy → sizing → filters (kill switch first) → simulated fills → exits → journal.

    python bench/bench_pipeline.py [--ticks 10000000] [--instruments 100]
                                   [--per-instrument 100000] [--tick-by-tick 200000]
                                   [--speedup 1] [--profile DIR] [--only one,many,tick]
                                   [--stepped]
    python bench/bench_pipeline.py --micro      # per-call cost of candles and validation

The run is the embedded default backtest (``tradewind backtest`` with no config: the
orderflow-scalper preset, the four analyzer plugins, every filter and exit of the seed chain,
the simulated venue, the DuckDB journal; the log notifier only for critical events), pointed
at synthetic ticks calibrated on the real Tardis BTCUSDT sample shipped in
``tradewind/defaults/data`` (``tradewind.market.synth``, fixed seeds) and written to a
tradewind ticks parquet file that the replay venue reads. Scenarios:

* ``one``  — 1 instrument, ``--ticks`` ticks, replay in 1M-tick chunks;
* ``many`` — ``--instruments`` instruments × ``--per-instrument`` ticks over the same hours;
* ``tick`` — ``--tick-by-tick`` ticks of one instrument (same calibration and seed, a file
  of its own) replayed with ``chunk_ticks = 1`` (every trade its own feed batch), and the
  same ticks replayed vectorised, for comparison.

Each scenario runs in a fresh subprocess, so its peak RSS (``VmHWM``) is its own. Times:
wall and process CPU of ``Engine.run``; the replay venue's file load (inside ``run``) is timed
separately and throughput is given without it too. ``--profile DIR`` writes a cProfile of
each engine run to DIR and prints the top functions. ``--speedup 20`` compresses time 20×
(~1,600 trades a minute, a busy modern perpetual) instead of the sample's ~80 a minute.
``--stepped`` runs with ``[run] event_scheduler = false`` (every close stepped by the engine),
the baseline of the scheduler's figures.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

M = 60_000_000_000
SEED = 20200222
START_NS = 1_700_006_400 * 1_000_000_000  # 2023-11-15 00:00 UTC, a day boundary
TARGET = 5e6  # ticks/s on one core
#: Issue 17's target for 100 instruments x 100,000 ticks: 10x the 0.3 M ticks/s it started at.
TARGETS = {"many": 3e6}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def _sample_path() -> Path:
    import tradewind

    return (
        Path(tradewind.__file__).parent
        / "defaults"
        / "data"
        / ("tardis_binance-futures_BTCUSDT_trades.csv")
    )


def synth_ticks(n: int, symbol: str, seed: int, speedup: float) -> Any:
    """Exactly ``n`` calibrated synthetic ticks of ``symbol`` from START_NS."""
    from tradewind.market import synth
    from tradewind.market.importers import load
    from tradewind.model.ticks import TickBatch

    sample = next(iter(load(_sample_path()).batches.values()))
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    hours = 1.05 * n / per_hour / speedup + 0.1
    while True:
        out = synth.generate(
            params, hours=hours * speedup, seed=seed, instrument=symbol, start_ns=START_NS
        )
        if len(out) >= n:
            break
        hours *= 1.2
    out = out.slice(0, n)
    if speedup != 1.0:
        ts = START_NS + ((out.ts_ns - START_NS) / speedup).astype(np.int64)
        out = TickBatch.from_arrays(symbol, ts, out.price, out.size, out.side, out.trade_id)
    return out


def write_data(path: Path, batches: dict[str, Any]) -> None:
    from tradewind.market.importers import ticks_parquet

    ticks_parquet.write(path, batches, exchange="synth", market="perp")


def one_instrument_file(path: Path, ticks: int, speedup: float) -> Path:
    """``path``, the one-instrument benchmarks' synthetic BTCUSDT tick file (``ticks`` trades,
    time compressed ``speedup``×), written once and reused."""
    if not path.exists():
        write_data(path, {"BTCUSDT": synth_ticks(ticks, "BTCUSDT", SEED, speedup)})
    return path


def ensure_data(workdir: Path, args: argparse.Namespace) -> dict[str, Path]:
    """The parquet files of the scenarios (reused if already written with the same options)."""
    sp = f"{args.speedup:g}x"
    files = {
        "one": workdir / f"one_{args.ticks}_{sp}.parquet",
        "many": workdir / f"many_{args.instruments}x{args.per_instrument}_{sp}.parquet",
        "tick": workdir / f"tick_{args.tick_by_tick}_{sp}.parquet",
    }
    if not files["one"].exists() and "one" in args.only:
        t = time.perf_counter()
        b = synth_ticks(args.ticks, "BTCUSDT", SEED, args.speedup)
        write_data(files["one"], {"BTCUSDT": b})
        print(
            f"  wrote {files['one'].name}: {len(b):,} ticks, "
            f"{(b.last_ts - b.first_ts) / 3.6e12:,.1f} h, {time.perf_counter() - t:.1f} s"
        )
    if not files["tick"].exists() and "tick" in args.only:
        b = synth_ticks(args.tick_by_tick, "BTCUSDT", SEED, args.speedup)
        write_data(files["tick"], {"BTCUSDT": b})
    if not files["many"].exists() and "many" in args.only:
        t = time.perf_counter()
        batches = {
            _symbol(i): synth_ticks(args.per_instrument, _symbol(i), SEED + i, args.speedup)
            for i in range(args.instruments)
        }
        write_data(files["many"], batches)
        spans = [(b.last_ts - b.first_ts) / 3.6e12 for b in batches.values()]
        print(
            f"  wrote {files['many'].name}: {args.instruments} × {args.per_instrument:,} "
            f"ticks, {min(spans):,.1f}–{max(spans):,.1f} h each, "
            f"{time.perf_counter() - t:.1f} s"
        )
    return files


def _symbol(i: int) -> str:
    return f"SYN{i:03d}USDT"


# --------------------------------------------------------------------------------------------
# Config: the embedded default, with our instruments and data
# --------------------------------------------------------------------------------------------
def config_text(
    data: Path, symbols: list[str], chunk: int, journal: Path, *, stepped: bool = False
) -> str:
    from tradewind.cli import default_config_path

    text = default_config_path().read_text(encoding="utf-8")
    block = re.search(r"\[\[instruments\]\]\n(.*?)\n\n", text, re.S)
    assert block is not None, "the default config has no [[instruments]] block"
    body = block.group(1)
    assert 'symbol = "BTCUSDT"' in body
    instruments = "".join(
        "[[instruments]]\n" + body.replace('symbol = "BTCUSDT"', f'symbol = "{s}"') + "\n\n"
        for s in symbols
    )
    text = text[: block.start()] + instruments + text[block.end() :]
    old = 'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"'
    assert old in text, "the default config's replay path changed"
    text = text.replace(old, f'path = "{data.as_posix()}"\nchunk_ticks = {chunk}')
    assert 'journal = "reports/journal.duckdb"' in text
    text = text.replace('journal = "reports/journal.duckdb"', f'journal = "{journal.as_posix()}"')
    # The log notifier would print every veto (thousands of lines): critical events only.
    assert 'min_severity = "warning"' in text
    text = text.replace('min_severity = "warning"', 'min_severity = "critical"')
    if stepped:  # every close stepped: the event scheduler off, for paired comparisons
        assert "\n[run]\n" in text
        text = text.replace("\n[run]\n", "\n[run]\nevent_scheduler = false\n", 1)
    return text


# --------------------------------------------------------------------------------------------
# One run (in its own process)
# --------------------------------------------------------------------------------------------
def run_one(
    data: Path,
    symbols: list[str],
    chunk: int,
    label: str,
    workdir: Path,
    profile: Path | None,
    stepped: bool = False,
) -> dict[str, Any]:
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    journal = workdir / f"{label}.duckdb"
    for p in (journal, Path(str(journal) + ".wal")):
        p.unlink(missing_ok=True)
    cfg_path = workdir / f"{label}.toml"
    cfg_path.write_text(
        config_text(data, symbols, chunk, journal, stepped=stepped), encoding="utf-8"
    )
    batches = [0]

    def count(n: int, total: int | None) -> None:
        batches[0] += 1

    engine = Engine(load_config(cfg_path), run_id=label, progress=count)
    replay = engine.venues["replay"]
    load = {"wall": 0.0, "cpu": 0.0, "rss": 0.0}
    connect = replay.connect

    async def timed_connect() -> None:
        w, c = time.perf_counter(), time.process_time()
        await connect()
        load["wall"] += time.perf_counter() - w
        load["cpu"] += time.process_time() - c
        load["rss"] = peak_rss_mb()

    replay.connect = timed_connect
    rss0 = peak_rss_mb()
    prof = cProfile.Profile() if profile else None
    w, c = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    result = anyio.run(engine.run)
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    if prof is not None and profile is not None:
        prof.dump_stats(profile / f"{label}.prof")
    s = result.summary
    return {
        "label": label,
        "instruments": len(symbols),
        "chunk": chunk,
        "ticks": s["ticks"],
        "batches": batches[0],
        "candles": s["candles"],
        "decisions": s["decisions"],
        "signals": s["signals"],
        "fills": s["fills"],
        "trades": s["trades"],
        "wall": wall,
        "cpu": cpu,
        "load_wall": load["wall"],
        "load_cpu": load["cpu"],
        "maxrss_mb": peak_rss_mb(),
        "rss_end_mb": peak_rss_mb("VmRSS"),
        "rss_before_mb": rss0,
        "rss_after_load_mb": load["rss"],
        "loadavg": os.getloadavg()[0],
    }


def peak_rss_mb(field: str = "VmHWM") -> float:
    """Peak (or with ``field="VmRSS"`` current) resident set size of this process, in MB.

    ``VmHWM`` of /proc/self/status: ``ru_maxrss`` would count the parent's memory at the
    fork that started this process (Linux keeps the larger of the two across exec).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spawn(
    data: Path,
    symbols: list[str],
    chunk: int,
    label: str,
    workdir: Path,
    profile: Path | None,
    stepped: bool = False,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--_run",
        str(data),
        "--_label",
        label,
        "--_chunk",
        str(chunk),
        "--_symbols",
        ",".join(symbols),
        "--workdir",
        str(workdir),
    ]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    if stepped:
        cmd.append("--_stepped")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def show(r: dict[str, Any]) -> None:
    n = r["ticks"]
    engine_cpu = r["cpu"] - r["load_cpu"]
    print(
        f"  {r['label']:<14} {r['instruments']:>3} inst  chunk {r['chunk']:>9,}  "
        f"{n:>11,} ticks in {r['batches']:,} feed batches  {r['candles']:>9,} candles  "
        f"{r['decisions']:>8,} decisions  "
        f"{r['fills']:>6,} fills\n"
        f"  {'':<14} wall {r['wall']:8.1f} s  CPU {r['cpu']:8.1f} s  "
        f"(replay load {r['load_wall']:.1f} s wall / {r['load_cpu']:.1f} s CPU)  "
        f"→ {n / r['cpu'] / 1e6:6.3f} M ticks/s per CPU-s, "
        f"{n / max(engine_cpu, 1e-9) / 1e6:6.3f} M without the load, "
        f"{n / r['wall'] / 1e6:6.3f} M wall; "
        f"{engine_cpu / n * 1e6:6.2f} µs/tick, "
        f"{engine_cpu / max(r['decisions'], 1) * 1e6:7.1f} µs per decision; "
        f"peak RSS {r['maxrss_mb']:,.0f} MB (before the run {r['rss_before_mb']:,.0f}, "
        f"after the replay load {r['rss_after_load_mb']:,.0f}, at the end "
        f"{r['rss_end_mb']:,.0f}); load avg {r['loadavg']:.1f}"
    )


def print_profile(path: Path, top: int = 25) -> None:
    st = pstats.Stats(str(path))
    st.sort_stats("tottime").print_stats(top)


# --------------------------------------------------------------------------------------------
# Per-call costs of the market-data path (candles, validation) for small batches
# --------------------------------------------------------------------------------------------
def micro() -> None:
    from tradewind.market.candles import CandleAggregator
    from tradewind.market.validation import TickValidator

    ticks = synth_ticks(400_000, "BTCUSDT", SEED, 20.0)
    bucket = ticks.ts_ns // M
    cuts = [0, *(np.flatnonzero(np.diff(bucket)) + 1).tolist(), len(ticks)]
    print(
        "per-call cost, process CPU, best of 5; batches of n ticks inside one minute "
        f"(synthetic, ~1,600 trades/min); load avg {os.getloadavg()[0]:.1f}"
    )
    print("      n   CandleAggregator.update (1m/5m/15m)   advance   TickValidator.validate")
    for n in (1, 10, 100, 1000):
        pieces = []
        for a, b in itertools.pairwise(cuts):
            pieces += [ticks.slice(lo, lo + n) for lo in range(a, b - n + 1, n)]
        pieces = pieces[: max(300, 30_000 // n)]
        upd, adv, val = [], [], []
        for _ in range(5):
            agg = CandleAggregator("BTCUSDT", (M, 5 * M, 15 * M))
            t_u = t_a = 0.0
            n_a = 0
            prev = None
            for p in pieces:
                b0 = int(p.ts_ns[0]) // M
                if prev is not None and b0 != prev:
                    t = time.process_time()
                    agg.advance(b0 * M)
                    t_a += time.process_time() - t
                    n_a += 1
                prev = b0
                t = time.process_time()
                agg.update(p)
                t_u += time.process_time() - t
            upd.append(t_u / len(pieces))
            adv.append(t_a / max(n_a, 1))
            v = TickValidator("BTCUSDT")
            t = time.process_time()
            for p in pieces:
                v.validate(p)
            val.append((time.process_time() - t) / len(pieces))
        print(
            f"  {n:>5}   {min(upd) * 1e6:10.1f} µs ({min(upd) / n * 1e6:7.2f} µs/tick)"
            f"        {min(adv) * 1e6:6.1f} µs   {min(val) * 1e6:8.1f} µs"
        )


# --------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000_000, help="ticks of the 1-instrument run")
    ap.add_argument("--instruments", type=int, default=100)
    ap.add_argument("--per-instrument", type=int, default=100_000)
    ap.add_argument(
        "--tick-by-tick",
        type=int,
        default=200_000,
        help="ticks of the chunk_ticks=1 comparison (and its vectorised twin)",
    )
    ap.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="compress time by this factor (20: ~1,600 trades/min)",
    )
    ap.add_argument("--only", default="one,many,tick", help="scenarios to run")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/tradewind-bench-pipeline"))
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR")
    ap.add_argument("--micro", action="store_true")
    ap.add_argument("--_run", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_label", help=argparse.SUPPRESS)
    ap.add_argument("--_chunk", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_symbols", help=argparse.SUPPRESS)
    ap.add_argument("--_stepped", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--stepped",
        action="store_true",
        help="run with [run] event_scheduler = false (every close stepped), to compare",
    )
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args._run is not None:
        r = run_one(
            args._run,
            args._symbols.split(","),
            args._chunk,
            args._label,
            args.workdir,
            args.profile,
            args._stepped,
        )
        print(json.dumps(r))
        return
    if args.micro:
        micro()
        return
    args.only = set(args.only.split(","))
    print(
        f"tradewind pipeline benchmark, {os.cpu_count()} CPUs, "
        f"load avg {os.getloadavg()[0]:.1f}; data in {args.workdir}"
    )
    files = ensure_data(args.workdir, args)
    runs: list[tuple[str, Path, list[str], int]] = []
    if "one" in args.only:
        runs.append(("one", files["one"], ["BTCUSDT"], 1_000_000))
    if "many" in args.only:
        symbols = [_symbol(i) for i in range(args.instruments)]
        runs.append(("many", files["many"], symbols, 1_000_000))
    if "tick" in args.only:
        runs.append(("tick-vector", files["tick"], ["BTCUSDT"], 1_000_000))
        runs.append(("tick-by-tick", files["tick"], ["BTCUSDT"], 1))
    results = []
    for label, data, symbols, chunk in runs:
        r = spawn(data, symbols, chunk, label, args.workdir, args.profile, args.stepped)
        show(r)
        results.append(r)
        if args.profile is not None:
            print_profile(args.profile / f"{label}.prof")
    for r in results:
        rate = r["ticks"] / r["cpu"]
        target = TARGETS.get(r["label"], TARGET)
        verdict = "meets" if rate >= target else "misses"
        print(
            f"  {r['label']}: {rate / 1e6:.3f} M ticks/s per CPU-second "
            f"{verdict} the {target / 1e6:.0f} M target"
        )


if __name__ == "__main__":
    main()
