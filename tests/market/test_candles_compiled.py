"""The compiled candle kernel (tradewind._kernels) against the numpy/Python path it replaces.

Every case feeds the same ticks in the same batches to two aggregators, one with the compiled
kernel and one without (``candles._kernels = None``: the vectorised numpy kernel and the small
paths' exact sums), and compares the closed candles' bytes, their timeframes and order, the
forming candles, and the refusals. Cases: lot-grid ticks (the everyday case), raw doubles,
values spread over many binary orders of magnitude (the kernel hands those back: the fallback),
tiny values whose sums are subnormal, sides of 0, one-tick and one-bucket batches, batches
crossing many buckets, ``advance`` between batches, and the shipped sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from tradewind import _kernels
from tradewind.market import candles as candles_mod
from tradewind.market.candles import CandleAggregator, aggregate
from tradewind.model.ticks import TickBatch
from tradewind.timeframes import parse_timeframe

S = 1_000_000_000
M = 60 * S
T0 = 1_582_329_600 * S


@contextmanager
def without_kernel() -> Iterator[None]:
    old = candles_mod._kernels
    candles_mod._kernels = None
    try:
        yield
    finally:
        candles_mod._kernels = old


def tape(rng: np.random.Generator, n: int, kind: str, gap: int) -> TickBatch:
    ts = T0 + np.cumsum(rng.integers(0, gap, n))
    side = rng.choice(np.array([1, -1, 0], dtype=np.int8), n, p=[0.45, 0.45, 0.1])
    if kind == "grid":
        price = np.round(60000 + np.cumsum(rng.normal(0, 5, n)), 1)
        size = np.round(rng.exponential(0.05, n), 5) + 1e-5
    elif kind == "raw":
        price = rng.uniform(0.5, 2e5, n)
        size = rng.lognormal(0, 3, n)
    elif kind == "wide":
        price = 2.0 ** rng.uniform(-60, 60, n)
        size = 2.0 ** rng.uniform(-500, 400, n)
    else:  # tiny: products and sums near and below the smallest normal double
        price = 2.0 ** rng.uniform(-540, -520, n)
        size = 2.0 ** rng.uniform(-520, -500, n)
    return TickBatch.from_arrays("X", ts, price, size, side)


def feed(
    b: TickBatch, bounds: list[int], tfs: list[int], *, arrays: bool, advance: bool
) -> tuple[list[bytes], list[list[int]], list[tuple[object, ...] | None]]:
    agg = CandleAggregator("X", tfs)
    closed: list[bytes] = []
    tf_of: list[list[int]] = []
    for lo, hi in itertools.pairwise(bounds):
        if advance and lo:
            c = agg.advance(int(b.ts_ns[lo]))
            closed.append(repr(c).encode())
        if arrays:
            data, tf = agg.update_arrays(b.slice(lo, hi))
            closed.append(data.tobytes())
            tf_of.append(tf.tolist())
        else:
            got = agg.update(b.slice(lo, hi))
            closed.append(repr(got).encode())
            tf_of.append([c.timeframe_ns for c in got])
    forming: list[tuple[object, ...] | None] = []
    for tf in tfs:
        cur = agg.current(tf)
        forming.append(None if cur is None else (cur.open_ts_ns, cur.volume, cur.vwap))
    closed.append(repr(agg.flush()).encode())
    return closed, tf_of, forming


@pytest.mark.parametrize("advance", [False, True])
@pytest.mark.parametrize("arrays", [True, False])
@pytest.mark.parametrize("kind", ["grid", "raw", "wide", "tiny"])
def test_the_compiled_kernel_gives_the_numpy_paths_candles(
    kind: str, arrays: bool, advance: bool
) -> None:
    rng = np.random.default_rng(23)
    tfs = [S, 10 * S, M, 5 * M, 15 * M]
    for _ in range(5):
        b = tape(rng, int(rng.integers(2, 6000)), kind, int(rng.choice([S // 10, 3 * S, M])))
        bounds = [0]
        while bounds[-1] < len(b):
            bounds.append(min(len(b), bounds[-1] + int(rng.choice([1, 2, 10, 80, 700, 5000]))))
        chosen = sorted(rng.choice(tfs, int(rng.integers(1, 4)), replace=False).tolist())
        mine = feed(b, bounds, chosen, arrays=arrays, advance=advance)
        with without_kernel():
            want = feed(b, bounds, chosen, arrays=arrays, advance=advance)
        assert mine == want


def test_whole_tapes_in_one_batch_give_the_reference_aggregation() -> None:
    rng = np.random.default_rng(29)
    tfs = [M, 5 * M, 15 * M]
    for kind in ("grid", "raw", "wide", "tiny"):
        b = tape(rng, 50_000, kind, 2 * S)
        agg = CandleAggregator("X", tfs)
        data, tf = agg.update_arrays(b)
        rest = agg.flush()
        for t in tfs:
            want = aggregate(b, t)  # the numpy kernel, always
            assert data[tf == t].tobytes() == want.data[:-1].tobytes()
            assert [c for c in rest if c.timeframe_ns == t] == [want[len(want) - 1]]


def test_the_shipped_sample_in_engine_steps(tardis_batch: TickBatch) -> None:
    # Ten-trade steps (a paper run's steps) and whole-block batches.
    tfs = [parse_timeframe(t) for t in ("1m", "5m", "15m")]
    n = len(tardis_batch)
    for bounds in ([*range(0, n, 10), n], [0, 613, 4000, n], [0, n]):
        b = TickBatch.from_arrays(
            "X", tardis_batch.ts_ns, tardis_batch.price, tardis_batch.size, tardis_batch.side
        )
        for arrays in (True, False):
            mine = feed(b, bounds, tfs, arrays=arrays, advance=False)
            with without_kernel():
                assert mine == feed(b, bounds, tfs, arrays=arrays, advance=False)


def test_the_kernel_hands_back_what_its_integers_cannot_hold() -> None:
    ts = np.array([T0, T0 + M], dtype=np.int64)
    side = np.array([1, -1], dtype=np.int8)
    tfs = (M, M)
    wide = _kernels.candles(ts, np.array([1.0, 1.0]), np.array([1e-300, 1e300]), side, tfs,
                            (None,), None)  # fmt: skip
    assert wide is None
    overflow = _kernels.candles(ts, np.array([1e200, 1.0]), np.array([1e200, 1.0]), side, tfs,
                                (None,), None)  # fmt: skip
    assert overflow is None
    fine = _kernels.candles(ts, np.array([2.0, 3.0]), np.array([0.5, 0.25]), side, tfs,
                            (None,), None)  # fmt: skip
    assert isinstance(fine, tuple)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([(T0 + 5, 1.0, 1.0, 1), (T0 + 1, 1.0, 1.0, 1), (T0 + M, 1.0, 1.0, 1)], "backwards"),
        ([(T0, float("nan"), 1.0, 1), (T0 + M, 1.0, 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1.0, 0.0, 1), (T0 + M, 1.0, 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1.0, float("inf"), 1), (T0 + 1, 1.0, 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1e200, 1e200, 1), (T0 + M, 1.0, 1.0, -1)], "overflows"),
        # The kernel's one pass: each refusal wherever its trade is, backwards first.
        ([(T0, 1.0, 1.0, 1), (T0 + 1, -2.0, 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1.0, 1.0, 1), (T0 + 1, float("-inf"), 1.0, 1)], "non-finite or non-positive"),
        ([(T0, 1.0, 1.0, 1), (T0 + 1, 1.0, float("nan"), 1)], "non-finite or non-positive"),
        ([(T0, 1.0, 1.0, 1), (T0 + 1, 1.0, -0.0, 1)], "non-finite or non-positive"),
        ([(T0, float("nan"), 1.0, 1), (T0 + 5, 1.0, 1.0, 1), (T0 + 1, 1.0, 1.0, 1)], "backwards"),
    ],
)
def test_refusals_are_the_numpy_paths(
    rows: list[tuple[int, float, float, int]], match: str
) -> None:
    ts, price, size, side = (list(c) for c in zip(*rows, strict=True))
    b = TickBatch.from_arrays("X", ts, price, size, side)
    for kernel in (True, False):
        with without_kernel() if not kernel else _nothing():
            agg = CandleAggregator("X", [M])
            agg.update(TickBatch.from_arrays("X", [T0 - 10 * M], [2.0], [1.0], [1]))
            with pytest.raises(ValueError, match=match):
                agg.update(b)
            with pytest.raises(ValueError, match="earlier"):
                agg.update(
                    TickBatch.from_arrays("X", [T0 - 20 * M, T0], [1.0, 1.0], [1.0, 1.0], [1, 1])
                )
            assert (
                agg.current(M)
                == aggregate(TickBatch.from_arrays("X", [T0 - 10 * M], [2.0], [1.0], [1]), M)[0]
            )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_sums_through_doubles_and_through_the_shift_and_odd_sides_give_the_numpy_paths(
    seed: int,
) -> None:
    # The kernel takes a value's multiple of its unit as an int64 conversion of the value
    # times 2**-unit where that is below 2**63 and through a 128-bit shift otherwise (and
    # for every value when a unit is below the normal doubles). Here: sizes spread over
    # 2**40, so the same buckets hold both kinds; sides other than -1/0/+1 (neither buy nor
    # sell) among them; and a tape whose products' unit is subnormal (a few products just
    # below the smallest normal double, the rest far enough above it for the kernel).
    rng = np.random.default_rng(seed)
    n = 20_000
    ts = T0 + np.cumsum(rng.integers(0, 2 * S, n))
    side = rng.choice(np.array([1, -1, 0, 2, -2, 127, -128], dtype=np.int8), n)
    price = np.round(rng.uniform(0.01, 2e5, n), 2)
    size = np.round(2.0 ** rng.uniform(-20, 20, n), 8) + 1e-8
    low_price = 2.0**-600 * rng.uniform(1, 2, n)
    low_size = 2.0 ** rng.uniform(-399, -390, n)
    low_size[::97] = 2.0**-424
    tfs = [M, 5 * M, 15 * M]
    for p, q in ((price, size), (low_price, low_size)):
        assert isinstance(_kernels.candles(ts, p, q, side, (M, *tfs), (None,) * 3, None), tuple)
        units = q / 2.0 ** (math.frexp(float(q.min()))[1] - 53)
        products = p * q
        lo = float(products.min())
        assert (units >= 2.0**63).any() and (units < 2.0**63).any()
        assert (lo < 2.0**-1022) == (p is low_price)
        b = TickBatch.from_arrays("X", ts, p, q, side)
        for bounds in ([0, n], [0, 1, 7, 900, 5000, n]):
            mine = feed(b, bounds, tfs, arrays=True, advance=False)
            with without_kernel():
                want = feed(b, bounds, tfs, arrays=True, advance=False)
            assert mine == want


def test_the_kernels_scan_refuses_each_bad_value_wherever_it_is() -> None:
    # The kernel's own codes (1 backwards, 2 earlier than the watermark, 3 a non-finite or
    # non-positive value), backwards first, then the watermark, then the values.
    n = 1000
    ts = T0 + np.arange(n, dtype=np.int64) * S
    side = np.ones(n, dtype=np.int8)

    def code(
        price: np.ndarray, size: np.ndarray, t: np.ndarray = ts, wm: int | None = None
    ) -> object:
        return _kernels.candles(t, price, size, side, (M, M), (None,), wm)

    ones = np.ones(n)
    assert isinstance(code(ones, ones), tuple)
    for bad in (0.0, -0.0, -1.0, float("nan"), float("inf"), float("-inf")):
        for at in (0, 1, 517, n - 1):
            for price, size in ((ones.copy(), ones), (ones, ones.copy())):
                (price if price is not ones else size)[at] = bad
                assert code(price, size) == 3
                assert code(price, size, wm=int(T0 + 1)) == 2
                back = ts.copy()
                back[600] = back[599] - 1
                assert code(price, size, back, wm=int(T0 + 1)) == 1
    assert code(ones, ones, wm=int(T0 + 1)) == 2
