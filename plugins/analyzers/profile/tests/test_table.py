"""``on_block`` as a table (zones, gaps and the last price by the compiled kernel, the
profile's levels by the BlockWindow) against the per-candle path: every column at every row
the same bits, and the books the same state after the tape, at any block size."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from test_block import closes
from tradewind.blocks import BlockRows, BlockTable, make_rows
from tradewind.model import TickBatch

from profile_data import binance_btcusdt
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig, _kernel
from tradewind_analyzer_profile.market_profile import VolumeProfile, _bin_trades
from tradewind_analyzer_profile.plugin import NAN, VALUE_KEYS
from tradewind_analyzer_profile.table import scaled

SEC = 10**9


def same_bits(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


def walk(seed: int, n: int, jumpy: bool) -> TickBatch:
    """A random walk of trades (one every ~4.5 s) with, when ``jumpy``, sudden jumps that leave
    fair value gaps and volume bursts that make zones."""
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(1, 9_000_000_000, n)) + 1_600_000_000 * SEC
    steps = rng.normal(0, 2.0, n)
    if jumpy:
        jumps = rng.random(n) < 0.004
        steps[jumps] += rng.choice([-1, 1], jumps.sum()) * rng.uniform(150, 400, jumps.sum())
    price = np.round(10_000 + np.cumsum(steps), 2)
    size = np.round(rng.exponential(0.05, n), 3) + 0.001
    if jumpy:
        burst = rng.random(n) < 0.01
        size[burst] *= 60
    side = rng.choice([-1, 1], n)
    return TickBatch.from_arrays("binance:BTCUSDT", ts, price, size, side, np.arange(n))


def zone_state(a: ProfileAnalyzer) -> list[tuple[Any, ...]]:
    z = a.zones
    return [
        (
            x.kind,
            x.low,
            x.high,
            x.created_ts_ns,
            struct.pack("<d", x.volume_ratio),
            x.tests,
            x.in_contact,
            x.seq,
        )
        for x in z.zones
    ] + [tuple(z._volumes), z._volume_sum, z._updates, next(z._seq)]


def gap_state(a: ProfileAnalyzer) -> list[tuple[Any, ...]]:
    g = a.gaps
    return [(x.bullish, x.bottom, x.top, x.created_ts_ns, x.extreme, x.seq) for x in g.gaps] + [
        tuple(id(c) for c in g._last3),
        next(g._seq),
    ]


def run_both(
    tape: TickBatch, cfg: ProfileConfig, block: int, arrays: bool = False
) -> tuple[ProfileAnalyzer, ProfileAnalyzer, dict[str, int]]:
    """The per-candle path and the tables over ``tape`` cut into blocks of ``block`` trades;
    every entry compared. With ``arrays`` the rows are a :class:`BlockRows` (what the engine
    gives), which ``on_block`` reads as arrays: it makes no row objects but the chunks
    holding the gap book's last three candles. Returns both analyzers and counts of what
    the books did."""
    inst = binance_btcusdt()
    one = ProfileAnalyzer(config=cfg, instrument=inst)
    blocked = ProfileAnalyzer(config=cfg, instrument=inst)
    candles = closes(tape)
    ts = tape.ts_ns
    n, start, ci = len(tape), 0, 0
    stats = {"rows": 0, "zones": 0, "gaps": 0, "gaps_gone": 0, "zones_gone": 0, "tested": 0}
    seen_gaps: set[int] = set()
    seen_zones: set[int] = set()
    while start < n:
        end = min(n, start + block)
        end = int(ts.searchsorted(ts[end - 1], side="right"))
        piece = tape.slice(start, end)
        limit = int(ts[end]) if end < n else int(ts[-1]) + 1
        mine = []
        while ci < len(candles) and candles[ci].close_ts_ns <= limit:
            mine.append(candles[ci])
            ci += 1
        rows: Any = BlockRows.of_candles(piece, mine) if arrays else make_rows(piece, mine)
        table = blocked.on_block(piece, rows)
        if arrays:
            made = sum(x is not None for x in rows._made)
            assert made <= 3 * 256, (made, len(rows))
        assert isinstance(table, BlockTable)
        assert table.rows == len(rows) and tuple(table.columns) == VALUE_KEYS
        arrays = table.arrays()
        s = 0
        for r, row in enumerate(rows):
            if row.tick_end > s:
                one.on_ticks(piece.slice(s, row.tick_end))
                s = row.tick_end
            for c in row.candles:
                one.on_candle(c)
            expected = dict(one.values())
            got = table.columns
            for k, v in expected.items():
                assert same_bits(v, got[k][r]), (block, stats["rows"], k, v, got[k][r])
                assert same_bits(v, float(arrays[k][r])), (block, stats["rows"], k)
                if v != v:
                    assert got[k][r] is NAN  # NaN entries are the object values() holds
            stats["rows"] += 1
            gaps = {g.seq for g in one.gaps.gaps}
            zones = {z.seq for z in one.zones.zones}
            stats["gaps_gone"] += len(seen_gaps - gaps)
            stats["zones_gone"] += len(seen_zones - zones)
            stats["tested"] += sum(z.tests > 0 for z in one.zones.zones)
            seen_gaps, seen_zones = gaps, zones
            stats["gaps"] = max(stats["gaps"], max(gaps, default=-1) + 1)
            stats["zones"] = max(stats["zones"], max(zones, default=-1) + 1)
        if s < len(piece):
            one.on_ticks(piece.slice(s, len(piece)))
        start = end
    assert zone_state(blocked) == zone_state(one)
    assert gap_state(blocked) == gap_state(one)
    assert same_bits(blocked.last_price, one.last_price)
    assert blocked._price_ts == one._price_ts
    assert blocked.profile.bin_volumes() == one.profile.bin_volumes()
    assert blocked.profile.levels() == one.profile.levels()
    return one, blocked, stats


RANDOM_CONFIGS = [
    # zones and gaps on 1m, few zones kept (the weakest evicted), the volume mean re-summed
    # every 3 candles, gaps expiring after 20 minutes
    {
        "window": "7m",
        "zone_timeframe": "1m",
        "zone_max": 3,
        "zone_volume_period": 3,
        "fvg_min_gap_pct": 0.0,
        "fvg_max_age": "20m",
    },
    # the defaults' timeframes (15m zones and gaps) with a short window
    {
        "window": "90s",
        "zone_volume_period": 4,
        "zone_volume_factor": 1.1,
        "zone_wick_ratio": 0.3,
        "fvg_min_gap_pct": 0.001,
    },
    # zones on 5m, gaps on 1m, tested zones turning weak
    {
        "window": "4h",
        "zone_timeframe": "5m",
        "fvg_timeframe": "1m",
        "zone_tested_max": 1,
        "zone_volume_factor": 1.1,
        "fvg_min_gap_pct": 0.0005,
        "fvg_max_age": "1h",
    },
]


@pytest.mark.parametrize("arrays", [False, True], ids=["row-objects", "block-rows"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("block", [1, 613, 10**9])
@pytest.mark.parametrize("conf", range(len(RANDOM_CONFIGS)))
def test_table_columns_equal_the_per_candle_path_on_random_walks(
    seed: int, block: int, conf: int, arrays: bool
) -> None:
    """Random walks with jumps and volume bursts: zones made, tested, broken and evicted,
    gaps made, filled and expired, inside blocks and across them."""
    cfg = ProfileConfig(**RANDOM_CONFIGS[conf])  # type: ignore[arg-type]
    _, _, stats = run_both(walk(seed, 12_000, jumpy=True), cfg, block, arrays)
    assert stats["rows"] > 500
    if conf == 1:  # 15m candles: fewer of each on this tape
        assert stats["zones"] > 0 and stats["gaps"] > 3 and stats["gaps_gone"] > 0, stats
    else:
        assert stats["zones"] > 3 and stats["zones_gone"] > 0, stats
        assert stats["gaps"] > 3 and stats["gaps_gone"] > 0, stats


def test_a_calm_walk_makes_no_gaps_and_the_table_still_matches() -> None:
    cfg = ProfileConfig(window="7m", zone_timeframe="1m", fvg_min_gap_pct=0.01)
    _, _, stats = run_both(walk(7, 6_000, jumpy=False), cfg, 997)
    assert stats["gaps"] == 0


@pytest.mark.parametrize(
    "options",
    [{}, {"window": "20s", "zone_timeframe": "1m", "fvg_min_gap_pct": 0.0, "zone_max": 4}],
)
@pytest.mark.parametrize("arrays", [False, True], ids=["row-objects", "block-rows"])
@pytest.mark.parametrize("block", [1, 997, 10**9])
def test_table_columns_equal_the_per_candle_path_on_the_shipped_sample(
    tardis_trades: TickBatch, options: dict[str, Any], block: int, arrays: bool
) -> None:
    _, _, stats = run_both(tardis_trades, ProfileConfig(**options), block, arrays)
    assert stats["rows"] > 100
    if options:
        assert stats["zones"] > 0 and stats["gaps"] > 0, stats


def test_an_empty_block_folds_its_trades_in_and_has_no_rows(tardis_trades: TickBatch) -> None:
    cfg = ProfileConfig()
    a = ProfileAnalyzer(config=cfg, instrument=binance_btcusdt())
    b = ProfileAnalyzer(config=cfg, instrument=binance_btcusdt())
    piece = tardis_trades.slice(0, 50)
    table = a.on_block(piece, [])
    assert isinstance(table, BlockTable) and table.rows == 0 and next(table, None) is None
    b.on_ticks(piece)
    assert a.profile.bin_volumes() == b.profile.bin_volumes()
    assert same_bits(a.last_price, b.last_price)


@pytest.mark.parametrize(
    ("unit", "half"),
    [
        ("0.01", False),
        ("0.01", True),
        ("0.5", True),
        ("0.000001", False),
        ("1E+1", True),
        ("0.1", False),
        ("0.0000000000000000000000001", False),
    ],
)
def test_scaled_is_the_decimal_conversion(unit: str, half: bool) -> None:
    """The one-division shortcut and the Decimal fallback give float(Decimal(i) * unit [/ 2])."""
    rng = np.random.default_rng(5)
    ints = np.concatenate(
        (rng.integers(-(10**9), 10**12, 3000), [0, 1, 2**52, 2**53 + 1, -(2**40)])
    ).astype(np.int64)
    got = scaled(ints, Decimal(unit), half)
    for i, g in zip(ints.tolist(), got.tolist(), strict=True):
        want = Decimal(i) * Decimal(unit)
        want = float(want / 2 if half else want)
        assert same_bits(g, want), (i, unit, half, g, want)


@pytest.mark.parametrize("seed", range(6))
def test_bin_trades_kernel_gives_numpys_integers(seed: int) -> None:
    """``_kernel.bin_trades`` (one pass) against ``_bin_trades`` (numpy): the same bins
    (negative prices floor, ties round half to even), quantities and first trades per close,
    cutoffs before, among and after the trades, and the trades' extent (lowest and highest
    bin with a quantity, the positive quantities' sum); NotImplemented on unsorted times or a
    price that is not a finite int64 once rounded."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 5000))
    ts = np.sort(rng.integers(0, 10**6, n)).astype(np.int64)
    # prices on and between ticks, halves included; some negative
    price = np.round(rng.normal(0, 50, n) * 4) / 8 + rng.choice([0.0, 0.005], n)
    size = np.round(rng.exponential(0.05, n), 4)
    size[rng.random(n) < 0.05] = 0.0
    if n > 20:  # either side of the kernel's 2**51 shortcut (in ticks), ties among them
        big = np.array([2**51 - 1.5, 2**51 - 0.5, 2**51, 2**51 + 2, 2**52 + 2, 2**53 + 8])
        price[:12] = np.concatenate((big, -big)) * 0.01
        size[:6] = big * 0.0005
    bin_ticks = int(rng.choice([1, 3, 10]))
    profile = VolumeProfile(
        window_ns=1000,
        tick_size=Decimal("0.01"),
        bin_ticks=bin_ticks,
        volume_quantum=Decimal("0.0005"),
        value_area_pct=0.7,
    )
    rows = int(rng.integers(0, 300))
    cutoffs = np.sort(rng.integers(-(10**5), 11 * 10**5, rows)).astype(np.int64)
    bins = np.empty(n, dtype=np.int64)
    qty = np.empty(n, dtype=np.int64)
    first = np.empty(rows + 1, dtype=np.int64)
    args = (profile._tick_f, bin_ticks, profile._quantum_f, cutoffs)
    extent = _kernel.bin_trades(ts, price, size, *args, bins, qty, first)
    want_bins, want_qty, _, want_first = _bin_trades(profile, ts, price, size, cutoffs, rows)
    assert bins.tolist() == want_bins.tolist()
    assert qty.tolist() == want_qty.tolist()
    assert first.tolist() == want_first.tolist()
    # the extent dense_rows takes: the bins of the trades with a quantity, the positive sum
    held = want_bins[want_qty != 0].tolist()
    positive = sum(q for q in want_qty.tolist() if q > 0)
    assert extent == ((min(held), max(held)) if held else (0, -1)) + (positive,)
    if n > 2:
        shuffled = ts.copy()
        shuffled[[0, -1]] = shuffled[[-1, 0]]
        if shuffled[0] != shuffled[-1]:
            got = _kernel.bin_trades(shuffled, price, size, *args, bins, qty, first)
            assert got is NotImplemented
        for bad in (np.nan, np.inf, 1e300):
            odd = price.copy()
            odd[n // 2] = bad
            assert _kernel.bin_trades(ts, odd, size, *args, bins, qty, first) is NotImplemented


def test_bin_trades_extent_without_a_quantity_and_with_negative_ones() -> None:
    """The kernel's extent when no trade has a quantity (none at all, or only zero sizes):
    (0, -1, 0); negative quantities count in the bins' extent, not in the positive sum; times
    going backwards anywhere (first, middle, last pair) give NotImplemented."""
    profile = VolumeProfile(
        window_ns=1000,
        tick_size=Decimal("0.01"),
        bin_ticks=1,
        volume_quantum=Decimal("0.0005"),
        value_area_pct=0.7,
    )
    cutoffs = np.array([5, 50], dtype=np.int64)

    def run(ts: list[int], price: list[float], size: list[float]) -> object:
        n = len(ts)
        bins = np.empty(n, dtype=np.int64)
        qty = np.empty(n, dtype=np.int64)
        first = np.empty(len(cutoffs) + 1, dtype=np.int64)
        return _kernel.bin_trades(
            np.array(ts, dtype=np.int64),
            np.array(price, dtype=np.float64),
            np.array(size, dtype=np.float64),
            profile._tick_f,
            1,
            profile._quantum_f,
            cutoffs,
            bins,
            qty,
            first,
        )

    assert run([], [], []) == (0, -1, 0)
    assert run([1, 2, 3], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) == (0, -1, 0)
    # bins 100, 500, 300 (price / 0.01); quantities 2, -4, 0 (size / 0.0005)
    assert run([1, 2, 3], [1.0, 5.0, 3.0], [0.001, -0.002, 0.0]) == (100, 500, 2)
    for at in (1, 2, 3):
        ts = [1, 2, 3, 4]
        ts[at] = ts[at - 1] - 1
        assert run(ts, [1.0] * 4, [0.001] * 4) is NotImplemented
