"""The curves kept as chunks of column arrays (issue 17, the walk's curve building): a
:class:`~tradewind.trading.curves.Curve` reads as the list of tuples it holds (the same
values, ``int`` and ``float`` of its int64 and float64 columns, NaN as ``math.nan``), and the
report written from curves held in chunks is the per-point report's bytes."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

import attrs
import numpy as np
import pytest
from tradewind.report import html as report_html
from tradewind.report._arrays import curve_arrays
from tradewind.report.analysis import buy_and_hold
from tradewind.report.metrics import write_report
from tradewind.trading.curves import Curve, CurveStore, columns_of

from tests.test_report_arrays import (
    AFTER,
    BEFORE,
    _candles,
    _digests,
    _long_run,
    _old_limits,
    _same,
)


def _chunked(points: list[Any], rng: random.Random, dtypes: list[Any]) -> Curve[Any]:
    """``points`` as a curve of random runs: tuples appended one by one, extended as a list,
    or columns (where every value of the run is a number of its column's type)."""
    curve: Curve[Any] = Curve()
    i = 0
    while i < len(points):
        run = points[i : i + rng.choice((1, 2, 7, 50, 400))]
        how = rng.random()
        numeric = all(
            type(v) is (int if dt == np.int64 else float)
            for p in run
            for v, dt in zip(p, dtypes, strict=True)
        )
        if how < 0.5 and numeric:
            curve.extend_columns(
                *(
                    np.array(col, dtype=dt)
                    for col, dt in zip(zip(*run, strict=True), dtypes, strict=True)
                )
            )
        elif how < 0.75:
            curve.extend(run)
        else:
            for p in run:
                curve.append(p)
        i += len(run)
    return curve


@pytest.mark.parametrize("seed", range(6))
def test_a_curve_reads_as_the_list_of_its_points(seed):
    rng = random.Random(seed)
    n = rng.choice((0, 1, 5, 300, 3_000))
    values = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 2.5]
    pts = [(rng.randrange(-(2**62), 2**62), rng.choice([*values, rng.random()])) for _ in range(n)]
    curve = _chunked(pts, rng, [np.int64, np.float64])
    assert len(curve) == n
    for i in rng.sample(range(-n, n), min(n * 2, 50)) if n else []:
        assert _same(curve[i], pts[i])  # one point, without making the others
    with pytest.raises(IndexError):
        curve[n]
    copy = curve.copy()
    back = pickle.loads(pickle.dumps(curve))
    got = list(curve)
    assert _same(got, pts)
    assert all(type(t) is int and type(v) is float for t, v in got)
    # A NaN is the one math.nan object (as the engine's points hold a missing value).
    assert all(v is math.nan for _, v in got if v != v)
    assert curve == got and curve[1:4] == got[1:4]
    assert _same(list(reversed(curve)), got[::-1])
    # Added to after the copy and after being read: the copy keeps its points.
    curve.append((7, 1.0))
    curve.extend_columns(np.array([8, 9]), np.array([2.0, 3.0]))
    assert _same(list(curve), [*pts, (7, 1.0), (8, 2.0), (9, 3.0)])
    assert _same(list(copy), pts) and _same(list(back), pts)
    ts, eq = curve_arrays(curve)
    ref = curve_arrays(list(curve))
    assert ts.tolist() == ref[0].tolist() and _same(eq.tolist(), ref[1].tolist())


@pytest.mark.parametrize("seed", range(6))
def test_a_spilled_curve_reads_as_the_list_of_its_points(seed, tmp_path):
    """A paper or live run's curve lets go of its older points (written to a store) and
    reads as it did: every point, one point, a slice, the chunks' columns, a copy, a pickle;
    only the newest ``keep`` points stay in memory as tuples."""
    rng = random.Random(seed)
    n = rng.choice((1, 5, 300, 3_000))
    values = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 2.5]
    pts = [(rng.randrange(-(2**62), 2**62), rng.choice([*values, rng.random()])) for _ in range(n)]
    curve = _chunked(pts, rng, [np.int64, np.float64])
    store = CurveStore(str(tmp_path))
    keep = rng.choice((0, 1, 3, 40))
    kept = min(keep, len(curve._tail))  # of the points appended as tuples, the newest
    written = curve.spill(store, keep)
    assert written == n - kept == store.points
    assert len(curve._tail) <= keep and store.size == 16 * written
    assert curve.spill(store, keep) == 0  # nothing more to let go of
    assert len(curve) == n
    for i in rng.sample(range(-n, n), min(n * 2, 50)):
        assert _same(curve[i], pts[i])
    with pytest.raises(IndexError):
        curve[n]
    a, b = sorted(rng.sample(range(n + 1), 2)) if n > 1 else (0, n)
    assert _same(curve[a:b], pts[a:b]) and _same(curve[a:], pts[a:])
    assert _same(curve[::-1], pts[::-1])
    got = list(curve)
    assert _same(got, pts) and all(type(t) is int and type(v) is float for t, v in got)
    assert all(v is math.nan for _, v in got if v != v)
    assert len(curve._tail) <= keep  # reading did not bring the points back
    copy = curve.copy()
    back = pickle.loads(pickle.dumps(curve))
    ts, eq = curve_arrays(curve)
    ref = curve_arrays(pts)
    assert ts.tolist() == ref[0].tolist() and _same(eq.tolist(), ref[1].tolist())
    # Added to and spilled again: the copy and the pickle keep their points.
    curve.append((7, 1.0))
    curve.extend_columns(np.array([8, 9]), np.array([2.0, 3.0]))
    curve.extend([(10, 4.0)] * 5)
    more = [*pts, (7, 1.0), (8, 2.0), (9, 3.0), *[(10, 4.0)] * 5]
    curve.spill(store, 2)
    assert _same(list(curve), more) and _same(curve[-3:], more[-3:]) and len(curve) == len(more)
    assert _same(list(copy), pts) and _same(list(back), pts)
    store.close()


def test_the_points_since_a_time_are_read_from_the_chunks_that_hold_them(tmp_path):
    store = CurveStore(str(tmp_path))
    curve: Curve[Any] = Curve()
    pts = [(t, float(t)) for t in range(0, 1_000, 3)]
    curve.extend(pts[:100])
    curve.extend_columns(
        np.array([p[0] for p in pts[100:200]]), np.array([p[1] for p in pts[100:200]])
    )
    curve.extend(pts[200:])
    curve.spill(store, 50)
    for start in (-5, 0, 1, 299, 300, 301, 700, 998, 999, 5_000):
        assert curve.since(start) == [p for p in pts if p[0] >= start], start
    assert Curve().since(0) == []
    store.close()


def test_points_that_are_not_an_int_and_floats_stay_in_memory(tmp_path):
    store = CurveStore(str(tmp_path))
    curve: Curve[Any] = Curve()
    curve.extend([(1, 1.0), (2, 2.0)])
    curve.extend_columns(np.array([3, 4]), np.array([3.0, 4.0]))
    curve.append((5, None))  # not a float: kept as it is, and every point after it
    curve.extend([(6, 6.0), (7, 7.0)])
    assert curve.spill(store, 1) == 4  # the list and the columns before it
    assert list(curve) == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, None), (6, 6.0), (7, 7.0)]
    assert curve[4] == (5, None) and curve[1] == (2, 2.0)
    assert curve.spill(store, 1) == 0
    store.close()


def test_columns_of_falls_back_when_a_listed_point_is_not_a_number():
    curve: Curve[Any] = Curve()
    curve.extend_columns(np.array([1, 2]), np.array([1.0, 2.0]))
    curve.append((3, None))
    got = report_html._series_arrays(curve)
    assert got is not None
    ts, _, missing = got
    assert ts.tolist() == [1, 2, 3] and missing.tolist() == [False, False, True]
    curve.append((4, "x"))
    assert report_html._series_arrays(curve) is None
    assert report_html._series_arrays(list(curve)) is None
    assert columns_of(Curve(), lambda pts: (np.zeros(len(pts)),))[0].tolist() == []


def _as_curves(result: Any, seed: int) -> Any:
    """``result`` with its curves held in random chunks."""
    rng = random.Random(seed)
    pair = [np.int64, np.float64]
    return attrs.evolve(
        result,
        equity_curve=_chunked(list(result.equity_curve), rng, pair),
        candles={k: _chunked(list(v), rng, [np.int64] + [np.float64] * 5)
                 for k, v in result.candles.items()},
        series={k: {n: _chunked(list(p), rng, pair) for n, p in s.items()}
                for k, s in result.series.items()},
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(2))
def test_a_long_runs_report_from_curves_in_chunks_is_the_per_point_reports_bytes(
    tmp_path, seed, monkeypatch
):
    result = _as_curves(_long_run(), seed)
    assert any(isinstance(part, tuple) for c in result.candles.values() for part in c.chunks())
    write_report(result, tmp_path)
    assert _digests(tmp_path) == AFTER
    _old_limits(monkeypatch)  # the charts' limits of main c735171: its bytes
    write_report(result, tmp_path / "old")
    assert _digests(tmp_path / "old") == BEFORE


def test_candle_closes_and_buy_and_hold_from_curves_in_chunks_are_the_lists_ones():
    rng = random.Random(3)
    for nan in (False, True):
        candles = _candles(rng, 2_000, nan=nan)
        curve = _chunked(candles, rng, [np.int64] + [np.float64] * 5)
        closes, ref = report_html._Closes(curve), report_html._Closes(candles)
        for t in [c[0] for c in candles[::7]] + [candles[0][0] - 1, 2**70]:
            assert _same(closes.get(t, math.nan), ref.get(t, math.nan))
        got = buy_and_hold({"sim:A": curve}, 1000.0)
        want = buy_and_hold({"sim:A": candles}, 1000.0)
        assert _same(got[0], want[0]) and _same(got[1], want[1])


def _columns_of_per_chunk(curve: Any, of_list: Any, pad: Any = None) -> Any:
    """``columns_of`` as it was: each chunk's columns (a slice of the listed points' or the
    array chunk's, padded) joined by one ``np.concatenate`` per column."""
    if not isinstance(curve, Curve):
        return of_list(curve)
    chunks = curve.chunks()
    lists = [part for part in chunks if isinstance(part, list)]
    if len(lists) == len(chunks):
        return of_list(list(curve))
    listed = None
    if lists:
        listed = of_list([p for part in lists for p in part])
        if listed is None:
            return None
    parts = []
    at = 0
    for part in chunks:
        if isinstance(part, list):
            parts.append(tuple(col[at : at + len(part)] for col in listed))
            at += len(part)
        else:
            parts.append(part if pad is None else pad(part))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))


def _same_columns(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is want
    return len(got) == len(want) and all(
        g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes()
        for g, w in zip(got, want, strict=True)
    )


@pytest.mark.parametrize("seed", range(40))
def test_columns_of_joins_the_chunks_as_the_per_chunk_join_did(seed):
    """The columns of a curve in random chunks (lists and arrays of several dtypes, with
    and without a pad adding or dropping columns) are the per-chunk join's, bit for bit."""
    rng = random.Random(seed)
    n = rng.choice((0, 1, 2, 9, 200, 5_000))
    width = rng.choice((1, 2, 3))
    dtypes = [np.int64] + [rng.choice((np.float64, np.int64)) for _ in range(width - 1)]
    values = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 2.5, 7.0]

    def value(dt: Any) -> Any:
        if dt == np.int64:
            return rng.randrange(-(2**62), 2**62)
        return rng.choice([*values, rng.random() * 1e5])

    pts = [tuple(value(dt) for dt in dtypes) for _ in range(n)]
    curve = _chunked(pts, rng, dtypes)

    def of_list(points: Any) -> Any:
        cols = list(zip(*points, strict=True)) if points else [() for _ in dtypes]
        # The listed points' columns as float64 where the chunks' are int64, at times: the
        # join promotes them as np.concatenate does.
        return tuple(
            np.array(c, dtype=np.float64 if (dt == np.int64 and k and seed % 3 == 0) else dt)
            for k, (c, dt) in enumerate(zip(cols, dtypes, strict=True))
        )

    pads = [
        None,
        lambda cols: (*cols, np.zeros(len(cols[0]), bool)),
        lambda cols: cols[:1],
    ]
    for pad in pads:
        if pad is pads[1]:

            def lister(points: Any, base: Any = of_list) -> Any:
                cols = base(points)
                return (*cols, np.array([i % 2 == 0 for i in range(len(points))], bool))

        elif pad is pads[2]:

            def lister(points: Any, base: Any = of_list) -> Any:
                return base(points)[:1]

        else:
            lister = of_list
        got = columns_of(curve, lister, pad)
        want = _columns_of_per_chunk(curve, lister, pad)
        assert _same_columns(got, want)
    # The per-point path's fallback: None from the listed points' columns.
    if any(isinstance(part, list) for part in curve.chunks()):
        assert columns_of(curve, lambda pts: None) is None
