"""Candles built from trade ticks, for any timeframes between 1s and 1d.

Two entry points share one kernel, so they give bit-identical output:

* :func:`aggregate` turns one (possibly huge) :class:`~tradewind.model.ticks.TickBatch` into a
  :class:`CandleArray` of one timeframe, for replay and research;
* :class:`CandleAggregator` is fed batch after batch (live or replay) and returns the candles
  that closed, keeping the forming candle of each timeframe as state.

Definition (see docs/market-data.md):

* A candle of timeframe ``tf`` covers ``[open_ts_ns, open_ts_ns + tf)`` with
  ``open_ts_ns = floor(ts_ns / tf) * tf``: buckets are aligned to the UTC epoch.
* ``open``/``close`` are the prices of the first/last tick of the bucket in stream order,
  ``high``/``low`` the extremes. ``trades`` counts every tick, ``buy_trades``/``sell_trades`` the
  ticks whose aggressor side is +1/-1 (a tick with side 0 counts in ``trades`` and ``volume`` only).
* ``volume``, ``buy_volume`` and ``sell_volume`` are the *exact* sums of the tick sizes, rounded
  once to float64, i.e. equal to ``math.fsum`` of the sizes. ``vwap`` is ``pv / volume`` where
  ``pv`` is the exact sum of the products ``fl(price * size)`` rounded once; it is clamped into
  ``[low, high]`` (the rounding of each product can otherwise put it an ulp outside, e.g. a
  one-trade candle's vwap would not equal its price).
* A bucket without ticks produces no candle (there is no "flat" filler candle): consumers that
  need a regular grid must forward-fill themselves, knowing that a gap means "no trades".

Why exact sums: float addition is not associative, so a running float sum depends on where the
stream was cut into batches. Summing exactly makes every candle a function of its ticks only, so
any split of the stream into batches (and any grouping: 15m candles built from 1m partials)
gives the same bits. Exactness is cheap when vectorised: each value is split into two or three
integer "limbs" held exactly in float64 (every finite double is an integer multiple of its own
ulp), limbs are summed with ``np.add.reduceat``/``np.bincount`` (exact, because every partial
sum is an integer below 2**53, hence order-independent), and only the few per-candle totals go
through Python integers for the final rounding.

Small batches (live feeds; the engine's slices between decision points, one bucket each) skip
the kernel's fixed cost: a bucket's sums are taken in a dozen numpy calls with two limbs split
by an exact ``divmod``, or with ``math.fsum`` passes for a handful of ticks, both exact, and
added to the forming candle's integer state. Same bits, a fraction of the cost.

The aggregator runs a compiled kernel when the project's install built it
(``tradewind._kernels``, core/tradewind/_kernels.c): a batch over several buckets (a block)
in one pass over the ticks, and a one-bucket batch's sums, each value an integer multiple of
the smallest one's ulp added in 128-bit integers, rounded once. Values it cannot hold that way
(a range of more than ~2**70 within a batch, overflowing products, subnormal sums) and a
missing build take the numpy/Python path above, which stays the reference: :func:`aggregate`
always runs it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from functools import reduce
from typing import Any, overload

import attrs
import numpy as np
import numpy.typing as npt

try:  # built by the project's install (setup.py); without it, the numpy/Python path
    from tradewind import _kernels
except ImportError:  # pragma: no cover - a source tree without the build
    _kernels = None  # type: ignore[assignment]

from tradewind.model.frozen import _slot, _slots
from tradewind.model.market import Candle
from tradewind.model.ticks import TickBatch
from tradewind.timeframes import MAX_NS, MIN_NS, format_timeframe, parse_timeframe

__all__ = [
    "CANDLE_DTYPE",
    "DEFAULT_TIMEFRAMES_NS",
    "CandleAggregator",
    "CandleArray",
    "aggregate",
    "check_timeframe",
]

#: The timeframes the seed strategy trades on: 1m, 5m, 15m.
DEFAULT_TIMEFRAMES_NS: tuple[int, ...] = tuple(parse_timeframe(t) for t in ("1m", "5m", "15m"))

#: Column layout of :attr:`CandleArray.data`.
CANDLE_DTYPE = np.dtype(
    [
        ("open_ts_ns", np.int64),
        ("open", np.float64),
        ("high", np.float64),
        ("low", np.float64),
        ("close", np.float64),
        ("volume", np.float64),
        ("buy_volume", np.float64),
        ("sell_volume", np.float64),
        ("trades", np.int64),
        ("buy_trades", np.int64),
        ("sell_trades", np.int64),
        ("vwap", np.float64),
    ]
)

# Ticks processed per kernel call. Keeps every temporary in cache, and bounds each limb sum by
# 2**16 * 2**_LIMB_BITS < 2**53, which is what makes float64 limb sums exact.
_CHUNK = 1 << 16
_LIMB_BITS = 37
# Every finite float64 is an integer multiple of 2**-1074; exact sums are kept as integers N
# meaning N * 2**-1074, so partial sums from different chunks add without alignment.
_FRAC_BITS = 1074
_DEN = 1 << _FRAC_BITS
#: A forming candle's record by the compiled kernel (:meth:`_Open.row`), or None.
_row: Callable[..., tuple[Any, ...] | None] | None = getattr(_kernels, "row", None)


def check_timeframe(timeframe_ns: int) -> int:
    """Return ``timeframe_ns`` if it is an integer between 1s and 1d that divides a day."""
    if isinstance(timeframe_ns, bool) or not isinstance(timeframe_ns, int | np.integer):
        raise TypeError(f"timeframe must be integer nanoseconds, got {timeframe_ns!r}")
    tf = int(timeframe_ns)
    if not MIN_NS <= tf <= MAX_NS or MAX_NS % tf:
        raise ValueError(
            f"timeframe {tf} ns is not supported: use 1s..1d dividing a day evenly "
            "(e.g. parse_timeframe('5m'))"
        )
    return tf


# --------------------------------------------------------------------------------------------
# Exact sums
# --------------------------------------------------------------------------------------------
def _products(
    price: npt.NDArray[np.float64], size: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``fl(price * size)`` per tick. A product that overflows is inf, which :func:`_limbs`
    refuses with an error naming it; numpy's own overflow warning would only repeat that."""
    with np.errstate(over="ignore"):
        return price * size


def _limbs(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], tuple[int, ...]]:
    """Split finite non-negative ``x`` into exact integer limbs.

    Returns ``(L, shifts)`` with ``L`` of shape ``(k, n)`` holding integers below 2**37 (as
    float64) such that ``x[i] == sum(L[j, i] * 2**shifts[j])`` exactly.
    """
    lo = float(x.min())
    hi = float(x.max())
    if not hi < math.inf:
        raise ValueError(f"cannot sum {hi!r}: a price * size product overflows float64")
    if lo == 0.0:  # a price * size product can underflow to zero
        if hi == 0.0:
            return np.zeros((1, len(x))), (0,)
        lo = float(x[x > 0.0].min())
    if math.frexp(hi)[1] - math.frexp(lo)[1] <= 900:
        return _band_limbs(x, lo, hi)
    # Values more than 2**900 apart would overflow one scaled copy: split them into bands of
    # 512 binary exponents (boundaries far from everyday magnitudes) and stack their limbs.
    band = (np.frexp(x)[1].astype(np.int64) + 256) // 512
    rows: list[npt.NDArray[np.float64]] = []
    shifts: list[int] = []
    for b in np.unique(band[x > 0.0]).tolist():
        sel = (band == b) & (x > 0.0)
        xb = np.where(sel, x, 0.0)
        limbs, sh = _band_limbs(xb, float(x[sel].min()), float(x[sel].max()))
        rows.append(limbs)
        shifts.extend(sh)
    return np.concatenate(rows), tuple(shifts)


def _band_limbs(
    x: npt.NDArray[np.float64], lo: float, hi: float
) -> tuple[npt.NDArray[np.float64], tuple[int, ...]]:
    """:func:`_limbs` for values (and zeros) whose non-zero range ``[lo, hi]`` is narrow."""
    # ulp(lo) is the smallest ulp of the values and divides every value's ulp, so
    # y = x / 2**beta is an integer below 2**bits.
    beta = max(math.frexp(lo)[1] - 53, -_FRAC_BITS)
    bits = math.frexp(hi)[1] - beta
    k = max(1, -(-bits // _LIMB_BITS))
    out = np.empty((k, len(x)), dtype=np.float64)
    y = out[0]
    if -beta <= 1023:
        np.multiply(x, 2.0**-beta, out=y)  # a power of two: exact
    else:
        y[:] = np.ldexp(x, -beta)
    for j in range(k - 1, 0, -1):
        scale = float(2 ** (_LIMB_BITS * j))
        limb = out[j]
        np.multiply(y, 1.0 / scale, out=limb)
        np.floor(limb, out=limb)
        y -= limb * scale  # exact: removes the top bits of an integer
    return out, tuple(beta + _LIMB_BITS * j for j in range(k))


def _part_int(cells: npt.NDArray[np.float64], shifts: tuple[int, ...]) -> int:
    """The exact integer ``N`` (meaning ``N * 2**-1074``) of one part's limb sums ``(k,)``."""
    return sum(int(v) << (sh + _FRAC_BITS) for v, sh in zip(cells.tolist(), shifts, strict=True))


def _round(cells: npt.NDArray[np.float64], shifts: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Exact sums from limb sums ``(k, g)``, each correctly rounded once to float64.

    One or two limbs (values within ~2**21 of each other, the everyday case) are rounded with
    float arithmetic: after carrying, ``A * 2**37 + B`` is one IEEE addition of two exact
    doubles, hence correctly rounded. Wider spans, or results so small that scaling would round
    a second time, go through Python integers, whose true division is correctly rounded too.
    """
    k, g = cells.shape
    if k == 1:
        out = np.ldexp(cells[0], shifts[0])
    elif k == 2 and shifts[1] == shifts[0] + _LIMB_BITS:
        lo, hi = cells[0], cells[1]
        carry = np.floor(lo * (1.0 / 2.0**_LIMB_BITS))
        v = (hi + carry) * 2.0**_LIMB_BITS + (lo - carry * 2.0**_LIMB_BITS)
        out = np.ldexp(v, shifts[0])
    else:
        out = None
    if out is not None and (g == 0 or not np.any((out < _TINY) & (out != 0.0))):
        return out  # type: ignore[no-any-return]
    return np.array([_part_int(cells[:, i], shifts) / _DEN for i in range(g)], dtype=np.float64)


_TINY = 2.0**-1000  # below this, ldexp could round a subnormal result a second time


# --------------------------------------------------------------------------------------------
# Partial candles of one chunk (struct of arrays)
# --------------------------------------------------------------------------------------------
@attrs.define(slots=True)
class _Parts:
    """Per-bucket partial aggregates of consecutive ticks; sums as exact limb cells."""

    open_ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]  # (g, 3): other, buy, sell
    size_cells: npt.NDArray[np.float64]  # (k limbs, 3: other/buy/sell, g)
    size_shifts: tuple[int, ...]
    pv_cells: npt.NDArray[np.float64]  # (k limbs, g)
    pv_shifts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.open_ts)

    def regroup(self, timeframe_ns: int) -> _Parts:
        """Merge consecutive parts into buckets of a coarser timeframe (a multiple of theirs)."""
        bucket = self.open_ts // timeframe_ns
        if len(bucket) == 0 or bucket[0] == bucket[-1]:
            starts = np.zeros(1, dtype=np.intp)
        else:
            starts = np.concatenate(([0], np.flatnonzero(bucket[1:] != bucket[:-1]) + 1))
        if len(starts) == len(bucket):
            return _Parts(
                open_ts=bucket * timeframe_ns,
                open=self.open,
                high=self.high,
                low=self.low,
                close=self.close,
                counts=self.counts,
                size_cells=self.size_cells,
                size_shifts=self.size_shifts,
                pv_cells=self.pv_cells,
                pv_shifts=self.pv_shifts,
            )
        last = np.append(starts[1:], len(bucket)) - 1
        return _Parts(
            open_ts=bucket[starts] * timeframe_ns,
            open=self.open[starts],
            high=np.maximum.reduceat(self.high, starts),
            low=np.minimum.reduceat(self.low, starts),
            close=self.close[last],
            counts=np.add.reduceat(self.counts, starts, axis=0),
            size_cells=np.add.reduceat(self.size_cells, starts, axis=2),
            size_shifts=self.size_shifts,
            pv_cells=np.add.reduceat(self.pv_cells, starts, axis=1),
            pv_shifts=self.pv_shifts,
        )


def _kernel(
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    side: npt.NDArray[np.int8],
    timeframe_ns: int,
) -> _Parts:
    """Partial candles of one chunk (at most ``_CHUNK`` sorted, valid ticks)."""
    n = len(ts)
    first = int(ts[0]) // timeframe_ns
    if first == int(ts[-1]) // timeframe_ns:
        return _kernel_one(first * timeframe_ns, price, size, side)
    bucket = ts // timeframe_ns
    starts = np.concatenate(([0], np.flatnonzero(bucket[1:] != bucket[:-1]) + 1))
    ends = np.append(starts[1:], n)
    g = len(starts)
    # 0/1 masks as float64: their reduceat sums are exact counts, and multiplying a limb by
    # one keeps only that side's limbs.
    is_buy = (side == 1).astype(np.float64)
    is_sell = (side == -1).astype(np.float64)
    counts = np.empty((g, 3), dtype=np.int64)
    counts[:, 1] = np.add.reduceat(is_buy, starts)
    counts[:, 2] = np.add.reduceat(is_sell, starts)
    counts[:, 0] = ends - starts - counts[:, 1] - counts[:, 2]
    limbs, size_shifts = _limbs(size)
    size_cells = np.empty((len(limbs), 3, g), dtype=np.float64)
    total = np.add.reduceat(limbs, starts, axis=1)
    size_cells[:, 1] = np.add.reduceat(limbs * is_buy, starts, axis=1)
    size_cells[:, 2] = np.add.reduceat(limbs * is_sell, starts, axis=1)
    # Every cell is an integer below 2**53, so other = total - buy - sell is exact.
    size_cells[:, 0] = total - size_cells[:, 1] - size_cells[:, 2]
    pv_limbs, pv_shifts = _limbs(_products(price, size))
    return _Parts(
        open_ts=bucket[starts] * timeframe_ns,
        open=price[starts],
        high=np.maximum.reduceat(price, starts),
        low=np.minimum.reduceat(price, starts),
        close=price[ends - 1],
        counts=counts,
        size_cells=size_cells,
        size_shifts=size_shifts,
        pv_cells=np.add.reduceat(pv_limbs, starts, axis=1),
        pv_shifts=pv_shifts,
    )


def _kernel_one(
    open_ts: int,
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    side: npt.NDArray[np.int8],
) -> _Parts:
    """:func:`_kernel` for ticks that all fall in one bucket (small live or sliced batches)."""
    buy = side == 1
    sell = side == -1
    nb, ns = int(np.count_nonzero(buy)), int(np.count_nonzero(sell))
    limbs, size_shifts = _limbs(size)
    size_cells = np.empty((len(limbs), 3, 1), dtype=np.float64)
    # Sums of integers below 2**53 are exact in any order.
    size_cells[:, 1, 0] = limbs[:, buy].sum(axis=1)
    size_cells[:, 2, 0] = limbs[:, sell].sum(axis=1)
    size_cells[:, 0, 0] = limbs.sum(axis=1) - size_cells[:, 1, 0] - size_cells[:, 2, 0]
    pv_limbs, pv_shifts = _limbs(_products(price, size))
    return _Parts(
        open_ts=np.array([open_ts], dtype=np.int64),
        open=price[:1],
        high=np.array([price.max()]),
        low=np.array([price.min()]),
        close=price[-1:],
        counts=np.array([[len(price) - nb - ns, nb, ns]], dtype=np.int64),
        size_cells=size_cells,
        size_shifts=size_shifts,
        pv_cells=pv_limbs.sum(axis=1, keepdims=True),
        pv_shifts=pv_shifts,
    )


# --------------------------------------------------------------------------------------------
# Exact per-candle state, and the candles emitted from it
# --------------------------------------------------------------------------------------------
def _vwap(pv: float, volume: float, low: float, high: float) -> float:
    return min(max(pv / volume, low), high)


@attrs.define(slots=True)
class _Open:
    """The forming candle of one timeframe, with exact sums (integers of 2**-1074 units)."""

    open_ts: int
    open: float
    high: float
    low: float
    close: float
    trades: int
    buy_trades: int
    sell_trades: int
    other: int
    buy: int
    sell: int
    pv: int

    def merge(self, parts: _Parts, i: int) -> None:
        """Add part ``i`` (same bucket, later ticks) into this candle."""
        self.high = max(self.high, float(parts.high[i]))
        self.low = min(self.low, float(parts.low[i]))
        self.close = float(parts.close[i])
        c = parts.counts[i].tolist()
        self.trades += c[0] + c[1] + c[2]
        self.buy_trades += c[1]
        self.sell_trades += c[2]
        cells, sh = parts.size_cells[:, :, i], parts.size_shifts
        self.other += _part_int(cells[:, 0], sh)
        self.buy += _part_int(cells[:, 1], sh)
        self.sell += _part_int(cells[:, 2], sh)
        self.pv += _part_int(parts.pv_cells[:, i], parts.pv_shifts)

    def add(self, state: tuple[Any, ...]) -> None:
        """Add a compiled kernel's state tuple (same bucket, later ticks) into this candle."""
        _, _, high, low, close, n, nb, ns, other, buy, sell, pv = state
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low
        self.close = close
        self.trades += n
        self.buy_trades += nb
        self.sell_trades += ns
        self.other += other
        self.buy += buy
        self.sell += sell
        self.pv += pv

    def absorb(self, other: _Open) -> None:
        """Add ``other`` (same bucket, later ticks) into this candle."""
        if other.high > self.high:
            self.high = other.high
        if other.low < self.low:
            self.low = other.low
        self.close = other.close
        self.trades += other.trades
        self.buy_trades += other.buy_trades
        self.sell_trades += other.sell_trades
        self.other += other.other
        self.buy += other.buy
        self.sell += other.sell
        self.pv += other.pv

    def copy(self, open_ts: int) -> _Open:
        """This state as a new candle opening at ``open_ts``."""
        return _Open(
            open_ts,
            self.open,
            self.high,
            self.low,
            self.close,
            self.trades,
            self.buy_trades,
            self.sell_trades,
            self.other,
            self.buy,
            self.sell,
            self.pv,
        )

    @classmethod
    def from_part(cls, parts: _Parts, i: int) -> _Open:
        """A forming candle holding part ``i``."""
        c = parts.counts[i].tolist()
        cells, sh = parts.size_cells[:, :, i], parts.size_shifts
        return cls(
            open_ts=int(parts.open_ts[i]),
            open=float(parts.open[i]),
            high=float(parts.high[i]),
            low=float(parts.low[i]),
            close=float(parts.close[i]),
            trades=c[0] + c[1] + c[2],
            buy_trades=c[1],
            sell_trades=c[2],
            other=_part_int(cells[:, 0], sh),
            buy=_part_int(cells[:, 1], sh),
            sell=_part_int(cells[:, 2], sh),
            pv=_part_int(parts.pv_cells[:, i], parts.pv_shifts),
        )

    def row(self) -> tuple[Any, ...]:
        """This candle as a record of :data:`CANDLE_DTYPE` (by the compiled kernel where it
        can: the same quotients and vwap, without Python's long division of ~1,100-bit sums)."""
        if _row is not None:
            rec = _row(
                self.open_ts,
                self.open,
                self.high,
                self.low,
                self.close,
                self.trades,
                self.buy_trades,
                self.sell_trades,
                self.other,
                self.buy,
                self.sell,
                self.pv,
            )
            if rec is not None:
                return rec  # type: ignore[no-any-return]
        return self.reference_row()

    def reference_row(self) -> tuple[Any, ...]:
        """:meth:`row` in Python (the reference; where the kernel leaves it, or is not built)."""
        volume = (self.other + self.buy + self.sell) / _DEN
        return (
            self.open_ts,
            self.open,
            self.high,
            self.low,
            self.close,
            volume,
            self.buy / _DEN,
            self.sell / _DEN,
            self.trades,
            self.buy_trades,
            self.sell_trades,
            _vwap(self.pv / _DEN, volume, self.low, self.high),
        )


# --------------------------------------------------------------------------------------------
# Small batches: the same exact sums, without the vectorised kernel's fixed cost
# --------------------------------------------------------------------------------------------
def _units(x: float) -> int:
    """``x`` as an integer of 2**-1074 units (exact: every finite double is one)."""
    num, den = x.as_integer_ratio()  # den is a power of two, at most 2**1074
    return num << (_FRAC_BITS + 1 - den.bit_length())


_EXACT_SPAN = 2.0**53


def _exact_units(values: list[float], unit: float) -> int:
    """The exact sum of finite ``values`` as an integer of 2**-1074 units.

    ``math.fsum`` returns the correctly rounded sum ``s0`` of its (exactly accumulated)
    arguments, so ``fsum(values + [-s0])`` is the correctly rounded residual; repeating until
    a residual is exact gives the exact sum as a few doubles. ``unit`` is a power of two that
    divides every value (the ulp of the smallest in magnitude), or 0.0 if unknown: every sum
    and residual is then a multiple of ``unit``, so once ``ulp(s) <= 2**53 * unit`` the next
    residual (at most ``ulp(s) / 2``) is representable, and is the last one. In the everyday
    case that is two ``fsum`` passes, each a tight C loop.
    """
    s = math.fsum(values)
    if not -math.inf < s < math.inf:
        raise ValueError(f"cannot sum {s!r}: a price * size product overflows float64")
    total = _units(s)
    negs = [-s]
    while s != 0.0:
        last = unit > 0.0 and math.ulp(s) <= _EXACT_SPAN * unit
        s = math.fsum(values + negs)
        total += _units(s)
        if last:
            break
        negs.append(-s)
    return total


def _small_open(
    open_ts: int,
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    side: npt.NDArray[np.int8],
    limits: tuple[float, float, float, float] | None = None,
) -> _Open:
    """The exact state of ticks that all fall in one bucket, without the kernel's fixed cost.

    Equal to :meth:`_Open.from_part` of :func:`_kernel_one` (the sums are exact either way).
    One tick is pure Python, a few go through :func:`_list_open`, more through
    :func:`_lean_open`'s two-limb sums. For checked input only (positive, finite:
    ``CandleAggregator._check_values``, whose ``(min price, max price, min size, max size)``
    may be passed as ``limits``); raises ValueError if a ``price * size`` product overflows.
    """
    n = len(price)
    if n == 1:
        p, q, d = float(price[0]), float(size[0]), int(side[0])
        pv = p * q  # IEEE multiplication, as numpy's: the same fl(price * size)
        if not pv < math.inf:
            raise ValueError(f"cannot sum {pv!r}: a price * size product overflows float64")
        u = _units(q)
        nb, ns = int(d == 1), int(d == -1)
        return _Open(
            open_ts, p, p, p, p, 1, nb, ns, 0 if nb or ns else u, u if nb else 0,
            u if ns else 0, _units(pv),
        )  # fmt: skip
    if n > _SCALAR:
        if limits is None:
            limits = (
                float(price.min()), float(price.max()), float(size.min()), float(size.max())
            )  # fmt: skip
        state = _lean_open(open_ts, price, size, side, limits)
        if state is not None:
            return state
    return _list_open(open_ts, price.tolist(), size.tolist(), side.tolist())


def _list_open(open_ts: int, prices: list[float], sizes: list[float], sides: list[int]) -> _Open:
    """:func:`_small_open` of Python lists (at least one tick), by ``math.fsum`` passes.

    Exact for any range of values; for a few ticks faster than any numpy call sequence.
    """
    n = len(prices)
    unit = math.ulp(min(sizes))  # every size is a multiple of the smallest one's ulp
    total = _exact_units(sizes, unit)
    nb, ns = sides.count(1), sides.count(-1)
    if nb == n:
        ub, us, uo = total, 0, 0
    elif ns == n:
        ub, us, uo = 0, total, 0
    elif nb + ns == n:
        # Sides are all +-1: the signed sum is buy - sell, so one more sum splits the total
        # (negation is exact; the sums are exact integers, so their halves too).
        diff = _exact_units([q if d == 1 else -q for q, d in zip(sizes, sides, strict=True)], unit)
        ub, us, uo = (total + diff) >> 1, (total - diff) >> 1, 0
    else:
        ub = _exact_units([q for q, d in zip(sizes, sides, strict=True) if d == 1], unit)
        us = _exact_units([q for q, d in zip(sizes, sides, strict=True) if d == -1], unit)
        uo = total - ub - us
    pvs = [p * q for p, q in zip(prices, sizes, strict=True)]  # IEEE: numpy's fl(price * size)
    lo_pv = min(pvs)
    upv = _exact_units(pvs, math.ulp(lo_pv) if lo_pv > 0.0 else 0.0)
    return _Open(
        open_ts, prices[0], max(prices), min(prices), prices[-1], n, nb, ns, uo, ub, us, upv
    )


#: Up to this many ticks, :func:`_list_open` (and the aggregator's checks on lists) beat the
#: numpy calls of :func:`_lean_open`, whose count, not the ticks, makes its cost.
_SCALAR = 48


def _split_exponent(lo: float, hi: float, n: int) -> int | None:
    """``e`` such that ``divmod(x, 2**e)`` of ``n`` values in ``[lo, hi]`` has exact sums.

    Values are multiples of ``2**beta = ulp(lo)`` (ulps grow with magnitude). With ``n <
    2**b`` and ``e = 53 + beta - b``, remainders are multiples of ``2**beta`` below ``2**e``,
    so any partial sum of them is one below ``2**(53 + beta)``: exact; quotients are integers
    below ``hi / 2**e``, whose sums stay below 2**53 when ``hi < 2**(106 + beta - 2b)``. None
    when the range is wider than that (the caller takes another exact path).
    """
    b = n.bit_length()
    beta = max(math.frexp(lo)[1] - 53, -1074) if lo > 0.0 else -1074
    if math.frexp(hi)[1] - beta > 106 - 2 * b:
        return None
    e = 53 + beta - b
    return e if -1074 <= e <= 1023 else None


def _lean_open(
    open_ts: int,
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    side: npt.NDArray[np.int8],
    limits: tuple[float, float, float, float],
) -> _Open | None:
    """:func:`_small_open` in a dozen numpy calls: exact two-limb sums of sizes and products.

    Each value splits into a quotient and a remainder of a power of two, both exact, and so
    are the sums of the quotients and of the remainders (:func:`_split_exponent`); a signed
    sum (sizes times sides of +-1) splits the total into buy and sell. None if the values
    span too many binary orders of magnitude, or a side is not +-1: the caller falls back to
    ``math.fsum``.
    """
    n = len(price)
    pmin, pmax, smin, smax = limits
    hi_pv = pmax * smax  # rounding is monotonic: every fl(p * s) is in [lo_pv, hi_pv]
    if not hi_pv < math.inf:
        return None
    es = _split_exponent(smin, smax, n)
    ep = _split_exponent(pmin * smin, hi_pv, n)
    if es is None or ep is None:
        return None
    sides = side.astype(np.float64)
    if np.count_nonzero(side) != n or sides @ sides != n:  # not all of them +-1
        return None
    prod = price * size
    limbs = np.empty((4, n))  # quotient and remainder of the sizes, then of the products
    if n < _FLOOR_SPLIT:  # fewest calls
        np.divmod(size, math.ldexp(1.0, es), out=(limbs[0], limbs[1]))
        np.divmod(prod, math.ldexp(1.0, ep), out=(limbs[2], limbs[3]))
    else:  # np.divmod costs ~25 ns a value; scaling by powers of two and floor are exact too
        quot, rem = limbs[0::2], limbs[1::2]
        np.multiply(size, math.ldexp(1.0, -es), out=quot[0])
        np.multiply(prod, math.ldexp(1.0, -ep), out=quot[1])
        np.floor(quot, out=quot)
        np.multiply(quot, [[-math.ldexp(1.0, es)], [-math.ldexp(1.0, ep)]], out=rem)
        rem[0] += size  # x - q * 2**e is representable, hence exact
        rem[1] += prod
    qs, rs, qp, rp = limbs.sum(axis=1).tolist()
    sq, sr = (limbs[:2] @ sides).tolist()
    signed = int(sides.sum())
    total = (int(qs) << (es + _FRAC_BITS)) + _units(rs)
    diff = (int(sq) << (es + _FRAC_BITS)) + _units(sr)
    upv = (int(qp) << (ep + _FRAC_BITS)) + _units(rp)
    return _Open(
        open_ts,
        float(price[0]),
        pmax,
        pmin,
        float(price[-1]),
        n,
        (n + signed) >> 1,
        (n - signed) >> 1,
        0,
        (total + diff) >> 1,
        (total - diff) >> 1,
        upv,
    )


_FLOOR_SPLIT = 256


def _rows(parts: _Parts, sl: slice) -> npt.NDArray[np.void]:
    """Finished candles for parts ``sl`` as a :data:`CANDLE_DTYPE` array."""
    counts = parts.counts[sl]
    out = np.empty(len(counts), dtype=CANDLE_DTYPE)
    if len(out) == 0:
        return out
    cells = parts.size_cells[:, :, sl]
    # Other + buy + sell limb sums stay below 2**53 (all ticks of one chunk): exact.
    out["volume"] = _round(cells.sum(axis=1), parts.size_shifts)
    out["buy_volume"] = _round(cells[:, 1], parts.size_shifts)
    out["sell_volume"] = _round(cells[:, 2], parts.size_shifts)
    out["open_ts_ns"] = parts.open_ts[sl]
    out["open"] = parts.open[sl]
    out["high"] = parts.high[sl]
    out["low"] = parts.low[sl]
    out["close"] = parts.close[sl]
    out["trades"] = counts.sum(axis=1)
    out["buy_trades"] = counts[:, 1]
    out["sell_trades"] = counts[:, 2]
    pv = _round(parts.pv_cells[:, sl], parts.pv_shifts)
    out["vwap"] = np.clip(pv / out["volume"], out["low"], out["high"])
    return out


# --------------------------------------------------------------------------------------------
# Public values
# --------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True, eq=False)
class CandleArray:
    """Candles of one instrument and timeframe as a numpy structured array (:data:`CANDLE_DTYPE`).

    Index with an int for a :class:`~tradewind.model.market.Candle`, with a field name for a
    column (``arr["close"]``). Candles are in time order; empty buckets are absent.
    """

    instrument: str
    timeframe_ns: int
    data: npt.NDArray[np.void]

    def __len__(self) -> int:
        return len(self.data)

    @overload
    def __getitem__(self, key: str) -> npt.NDArray[Any]: ...

    @overload
    def __getitem__(self, key: int) -> Candle: ...

    def __getitem__(self, key: str | int) -> npt.NDArray[Any] | Candle:
        if isinstance(key, str):
            return self.data[key]  # type: ignore[no-any-return]
        return _candle(self.instrument, self.timeframe_ns, self.data[key].item())

    def __iter__(self) -> Iterator[Candle]:
        for rec in self.data.tolist():
            yield _candle(self.instrument, self.timeframe_ns, rec)

    def to_candles(self) -> list[Candle]:
        """Every candle as a :class:`~tradewind.model.market.Candle`."""
        return list(self)

    def equals(self, other: CandleArray) -> bool:
        """Bit-for-bit equality (NaN-safe): same instrument, timeframe and bytes."""
        return (
            self.instrument == other.instrument
            and self.timeframe_ns == other.timeframe_ns
            and self.data.dtype == other.data.dtype
            and self.data.tobytes() == other.data.tobytes()
        )

    def __repr__(self) -> str:
        return (
            f"CandleArray({self.instrument!r}, {format_timeframe(self.timeframe_ns)}, "
            f"{len(self)} candles)"
        )


#: Candle's fields in the order of a CANDLE_DTYPE record's tuple, after the instrument and
#: the timeframe.
_CANDLE_FIELDS = (
    "instrument",
    "timeframe_ns",
    "open_ts_ns",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "buy_volume",
    "sell_volume",
    "trades",
    "buy_trades",
    "sell_trades",
    "vwap",
)


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The setters of ``cls``'s slots ``names`` (their member descriptors' ``__set__``), when
    ``cls`` is an attrs class whose ``__init__`` does nothing but set exactly these fields, in
    this order (no defaults, validators, converters, ``on_setattr``, pre- or post-init hook,
    cached hash or other slot): a new object with those slots set is then what ``__init__``
    makes. None otherwise."""
    if not attrs.has(cls):
        return None
    fields = attrs.fields(cls)
    if tuple(f.name for f in fields) != names:
        return None
    for f in fields:
        if f.default is not attrs.NOTHING or f.validator is not None or f.converter is not None:
            return None
        if f.on_setattr not in (None, attrs.setters.NO_OP) or not f.init:
            return None
    if any(hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")):
        return None
    if tuple(getattr(cls, "__slots__", ())) not in (names, (*names, "__weakref__")):
        return None
    setters = []
    for name in names:
        slot: Any = cls.__dict__.get(name)
        if type(slot).__name__ != "member_descriptor":
            return None
        setters.append(slot.__set__)
    return tuple(setters)


def _candle_maker(*, compiled: bool = True) -> Callable[[str, int, tuple[Any, ...]], Candle]:
    """:func:`_candle`: a Candle from one record, its slots set directly (a frozen attrs
    class's ``__init__`` takes 14 keyword arguments and sets each through
    ``object.__setattr__``: ~2x the time, and the blocks of 100 instruments make ~160,000
    candles). Candle's own ``__init__`` where :func:`_slot_setters` refuses the class. With
    ``compiled`` and the core's compiled builder built (``tradewind._slots``), the slots are
    written in C (the same object: fourteen slot setters called from Python were most of a
    candle's making at every decision's close); else one setter call per slot (the
    reference)."""
    setters = _slot_setters(Candle, _CANDLE_FIELDS)
    if setters is None:

        def init(instrument: str, timeframe_ns: int, rec: tuple[Any, ...]) -> Candle:
            ts, o, h, lo, c, v, bv, sv, n, nb, ns, vwap = rec
            return Candle(
                instrument=instrument,
                timeframe_ns=timeframe_ns,
                open_ts_ns=ts,
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=v,
                buy_volume=bv,
                sell_volume=sv,
                trades=n,
                buy_trades=nb,
                sell_trades=ns,
                vwap=vwap,
            )

        return init
    if compiled and _slots is not None:
        make = _slots.builder(Candle, tuple(_slot(Candle, name) for name in _CANDLE_FIELDS))

        def built(instrument: str, timeframe_ns: int, rec: tuple[Any, ...]) -> Candle:
            ts, o, h, lo, c, v, bv, sv, n, nb, ns, vwap = rec  # a record of 12, as below
            return make(instrument, timeframe_ns, ts, o, h, lo, c, v, bv, sv, n, nb, ns, vwap)  # type: ignore[no-any-return]

        return built
    (s_in, s_tf, s_ts, s_o, s_h, s_lo, s_c, s_v, s_bv, s_sv, s_n, s_nb, s_ns, s_vw) = setters
    new = object.__new__

    def slots(instrument: str, timeframe_ns: int, rec: tuple[Any, ...]) -> Candle:
        ts, o, h, lo, c, v, bv, sv, n, nb, ns, vwap = rec
        x: Candle = new(Candle)
        s_in(x, instrument)
        s_tf(x, timeframe_ns)
        s_ts(x, ts)
        s_o(x, o)
        s_h(x, h)
        s_lo(x, lo)
        s_c(x, c)
        s_v(x, v)
        s_bv(x, bv)
        s_sv(x, sv)
        s_n(x, n)
        s_nb(x, nb)
        s_ns(x, ns)
        s_vw(x, vwap)
        return x

    return slots


#: A Candle from one record given as a tuple (``arr.tolist()`` item) of CANDLE_DTYPE:
#: ``_candle(instrument, timeframe_ns, rec)``.
_candle: Callable[[str, int, tuple[Any, ...]], Candle] = _candle_maker()


# --------------------------------------------------------------------------------------------
# The aggregator
# --------------------------------------------------------------------------------------------
#: Batches of at most this many ticks, spanning at most ``_SMALL_BUCKETS`` buckets of the
#: timeframes' common divisor, skip the vectorised kernel (:func:`_small_open` per bucket);
#: both give the same bits. The kernel's fixed cost (~40 numpy calls, bucketing, regrouping
#: per timeframe) is what a live batch or an engine slice between decision points would pay.
_SMALL = 8192

# The compiled kernel's refusal codes.
_REFUSALS = {1: "backwards", 2: "earlier", 3: "values"}
_SMALL_BUCKETS = 4

# A closed candle on its way out: (timeframe, record tuple) or (timeframe, CANDLE_DTYPE array).
_Emitted = list[tuple[int, Any]]


class CandleAggregator:
    """Incremental candles of one instrument for several timeframes.

    Feed every (validated) batch to :meth:`update`; it returns the candles that closed because a
    tick of a later bucket arrived. :meth:`advance` closes candles because time moved on without
    a tick, :meth:`flush` closes the partial last ones at the end of a stream, and
    :meth:`current` shows the forming candle. A large batch goes through the same vectorised
    kernel as :func:`aggregate` (ticks are bucketed once at the greatest common divisor of the
    timeframes; coarser candles are merged from those partials); a small one (live feeds, the
    engine's slices between decision points) through a scalar path with the same exact sums.
    Sums are exact either way, so the candles are bit-identical for any split of the stream
    into batches.
    """

    def __init__(
        self, instrument: str, timeframes_ns: Sequence[int] = DEFAULT_TIMEFRAMES_NS
    ) -> None:
        if not timeframes_ns:
            raise ValueError(f"CandleAggregator({instrument}): no timeframes given")
        self.instrument = instrument
        #: The timeframes, ascending and without duplicates.
        self.timeframes_ns: tuple[int, ...] = tuple(
            sorted({check_timeframe(t) for t in timeframes_ns})
        )
        self._base = reduce(math.gcd, self.timeframes_ns)
        self._open: dict[int, _Open | None] = dict.fromkeys(self.timeframes_ns)
        # Ticks of the latest bucket of the common divisor, not yet added to any timeframe:
        # small batches of one bucket are merged once here, not once per timeframe.
        self._pending: _Open | None = None
        self._watermark: int | None = None  # no tick may be earlier than this
        self._kernel_tfs = (self._base, *self.timeframes_ns)

    # -- feeding -------------------------------------------------------------------------------
    def update(self, batch: TickBatch) -> list[Candle]:
        """Add ``batch``; return the candles that closed, by close time then timeframe."""
        got = self._compiled(batch)
        if got is None:
            return self._sorted_candles(self._feed(batch))
        if isinstance(got, list):
            return self._sorted_candles(got)
        data, tf = got
        if not len(tf):
            return []
        inst = self.instrument
        return [_candle(inst, t, rec) for t, rec in zip(tf.tolist(), data.tolist(), strict=True)]

    def update_arrays(self, batch: TickBatch) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]]:
        """:meth:`update` as arrays, no :class:`Candle` made: the closed candles as a
        :data:`CANDLE_DTYPE` array in :meth:`update`'s order (close time, then timeframe)
        and each one's timeframe (ns). ``_candle(instrument, tf[i], data[i].item())`` is
        :meth:`update`'s ``i``-th candle, bit for bit (the engine's blocks use this:
        :class:`tradewind.blocks.BlockRows`)."""
        got = self._compiled(batch)
        if got is None:
            return self._sorted_arrays(self._feed(batch))
        if isinstance(got, list):
            return self._sorted_arrays(got)
        return got

    def advance(self, now_ns: int) -> list[Candle]:
        """Close every forming candle whose interval ended at or before ``now_ns``.

        A promise from the caller that no tick earlier than ``now_ns`` will follow; later
        batches with such ticks are refused.
        """
        self._settle()
        out: _Emitted = []
        for tf, cur in self._open.items():
            if cur is not None and cur.open_ts + tf <= now_ns:
                out.append((tf, cur.row()))
                self._open[tf] = None
        if self._watermark is None or now_ns > self._watermark:
            self._watermark = int(now_ns)
        return self._sorted_candles(out)

    def flush(self) -> list[Candle]:
        """Close and return every forming candle (end of stream), by close time then timeframe."""
        self._settle()
        out: _Emitted = []
        for tf, cur in self._open.items():
            if cur is not None:
                out.append((tf, cur.row()))
                self._open[tf] = None
        return self._sorted_candles(out)

    def current(self, timeframe_ns: int) -> Candle | None:
        """The forming (not yet closed) candle of ``timeframe_ns``, or None."""
        if timeframe_ns not in self._open:
            raise KeyError(
                f"CandleAggregator({self.instrument}) has no timeframe {timeframe_ns} ns; "
                f"it has {[format_timeframe(t) for t in self.timeframes_ns]}"
            )
        self._settle()
        cur = self._open[timeframe_ns]
        if cur is None:
            return None
        return _candle(self.instrument, timeframe_ns, cur.row())

    # -- internals -----------------------------------------------------------------------------
    def _compiled(
        self, batch: TickBatch
    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]] | _Emitted | None:
        """:meth:`_feed` by the compiled kernel (tradewind/_kernels.c: the same exact sums,
        rounded once): the closed candles as :meth:`update_arrays` returns them; for a batch
        in one bucket of the common divisor (a live batch, an engine step) its sums by the
        kernel and the small path's bookkeeping, the emitted candles as :meth:`_feed` returns
        them; None when :meth:`_feed` does it (no kernel, one tick, values the kernel leaves
        to it: a range too wide for its integers)."""
        ts = batch.ts_ns
        n = len(ts)
        if _kernels is None or n < 2:
            return None
        base = self._base
        first, last = int(ts[0]), int(ts[-1])
        if first // base == last // base:
            if batch.instrument != self.instrument:
                raise self._refusal("instrument", batch)
            state = _kernels.bucket(
                ts, batch.price, batch.size, batch.side, (first // base) * base, self._watermark
            )
            if type(state) is tuple:
                out: _Emitted = []
                self._absorb(_Open(*state), out)
                self._watermark = max(self._watermark or first, last)
                return out
            if state is not None:
                raise self._refusal(_REFUSALS[state], batch)  # type: ignore[index]
            return None
        if batch.instrument != self.instrument:
            raise self._refusal("instrument", batch)
        self._settle()
        opens = self._open
        tfs = self.timeframes_ns
        got = _kernels.candles(
            ts,
            batch.price,
            batch.size,
            batch.side,
            self._kernel_tfs,
            tuple(None if (c := opens[tf]) is None else c.open_ts for tf in tfs),
            self._watermark,
        )
        if got is None:
            return None
        if type(got) is int:
            raise self._refusal(_REFUSALS[got], batch)
        rows, tfcol, per_tf = got  # type: ignore[misc]
        data = np.frombuffer(rows, dtype=CANDLE_DTYPE)
        for tf, (slot, head_row, head, tail) in zip(tfs, per_tf, strict=True):
            cur = opens[tf]
            if slot >= 0:
                data[slot] = cur.row()  # type: ignore[union-attr]
            if head is None:
                opens[tf] = _Open(*tail)
            else:
                cur.add(head)  # type: ignore[union-attr]
                if head_row >= 0:
                    data[head_row] = cur.row()  # type: ignore[union-attr]
                    opens[tf] = _Open(*tail)
        self._watermark = max(self._watermark or first, last)
        return data, np.frombuffer(tfcol, dtype=np.int64)

    def _check(self, batch: TickBatch) -> tuple[float, float, float, float]:
        """Refuse what validation should have caught; ``(min, max)`` of prices, then sizes."""
        if batch.instrument != self.instrument:
            raise self._refusal("instrument", batch)
        ts = batch.ts_ns
        if len(ts) > 1 and bool((ts[1:] < ts[:-1]).any()):
            raise self._refusal("backwards", batch)
        if self._watermark is not None and int(ts[0]) < self._watermark:
            raise self._refusal("earlier", batch)
        return self._check_values(batch)

    def _check_values(self, batch: TickBatch) -> tuple[float, float, float, float]:
        if len(batch) == 1:
            pmin = pmax = float(batch.price[0])
            smin = smax = float(batch.size[0])
        else:
            pmin, pmax = float(batch.price.min()), float(batch.price.max())
            smin, smax = float(batch.size.min()), float(batch.size.max())
        if not (pmin > 0.0 and smin > 0.0 and pmax < math.inf and smax < math.inf):
            raise self._refusal("values", batch)
        return pmin, pmax, smin, smax

    def _checked_lists(self, batch: TickBatch) -> tuple[list[float], list[float], list[int]]:
        """:meth:`_check` on Python lists (a few ticks); the prices, sizes and sides."""
        if batch.instrument != self.instrument:
            raise self._refusal("instrument", batch)
        ts = batch.ts_ns.tolist()
        if ts != sorted(ts):
            raise self._refusal("backwards", batch)
        if self._watermark is not None and ts[0] < self._watermark:
            raise self._refusal("earlier", batch)
        prices, sizes = batch.price.tolist(), batch.size.tolist()
        # Comparisons with NaN are False: this refuses NaN too.
        for x in itertools.chain(prices, sizes):
            if not 0.0 < x < math.inf:
                raise self._refusal("values", batch)
        return prices, sizes, batch.side.tolist()

    def _refusal(self, what: str, batch: TickBatch) -> ValueError:
        me = f"CandleAggregator({self.instrument})"
        if what == "instrument":
            return ValueError(f"{me} was given a batch of {batch.instrument}")
        if what == "backwards":
            return ValueError(
                f"{me}: batch timestamps go backwards; "
                "validate ticks first (tradewind.market.validation.TickValidator)"
            )
        if what == "earlier":
            return ValueError(
                f"{me}: tick at {int(batch.ts_ns[0])} ns is earlier than "
                f"{self._watermark} ns, already aggregated; validate ticks first"
            )
        return ValueError(
            f"{me}: batch has a non-finite or non-positive "
            "price or size; validate ticks first (tradewind.market.validation)"
        )

    def _feed(self, batch: TickBatch, *, small: bool = True) -> _Emitted:
        """Add ``batch`` to the state; the closed candles in emission order."""
        out: _Emitted = []
        n = len(batch)
        if n == 0:
            return out
        ts = batch.ts_ns
        first, last = int(ts[0]), int(ts[-1])
        if small and n <= _SMALL:
            base = self._base
            if first // base == last // base:
                if 1 < n <= _SCALAR:
                    state = _list_open((first // base) * base, *self._checked_lists(batch))
                else:
                    limits = self._check(batch)
                    state = _small_open(
                        (first // base) * base, batch.price, batch.size, batch.side, limits
                    )
                self._absorb(state, out)
                self._watermark = max(self._watermark or first, last)
                return out
            inner = np.flatnonzero(np.diff(ts // base)) + 1
            if len(inner) < _SMALL_BUCKETS:
                self._check(batch)
                cuts = [0, *inner.tolist(), n]
                states = [
                    _small_open(
                        (int(ts[lo]) // base) * base,
                        batch.price[lo:hi],
                        batch.size[lo:hi],
                        batch.side[lo:hi],
                    )
                    for lo, hi in itertools.pairwise(cuts)
                ]
                for state in states:
                    self._absorb(state, out)
                self._watermark = max(self._watermark or first, last)
                return out
        self._check(batch)
        self._settle()
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            base_parts = _kernel(
                batch.ts_ns[lo:hi],
                batch.price[lo:hi],
                batch.size[lo:hi],
                batch.side[lo:hi],
                self._base,
            )
            for tf in self.timeframes_ns:
                parts = base_parts if tf == self._base else base_parts.regroup(tf)
                self._merge(tf, parts, out)
        self._watermark = max(self._watermark or first, last)
        return out

    def _absorb(self, state: _Open, out: _Emitted) -> None:
        """Add one bucket's small-path state (``open_ts`` of the common divisor's bucket).

        Same bucket as the pending ticks: merged there. A later bucket: the pending ticks go
        to every timeframe, the candles the new bucket closes are emitted, and it becomes the
        pending one.
        """
        pending = self._pending
        if pending is not None and pending.open_ts == state.open_ts:
            pending.absorb(state)
            return
        self._settle()
        t0 = state.open_ts
        for tf, cur in self._open.items():
            if cur is not None and cur.open_ts != (t0 // tf) * tf:
                out.append((tf, cur.row()))
                self._open[tf] = None
        self._pending = state

    def _settle(self) -> None:
        """Add the pending ticks to every timeframe's forming candle (same buckets)."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        for tf, cur in self._open.items():
            if cur is not None:
                cur.absorb(pending)
            elif tf == self._base:  # its bucket is the pending one: no copy needed
                self._open[tf] = pending
            else:
                self._open[tf] = pending.copy((pending.open_ts // tf) * tf)

    def _merge(self, tf: int, parts: _Parts, out: _Emitted) -> None:
        """Merge one chunk's parts of timeframe ``tf`` into the state; append closed candles."""
        g = len(parts)
        cur = self._open[tf]
        first = 0
        if cur is not None:
            if cur.open_ts == int(parts.open_ts[0]):
                cur.merge(parts, 0)
                first = 1
                if g == 1:
                    return
            out.append((tf, cur.row()))
        if g - 1 > first:
            out.append((tf, _rows(parts, slice(first, g - 1))))
        self._open[tf] = _Open.from_part(parts, g - 1)

    def _sorted_candles(self, emitted: _Emitted) -> list[Candle]:
        if not emitted:
            return []
        inst = self.instrument
        if len(emitted) == 1 and type(emitted[0][1]) is tuple:  # one candle closed (a 1m close)
            only_tf, only_rec = emitted[0]
            return [_candle(inst, only_tf, only_rec)]
        if all(type(item) is tuple for _, item in emitted):  # the scalar paths: a few candles
            if len(emitted) > 1:
                emitted.sort(key=lambda e: (e[1][0] + e[0], e[0]))
            return [_candle(inst, tf, rec) for tf, rec in emitted]
        data, tf = self._sorted_arrays(emitted)
        return [_candle(inst, t, rec) for t, rec in zip(tf.tolist(), data.tolist(), strict=True)]

    def _sorted_arrays(
        self, emitted: _Emitted
    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]]:
        """The emitted candles as one :data:`CANDLE_DTYPE` array by close time then
        timeframe (unique keys: the same order as the scalar paths' sort), and their
        timeframes."""
        if not emitted:
            return np.empty(0, dtype=CANDLE_DTYPE), np.empty(0, dtype=np.int64)
        if all(type(item) is tuple for _, item in emitted):
            if len(emitted) > 1:
                emitted.sort(key=lambda e: (e[1][0] + e[0], e[0]))
            return (
                np.array([rec for _, rec in emitted], dtype=CANDLE_DTYPE),
                np.array([t for t, _ in emitted], dtype=np.int64),
            )
        arrays = [
            np.array([item], dtype=CANDLE_DTYPE) if type(item) is tuple else item
            for _, item in emitted
        ]
        data = np.concatenate(arrays)
        tfs = [t for t, _ in emitted]
        tf = np.concatenate(
            [np.full(len(arr), t, dtype=np.int64) for t, arr in zip(tfs, arrays, strict=True)]
        )
        order = np.lexsort((tf, data["open_ts_ns"] + tf))
        # take: data[order] without the structured array's field-by-field fancy indexing
        # (~30x slower; the same records).
        return data.take(order), tf[order]

    def __repr__(self) -> str:
        tfs = ",".join(format_timeframe(t) for t in self.timeframes_ns)
        return f"CandleAggregator({self.instrument!r}, [{tfs}])"


def aggregate(batch: TickBatch, timeframe_ns: int) -> CandleArray:
    """Candles of one timeframe from one batch of sorted, validated ticks (replay path).

    The last candle is included even if its bucket might continue in a later batch; use
    :class:`CandleAggregator` for streams. Output is bit-identical to feeding the same ticks to
    a :class:`CandleAggregator` in any number of batches and flushing. Always the vectorised
    kernel (the reference the aggregator's small-batch path is tested against).
    """
    tf = check_timeframe(timeframe_ns)
    agg = CandleAggregator(batch.instrument, [tf])
    emitted = agg._feed(batch, small=False)
    cur = agg._open[tf]
    if cur is not None:
        emitted.append((tf, cur.row()))
    arrays = [
        np.array([item], dtype=CANDLE_DTYPE) if type(item) is tuple else item for _, item in emitted
    ]
    data = np.concatenate(arrays) if arrays else np.empty(0, dtype=CANDLE_DTYPE)
    return CandleArray(instrument=batch.instrument, timeframe_ns=tf, data=data)
