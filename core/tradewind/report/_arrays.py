"""The report's long series as numpy arrays: the same figures as the per-point definitions in
:mod:`tradewind.report.metrics` and :mod:`tradewind.report.html`, without a Python step per
point.

A backtest of 2,000,000 ticks at ~80 trades a minute has ~25,000 strategy-timeframe closes: an
equity point, a candle and a value of each charted analyzer output at every one. The report
walked each of them in Python several times (sorting the curve once per figure, the charts'
thinning, drawdown, buy and hold, the period tables, the chart dates); here each is a few
array operations. Every function gives the bits of its per-point definition — the same float
operations in the same order, the same first-of-equals choices and the same handling of NaN
and missing values (``tests/test_report_arrays.py`` compares them on random curves with ties,
NaN, infinities and gaps); where a definition's NaN rule has no array form the caller uses the
definition.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tradewind.trading.curves import Curve, columns_of

_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)


#: The last curve :func:`curve_arrays` converted (its :class:`CurveKey`) and its arrays.
_last_curve: tuple[CurveKey, np.ndarray, np.ndarray] | None = None


def items_of(seq: Sequence[Any]) -> tuple[Any, ...]:
    """What of ``seq`` to compare by identity with another's to know they hold the same
    points: its items, or for a :class:`~tradewind.trading.curves.Curve` its chunks' (a
    list chunk's points, a column chunk's tuple of arrays as one item), without making the
    column chunks' points. A curve and its :meth:`~tradewind.trading.curves.Curve.copy`
    share them until one is read point by point (the run's summary reads a copy of the
    equity curve, the report the curve itself). Equal lengths and identical items mean the
    same points in the same order: the points are tuples and a chunk's arrays are never
    changed (:meth:`~tradewind.trading.curves.Curve.extend_columns`)."""
    if not isinstance(seq, Curve):
        return tuple(seq)
    out: list[Any] = []
    for part in seq.chunks():
        if isinstance(part, list):
            out.extend(part)
        else:
            out.append(part)
    return tuple(out)


def same_items(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Two :func:`items_of` hold the very same objects in the same order."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


class CurveKey:
    """Which curves hold the points of a curve seen before: its length and
    :func:`items_of`, and the :class:`~tradewind.trading.curves.Curve` objects found to hold
    them. A curve only grows (its points are appended, never changed or removed), so a curve
    found once holds the same points for as long as its length is the same — after it was
    read point by point too, which makes its points again as new tuples (the report's
    ``report.json`` reads the run's equity curve so, between the analysis and the page)."""

    def __init__(self, curve: Sequence[Any]) -> None:
        self.size = len(curve)
        self.items = items_of(curve)
        self.curves: list[Curve[Any]] = [curve] if isinstance(curve, Curve) else []

    def immutable(self) -> bool:
        """The items are tuples (points, or a column chunk's arrays, never changed)."""
        return set(map(type, self.items)) <= {tuple}

    def matches(self, curve: Sequence[Any]) -> bool:
        """``curve`` holds the same points in the same order (the key's items immutable)."""
        if len(curve) != self.size:
            return False
        if isinstance(curve, Curve) and any(c is curve for c in self.curves):
            return True
        if not same_items(items_of(curve), self.items):
            return False
        if isinstance(curve, Curve):
            self.curves.append(curve)
        return True


def _remembered(
    convert: Callable[[Sequence[Any]], tuple[np.ndarray, np.ndarray]],
) -> Callable[[Sequence[Any]], tuple[np.ndarray, np.ndarray]]:
    """:func:`curve_arrays` of the curve it converted last, without converting it again (the
    metrics, the analysis and the report's figures each ask for the run's equity curve): a
    curve whose items are tuples (immutable), the very objects of the last one, in the same
    order (:class:`CurveKey`), gives that curve's arrays (read-only, as they are shared)."""

    def curve_arrays(curve: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        global _last_curve
        if not len(curve):
            return convert(curve)
        last = _last_curve
        if last is not None and last[0].matches(curve):
            return last[1], last[2]
        key = CurveKey(curve)
        ts, eq = convert(curve)
        if key.immutable():
            ts = ts.copy() if ts.base is not None else ts
            eq = eq.copy() if eq.base is not None else eq
            ts.flags.writeable = False
            eq.flags.writeable = False
            _last_curve = (key, ts, eq)
        return ts, eq

    curve_arrays.__doc__ = convert.__doc__
    curve_arrays.__wrapped__ = convert  # type: ignore[attr-defined]
    return curve_arrays


@_remembered
def curve_arrays(curve: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(ts, value)`` of :func:`~tradewind.report.metrics.equity_points`: time order (stable:
    a time recorded twice keeps its last value), one point per time; ``int(ts)`` and
    ``float(value)``."""
    if not len(curve):
        return _EMPTY_I, _EMPTY_F
    got = columns_of(curve, _pairs)
    assert got is not None
    ts, eq = got
    if len(ts) > 1 and bool((ts[1:] < ts[:-1]).any()):
        order = np.argsort(ts, kind="stable")
        ts, eq = ts[order], eq[order]
    if len(ts) > 1:
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = ts[1:] != ts[:-1]
        if not keep.all():
            ts, eq = ts[keep], eq[keep]
    return ts, eq


def _pairs(points: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``int(ts)`` and ``float(value)`` of the points ``(ts, value)`` as arrays."""
    if not len(points):
        return _EMPTY_I, _EMPTY_F
    t, v = zip(*points, strict=True)
    return np.array(t, dtype=np.int64), np.array(v, dtype=np.float64)


def returns(eq: np.ndarray) -> np.ndarray:
    """:func:`~tradewind.report.metrics.bar_returns` of the values ``eq``."""
    if len(eq) < 2 or bool(np.any(eq[:-1] <= 0)):
        return np.zeros(0)
    out: np.ndarray = eq[1:] / eq[:-1] - 1.0
    return out


def drawdown(eq: np.ndarray) -> np.ndarray | None:
    """The depths of :func:`~tradewind.report.metrics.drawdown_series` (None with a NaN
    value: the definition's ``max`` keeps the peak past a NaN, the caller uses it)."""
    if bool(np.isnan(eq).any()):
        return None
    peak = np.maximum.accumulate(np.concatenate(([-math.inf], eq)))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(peak > 0, (peak - eq) / peak, 0.0)
    out: np.ndarray = depth.astype(np.float64)
    return out


def thin_index(values: np.ndarray, missing: np.ndarray | None, limit: int) -> np.ndarray | None:
    """The positions :func:`~tradewind.report.html._thin` keeps of a series of ``values``
    (``missing``: where the value is None), or None when it keeps every point.

    Each bucket of ``k`` points keeps its first point, the first lowest and the first highest
    (the scan of ``min``/``max``: a missing value counts as +∞ for the lowest and -∞ for the
    highest, a NaN is never chosen unless it is the bucket's first value, which then wins
    both) and its last, in order, each once; a bucket of missing values keeps its first."""
    n = len(values)
    if n <= limit:
        return None
    k = math.ceil(n / (limit / 4))
    miss = np.zeros(n, dtype=bool) if missing is None else missing
    nan = np.isnan(values) & ~miss
    lo_key = np.where(miss | nan, math.inf, values)
    hi_key = np.where(miss | nan, -math.inf, values)
    out: list[np.ndarray] = []
    full = n // k
    for start, rows, width in ((0, full, k), (full * k, 1 if n % k else 0, n % k)):
        if not rows:
            continue
        end = start + rows * width
        lo = np.argmin(lo_key[start:end].reshape(rows, width), axis=1)
        hi = np.argmax(hi_key[start:end].reshape(rows, width), axis=1)
        first_nan = nan[start:end:width]
        lo[first_nan] = 0
        hi[first_nan] = 0
        cols = np.stack(
            [np.zeros(rows, dtype=np.int64), lo, hi, np.full(rows, width - 1, dtype=np.int64)],
            axis=1,
        )
        cols.sort(axis=1)
        keep = np.ones(cols.shape, dtype=bool)
        keep[:, 1:] = cols[:, 1:] != cols[:, :-1]
        all_missing = miss[start:end].reshape(rows, width).all(axis=1)
        keep[all_missing, 1:] = False
        base = start + np.arange(rows, dtype=np.int64)[:, None] * width
        out.append((cols + base)[keep])
    return np.concatenate(out)


def finite_list(values: np.ndarray, missing: np.ndarray | None = None) -> list[Any]:
    """``values`` as Python floats, None where a value is missing or not finite (the report's
    JSON has neither NaN nor infinities)."""
    bad = ~np.isfinite(values)
    if missing is not None:
        bad |= missing
    out: list[Any] = values.tolist()
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            out[i] = None
    return out


_DIGITS = np.array([ord(c) for c in "0123456789"], dtype=np.uint32)


def _put(codes: np.ndarray, col: int, value: np.ndarray, width: int) -> None:
    for j in range(width - 1, -1, -1):
        codes[:, col + j] = _DIGITS[value % 10]
        value = value // 10


def plotly_dates(ts_ns: Sequence[int] | np.ndarray) -> list[str]:
    """``YYYY-MM-DD HH:MM:SS.mmm`` (UTC, milliseconds floored) of each time: the text of
    ``numpy.datetime_as_string(ms, unit="ms")`` with a space for its ``T``, written digit
    by digit for the years 1970 to 9999."""
    if not len(ts_ns):
        return []
    ms = np.asarray(ts_ns, dtype=np.int64) // 1_000_000
    days = ms // 86_400_000
    if not len(ms) or int(ms.min()) < 0 or int(days.max()) > 2_932_896:  # 9999-12-31
        text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
        return [str(x).replace("T", " ") for x in text]
    # The date's digits once per day, the time's per point.
    u, inv = np.unique(days, return_inverse=True)
    d = u.astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    month = d.astype("datetime64[M]")
    date = np.empty((len(u), 10), dtype=np.uint32)
    _put(date, 0, year.astype(np.int64) + 1970, 4)
    _put(date, 5, (month - year.astype("datetime64[M]")).astype(np.int64) + 1, 2)
    _put(date, 8, (d - month.astype("datetime64[D]")).astype(np.int64) + 1, 2)
    date[:, 4] = date[:, 7] = ord("-")
    in_day = ms - days * 86_400_000
    codes = np.empty((len(ms), 23), dtype=np.uint32)
    codes[:, :10] = date[inv.reshape(-1)]
    _put(codes, 11, in_day // 3_600_000, 2)
    _put(codes, 14, in_day // 60_000 % 60, 2)
    _put(codes, 17, in_day // 1000 % 60, 2)
    _put(codes, 20, in_day % 1000, 3)
    codes[:, 10] = ord(" ")
    codes[:, 13] = codes[:, 16] = ord(":")
    codes[:, 19] = ord(".")
    out: list[str] = codes.view("<U23").ravel().tolist()
    return out


def max_drawdown(ts: np.ndarray, eq: np.ndarray) -> tuple[float, int, int, int, bool] | None:
    """:func:`~tradewind.report.metrics.max_drawdown` of the points ``(ts[i], eq[i])`` (times
    strictly increasing): ``(depth, peak ts, trough ts, end ts, recovered)``, ``(0.0, -1, -1,
    -1, True)`` when equity never fell, None with a NaN value (the caller uses the
    definition, whose comparisons skip it)."""
    n = len(eq)
    if n == 0 or bool(np.isnan(eq).any()):
        return None
    peak = np.maximum.accumulate(eq)
    below = eq < peak
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(below & (peak > 0), (peak - eq) / peak, 0.0)
    depth[np.isnan(depth)] = 0.0  # ∞ / ∞: never deeper than the deepest so far
    i = int(np.argmax(depth))
    worst = float(depth[i])
    if not worst > 0.0:
        return 0.0, -1, -1, -1, True
    # The peak: the last point up to the trough where equity reached the running maximum.
    at_peak = np.flatnonzero(~below[: i + 1])
    peak_i = int(at_peak[-1])
    back = np.flatnonzero(eq[i + 1 :] >= peak[i])
    end = int(ts[i + 1 + int(back[0])]) if len(back) else int(ts[-1])
    return worst, int(ts[peak_i]), int(ts[i]), end, bool(len(back))
