"""A streaming market (volume) profile over a rolling time window: POC, VAH and VAL.

Prices are counted in integer ticks and volumes in integer multiples of a quantum, so the
volume of every bin is an exact integer: adding a trade and later expiring it leaves no
residue, and ties between bins are decided the same way as a recount from scratch would.

Rules (docs/analyzers/profile.md has worked examples):

- A bin holds ``bin_ticks`` consecutive tick prices: bin ``b`` holds ticks
  ``b*k .. b*k + k - 1`` (``k = bin_ticks``). A trade at price ``p`` goes to bin
  ``floor(round(p / tick) / k)``.
- POC: the bin with the most volume. Ties go to the bin closest to the middle of the profile's
  range (the midpoint of the lowest and highest bins with volume, the classic Market Profile
  rule); if two are equally close, the lower one. The reported POC is the middle of that bin's
  tick prices (the price itself when ``k = 1``).
- Value area: start from the POC and add one bin at a time until the area holds at least
  ``value_area_pct`` of the window's volume. The candidates are the next bin with volume above
  the area and the next bin with volume below it (empty bins add nothing and are skipped); the
  one with more volume is added. On equal volume the one nearer the POC is added, and if both
  are equally near, the lower one. When one side is exhausted the other side is taken.
- VAH is the highest tick price of the top bin of the area, VAL the lowest tick price of its
  bottom bin.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from decimal import Decimal
from fractions import Fraction

import attrs
import numpy as np
import numpy.typing as npt

try:
    from tradewind_analyzer_profile import _kernel
except ImportError as exc:  # pragma: no cover - an environment installed before the kernel
    raise ImportError(
        "tradewind_analyzer_profile: its compiled kernel (_kernel.c) is not built in this "
        "environment; reinstall the plugin (pip install -e plugins/analyzers/profile, or "
        "tox -r for a tox env made before the kernel existed); it needs a C compiler and "
        f"Python's headers: {exc}"
    ) from exc

_KERNEL_CALLS = (
    "value_area",
    "dense_add",
    "dense_levels",
    "dense_rows",
    "apply_ranges",
    "zone_gap_rows",
    "dense_poc",
)
if missing := [name for name in _KERNEL_CALLS if not hasattr(_kernel, name)]:
    # An in-place build (an editable install) from an older checkout: a clear error at import
    # instead of an AttributeError in the middle of a run.
    raise ImportError(
        "tradewind_analyzer_profile: its compiled kernel is older than its Python code (it "
        f"lacks {', '.join(missing)}); rebuild it: pip install -e plugins/analyzers/profile "
        "(or tox -r for the tox env)"
    )


@attrs.frozen(kw_only=True)
class ProfileLevels:
    """The key levels of one profile, in price units."""

    poc: float
    vah: float
    val: float
    #: Total volume in the window (in size units).
    volume: float
    #: Volume inside the value area (in size units).
    value_area_volume: float
    #: Number of bins with volume.
    bins: int


@attrs.frozen(kw_only=True)
class BinLevels:
    """The key levels of one profile as bin indices (exact; what the tests compare)."""

    poc_bin: int
    val_bin: int
    vah_bin: int
    total: int
    value_area_total: int


def value_area(bins: list[int], volumes: list[int], value_area_pct: Fraction) -> BinLevels | None:
    """POC and value-area bins of a profile given as sorted bin indices with positive volumes.

    Runs in O(len(bins)). See the module docstring for the tie rules.
    """
    n = len(bins)
    if n == 0:
        return None
    total = sum(volumes)
    best = max(volumes)
    poc = volumes.index(best)
    if volumes.count(best) > 1:
        mid2 = bins[0] + bins[-1]  # twice the range's midpoint, in bin units: stays an integer
        poc = min(
            (i for i in range(poc, n) if volumes[i] == best),
            key=lambda i: (abs(2 * bins[i] - mid2), bins[i]),
        )
    lo = hi = poc
    acc = volumes[poc]
    # acc * den < num * total  <=>  acc < ceil(num * total / den)  (acc is an integer)
    need = -(-(value_area_pct.numerator * total) // value_area_pct.denominator)
    pb = bins[poc]
    last = n - 1
    while acc < need:
        if hi < last:
            if lo > 0:
                vu, vd = volumes[hi + 1], volumes[lo - 1]
                # More volume first; equal volume: nearer the POC; equally near, the lower.
                if vu > vd or (vu == vd and bins[hi + 1] - pb < pb - bins[lo - 1]):
                    hi += 1
                    acc += vu
                else:
                    lo -= 1
                    acc += vd
            else:
                hi += 1
                acc += volumes[hi]
        else:
            lo -= 1
            acc += volumes[lo]
    return BinLevels(
        poc_bin=bins[poc], val_bin=bins[lo], vah_bin=bins[hi], total=total, value_area_total=acc
    )


def profile_value_area(volume: dict[int, int], value_area_pct: Fraction) -> BinLevels | None:
    """:func:`value_area` of a profile given as a dict bin -> positive volume.

    The compiled kernel (``_kernel.c``: the same integer rules, bins sorted by a dense pass
    over their range) when every number fits in 64 bits, else the Python function.
    """
    got = _kernel.value_area(volume, value_area_pct.numerator, value_area_pct.denominator)
    if got is None:
        return None
    if got is NotImplemented:
        bins = sorted(volume)
        return value_area(bins, list(map(volume.__getitem__, bins)), value_area_pct)
    poc, val, vah, total, acc = got
    return BinLevels(poc_bin=poc, val_bin=val, vah_bin=vah, total=total, value_area_total=acc)


#: The widest range of bins (lowest to highest with volume) kept in the dense array: 65,536
#: bins are 512 KiB and a value area scans them in tens of microseconds. Wider (a stray print
#: far from the rest), the volumes go to a dict until they narrow to a quarter of this.
DENSE_MAX = 1 << 16

#: Batches and expiries of at most this many trades take a pure-Python path: for a handful of
#: trades numpy's per-call overhead (~1 µs a call) costs more than the loop it replaces.
SMALL = 24


class _Chunk:
    """Trades of one added batch still (partly) inside the window.

    Columns are numpy arrays for large batches and Python lists for small ones.
    """

    __slots__ = ("bins", "head", "last", "qty", "ts")

    def __init__(
        self,
        ts: npt.NDArray[np.int64] | list[int],
        bins: npt.NDArray[np.int64] | list[int],
        qty: npt.NDArray[np.int64] | list[int],
    ) -> None:
        self.ts = ts
        self.bins = bins
        self.qty = qty
        self.head = 0  # rows before head have expired
        self.last = int(ts[-1])

    def stop_before(self, cutoff: int) -> int:
        """Index of the first row at or after ``cutoff``."""
        if self.last < cutoff:  # the usual case: the whole chunk leaves, no search
            return len(self.ts)
        if isinstance(self.ts, list):
            return bisect_left(self.ts, cutoff, self.head)
        return int(np.searchsorted(self.ts, cutoff, side="left"))


def _grouped(
    bins: npt.NDArray[np.int64], qty: npt.NDArray[np.int64]
) -> tuple[list[int], list[int]]:
    """Per distinct bin, the summed quantity (exact integer sums), as Python ints."""
    if len(bins) == 1:
        return [int(bins[0])], [int(qty[0])]
    order = np.argsort(bins, kind="stable")
    sb = bins[order]
    starts = np.flatnonzero(np.concatenate(([True], sb[1:] != sb[:-1])))
    sums = np.add.reduceat(qty[order], starts)
    return sb[starts].tolist(), sums.tolist()


class VolumeProfile:
    """Volume by price bin over the trades of the last ``window_ns`` nanoseconds.

    Cost: each trade is binned once when added and once when it expires (numpy, vectorised per
    batch), then one update of the dense volume array (compiled kernel): O(1) per trade.
    :meth:`levels` scans the array between the lowest and highest bins with volume once
    (compiled), and is cached until the profile changes.
    """

    def __init__(
        self,
        *,
        window_ns: int,
        tick_size: Decimal,
        bin_ticks: int,
        volume_quantum: Decimal,
        value_area_pct: float | Fraction,
    ) -> None:
        if window_ns <= 0 or bin_ticks <= 0 or tick_size <= 0 or volume_quantum <= 0:
            raise ValueError("window_ns, bin_ticks, tick_size and volume_quantum must be positive")
        self.window_ns = window_ns
        self.tick_size = tick_size
        self.bin_ticks = bin_ticks
        self.volume_quantum = volume_quantum
        self.value_area_pct = (
            value_area_pct
            if isinstance(value_area_pct, Fraction)
            else Fraction(Decimal(str(value_area_pct)))
        )
        self._tick_f = float(tick_size)
        self._quantum_f = float(volume_quantum)
        # Volume per bin: a dense int64 array (``_dense[i]`` is bin ``_base + i``), re-centred
        # when a trade falls outside it; a dict bin -> volume (``_volume``) instead while the
        # bins with volume spread over more than DENSE_MAX bins (a stray print far away).
        self._dense: npt.NDArray[np.int64] | None = np.zeros(0, dtype=np.int64)
        self._base = 0
        self._volume: dict[int, int] = {}
        self._total = 0
        self._chunks: deque[_Chunk] = deque()
        self._now = np.iinfo(np.int64).min
        self._pct = (self.value_area_pct.numerator, self.value_area_pct.denominator)
        # The levels as (poc, val, vah, total, va_total) bins, recomputed when _dirty; the
        # BinLevels of them made on the first bin_levels() read (poc() needs only the POC).
        self._raw: tuple[int, int, int, int, int] | None = None
        self._cache: BinLevels | None = None
        self._dirty = False
        # The POC bin alone (``_kernel.dense_poc``) of the volumes the levels are stale for
        # (``_dirty``): what a read of the POC alone computes; forgotten on every change.
        self._poc_bin: int | None = None
        self._last_poc: tuple[int, float] | None = None
        # A BlockWindow whose closes were computed ahead (_kernel.dense_rows): the volumes
        # above stay at the close it has applied, and catch up on the first read or change
        # (_settle); bin_count() is the current close's, kept here meanwhile.
        self._ahead: BlockWindow | None = None
        self._held = 0

    def _settle(self, detach: bool = False) -> None:
        """Bring the volumes to the close a BlockWindow computed ahead has reached; with
        ``detach`` (the volumes are about to change), its remaining closes go close by
        close."""
        if self._ahead is not None:
            self._ahead.catch_up(detach)

    # -- streaming ------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        """The exclusive end of the window (the latest instant seen)."""
        return int(self._now)

    def add(
        self,
        ts_ns: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
    ) -> None:
        """Add trades (sorted by time, not older than trades already added) and advance."""
        if len(ts_ns) == 0:
            return
        self._settle(detach=True)
        now = max(self._now, int(ts_ns[-1]) + 1)
        cutoff = now - self.window_ns
        start = 0 if ts_ns[0] >= cutoff else int(np.searchsorted(ts_ns, cutoff, side="left"))
        n = len(ts_ns) - start
        if 0 < n <= SMALL:
            if start:
                ts_ns, price, size = ts_ns[start:], price[start:], size[start:]
            tick, quantum, k = self._tick_f, self._quantum_f, self.bin_ticks
            ts_l: list[int] = ts_ns.tolist()
            # round() and np.rint both round half to even: both paths bin identically.
            bins_l = [round(p / tick) // k for p in price.tolist()]
            qty_l = [round(q / quantum) for q in size.tolist()]
            self._credit(bins_l, qty_l)
            self._chunks.append(_Chunk(ts_l, bins_l, qty_l))
        elif n > 0:
            ts = np.asarray(ts_ns[start:], dtype=np.int64)
            ticks = np.rint(np.asarray(price[start:]) / self._tick_f).astype(np.int64)
            bins = ticks // self.bin_ticks
            qty = np.rint(np.asarray(size[start:]) / self._quantum_f).astype(np.int64)
            self._credit(bins, qty)
            self._chunks.append(_Chunk(ts, bins, qty))
        self.advance(now)

    def _credit(
        self, bins: npt.NDArray[np.int64] | list[int], qty: npt.NDArray[np.int64] | list[int]
    ) -> None:
        """Add trades' volumes (bins and quantities: lists of ints or int64 arrays)."""
        self._apply(bins, qty, 1)

    def _debit(
        self, bins: npt.NDArray[np.int64] | list[int], qty: npt.NDArray[np.int64] | list[int]
    ) -> None:
        """Remove trades' volumes (trades added before and leaving the window)."""
        self._apply(bins, qty, -1)

    def _apply(
        self,
        bins: npt.NDArray[np.int64] | list[int],
        qty: npt.NDArray[np.int64] | list[int],
        sign: int,
    ) -> None:
        if len(bins) == 0:
            return
        while self._dense is not None:
            got = _kernel.dense_add(self._dense, self._base, bins, qty, sign)
            if isinstance(got, int):
                if got:
                    self._total += got
                    self._dirty = True
                    self._poc_bin = None
                return
            self._refit(*got)
        if not isinstance(bins, list):
            if len(bins) <= SMALL:
                bins, qty = bins.tolist(), qty.tolist()  # type: ignore[union-attr]
            else:
                bins, qty = _grouped(bins, qty)  # type: ignore[arg-type]
        volume = self._volume
        for b, q in zip(bins, qty, strict=True):
            if q:
                left = volume.get(b, 0) + sign * q
                if left:
                    volume[b] = left
                else:
                    del volume[b]
                self._total += sign * q
                self._dirty = True
                self._poc_bin = None

    def _refit(self, lo: int, hi: int) -> None:
        """Re-centre the dense array on the bins with volume and bins ``lo..hi`` (with room on
        both sides), or hand the volumes to the dict when they would spread over more than
        DENSE_MAX bins."""
        dense = self._dense
        assert dense is not None
        held = np.flatnonzero(dense)
        if len(held):
            lo = min(lo, self._base + int(held[0]))
            hi = max(hi, self._base + int(held[-1]))
        span = hi - lo + 1
        if span > DENSE_MAX:
            self._volume = {self._base + int(i): int(dense[i]) for i in held}
            self._dense = None
            return
        room = max(64, span // 2)
        fresh = np.zeros(span + 2 * room, dtype=np.int64)
        base = lo - room
        if len(held):
            first, last = int(held[0]), int(held[-1])
            at = self._base + first - base
            fresh[at : at + last - first + 1] = dense[first : last + 1]
        self._dense, self._base = fresh, base

    def _redense(self) -> None:
        """Back to the dense array once the dict's bins with volume span few enough bins."""
        volume = self._volume
        lo, hi = min(volume), max(volume)
        if hi - lo + 1 > DENSE_MAX // 4:
            return
        room = max(64, (hi - lo + 1) // 2)
        dense = np.zeros(hi - lo + 1 + 2 * room, dtype=np.int64)
        base = lo - room
        for b, v in volume.items():
            dense[b - base] = v
        self._dense, self._base, self._volume = dense, base, {}

    def advance(self, now_ns: int) -> None:
        """Move the window's end to ``now_ns`` (never backwards) and expire old trades."""
        if now_ns <= self._now:
            return
        self._settle(detach=True)
        self._now = now_ns
        cutoff = now_ns - self.window_ns
        while self._chunks:
            chunk = self._chunks[0]
            if chunk.head == 0 and chunk.last < cutoff:
                # The usual case: the whole chunk leaves (no search, no slices).
                self._debit(chunk.bins, chunk.qty)
                self._chunks.popleft()
                continue
            if chunk.ts[chunk.head] >= cutoff:
                break
            head, stop = chunk.head, chunk.stop_before(cutoff)
            self._debit(chunk.bins[head:stop], chunk.qty[head:stop])
            if stop >= len(chunk.ts):
                self._chunks.popleft()
            else:
                chunk.head = stop

    # -- reading --------------------------------------------------------------------------
    def bin_volumes(self) -> dict[int, int]:
        """Volume per bin (in quanta), bins with volume only, in bin order; a copy."""
        self._settle()
        dense = self._dense
        if dense is None:
            return dict(sorted(self._volume.items()))
        held = np.flatnonzero(dense)
        return dict(zip((held + self._base).tolist(), dense[held].tolist(), strict=True))

    def bin_count(self) -> int:
        """Number of bins with volume."""
        if self._ahead is not None:
            return self._held
        dense = self._dense
        return len(self._volume) if dense is None else int(np.count_nonzero(dense))

    def _levels_raw(self) -> tuple[int, int, int, int, int] | None:
        """(poc, val, vah, total, value-area total) in bins, recomputed if the profile
        changed; None when the window holds no volume."""
        if self._dirty:
            self._dirty = False
            self._cache = None
            dense = self._dense
            got = (
                None
                if dense is None
                else _kernel.dense_levels(dense, self._base, self._pct[0], self._pct[1])
            )
            if dense is None or got is NotImplemented:
                # The dict, or a total past 64 bits: Python's integers.
                lv = profile_value_area(
                    self._volume if dense is None else self.bin_volumes(), self.value_area_pct
                )
                got = (
                    None
                    if lv is None
                    else (lv.poc_bin, lv.val_bin, lv.vah_bin, lv.total, lv.value_area_total)
                )
                if dense is None and self._volume:
                    self._redense()
            self._raw = got  # type: ignore[assignment]
        return self._raw

    def bin_levels(self) -> BinLevels | None:
        """POC and value area as bin indices; None when the window holds no volume."""
        raw = self._levels_raw()
        if raw is None:
            return None
        lv = self._cache
        if lv is None:
            poc, val, vah, total, acc = raw
            lv = self._cache = BinLevels(
                poc_bin=poc, val_bin=val, vah_bin=vah, total=total, value_area_total=acc
            )
        return lv

    def levels(self) -> ProfileLevels | None:
        """POC, VAH, VAL in price units; None when the window holds no volume."""
        lv = self.bin_levels()
        if lv is None:
            return None
        k = self.bin_ticks
        tick = self.tick_size
        return ProfileLevels(
            poc=self._poc_price(lv.poc_bin),
            vah=float(Decimal(lv.vah_bin * k + k - 1) * tick),
            val=float(Decimal(lv.val_bin * k) * tick),
            volume=float(Decimal(lv.total) * self.volume_quantum),
            value_area_volume=float(Decimal(lv.value_area_total) * self.volume_quantum),
            bins=self.bin_count(),
        )

    def poc(self) -> float | None:
        """The POC's price alone (what :meth:`levels` reports as ``poc``, the same float);
        None when the window holds no volume. Charted at every close by the default report:
        this skips the conversions of the other levels and reuses the last POC's price.

        While the levels are stale (the volumes changed since they were computed) and the
        volumes are in the dense array, the POC alone is computed (``_kernel.dense_poc``: the
        same rule on the same integers as the levels' POC, without the value area's growth
        and total) and kept until the next change; the levels wait for their own read."""
        if self._dirty and self._dense is not None and self._ahead is None:
            poc_bin = self._poc_bin
            if poc_bin is None:
                poc_bin = _kernel.dense_poc(self._dense, self._base)
                if poc_bin is None:
                    return None
                self._poc_bin = poc_bin
            return self._poc_price(poc_bin)
        raw = self._levels_raw()
        return None if raw is None else self._poc_price(raw[0])

    def _poc_price(self, poc_bin: int) -> float:
        """The middle of bin ``poc_bin`` in price units (the last one's kept)."""
        last = self._last_poc
        if last is not None and last[0] == poc_bin:
            return last[1]
        k = self.bin_ticks
        # Decimal keeps prices on the tick grid (50000.1, not 50000.100000000006).
        price = float(Decimal(2 * poc_bin * k + k - 1) * self.tick_size / 2)
        self._last_poc = (poc_bin, price)
        return price


_INT64_MIN = int(np.iinfo(np.int64).min)


def _bin_trades(
    profile: VolumeProfile,
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    cutoffs: npt.NDArray[np.int64],
    n_rows: int,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.intp], npt.NDArray[np.intp]
]:
    """A block's trades binned as :meth:`VolumeProfile.add` bins them (np.rint and round()
    both round half to even), their quantities in quanta, the close at which each leaves the
    window (``leave``: the first close whose cutoff is past it) and ``first[r]``, the first
    trade with ``leave >= r``: numpy's version of ``_kernel.bin_trades`` (and its reference
    in the tests)."""
    bins = np.rint(price / profile._tick_f).astype(np.int64)
    bins //= profile.bin_ticks
    qty = np.rint(size / profile._quantum_f).astype(np.int64)
    leave = np.searchsorted(cutoffs, ts, side="right")
    first = np.searchsorted(leave, np.arange(n_rows + 1), side="left")
    return bins, qty, leave, first


class BlockWindow:
    """A :class:`VolumeProfile` advanced over a block of trades and its decision closes.

    The per-candle path feeds the trades before each close through :meth:`VolumeProfile.add`
    and the close through :meth:`VolumeProfile.advance`. At close ``r`` the window then holds
    the block's trades fed so far whose time is at or after ``now_r - window_ns`` (``now_r``:
    the latest of the closes and the last trade + 1 so far), plus the older trades still in it.
    Here every trade of the block is binned once (numpy) and the close at which it leaves the
    window is found by one search; as the times are sorted, the trades entering and the trades
    leaving at each close are two contiguous ranges, which the compiled kernel
    (``_kernel.apply_ranges``) nets per bin and applies to the volume dict close by close: the
    same integer volumes, so the same levels, as feeding the trades slice by slice.
    """

    __slots__ = (
        "_ahead",
        "_ahead_rows",
        "_applied",
        "_bins",
        "_extent",
        "_n_rows",
        "_nows",
        "_profile",
        "_qty",
        "_ranges_arr",
        "_rest",
        "_row",
        "_scratch",
        "_tried",
    )

    def __init__(
        self,
        profile: VolumeProfile,
        ts_ns: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
        ends: npt.NDArray[np.int64],
        closes: npt.NDArray[np.int64],
    ) -> None:
        self._profile = profile
        self._row = 0
        n_rows = len(ends)
        fed = int(ends[-1]) if n_rows else 0
        ts = np.asarray(ts_ns[:fed], dtype=np.int64)
        # now at each close: the latest of the previous now, the close, the last trade + 1.
        last = np.full(n_rows, _INT64_MIN, dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1]))
        nonempty = ends > starts
        last[nonempty] = ts[ends[nonempty] - 1] + 1
        nows = np.maximum(np.maximum(last, closes), profile._now)
        nows = np.maximum.accumulate(nows)
        self._n_rows = n_rows
        self._nows = nows
        cutoffs = nows - profile.window_ns
        # A trade fed before close r (index < ends[r]) is in the window at the closes from
        # there up to, not including, `leave` (the first close whose cutoff is past it);
        # first[r]: the first trade with leave >= r (leave is sorted, as the times are).
        # The trades binned as VolumeProfile.add bins them, and first, in one kernel pass
        # (bin_trades); numpy (the same integers) where the kernel declines.
        bins = np.empty(fed, dtype=np.int64)
        qty = np.empty(fed, dtype=np.int64)
        first = np.empty(n_rows + 1, dtype=np.int64)
        price_f = np.ascontiguousarray(price[:fed], dtype=np.float64)
        size_f = np.ascontiguousarray(size[:fed], dtype=np.float64)
        ts = np.ascontiguousarray(ts)
        done = _kernel.bin_trades(
            ts,
            price_f,
            size_f,
            profile._tick_f,
            profile.bin_ticks,
            profile._quantum_f,
            np.ascontiguousarray(cutoffs, dtype=np.int64),
            bins,
            qty,
            first,
        )
        # The block's trades still in the window after the last close, for later expiry.
        # The kernel's extent of the trades (bins, positive quantities) spares dense_rows
        # its own pass over them.
        self._extent: tuple[int, int, int] | None = None
        if done is not NotImplemented:
            if done[2] >= 0:
                self._extent = done
            gone = int(first[n_rows])  # leave is sorted: the trades from there on stay
            rest: tuple[npt.NDArray[np.int64], ...] = (ts[gone:], bins[gone:], qty[gone:])
        else:
            bins, qty, leave, first = _bin_trades(profile, ts, price_f, size_f, cutoffs, n_rows)
            stay = leave >= n_rows
            rest = (ts[stay], bins[stay], qty[stay])
        held = rest[2] != 0
        self._rest = _Chunk(*(a[held] for a in rest)) if held.any() else None
        prev_end = np.concatenate(([0], ends[:-1])).astype(np.int64)
        # At close r, trades first[r]..first[r+1] leave if they entered before r (index <
        # prev_end[r]); trades prev_end[r]..ends[r] enter if still in at r (index >= first[r+1]).
        ranges = np.stack(
            (first[:-1], np.minimum(first[1:], prev_end), np.maximum(prev_end, first[1:]), ends),
            axis=1,
        )
        self._ranges_arr = np.ascontiguousarray(ranges, dtype=np.int64)
        # The closes from row _ahead[0] on, computed in one kernel call once no trade from
        # before the block is left to expire: (first row, raw levels per row, bins with
        # volume per row); the volumes after the last row in _scratch, the profile's own
        # array applied up to row _applied (see catch_up).
        # (the levels per row as dense_rows writes them: has, poc, val, vah, total, va, bins
        # with volume; as lists once row() reads them)
        self._ahead: tuple[int, npt.NDArray[np.int64]] | None = None
        self._ahead_rows: list[list[int]] | None = None
        self._scratch: npt.NDArray[np.int64] | None = None
        self._applied = 0
        self._tried = False
        self._bins = np.ascontiguousarray(bins)
        self._qty = np.ascontiguousarray(qty)

    def row(self, r: int) -> None:
        """Bring the profile to close ``r`` (rows in order, each once)."""
        if r != self._row:
            raise ValueError(f"BlockWindow: row {r} requested, expected row {self._row}")
        self._row += 1
        p = self._profile
        ahead = self._ahead
        if ahead is None and not self._tried and not p._chunks and p._dense is not None:
            ahead = self._compute_ahead(r)
        if ahead is not None:
            # The close's levels, computed ahead; nothing from before the block is left to
            # expire, so advancing the window only moves its end.
            now = self._now_at(r)
            if now > p._now:
                p._now = now
            first, levels = ahead
            rows = self._ahead_rows
            if rows is None:
                rows = self._ahead_rows = levels.tolist()
            x = rows[r - first]
            raw = (x[1], x[2], x[3], x[4], x[5]) if x[0] else None
            p._raw, p._cache, p._dirty = raw, None, False
            p._total = 0 if raw is None else raw[3]
            p._held = x[6]
            return
        p.advance(self._now_at(r))  # expires trades from before the block
        self._apply_row(r)
        self._applied = r + 1

    def run(self) -> npt.NDArray[np.int64]:
        """Every close in turn (what :meth:`row` for each row gives): per row (has volume:
        0 or 1, poc, val, vah, total, value-area total), the levels in bins (zeros without
        volume). Once the closes are computed ahead the rest are read off that array, and
        the profile is left at the last close as :meth:`row` leaves it; :meth:`finish`
        follows."""
        p = self._profile
        n = self._n_rows
        out = np.zeros((n, 6), dtype=np.int64)
        for r in range(n):
            ahead = self._ahead
            if ahead is None and not self._tried and not p._chunks and p._dense is not None:
                # row(r) would compute them here (the same test, before its window moves)
                ahead = self._compute_ahead(r)
            if ahead is not None:
                first, levels = ahead
                out[r:] = levels[r - first :, :6]
                last = n - 1
                self._row = n
                now = int(self._nows[last])
                if now > p._now:
                    p._now = now
                x = levels[last - first].tolist()
                raw = (x[1], x[2], x[3], x[4], x[5]) if x[0] else None
                p._raw, p._cache, p._dirty = raw, None, False
                p._total = 0 if raw is None else raw[3]
                p._held = x[6]
                break
            self.row(r)
            raw = p._levels_raw()
            if raw is not None:
                out[r, 0] = 1
                out[r, 1:] = raw
        return out

    @property
    def nows(self) -> npt.NDArray[np.int64]:
        """The window's end after each close."""
        return self._nows

    def _now_at(self, r: int) -> int:
        """The window's end after close ``r``, as an int (the closes stepped one by one are
        few: no list of every close is made)."""
        return int(self._nows[r])

    def _apply_row(self, r: int) -> None:
        """Close ``r``'s trades leaving and entering the window, applied to the profile."""
        p = self._profile
        s0, s1, a0, a1 = self._ranges_arr[r].tolist()
        if s1 > s0 or a1 > a0:
            if p._dense is not None:
                # leaving first: no bin's volume goes below zero on the way (_debit and
                # _credit, without their calls: this runs at every close)
                if s1 > s0:
                    p._apply(self._bins[s0:s1], self._qty[s0:s1], -1)
                if a1 > a0:
                    p._apply(self._bins[a0:a1], self._qty[a0:a1], 1)
            else:
                p._total += _kernel.apply_ranges(p._volume, self._bins, self._qty, s0, s1, a0, a1)
            p._dirty = True
            p._poc_bin = None

    def _compute_ahead(self, r: int) -> tuple[int, npt.NDArray[np.int64]] | None:
        """Every close from ``r`` on in one kernel call (``_kernel.dense_rows``, the same
        integer volumes and levels as :meth:`row`'s per-close updates), on a copy of the
        profile's array; None (close by close, then) when the block's bins would spread
        over more than DENSE_MAX bins or a total could pass 64 bits."""
        self._tried = True
        p = self._profile
        ranges = self._ranges_arr[r:]
        out = np.empty((len(ranges), 7), dtype=np.int64)
        num, den = p._pct
        while True:
            dense = p._dense
            if dense is None:
                return None
            scratch = dense.copy()
            got = _kernel.dense_rows(
                scratch, p._base, self._bins, self._qty, ranges, num, den, out, self._extent
            )
            if got is None:
                break
            if got is NotImplemented:
                return None
            lo, hi = got
            held = np.flatnonzero(dense)
            if len(held):
                lo, hi = min(lo, p._base + int(held[0])), max(hi, p._base + int(held[-1]))
            if hi - lo + 1 > DENSE_MAX:
                return None
            # Re-centred once for the whole block (the per-close path would re-centre on the
            # way): the same volumes, so the same levels.
            p._refit(*got)
        self._ahead = (r, out)
        self._ahead_rows = None
        self._scratch = scratch
        p._ahead = self
        return self._ahead

    def catch_up(self, detach: bool = False) -> None:
        """Bring the profile's own array to the closes reached so far (a read or a change
        of the volumes in the middle of a block computed ahead); with ``detach``, or after
        the last close, the rest of the block goes close by close on that array."""
        p = self._profile
        p._ahead = None  # _apply below must not come back here
        for r in range(self._applied, self._row):
            self._apply_row(r)
        self._applied = self._row
        if detach or self._row >= self._n_rows:
            self._ahead, self._ahead_rows, self._scratch = None, None, None
        else:
            p._ahead = self
            p._dirty = False  # the levels are the current close's, computed ahead

    def finish(self) -> None:
        """After the last close: keep the block's trades still in the window for expiry."""
        if self._row != self._n_rows:
            raise ValueError(f"BlockWindow: finished after {self._row} of {self._n_rows} rows")
        p = self._profile
        if p._ahead is self:
            # The copy the closes were computed on holds the volumes after the last one.
            assert self._scratch is not None
            p._dense, p._ahead, self._scratch = self._scratch, None, None
        if self._rest is not None:
            self._profile._chunks.append(self._rest)
