"""``on_block`` (the profile window moved by ``BlockWindow``) against the per-candle path."""

from __future__ import annotations

import math
import struct

import pytest
from test_analyzer import MIN, bars
from tradewind.blocks import make_rows
from tradewind.model import Candle, TickBatch

from profile_data import binance_btcusdt
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig


def closes(ticks: TickBatch) -> list[Candle]:
    return sorted(
        (c for tf in (MIN, 5 * MIN, 15 * MIN) for c in bars(ticks, tf)),
        key=lambda c: (c.close_ts_ns, c.timeframe_ns),
    )


def same_bits(a: float, b: float) -> bool:
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("window", ["20s", "90s", "7m", "4h"])
@pytest.mark.parametrize("block", [1, 997, 20_000, 10**9])
def test_blocks_give_the_bits_of_the_per_candle_path(
    tardis_trades: TickBatch, window: str, block: int
) -> None:
    """Every row's outputs, and the profile's volumes after the tape, are the same bits
    whatever the block size, with windows short enough that trades leave the window inside
    a block, across blocks and within one slice (20 s: trades already out of the window
    when they are fed)."""
    inst = binance_btcusdt()
    cfg = ProfileConfig(window=window, zone_timeframe="1m", fvg_min_gap_pct=0.0)
    one = ProfileAnalyzer(config=cfg, instrument=inst)
    blocked = ProfileAnalyzer(config=cfg, instrument=inst)
    candles = closes(tardis_trades)
    ts = tardis_trades.ts_ns
    n, start, rows_seen, with_levels = len(tardis_trades), 0, 0, 0
    ci = 0
    while start < n:
        end = min(n, start + block)
        end = int(ts.searchsorted(ts[end - 1], side="right"))  # never split a timestamp
        piece = tardis_trades.slice(start, end)
        last_close = int(ts[end - 1]) + 1 if end < n else 2**62
        mine = []
        while ci < len(candles) and candles[ci].close_ts_ns <= (
            int(ts[end]) if end < n else last_close
        ):
            mine.append(candles[ci])
            ci += 1
        rows = make_rows(piece, mine)
        got = blocked.on_block(piece, rows)
        s = 0
        for row in rows:
            if row.tick_end > s:
                one.on_ticks(piece.slice(s, row.tick_end))
                s = row.tick_end
            for c in row.candles:
                one.on_candle(c)
            expected = dict(one.values())
            actual = dict(next(got))
            rows_seen += 1
            with_levels += not math.isnan(expected["poc"])
            for k, v in expected.items():
                assert same_bits(v, actual[k]), (window, block, rows_seen, k, v, actual[k])
        assert next(got, None) is None
        if s < len(piece):
            one.on_ticks(piece.slice(s, len(piece)))
        start = end
    assert rows_seen > 100
    assert blocked.profile.bin_volumes() == one.profile.bin_volumes()
    assert blocked.profile.now_ns == one.profile.now_ns
    assert blocked.profile.levels() == one.profile.levels()
    assert with_levels > rows_seen // 2


@pytest.mark.parametrize("window", ["90s", "4h"])
def test_each_group_of_outputs_read_alone_gives_the_full_reads_bits(
    tardis_trades: TickBatch, window: str
) -> None:
    """The outputs are computed per group on first read (the POC alone, which the default
    report charts at every close; the value area; zones and gaps): whatever is read first,
    and whatever is never read, every value read is the bit of a full read of the same
    state. Rows read ``poc`` only, then the other levels, then zones first, in turn."""
    inst = binance_btcusdt()
    cfg = ProfileConfig(window=window, zone_timeframe="1m", fvg_min_gap_pct=0.0)
    full = ProfileAnalyzer(config=cfg, instrument=inst)
    lazy = ProfileAnalyzer(config=cfg, instrument=inst)
    candles = closes(tardis_trades)
    rows = make_rows(tardis_trades, candles)
    zone_keys = [k for k in dict(full.values()) if k not in ("poc", "vah", "val", "profile_volume")]
    orders = (["poc"], ["poc", "vah", "val", "profile_volume"], [*zone_keys, "poc", "val"])
    pocs = 0
    for r, (want, got) in enumerate(
        zip(full.on_block(tardis_trades, rows), lazy.on_block(tardis_trades, rows), strict=True)
    ):
        expected = dict(want)
        for key in orders[r % 3]:
            assert same_bits(expected[key], got[key]), (r, key, expected[key], got[key])
        pocs += not math.isnan(expected["poc"])
    assert pocs > len(rows) // 2
    assert lazy.profile.levels() == full.profile.levels()
