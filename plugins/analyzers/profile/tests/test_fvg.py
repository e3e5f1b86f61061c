"""Fair value gaps on hand-built candle sequences with answers written by hand."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from tradewind.model import Candle, TickBatch
from tradewind.timeframes import parse_timeframe

from profile_data import MIN, T0, binance_btcusdt, candle
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig
from tradewind_analyzer_profile.fvg import GapBook

TF = 15 * MIN


def analyzer(**options: object) -> ProfileAnalyzer:
    cfg = ProfileConfig(**options)  # type: ignore[arg-type]
    return ProfileAnalyzer(config=cfg, instrument=binance_btcusdt())


def gap(a: ProfileAnalyzer, side: str) -> tuple[float, float, float]:
    v = a.values()
    return v[f"fvg_{side}_low"], v[f"fvg_{side}_high"], v[f"fvg_{side}_fill"]


def is_nan(values: tuple[float, ...]) -> bool:
    return all(math.isnan(x) for x in values)


# candle 1 high 100, candle 3 low 101: price never traded in (100, 101).
BULL = [
    candle(0, 99.0, 100.0, 98.0, 99.5),
    candle(1, 99.5, 106.0, 99.5, 105.5),
    candle(2, 105.5, 107.0, 101.0, 106.5),
]
# candle 1 low 100, candle 3 high 98.5: price never traded in (98.5, 100).
BEAR = [
    candle(0, 101.0, 102.0, 100.0, 100.5),
    candle(1, 100.5, 100.6, 95.0, 95.5),
    candle(2, 95.5, 98.5, 94.0, 95.0),
]


def test_bullish_gap_is_partially_then_fully_filled() -> None:
    a = analyzer()
    for c in BULL:
        a.on_candle(c)
    assert gap(a, "bull") == (100.0, 101.0, 0.0)
    assert is_nan(gap(a, "bear"))
    a.on_candle(candle(3, 106.5, 106.8, 100.6, 101.5))  # trades down to 100.6
    low, high, fill = gap(a, "bull")
    assert (low, high) == (100.0, 100.6)  # the open part is what price has not reached
    assert fill == pytest.approx(0.4)
    a.on_candle(candle(4, 101.5, 102.0, 100.9, 101.8))  # not deeper: unchanged
    assert gap(a, "bull")[:2] == (100.0, 100.6)
    a.on_candle(candle(5, 101.8, 102.0, 99.9, 100.2))  # through 100: filled, gone
    assert is_nan(gap(a, "bull"))
    assert a.gaps.gaps == []


def test_bearish_gap_is_filled_from_below() -> None:
    a = analyzer()
    for c in BEAR:
        a.on_candle(c)
    assert gap(a, "bear") == (98.5, 100.0, 0.0)
    assert is_nan(gap(a, "bull"))
    a.on_candle(candle(3, 95.0, 99.0, 94.5, 98.0))  # up to 99.0: a third filled
    low, high, fill = gap(a, "bear")
    assert (low, high) == (99.0, 100.0)
    assert fill == pytest.approx(1 / 3)
    a.on_candle(candle(4, 98.0, 100.0, 97.0, 99.5))  # reaches 100: filled
    assert is_nan(gap(a, "bear"))


def test_small_gaps_are_ignored() -> None:
    # 100 -> 100.1 is a 0.1 % gap: below the default 0.2 %, kept with min 0.
    seq = [
        candle(0, 99.0, 100.0, 98.0, 99.5),
        candle(1, 99.5, 101.0, 99.5, 100.8),
        candle(2, 100.8, 101.5, 100.1, 101.2),
    ]
    strict, loose = analyzer(), analyzer(fvg_min_gap_pct=0.0)
    for c in seq:
        strict.on_candle(c)
        loose.on_candle(c)
    assert is_nan(gap(strict, "bull"))
    assert gap(loose, "bull") == (100.0, 100.1, 0.0)


def test_gap_expires_after_max_age() -> None:
    a = analyzer(fvg_max_age="1h")
    for c in BULL:
        a.on_candle(c)
    created = BULL[-1].close_ts_ns
    for i in range(3, 6):  # 15, 30, 45 minutes later, far above the gap
        a.on_candle(candle(i, 106.5, 107.0, 106.0, 106.5))
        assert gap(a, "bull") == (100.0, 101.0, 0.0)
    a.on_candle(candle(6, 106.5, 107.0, 106.0, 106.5))  # closes 1 h after creation
    assert a.gaps.gaps == [] and T0 + 7 * TF - created == 60 * MIN


def test_nearest_gap_on_each_side() -> None:
    a = analyzer(fvg_min_gap_pct=0.0)
    seq = [
        candle(0, 99.0, 100.0, 98.0, 99.5),
        candle(1, 99.5, 106.0, 99.5, 105.5),
        candle(2, 105.5, 107.0, 101.0, 106.5),  # bull [100, 101]
        candle(3, 106.5, 109.0, 106.0, 108.5),
        candle(4, 108.5, 112.0, 108.0, 111.5),  # bull [107, 108]
    ]
    for c in seq:
        a.on_candle(c)
    assert [(g.bottom, g.top) for g in a.gaps.gaps] == [(100.0, 101.0), (107.0, 108.0)]
    assert gap(a, "bull") == (107.0, 108.0, 0.0)  # the higher one is nearer the price


def test_ticks_after_creation_fill_the_gap_and_earlier_ticks_do_not() -> None:
    a = analyzer()
    for c in BULL:
        a.on_candle(c)
    created = BULL[-1].close_ts_ns
    # One batch straddling the creation: 100.2 one ns before it, 100.7 at and after it.
    batch = TickBatch.from_arrays(
        "binance:BTCUSDT",
        [created - 1, created, created + 5],
        [100.2, 100.7, 101.3],
        [0.1, 0.1, 0.1],
        [1, -1, -1],
    )
    a.on_ticks(batch)
    low, high, fill = gap(a, "bull")
    assert (low, high) == (100.0, 100.7)
    assert fill == pytest.approx(0.3)


def test_finer_candles_after_creation_fill_and_coarser_ones_do_not() -> None:
    a = analyzer()
    for c in BULL:
        a.on_candle(c)
    created = BULL[-1].close_ts_ns
    hour_start = created - 45 * MIN  # a 1h candle that began before the gap existed
    a.on_candle(candle(0, 99.0, 107.0, 98.0, 106.0, tf_min=60, start=hour_start))
    assert gap(a, "bull") == (100.0, 101.0, 0.0)
    a.on_candle(candle(0, 106.5, 106.6, 100.5, 101.0, tf_min=1, start=created))
    low, high, fill = gap(a, "bull")
    assert (low, high) == (100.0, 100.5)
    assert fill == pytest.approx(0.5)


class _TwoPassGapBook:
    """GapBook.on_candle as it was: every gap sees the candle, then the filled and the too
    old are dropped (two passes)."""

    def __init__(self, book: GapBook) -> None:
        self.book = book

    def on_candle(self, c: Candle) -> None:
        book = self.book
        if c.timeframe_ns <= book.timeframe_ns:
            for g in book.gaps:
                if c.open_ts_ns >= g.created_ts_ns:
                    g.see(c.low, c.high)
        book._drop(c.close_ts_ns)
        if c.timeframe_ns == book.timeframe_ns:
            book._last3.append(c)
            if len(book._last3) == 3:
                book._detect()


@pytest.mark.parametrize("max_age", ["2h", "24h"])
def test_one_pass_on_candle_keeps_the_two_pass_gaps(max_age: str) -> None:
    """On a random walk's 1m/5m/15m candles (gaps made, partly filled, filled and expired all
    along): after every candle the open gaps, their extremes and their order are those of the
    two-pass code."""

    rng = np.random.default_rng(11)
    one = GapBook(timeframe_ns=TF, min_gap_pct=0.0, max_age_ns=parse_timeframe(max_age))
    two = GapBook(timeframe_ns=TF, min_gap_pct=0.0, max_age_ns=parse_timeframe(max_age))
    ref = _TwoPassGapBook(two)
    # On a 0.5 grid, so prices often land exactly on a gap's edge.
    path = np.round(2 * (100.0 + np.cumsum(rng.normal(0, 0.6, 6_000)))) / 2
    minutes: list[tuple[float, float, float, float]] = []
    opened = dropped = 0
    for m in range(len(path) - 1):
        o, c = float(path[m]), float(path[m + 1])
        minutes.append((o, max(o, c) + float(rng.choice([0.0, 0.5])), min(o, c) - 0.5, c))
        close = T0 + (m + 1) * MIN
        for tf in (MIN, 5 * MIN, 15 * MIN):
            if close % tf:
                continue
            part = minutes[-(tf // MIN) :]
            bar = Candle(
                instrument="binance:BTCUSDT",
                timeframe_ns=tf,
                open_ts_ns=close - tf,
                open=part[0][0],
                high=max(x[1] for x in part),
                low=min(x[2] for x in part),
                close=part[-1][3],
                volume=1.0,
                buy_volume=0.5,
                sell_volume=0.5,
                trades=2,
                buy_trades=1,
                sell_trades=1,
                vwap=part[-1][3],
            )
            before = len(one.gaps)
            one.on_candle(bar)
            ref.on_candle(bar)
            opened += len(one.gaps) > before
            dropped += len(one.gaps) < before
            assert [attrs.astuple(g) for g in one.gaps] == [attrs.astuple(g) for g in two.gaps]
    assert opened > 10 and dropped > 10, (opened, dropped)


def test_drop_keeps_exactly_the_open_gaps_that_are_not_filled_nor_too_old() -> None:
    """``_drop`` (Gap.filled inlined) keeps the gaps ``not g.filled`` and younger than
    ``max_age`` keep, in order, over random gaps: both sides, extremes on, inside and past
    the edges, NaN extremes (never filled by the comparison), ages on both sides of max_age."""
    from tradewind_analyzer_profile.fvg import Gap

    rng = np.random.default_rng(7)
    book = GapBook(timeframe_ns=TF, max_age_ns=24 * 60 * MIN)
    now = T0 + 48 * 60 * MIN
    for _ in range(200):
        gaps = []
        for seq in range(int(rng.integers(0, 40))):
            bottom = float(rng.uniform(90, 110))
            top = bottom + float(rng.uniform(0.01, 5))
            bullish = bool(rng.integers(0, 2))
            extreme = float(rng.choice([bottom, top, rng.uniform(bottom - 3, top + 3), math.nan]))
            age = int(rng.choice([0, 1, 24 * 60 * MIN - 1, 24 * 60 * MIN, 30 * 60 * MIN]))
            gaps.append(
                Gap(
                    bullish=bullish,
                    bottom=bottom,
                    top=top,
                    created_ts_ns=now - age,
                    extreme=extreme,
                    seq=seq,
                )
            )
        book.gaps = list(gaps)
        want = [g for g in gaps if not g.filled and now - g.created_ts_ns < book.max_age_ns]
        book._drop(now)
        assert [g.seq for g in book.gaps] == [g.seq for g in want]
        assert all(a is b for a, b in zip(book.gaps, want, strict=True))
