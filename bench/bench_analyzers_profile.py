"""Update cost of the profile analyzer: µs per tick batch (and per tick), per candle, per read.

    python bench/bench_analyzers_profile.py [--hours N] [--window 15m]

The tape is synthetic and calibrated on the recorded Binance BTCUSDT sample shipped with the
plugin's tests (plugins/analyzers/profile/tests/resources/trades.csv): a seeded bootstrap of
the sample's trade events (gap to the previous trade, log return, size, aggressor side), so
trade rate, price moves and size mix are the sample's. It is driven as the engine drives it:
ticks up to each 1m boundary in one batch, then the 1m/5m/15m candles closing there, then one
``values()`` read. Separately, batch sizes of 1, 10, 100 and 1,000 trades show the cost of
live (small) and replay (large) batches, and ``on_block`` over the whole tape (a backtest's
block: its rows in order, ``poc`` read at every row as the backtest's chart does, zones and
FVGs on the config's timeframe; ``--zone-timeframe 1m`` is the default backtest's). Times are
process CPU time, best of 5 runs.
"""

from __future__ import annotations

import argparse
import csv
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tradewind.blocks import make_rows
from tradewind.model import Candle, Instrument, InstrumentKind, TickBatch
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig
from tradewind_analyzer_profile.plugin import VALUE_KEYS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "plugins/analyzers/profile/tests/resources/trades.csv"
MIN = 60 * 10**9


def instrument() -> Instrument:
    """Binance USDT-M BTCUSDT as in the sample (tick 0.01, lot 0.001)."""
    return Instrument(
        venue="binance",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
    )


def sample_events() -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
    float,
]:
    """(gap ns, log return, size, side, first price) of each trade of the recorded sample."""
    ts, price, size, side = [], [], [], []
    with SAMPLE.open(newline="") as f:
        for row in csv.DictReader(f):
            ts.append(int(row["timestamp"]) * 1000)
            price.append(float(row["price"]))
            size.append(float(row["amount"]))
            side.append(1 if row["side"] == "buy" else -1)
    t, p = np.array(ts), np.array(price)
    return (
        np.diff(t),
        np.diff(np.log(p)),
        np.array(size)[1:],
        np.array(side, dtype=np.int8)[1:],
        float(p[0]),
    )


def synthetic_tape(hours: float, seed: int = 7) -> TickBatch:
    """``hours`` of trades bootstrapped from the sample's events, on its 0.01 price grid."""
    gaps, rets, sizes, sides, p0 = sample_events()
    rate = len(gaps) / (gaps.sum() / 3.6e12)
    n = int(rate * hours)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(gaps), n)
    r = rets[pick] - rets.mean()  # no drift over long runs
    price = np.round(p0 * np.exp(np.cumsum(r)), 2)
    ts = 1_600_000_000 * 10**9 + np.cumsum(gaps[pick])
    return TickBatch.from_arrays("binance:BTCUSDT", ts, price, sizes[pick], sides[pick])


def candles(tape: TickBatch) -> list[Candle]:
    """1m/5m/15m candles of the tape in close order (then timeframe order)."""
    out = []
    for tf_min in (1, 5, 15):
        tf = tf_min * MIN
        bucket = tape.ts_ns // tf
        edges = np.flatnonzero(np.diff(bucket)) + 1
        for s, e in zip(np.r_[0, edges], np.r_[edges, len(tape)], strict=True):
            p, q = tape.price[s:e], tape.size[s:e]
            buy = tape.side[s:e] > 0
            out.append(
                Candle(
                    instrument=tape.instrument,
                    timeframe_ns=tf,
                    open_ts_ns=int(bucket[s] * tf),
                    open=float(p[0]),
                    high=float(p.max()),
                    low=float(p.min()),
                    close=float(p[-1]),
                    volume=float(q.sum()),
                    buy_volume=float(q[buy].sum()),
                    sell_volume=float(q[~buy].sum()),
                    trades=int(e - s),
                    buy_trades=int(buy.sum()),
                    sell_trades=int((~buy).sum()),
                    vwap=float((p * q).sum() / q.sum()),
                )
            )
    out.sort(key=lambda c: (c.close_ts_ns, c.timeframe_ns))
    return out


def engine_drive(
    tape: TickBatch, bars: list[Candle], cfg: ProfileConfig, runs: int = 5
) -> dict[str, float]:
    """Best-of-``runs`` mean µs per minute batch, per candle and per read, engine-style."""
    inst = instrument()
    cuts = np.searchsorted(tape.ts_ns, [c.close_ts_ns for c in bars])
    best = {"batch": np.inf, "candle": np.inf, "read": np.inf}
    for _ in range(runs):
        a = ProfileAnalyzer(config=cfg, instrument=inst)
        t_batch = t_candle = t_read = 0.0
        batches = reads = 0
        i = 0
        k = 0
        while k < len(bars):
            close = bars[k].close_ts_ns
            j = int(cuts[k])
            if j > i:
                piece = tape.slice(i, j)
                t0 = time.process_time()
                a.on_ticks(piece)
                t_batch += time.process_time() - t0
                batches += 1
                i = j
            t0 = time.process_time()
            while k < len(bars) and bars[k].close_ts_ns == close:
                a.on_candle(bars[k])
                k += 1
            t_candle += time.process_time() - t0
            t0 = time.process_time()
            a.values()["poc"]  # reading a level computes the value area
            t_read += time.process_time() - t0
            reads += 1
        best["batch"] = min(best["batch"], t_batch / batches * 1e6)
        best["candle"] = min(best["candle"], t_candle / len(bars) * 1e6)
        best["read"] = min(best["read"], t_read / reads * 1e6)
    best["ticks_per_batch"] = len(tape) / batches
    return best


def batch_sizes(
    tape: TickBatch, cfg: ProfileConfig, sizes: tuple[int, ...], runs: int = 5
) -> dict[int, float]:
    """Best mean µs per ``on_ticks`` call for fixed batch sizes (window full, expiring)."""
    inst = instrument()
    out = {}
    for size in sizes:
        n = min(len(tape), max(200_000, size * 200))
        pieces = [tape.slice(s, min(n, s + size)) for s in range(0, n, size)]
        best = np.inf
        for _ in range(runs):
            a = ProfileAnalyzer(config=cfg, instrument=inst)
            on_ticks = a.on_ticks
            t0 = time.process_time()
            for piece in pieces:
                on_ticks(piece)
            best = min(best, (time.process_time() - t0) / len(pieces) * 1e6)
        out[size] = best
    return out


def block_drive(
    tape: TickBatch, bars: list[Candle], cfg: ProfileConfig, runs: int = 5
) -> tuple[float, int]:
    """Best-of-``runs`` µs per row of one ``on_block`` over the whole tape, ``poc`` read at
    every row; and the number of rows."""
    inst = instrument()
    rows = make_rows(tape, bars)
    best = np.inf
    for _ in range(runs):
        a = ProfileAnalyzer(config=cfg, instrument=inst)
        t0 = time.process_time()
        for row in a.on_block(tape, rows):
            row.get("poc")
        best = min(best, (time.process_time() - t0) / len(rows) * 1e6)
    return best, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--window", default="15m")
    ap.add_argument("--zone-timeframe", default=None, help="zones and FVGs (default: 15m)")
    args = ap.parse_args()
    cfg = ProfileConfig(window=args.window)
    if args.zone_timeframe is not None:
        cfg = ProfileConfig(window=args.window, zone_timeframe=args.zone_timeframe)
    tape = synthetic_tape(args.hours)
    bars = candles(tape)
    print(
        f"profile analyzer, window {cfg.window}, {cfg.bin_ticks}-tick bins, zones/FVGs on "
        f"{cfg.zone_timeframe}; synthetic BTCUSDT tape calibrated on the Tardis sample: "
        f"{len(tape):,} trades over {args.hours:g} h, {len(bars):,} candles (1m/5m/15m)"
    )
    e = engine_drive(tape, bars, cfg)
    print(
        f"  engine-style: on_ticks {e['batch']:.1f} µs per 1m batch "
        f"({e['ticks_per_batch']:.0f} trades, {e['batch'] / e['ticks_per_batch']:.2f} µs/trade)"
        f"; on_candle {e['candle']:.2f} µs per candle; values() and its poc "
        f"{e['read']:.1f} µs per read "
        f"({len(VALUE_KEYS)} keys, value area recomputed after each batch)"
    )
    us_row, n_rows = block_drive(tape, bars, cfg)
    print(
        f"  on_block over the whole tape ({n_rows:,} rows), poc read at every row: "
        f"{us_row:.2f} µs per row"
    )
    for size, us in batch_sizes(tape, cfg, (1, 10, 100, 1000)).items():
        print(
            f"  on_ticks, {size:>5} trades per batch: {us:8.1f} µs per batch, "
            f"{us / size:6.2f} µs per trade"
        )


if __name__ == "__main__":
    main()
