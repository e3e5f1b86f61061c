"""The streaming market profile equals a brute-force recount, on hand examples, on the recorded
Binance tape and on generated tapes."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradewind.model import TickBatch

from profile_data import binance_btcusdt
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig
from tradewind_analyzer_profile.market_profile import VolumeProfile, value_area

SEC = 10**9


def brute_force_profile(
    trades: list[tuple[int, float, float]],
    *,
    now: int,
    window: int,
    tick: Decimal,
    bin_ticks: int,
    quantum: Decimal,
    pct: Fraction,
) -> tuple[int, int, int] | None:
    """(poc_bin, val_bin, vah_bin) recounted from every trade in ``[now - window, now)``.

    Written independently of the analyzer: a plain loop over the trades, then a scan over the
    dense range of bins (empty bins included and skipped) for the POC and the value area.
    """
    volume: dict[int, int] = {}
    for ts, price, size in trades:
        if now - window <= ts < now:
            b = round(price / float(tick)) // bin_ticks
            volume[b] = volume.get(b, 0) + round(size / float(quantum))
    volume = {b: v for b, v in volume.items() if v > 0}
    if not volume:
        return None
    lowest, highest = min(volume), max(volume)
    total = sum(volume.values())
    best = max(volume.values())
    poc = None
    for b in range(lowest, highest + 1):
        if volume.get(b, 0) == best and (
            poc is None or abs(2 * b - lowest - highest) < abs(2 * poc - lowest - highest)
        ):
            poc = b  # ascending scan + strict "<": the lower bin wins equal distances
    assert poc is not None
    low = high = poc
    inside = best
    while Fraction(inside, total) < pct:
        above = next((b for b in range(high + 1, highest + 1) if b in volume), None)
        below = next((b for b in range(low - 1, lowest - 1, -1) if b in volume), None)
        if below is None or (
            above is not None
            and (
                volume[above] > volume[below]
                or (volume[above] == volume[below] and above - poc < poc - below)
            )
        ):
            assert above is not None
            high = above
            inside += volume[above]
        else:
            low = below
            inside += volume[below]
    return poc, low, high


def _levels(profile: VolumeProfile) -> tuple[int, int, int] | None:
    lv = profile.bin_levels()
    return None if lv is None else (lv.poc_bin, lv.val_bin, lv.vah_bin)


# -- hand examples ------------------------------------------------------------------------


def test_value_area_expands_one_bin_at_a_time_towards_the_larger_neighbour() -> None:
    # price:  100 101 102 103 104 105 106 ; total 28, 70 % = 19.6
    # volume:   1   3   5   9   4   4   2
    # POC 103 (9); 102 (5) beats 104 (4) -> 14; 104 (4) beats 101 (3) -> 18;
    # 105 (4) beats 101 (3) -> 22 >= 19.6: the value area is 102..105.
    lv = value_area([100, 101, 102, 103, 104, 105, 106], [1, 3, 5, 9, 4, 4, 2], Fraction(7, 10))
    assert lv is not None
    assert (lv.poc_bin, lv.val_bin, lv.vah_bin) == (103, 102, 105)
    assert (lv.total, lv.value_area_total) == (28, 22)


def test_value_area_tie_takes_the_nearer_bin_then_the_lower() -> None:
    # 100:2 101:5 102:2 -> POC 101; 100 and 102 tie on volume and distance: the lower is taken.
    lv = value_area([100, 101, 102], [2, 5, 2], Fraction(7, 10))
    assert lv is not None and (lv.poc_bin, lv.val_bin, lv.vah_bin) == (101, 100, 101)
    # 98:2 101:5 102:2 (99, 100 empty) -> 102 is nearer the POC than 98: 102 is taken.
    lv = value_area([98, 101, 102], [2, 5, 2], Fraction(7, 10))
    assert lv is not None and (lv.poc_bin, lv.val_bin, lv.vah_bin) == (101, 101, 102)


def test_poc_tie_goes_to_the_middle_of_the_range_then_the_lower() -> None:
    lv = value_area([100, 101, 102, 103, 104], [5, 1, 5, 1, 5], Fraction(7, 10))
    assert lv is not None and lv.poc_bin == 102
    lv = value_area([100, 101, 102, 103], [5, 1, 1, 5], Fraction(7, 10))
    assert lv is not None and lv.poc_bin == 100


def test_full_value_area_spans_every_bin_with_volume() -> None:
    lv = value_area([7, 9, 12], [1, 1, 1], Fraction(1))
    assert lv is not None and (lv.val_bin, lv.vah_bin) == (7, 12)


def test_prices_of_a_ten_tick_bin() -> None:
    # tick 0.01, 10 ticks a bin: 9682.19 is in the bin of 9682.10 .. 9682.19.
    analyzer = ProfileAnalyzer(config=ProfileConfig(bin_ticks=10), instrument=binance_btcusdt())
    analyzer.on_ticks(TickBatch.from_arrays("binance:BTCUSDT", [SEC], [9682.19], [0.5], [1]))
    v = analyzer.values()
    assert (v["poc"], v["val"], v["vah"]) == (9682.145, 9682.10, 9682.19)
    assert v["profile_volume"] == 0.5


def test_bin_size_must_be_a_multiple_of_the_tick() -> None:
    inst = binance_btcusdt()
    ok = ProfileAnalyzer(config=ProfileConfig(bin_size=Decimal("0.5")), instrument=inst)
    assert ok.profile.bin_ticks == 50
    with pytest.raises(ValueError, match=r"bin_size 0\.015 is not a whole multiple .* 0\.01"):
        ProfileAnalyzer(config=ProfileConfig(bin_size=Decimal("0.015")), instrument=inst)


def test_trades_expire_when_the_window_moves_past_them() -> None:
    p = VolumeProfile(
        window_ns=10 * SEC,
        tick_size=Decimal(1),
        bin_ticks=1,
        volume_quantum=Decimal(1),
        value_area_pct=0.7,
    )
    p.add(
        np.array([0, 1 * SEC, 5 * SEC]), np.array([100.0, 101.0, 101.0]), np.array([3.0, 1.0, 1.0])
    )
    assert _levels(p) == (100, 100, 101)  # 3 of 5 at 100: POC 100, 70 % needs 101 too
    p.advance(10 * SEC + 1)  # [1 ns, 10 s + 1 ns): the trade at 0 has left
    assert _levels(p) == (101, 101, 101)
    assert p.bin_volumes() == {101: 2}
    p.advance(20 * SEC)
    assert _levels(p) is None and p.bin_volumes() == {}


# -- the recorded tape --------------------------------------------------------------------


@pytest.mark.parametrize(("window", "bin_ticks"), [("15m", 10), ("5m", 1), ("1h", 50)])
def test_recorded_tape_matches_brute_force_after_every_batch(
    tardis_trades: TickBatch, window: str, bin_ticks: int
) -> None:
    inst = binance_btcusdt()
    cfg = ProfileConfig(window=window, bin_ticks=bin_ticks)
    analyzer = ProfileAnalyzer(config=cfg, instrument=inst)
    rows = list(
        zip(
            tardis_trades.ts_ns.tolist(),
            tardis_trades.price.tolist(),
            tardis_trades.size.tolist(),
            strict=True,
        )
    )
    rng = np.random.default_rng(11)
    i = checks = 0
    n = len(tardis_trades)
    while i < n:
        j = min(n, i + int(rng.integers(1, 300)))
        analyzer.on_ticks(tardis_trades.slice(i, j))
        i = j
        expected = brute_force_profile(
            rows[:j],
            now=int(tardis_trades.ts_ns[j - 1]) + 1,
            window=cfg.window_ns,
            tick=inst.tick_size,
            bin_ticks=bin_ticks,
            quantum=inst.lot_size / 1000,
            pct=Fraction(7, 10),
        )
        assert _levels(analyzer.profile) == expected, f"after {j} trades"
        checks += 1
    assert checks > 50
    # And the reported prices are those bins' tick prices.
    poc_bin, val_bin, vah_bin = _levels(analyzer.profile)  # type: ignore[misc]
    v = analyzer.values()
    k = Decimal(bin_ticks)
    assert v["val"] == float(val_bin * k * inst.tick_size)
    assert v["vah"] == float((vah_bin * k + k - 1) * inst.tick_size)
    assert v["poc"] == float((2 * poc_bin * k + k - 1) * inst.tick_size / 2)


def test_recorded_tape_with_candle_closes_moving_the_window(tardis_trades: TickBatch) -> None:
    """Candle closes between batches move ``now`` to the close, expiring trades on time."""
    inst = binance_btcusdt()
    cfg = ProfileConfig(window="10m", bin_ticks=5)
    profile = ProfileAnalyzer(config=cfg, instrument=inst).profile
    rows = list(
        zip(
            tardis_trades.ts_ns.tolist(),
            tardis_trades.price.tolist(),
            tardis_trades.size.tolist(),
            strict=True,
        )
    )
    minute = 60 * SEC
    first = tardis_trades.first_ts // minute * minute
    i = 0
    for close in range(first + minute, tardis_trades.last_ts + 15 * minute, minute):
        j = int(np.searchsorted(tardis_trades.ts_ns, close))
        if j > i:
            profile.add(tardis_trades.ts_ns[i:j], tardis_trades.price[i:j], tardis_trades.size[i:j])
            i = j
        profile.advance(close)
        expected = brute_force_profile(
            rows[:j],
            now=close,
            window=cfg.window_ns,
            tick=inst.tick_size,
            bin_ticks=5,
            quantum=inst.lot_size / 1000,
            pct=Fraction(7, 10),
        )
        assert _levels(profile) == expected, f"at close {close}"
    assert _levels(profile) is None  # 15 minutes after the last trade the 10m window is empty


def test_small_batches_and_large_batches_count_the_same(tardis_trades: TickBatch) -> None:
    """Small batches take a pure-Python path, large ones numpy: the counts must agree."""
    inst = binance_btcusdt()
    one_by_one = ProfileAnalyzer(config=ProfileConfig(window="1h"), instrument=inst)
    at_once = ProfileAnalyzer(config=ProfileConfig(window="1h"), instrument=inst)
    n = 3000
    for i in range(n):
        one_by_one.on_ticks(tardis_trades.slice(i, i + 1))
    at_once.on_ticks(tardis_trades.slice(0, n))
    assert one_by_one.profile.bin_volumes() == at_once.profile.bin_volumes()
    assert one_by_one.values() == at_once.values()


# -- generated tapes ----------------------------------------------------------------------


@st.composite
def tapes(draw: st.DrawFn) -> tuple[list[tuple[int, float, float]], list[int], list[int]]:
    """Trades on a narrow price grid (many ties), batch boundaries and extra clock moves."""
    n = draw(st.integers(1, 120))
    gaps = draw(st.lists(st.integers(0, 3 * SEC), min_size=n, max_size=n))
    ticks = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    lots = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    ts = np.cumsum(gaps).tolist()
    trades = [(t, 1000.0 + 0.5 * k, 0.25 * q) for t, k, q in zip(ts, ticks, lots, strict=True)]
    cuts = sorted(set(draw(st.lists(st.integers(1, n), max_size=12))) | {n})
    idle = draw(st.lists(st.integers(0, 4 * SEC), max_size=len(cuts), min_size=len(cuts)))
    return trades, cuts, idle


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tape=tapes(),
    window_s=st.integers(1, 20),
    bin_ticks=st.integers(1, 3),
    pct=st.sampled_from([Fraction(7, 10), Fraction(1, 2), Fraction(1), Fraction(1, 100)]),
)
def test_generated_tapes_match_brute_force(
    tape: tuple[list[tuple[int, float, float]], list[int], list[int]],
    window_s: int,
    bin_ticks: int,
    pct: Fraction,
) -> None:
    trades, cuts, idle = tape
    window = window_s * SEC
    tick, quantum = Decimal("0.5"), Decimal("0.25")
    profile = VolumeProfile(
        window_ns=window,
        tick_size=tick,
        bin_ticks=bin_ticks,
        volume_quantum=quantum,
        value_area_pct=pct,
    )
    ts = np.array([t for t, _, _ in trades], dtype=np.int64)
    price = np.array([p for _, p, _ in trades])
    size = np.array([s for _, _, s in trades])
    start = 0
    clock = 0
    for cut, pause in zip(cuts, idle, strict=True):
        profile.add(ts[start:cut], price[start:cut], size[start:cut])
        clock = max(clock, int(ts[cut - 1]) + 1)
        assert _levels(profile) == brute_force_profile(
            trades[:cut],
            now=clock,
            window=window,
            tick=tick,
            bin_ticks=bin_ticks,
            quantum=quantum,
            pct=pct,
        )
        if pause:
            # A candle close or timer after a quiet spell moves the window on; it never passes
            # a trade still to come (the engine closes a candle after the trades before it).
            later = int(ts[cut]) if cut < len(ts) else clock + pause
            clock = max(clock, min(clock + pause, later))
            profile.advance(clock)
            assert _levels(profile) == brute_force_profile(
                trades[:cut],
                now=clock,
                window=window,
                tick=tick,
                bin_ticks=bin_ticks,
                quantum=quantum,
                pct=pct,
            )
        start = cut
