"""Candles: a scripted path with exact expected bars, the real sample against an independent
DuckDB aggregation, and bit-identity of the incremental aggregator for any batch split."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradewind.market import candles as candles_mod
from tradewind.market.candles import (
    CANDLE_DTYPE,
    DEFAULT_TIMEFRAMES_NS,
    CandleAggregator,
    CandleArray,
    aggregate,
)
from tradewind.model.market import Candle
from tradewind.model.ticks import TickBatch
from tradewind.timeframes import parse_timeframe

S = 1_000_000_000
M = 60 * S
T0 = 1_582_329_600 * S  # 2020-02-22 00:00:00 UTC, a day boundary


def batch(rows: list[tuple[int, float, float, int]], inst: str = "BTCUSDT") -> TickBatch:
    """Ticks from (ts_ns, price, size, side) rows, trade ids 1..n."""
    ts, price, size, side = zip(*rows, strict=True)
    return TickBatch.from_arrays(inst, ts, price, size, side, np.arange(1, len(rows) + 1))


def as_array(candles: list[Candle]) -> np.ndarray:
    """Candles as a CANDLE_DTYPE array, for byte-for-byte comparison."""
    names = CANDLE_DTYPE.names or ()
    return np.array([tuple(getattr(c, f) for f in names) for c in candles], dtype=CANDLE_DTYPE)


@contextmanager
def chunk_size(n: int) -> Iterator[None]:
    """Run the kernel on chunks of ``n`` ticks, to exercise merges inside one batch."""
    old = candles_mod._CHUNK
    candles_mod._CHUNK = n
    try:
        yield
    finally:
        candles_mod._CHUNK = old


# -- the definition, on a scripted path ---------------------------------------------------------
SCRIPT = [
    (T0 + 10 * S, 100.0, 1.0, 1),
    (T0 + 20 * S, 101.5, 0.5, -1),
    (T0 + 50 * S, 99.0, 2.0, -1),
    (T0 + 59 * S, 100.5, 0.5, 1),
    # no ticks in minutes 1 and 2: no candles there
    (T0 + 3 * M + 1, 102.0, 1.0, 1),
    (T0 + 3 * M + 2, 102.0, 3.0, 0),  # unknown aggressor: in trades and volume only
]


def test_scripted_path_gives_exact_candles() -> None:
    arr = aggregate(batch(SCRIPT), M)
    assert len(arr) == 2  # empty buckets produce no candle
    assert arr[0] == Candle(
        instrument="BTCUSDT",
        timeframe_ns=M,
        open_ts_ns=T0,
        open=100.0,
        high=101.5,
        low=99.0,
        close=100.5,
        volume=4.0,
        buy_volume=1.5,
        sell_volume=2.5,
        trades=4,
        buy_trades=2,
        sell_trades=2,
        vwap=(100.0 + 101.5 * 0.5 + 99.0 * 2.0 + 100.5 * 0.5) / 4.0,
    )
    assert arr[1] == Candle(
        instrument="BTCUSDT",
        timeframe_ns=M,
        open_ts_ns=T0 + 3 * M,
        open=102.0,
        high=102.0,
        low=102.0,
        close=102.0,
        volume=4.0,
        buy_volume=1.0,
        sell_volume=0.0,
        trades=2,
        buy_trades=1,
        sell_trades=0,
        vwap=102.0,
    )
    assert arr[1].close_ts_ns == T0 + 4 * M
    assert list(arr["open_ts_ns"]) == [T0, T0 + 3 * M]


def test_buckets_are_epoch_aligned() -> None:
    # 17:03:20 UTC falls in the 17:00 15m candle and the 17:03 1m candle.
    ts = T0 + 17 * 3600 * S + 200 * S
    b = batch([(ts, 1.0, 1.0, 1)])
    assert aggregate(b, 15 * M)[0].open_ts_ns == T0 + 17 * 3600 * S
    assert aggregate(b, M)[0].open_ts_ns == T0 + 17 * 3600 * S + 3 * M
    assert aggregate(b, parse_timeframe("1d"))[0].open_ts_ns == T0


def test_sums_are_exact_not_running_float_sums() -> None:
    sizes = [0.1] * 10 + [1e8, 1e-8, 3e-9, 0.7]
    rows = [(T0 + i, 10.0 + i / 7, s, 1 if i % 2 else -1) for i, s in enumerate(sizes)]
    c = aggregate(batch(rows), M)[0]
    assert c.volume == math.fsum(sizes)
    running = 0.0
    for s in sizes[:10]:
        running += s
    assert running != 1.0  # a left-to-right float sum of ten 0.1 misses 1.0 ...
    assert aggregate(batch(rows[:10]), M)[0].volume == 1.0  # ... the exact sum does not
    assert c.buy_volume == math.fsum(s for i, s in enumerate(sizes) if i % 2)
    assert c.sell_volume == math.fsum(s for i, s in enumerate(sizes) if not i % 2)
    pv = math.fsum(r[1] * r[2] for r in rows)  # exact sum of the rounded products
    assert c.vwap == pv / math.fsum(sizes)
    one = aggregate(batch([(T0, 9691.37, 0.116, 1)]), M)[0]  # fl(p * s) / s != p here
    assert 9691.37 * 0.116 / 0.116 != 9691.37 and one.vwap == 9691.37


def test_aggregator_closes_candles_when_a_later_bucket_arrives() -> None:
    agg = CandleAggregator("BTCUSDT", [M, 5 * M])
    assert agg.update(batch(SCRIPT[:2])) == []
    forming = agg.current(M)
    assert forming is not None and forming.trades == 2 and forming.close == 101.5
    assert agg.update(batch(SCRIPT[2:4])) == []
    closed = agg.update(batch(SCRIPT[4:]))
    # The 1m candle [0, 1m) closed; the 5m candle [0, 5m) still forms.
    assert [(c.timeframe_ns, c.open_ts_ns) for c in closed] == [(M, T0)]
    assert closed[0] == aggregate(batch(SCRIPT[:4]), M)[0]
    assert agg.current(5 * M) == aggregate(batch(SCRIPT), 5 * M)[0]
    flushed = agg.flush()
    assert [(c.timeframe_ns, c.open_ts_ns) for c in flushed] == [(M, T0 + 3 * M), (5 * M, T0)]
    assert agg.current(M) is None and agg.flush() == []


def test_closed_candles_are_ordered_by_close_time_then_timeframe() -> None:
    agg = CandleAggregator("BTCUSDT", [15 * M, M, 5 * M])
    assert agg.timeframes_ns == (M, 5 * M, 15 * M)
    rows = [(T0 + k * M + 5 * S, 100.0 + k, 1.0, 1) for k in range(16)]
    closed = agg.update(batch(rows))
    keys = [(c.close_ts_ns, c.timeframe_ns) for c in closed]
    assert keys == sorted(keys)
    assert keys[4:7] == [(T0 + 5 * M, M), (T0 + 5 * M, 5 * M), (T0 + 6 * M, M)]
    assert (T0 + 15 * M, 15 * M) in keys and len(closed) == 15 + 3 + 1


def test_advance_closes_candles_without_a_new_tick() -> None:
    agg = CandleAggregator("BTCUSDT", DEFAULT_TIMEFRAMES_NS)
    agg.update(batch(SCRIPT[:4]))
    assert agg.advance(T0 + M - 1) == []
    closed = agg.advance(T0 + 5 * M)
    assert [(c.timeframe_ns, c.open_ts_ns) for c in closed] == [(M, T0), (5 * M, T0)]
    assert agg.current(15 * M) is not None
    with pytest.raises(ValueError, match="earlier than"):
        agg.update(batch([(T0 + 4 * M, 1.0, 1.0, 1)]))


def test_aggregator_refuses_what_validation_should_have_caught() -> None:
    agg = CandleAggregator("BTCUSDT", [M])
    with pytest.raises(ValueError, match="backwards"):
        agg.update(batch([(T0 + 2, 1.0, 1.0, 1), (T0 + 1, 1.0, 1.0, 1)]))
    with pytest.raises(ValueError, match="non-finite or non-positive"):
        agg.update(batch([(T0, float("nan"), 1.0, 1)]))
    with pytest.raises(ValueError, match="non-finite or non-positive"):
        agg.update(batch([(T0, 1.0, float("inf"), 1)]))
    with pytest.raises(ValueError, match="ETHUSDT"):
        agg.update(batch([(T0, 1.0, 1.0, 1)], inst="ETHUSDT"))
    agg.update(batch([(T0 + 5, 1.0, 1.0, 1)]))
    with pytest.raises(ValueError, match="earlier than"):
        agg.update(batch([(T0 + 4, 1.0, 1.0, 1)]))
    assert agg.update(TickBatch.empty("BTCUSDT")) == []


@pytest.mark.parametrize("bad", [0, 7 * S, 2 * parse_timeframe("1d"), 500_000_000])
def test_timeframes_must_divide_a_day(bad: int) -> None:
    with pytest.raises(ValueError, match="divid"):
        CandleAggregator("BTCUSDT", [bad])
    with pytest.raises(ValueError, match="divid"):
        aggregate(batch(SCRIPT), bad)


def test_current_names_the_timeframes_it_has() -> None:
    with pytest.raises(KeyError, match=r"\['1m', '5m', '15m'\]"):
        CandleAggregator("BTCUSDT").current(2 * M)


def test_candle_array_views() -> None:
    arr = aggregate(batch(SCRIPT), M)
    assert isinstance(arr, CandleArray) and "2 candles" in repr(arr)
    assert arr.to_candles() == list(arr) == [arr[0], arr[1]]
    assert arr["trades"].tolist() == [4, 2]
    assert arr.equals(aggregate(batch(SCRIPT), M))
    assert not arr.equals(aggregate(batch(SCRIPT[:5]), M))
    assert len(aggregate(TickBatch.empty("BTCUSDT"), M)) == 0


# -- the real sample against an independent DuckDB aggregation ---------------------------------
# DuckDB sums the sizes exactly as 128-bit integers of 2**-62 units (every size and price*size
# in the sample is a multiple of 2**-62, which the query checks); Python only rounds the exact
# integer once. OHLC come from ordered first/last and min/max, counts from FILTER.
ORACLE = """
    WITH t AS ({ticks})
    SELECT (ts_ns // {tf}) * {tf} AS open_ts,
           first(price ORDER BY ts_ns, trade_id) AS open, max(price) AS high,
           min(price) AS low, last(price ORDER BY ts_ns, trade_id) AS close,
           sum((size * 4611686018427387904.0)::HUGEINT) AS vol,
           coalesce(sum((size * 4611686018427387904.0)::HUGEINT)
                    FILTER (WHERE side = 1), 0) AS buy_vol,
           coalesce(sum((size * 4611686018427387904.0)::HUGEINT)
                    FILTER (WHERE side = -1), 0) AS sell_vol,
           count(*) AS trades, count(*) FILTER (WHERE side = 1) AS buy_trades,
           count(*) FILTER (WHERE side = -1) AS sell_trades,
           sum((price * size * 4611686018427387904.0)::HUGEINT) AS pv,
           sum(price * size) / sum(size) AS vwap_float,
           bool_and(size * 4611686018427387904.0 = floor(size * 4611686018427387904.0)
                    AND price * size * 4611686018427387904.0
                        = floor(price * size * 4611686018427387904.0)) AS scaled_exactly
    FROM t GROUP BY 1 ORDER BY 1
"""


@pytest.mark.parametrize("tf_text", ["1s", "1m", "5m", "15m", "1h"])
def test_real_sample_matches_duckdb(tardis_batch: TickBatch, tardis_sql: str, tf_text: str) -> None:
    tf = parse_timeframe(tf_text)
    arr = aggregate(tardis_batch, tf)
    con = duckdb.connect()
    rows = con.execute(ORACLE.format(ticks=tardis_sql, tf=tf)).fetchall()
    con.close()
    assert len(arr) == len(rows) > 0
    unit = 1 << 62
    for c, r in zip(arr, rows, strict=True):
        (open_ts, o, h, lo, cl, vol, buy, sell, n, nb, ns, pv, vwap_f, scaled) = r
        assert scaled
        assert (c.open_ts_ns, c.open, c.high, c.low, c.close) == (open_ts, o, h, lo, cl)
        assert (c.trades, c.buy_trades, c.sell_trades) == (n, nb, ns)
        assert c.volume == int(vol) / unit
        assert c.buy_volume == int(buy) / unit
        assert c.sell_volume == int(sell) / unit
        assert c.vwap == pytest.approx(int(pv) / int(vol), rel=1e-9)
        assert c.vwap == pytest.approx(vwap_f, rel=1e-9)
        assert c.low <= c.vwap <= c.high
        if c.trades == 1:
            assert c.vwap == c.close


def test_real_sample_split_into_batches_is_bit_identical(tardis_batch: TickBatch) -> None:
    tfs = [parse_timeframe(t) for t in ("1s", "1m", "5m", "15m", "1h")]
    agg = CandleAggregator("BTCUSDT", tfs)
    got: list[Candle] = []
    for lo in range(0, len(tardis_batch), 37):  # live-sized batches
        got += agg.update(tardis_batch.slice(lo, lo + 37))
    got += agg.flush()
    for tf in tfs:
        want = aggregate(tardis_batch, tf).data
        assert as_array([c for c in got if c.timeframe_ns == tf]).tobytes() == want.tobytes()


# -- bit-identity for any split (property) ------------------------------------------------------
TIMEFRAMES = [S, 2 * S, 5 * S, 10 * S, M, 5 * M]
awkward_floats = st.one_of(
    st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 0.2, 0.3, 1 / 3, 9682.19, 1e-8, 1e8, 5e-324 * 2**60, 0.001]),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[TickBatch, list[int], list[int], int]:
    n = draw(st.integers(1, 200))
    gaps = draw(st.lists(st.integers(0, 4 * S), min_size=n, max_size=n))
    start = T0 + draw(st.integers(0, 10 * M))
    ts = start + np.cumsum(np.array(gaps, dtype=np.int64))
    price = draw(st.lists(awkward_floats, min_size=n, max_size=n))
    size = draw(st.lists(awkward_floats, min_size=n, max_size=n))
    side = draw(st.lists(st.sampled_from([1, -1, 0]), min_size=n, max_size=n))
    b = TickBatch.from_arrays("X", ts, price, size, side, np.arange(n))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=12)))
    tfs = draw(st.lists(st.sampled_from(TIMEFRAMES), min_size=1, max_size=4, unique=True))
    chunk = draw(st.sampled_from([1, 3, 16, 1 << 16]))
    return b, cuts, tfs, chunk


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(streams())
def test_any_split_gives_identical_candles(
    case: tuple[TickBatch, list[int], list[int], int],
) -> None:
    b, cuts, tfs, chunk = case
    want = {tf: aggregate(b, tf).data for tf in tfs}
    agg = CandleAggregator("X", tfs)
    got: list[Candle] = []
    with chunk_size(chunk):
        bounds = [0, *cuts, len(b)]
        for lo, hi in itertools.pairwise(bounds):
            closed = agg.update(b.slice(lo, hi))
            keys = [(c.close_ts_ns, c.timeframe_ns) for c in closed]
            assert keys == sorted(keys)
            got += closed
        got += agg.flush()
    for tf in tfs:
        mine = as_array([c for c in got if c.timeframe_ns == tf])
        assert mine.tobytes() == want[tf].tobytes()
        # And each candle is the exact aggregate of its own ticks.
        for c in mine.tolist()[:3]:
            sel = (b.ts_ns // tf) * tf == c[0]
            assert c[5] == math.fsum(b.size[sel])
            assert c[8] == int(sel.sum())


# -- the small-batch paths (live batches, engine slices) against the vectorised kernel ----------
@contextmanager
def patched(**values: object) -> Iterator[None]:
    """Set module attributes of tradewind.market.candles for the duration."""
    old = {k: getattr(candles_mod, k) for k in values}
    for k, v in values.items():
        setattr(candles_mod, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(candles_mod, k, v)


def no_kernel(*args: object, **kwargs: object) -> None:
    raise AssertionError("the vectorised kernel ran on a small batch")


# _SCALAR = 1: every multi-tick bucket through the two-limb numpy sums (when they fit);
# 1 << 30: every one through math.fsum; 24: the default split. These tests set
# ``_kernels=None``: the small paths are the compiled kernel's fallback (its own tests,
# test_candles_compiled.py, compare it with them).
SCALAR_PATHS = [1, 24, 1 << 30]


@pytest.mark.parametrize("scalar", SCALAR_PATHS)
@pytest.mark.parametrize("step", [1, 37])
def test_real_sample_in_small_batches_is_bit_identical(
    tardis_batch: TickBatch, step: int, scalar: int
) -> None:
    # Live-sized batches never cross more than a few 1m buckets: never the kernel.
    tfs = [parse_timeframe(t) for t in ("1m", "5m", "15m", "1h")]
    got: list[Candle] = []
    with patched(_SCALAR=scalar, _kernel=no_kernel, _kernels=None):
        agg = CandleAggregator("BTCUSDT", tfs)
        for lo in range(0, len(tardis_batch), step):
            got += agg.update(tardis_batch.slice(lo, lo + step))
        got += agg.flush()
    for tf in tfs:
        want = aggregate(tardis_batch, tf).data
        assert as_array([c for c in got if c.timeframe_ns == tf]).tobytes() == want.tobytes()


@pytest.mark.parametrize("scalar", SCALAR_PATHS)
def test_engine_pattern_slices_and_advance_are_bit_identical(
    tardis_batch: TickBatch, scalar: int
) -> None:
    # As the engine feeds them: slices cut at every 1m boundary (and at random trades in
    # between, where a fill or an exit would step), advance() at each boundary.
    rng = np.random.default_rng(5)
    ts = tardis_batch.ts_ns
    cuts = set((np.flatnonzero(np.diff(ts // M)) + 1).tolist())
    cuts |= set(rng.integers(1, len(ts), 400).tolist())
    bounds = sorted({0, len(ts), *cuts})
    got: list[Candle] = []
    with patched(_SCALAR=scalar, _kernel=no_kernel, _kernels=None):
        agg = CandleAggregator("BTCUSDT")
        for lo, hi in itertools.pairwise(bounds):
            if lo and ts[lo] // M != ts[lo - 1] // M:
                got += agg.advance(int(ts[lo]) // M * M)
            got += agg.update(tardis_batch.slice(lo, hi))
        got += agg.flush()
    for tf in DEFAULT_TIMEFRAMES_NS:
        want = aggregate(tardis_batch, tf).data
        assert as_array([c for c in got if c.timeframe_ns == tf]).tobytes() == want.tobytes()


def random_tape(rng: np.random.Generator, n: int, kind: str, gap: int = 2 * S) -> TickBatch:
    """``n`` ticks, ``gap`` apart at most: lot-grid sizes (the everyday case), raw doubles, or
    values spread over many binary orders of magnitude (the wide fallbacks)."""
    ts = T0 + np.cumsum(rng.integers(0, gap, n))
    side = rng.choice(np.array([1, -1, 0], dtype=np.int8), n, p=[0.49, 0.49, 0.02])
    if kind == "grid":
        price = np.round(9700 + np.cumsum(rng.normal(0, 0.5, n)), 2)
        size = np.round(rng.lognormal(-3, 1.5, n), 3) + 0.001
    elif kind == "raw":
        price = rng.uniform(0.5, 2e5, n)
        size = rng.lognormal(0, 3, n)
    else:
        price = 2.0 ** rng.uniform(-60, 60, n)
        size = 2.0 ** rng.uniform(-500, 400, n)
    return TickBatch.from_arrays("X", ts, price, size, side, np.arange(n))


@pytest.mark.parametrize("scalar", SCALAR_PATHS)
@pytest.mark.parametrize("kind", ["grid", "raw", "wide"])
def test_small_batches_of_random_data_match_the_vectorised_path(kind: str, scalar: int) -> None:
    rng = np.random.default_rng(11)
    tfs = [S, 10 * S, M, 5 * M]
    for _ in range(6):
        b = random_tape(rng, int(rng.integers(50, 3000)), kind)
        want = {tf: aggregate(b, tf).data for tf in tfs}
        bounds = [0]
        while bounds[-1] < len(b):
            bounds.append(bounds[-1] + int(rng.choice([1, 2, 7, 30, 120, 700])))
        got: list[Candle] = []
        with patched(_SCALAR=scalar, _kernels=None):
            agg = CandleAggregator("X", tfs)
            for lo, hi in itertools.pairwise(bounds):
                got += agg.update(b.slice(lo, hi))
            got += agg.flush()
        for tf in tfs:
            mine = as_array([c for c in got if c.timeframe_ns == tf])
            assert mine.tobytes() == want[tf].tobytes()


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from(SCALAR_PATHS))
def test_any_split_gives_identical_candles_on_every_small_path(
    case: tuple[TickBatch, list[int], list[int], int], scalar: int
) -> None:
    b, cuts, tfs, _ = case
    want = {tf: aggregate(b, tf).data for tf in tfs}
    got: list[Candle] = []
    with patched(_SCALAR=scalar, _kernels=None):
        agg = CandleAggregator("X", tfs)
        for lo, hi in itertools.pairwise([0, *cuts, len(b)]):
            got += agg.update(b.slice(lo, hi))
        got += agg.flush()
    for tf in tfs:
        assert as_array([c for c in got if c.timeframe_ns == tf]).tobytes() == want[tf].tobytes()


# The refusal is the error naming the overflow, with no numpy RuntimeWarning besides it.
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_small_batches_refuse_bad_input_like_large_ones() -> None:
    for rows, match in [
        ([(T0, float("nan"), 1.0, 1), (T0 + 1, 1.0, 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1.0, float("inf"), 1)], "non-finite or non-positive"),
        ([(T0, 1.0, 1.0, 1), (T0 + 1, 1.0, -1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1e200, 1e200, 1)], "overflows"),
        ([(T0, 1e200, 1e200, 1), (T0 + 1, 1.0, 1.0, -1)], "overflows"),
    ]:
        for small in (candles_mod._SMALL, 0):
            with patched(_SMALL=small), pytest.raises(ValueError, match=match):
                CandleAggregator("BTCUSDT", [M]).update(batch(rows))
    agg = CandleAggregator("BTCUSDT", [M])
    agg.update(batch([(T0 + 5, 1.0, 1.0, 1)]))
    with pytest.raises(ValueError, match="overflows"):
        agg.update(batch([(T0 + 6, 1e200, 1e200, 1)]))
    assert agg.current(M) == aggregate(batch([(T0 + 5, 1.0, 1.0, 1)]), M)[0]  # state untouched


@pytest.mark.parametrize("kind", ["grid", "raw", "wide"])
def test_large_one_bucket_batches_match_the_vectorised_path(kind: str) -> None:
    # Thousands of ticks a minute in batches of hundreds to thousands (replay slices of a busy
    # market): the small path's large-batch split, against the kernel.
    rng = np.random.default_rng(13)
    tfs = [M, 5 * M]
    for _ in range(4):
        b = random_tape(rng, int(rng.integers(3000, 12000)), kind, gap=40_000_000)
        want = {tf: aggregate(b, tf).data for tf in tfs}
        bounds = [0]
        while bounds[-1] < len(b):
            bounds.append(bounds[-1] + int(rng.choice([255, 256, 900, 2500, 8000])))
        got: list[Candle] = []
        no_vectorised = {"_kernel": no_kernel} if kind != "wide" else {}
        with patched(_kernels=None, **no_vectorised):
            agg = CandleAggregator("X", tfs)
            for lo, hi in itertools.pairwise(bounds):
                got += agg.update(b.slice(lo, hi))
            got += agg.flush()
        for tf in tfs:
            mine = as_array([c for c in got if c.timeframe_ns == tf])
            assert mine.tobytes() == want[tf].tobytes()


@pytest.mark.parametrize("kind", ["grid", "raw", "wide"])
def test_advance_closing_one_candle_gives_the_general_path_s_candles(kind: str) -> None:
    """advance() at every minute of random tapes (the paper/live decision's close: one 1m
    candle, the 5m and 15m ones now and then) against the vectorised aggregation, and each
    one-candle close against the general path's list over the same record."""
    rng = np.random.default_rng(11)
    tape = random_tape(rng, 6000, kind, gap=3 * S)
    ts = tape.ts_ns
    edges = [0, *(np.flatnonzero(np.diff(ts // M)) + 1).tolist(), len(ts)]
    agg = CandleAggregator("X")
    got: list[Candle] = []
    single = 0
    for lo, hi in itertools.pairwise(edges):
        got += agg.update(tape.slice(lo, hi))
        closed = agg.advance((int(ts[hi - 1]) // M + 1) * M)
        if len(closed) == 1:
            single += 1
            c = closed[0]
            rec = tuple(getattr(c, f) for f in CANDLE_DTYPE.names or ())
            general = [candles_mod._candle("X", tf, r) for tf, r in [(c.timeframe_ns, rec)]]
            assert general == closed and type(general[0]) is type(c)
        got += closed
    got += agg.flush()
    assert single > 100
    for tf in DEFAULT_TIMEFRAMES_NS:
        want = aggregate(tape, tf).data
        assert as_array([c for c in got if c.timeframe_ns == tf]).tobytes() == want.tobytes()
