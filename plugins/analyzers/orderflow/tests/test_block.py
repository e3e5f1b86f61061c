"""The vectorised block path against the per-candle path, bit for bit.

``reference_rows`` is ``on_block`` as it was before the vectorised kernel: every candle of a
row through :meth:`OrderFlowAnalyzer.on_candle`, then the values. The block path must give
the same bits on every output after every row, in blocks of 1, 7, 100 and 1,000,000 rows, on
the recorded sample's 1m/5m/15m candles and on synthetic ticks calibrated on it at ~80 and
~1,600 trades a minute; and an analyzer moved on by blocks must carry on per candle from the
same state (live after a backtest's warm-up).
"""

from __future__ import annotations

import csv
import math
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tradewind.blocks import BlockRow, BlockTable
from tradewind.market import synth
from tradewind.market.candles import aggregate
from tradewind.model import Candle, Instrument, TickBatch

from tradewind_analyzer_orderflow import OrderFlowAnalyzer, OrderFlowConfig

MIN = 60 * 10**9
SAMPLE = Path(__file__).parent / "resources" / "tardis_binance-futures_BTCUSDT_trades.csv"
INSTRUMENT = "binance:BTCUSDT"
EMPTY = TickBatch.from_arrays(INSTRUMENT, [], [], [], [], [])


def sample_ticks() -> TickBatch:
    ts, price, size, side, ids = [], [], [], [], []
    with SAMPLE.open(newline="") as fh:
        for row in csv.DictReader(fh):
            ts.append(int(row["timestamp"]) * 1_000)
            price.append(float(row["price"]))
            size.append(float(row["amount"]))
            side.append(1 if row["side"] == "buy" else -1)
            ids.append(int(row["id"]))
    return TickBatch.from_arrays(INSTRUMENT, ts, price, size, side, ids)


def synthetic_ticks(n_ticks: int, speedup: float) -> TickBatch:
    """Synthetic ticks calibrated on the recorded sample (as bench/_synth.py)."""
    sample = sample_ticks()
    params = synth.calibrate(sample)
    per_hour = len(sample) / ((sample.last_ts - sample.first_ts) / synth.NS_PER_HOUR)
    out = synth.generate(
        params, hours=1.1 * n_ticks / per_hour + 1.0, seed=20200222, instrument=INSTRUMENT
    )
    out = out.slice(0, min(n_ticks, len(out)))
    if speedup != 1.0:
        t0 = out.first_ts
        ts = t0 + ((out.ts_ns - t0) / speedup).astype(np.int64)
        out = TickBatch.from_arrays(INSTRUMENT, ts, out.price, out.size, out.side, out.trade_id)
    return out


def rows_of(
    ticks: TickBatch, timeframes: Sequence[int] = (MIN, 5 * MIN, 15 * MIN)
) -> list[BlockRow]:
    """The decision rows of a tape: its candles of every timeframe grouped by close time, in
    the aggregator's order (close time, then timeframe)."""
    candles = sorted(
        (c for tf in timeframes for c in aggregate(ticks, tf).to_candles()),
        key=lambda c: (c.close_ts_ns, c.timeframe_ns),
    )
    rows: list[BlockRow] = []
    group: list[Candle] = []
    for c in candles:
        if group and group[0].close_ts_ns != c.close_ts_ns:
            rows.append(BlockRow(close_ns=group[0].close_ts_ns, tick_end=0, candles=tuple(group)))
            group = []
        group.append(c)
    if group:
        rows.append(BlockRow(close_ns=group[0].close_ts_ns, tick_end=0, candles=tuple(group)))
    return rows


def edge_rows(n_minutes: int, seed: int) -> list[BlockRow]:
    """Scripted 1m/5m/15m candles on the formulas' edges: no buy or no sell volume (or
    neither), no trades on a side, imbalances exactly at the thresholds (20 / 10 = 2.0,
    5 / 10 = 0.5), and ratios past the cap."""
    rng = np.random.default_rng(seed)
    volumes = [0.0, 5.0, 10.0, 20.0, 1_000_000.0]
    t0 = 1_582_329_600 * 10**9
    rows = []
    for m in range(n_minutes):
        close = t0 + (m + 1) * MIN
        candles = []
        for tf in (MIN, 5 * MIN, 15 * MIN):
            if close % tf:
                continue
            buy, sell = (float(v) for v in rng.choice(volumes, 2))
            candles.append(
                Candle(
                    instrument=INSTRUMENT,
                    timeframe_ns=tf,
                    open_ts_ns=close - tf,
                    open=50_000.0,
                    high=50_000.0,
                    low=50_000.0,
                    close=50_000.0,
                    volume=buy + sell,
                    buy_volume=buy,
                    sell_volume=sell,
                    trades=2,
                    buy_trades=int(rng.choice([0, 1, 3])) if buy else 0,
                    sell_trades=int(rng.choice([0, 1, 3])) if sell else 0,
                    vwap=50_000.0,
                )
            )
        rows.append(BlockRow(close_ns=close, tick_end=0, candles=tuple(candles)))
    return rows


DATA: dict[str, Any] = {
    "edges": lambda: edge_rows(3_000, seed=3),
    "sample": lambda: rows_of(sample_ticks()),
    "synth-80-per-min": lambda: rows_of(synthetic_ticks(200_000, 1.0)),
    "synth-1600-per-min": lambda: rows_of(synthetic_ticks(800_000, 20.0)),
    # Only the 1m candles reach a 5m/15m analyzer's first rows: forward fill from NaN.
    "sample-1m-rows-only": lambda: rows_of(sample_ticks(), (MIN,)),
}
CONFIGS = {
    "default": OrderFlowConfig(),
    # Thresholds near the tape's imbalances (so the cascade and both reversals fire), a CVD
    # reset every hour, a cap the imbalance reaches.
    "tight": OrderFlowConfig(
        max_imbalance=3.0,
        cascade_long_min=1.05,
        cascade_short_max=0.95,
        reversal_long_max=0.95,
        reversal_short_min=1.05,
        cvd_reset="1h",
    ),
    "two-timeframes": OrderFlowConfig(timeframes=("5m", "1m")),
}


def instrument() -> Instrument:
    return Instrument(venue="binance", symbol="BTCUSDT")


def reference_rows(analyzer: OrderFlowAnalyzer, rows: Sequence[BlockRow]) -> list[dict[str, float]]:
    """The per-candle path: each row's candles through on_candle, then the values."""
    out = []
    for row in rows:
        for c in row.candles:
            analyzer.on_candle(c)
        out.append(dict(analyzer.values()))
    return out


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same(want: Mapping[str, float], got: Mapping[str, float], where: object) -> None:
    assert list(got) == list(want), where
    for k, v in want.items():
        assert bits(v) == bits(got[k]), (where, k, v, got[k])
        if v != v:
            assert got[k] is math.nan, (where, k)  # the one NaN object, as per candle


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("block", [1, 7, 100, 1_000_000])
def test_block_path_is_the_per_candle_bits(data: str, config: str, block: int) -> None:
    cfg = CONFIGS[config]
    rows = DATA[data]()
    assert len(rows) >= 100
    ref = OrderFlowAnalyzer(config=cfg, instrument=instrument())
    want = reference_rows(ref, rows)
    analyzer = OrderFlowAnalyzer(config=cfg, instrument=instrument())
    fired = dict.fromkeys(("cascade", "cascade_reversal_long", "cascade_reversal_short"), 0)
    for start in range(0, len(rows), block):
        piece = rows[start : start + block]
        table = analyzer.on_block(EMPTY, piece)
        assert isinstance(table, BlockTable)
        arrays = table.arrays()
        for i, got in enumerate(table):
            r = start + i
            assert_same(want[r], got, (data, config, block, r))
            # The arrays the gates judge hold the same floats.
            for key, column in arrays.items():
                assert bits(float(column[i])) == bits(want[r][key]), (r, key)
            for key in fired:
                fired[key] += want[r][key] not in (0.0,) and not math.isnan(want[r][key])
        assert_same(want[start + len(piece) - 1], analyzer.values(), ("state", start))
    if (config == "tight" and data != "sample-1m-rows-only") or data == "edges":
        assert all(fired.values()), fired  # the comparisons were exercised both ways
    # Then live: the same next candles per candle from the state the blocks left.
    tail = rows[-20:]
    for row in tail:
        for c in row.candles:
            ref.on_candle(c)
            analyzer.on_candle(c)
        assert_same(ref.values(), analyzer.values(), "after the blocks, per candle")


def test_an_empty_block_changes_nothing() -> None:
    rows = DATA["sample"]()
    a = OrderFlowAnalyzer(config=OrderFlowConfig(), instrument=instrument())
    reference_rows(a, rows[:50])
    before = dict(a.values())
    table = a.on_block(EMPTY, [])
    assert table.rows == 0 and list(table.columns) == list(before)
    assert_same(before, a.values(), "empty block")
