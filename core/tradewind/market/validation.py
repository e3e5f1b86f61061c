"""Validation of trade ticks before they reach candles, analyzers or the store.

Every tick of a batch is either accepted or rejected under exactly one reason, checked in this
order (the first that applies wins):

``nan_price``        price is NaN or ±inf
``nonpositive_price`` price <= 0
``nan_size``         size is NaN or ±inf
``nonpositive_size`` size <= 0
``duplicate_id``     the trade id was already seen (earlier in the batch, or recently before)
``out_of_order``     the timestamp is earlier than the previous accepted tick's

Nothing is dropped silently: the counts per reason come back with the clean batch, and
:class:`TickValidator` keeps cumulative counts per instrument. The checks are vectorised; a
batch that is already clean is returned as is, without a copy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import attrs
import numpy as np
import numpy.typing as npt

from tradewind.model.frozen import builder
from tradewind.model.ticks import TickBatch

__all__ = [
    "REASONS",
    "RecentIds",
    "TickValidator",
    "ValidationResult",
    "validate",
]

#: The rejection reasons, in the order they are checked.
REASONS: tuple[str, ...] = (
    "nan_price",
    "nonpositive_price",
    "nan_size",
    "nonpositive_size",
    "duplicate_id",
    "out_of_order",
)
_NAN_PRICE, _NONPOS_PRICE, _NAN_SIZE, _NONPOS_SIZE, _DUPLICATE, _OUT_OF_ORDER = range(1, 7)


#: Calls of :meth:`RecentIds.add_later` held at most before they are added.
_PENDING_MAX = 64


class RecentIds:
    """The trade ids of the last ``capacity`` ticks that passed the value checks.

    Exchanges resend trades after a reconnect, usually within seconds, so a bounded window of
    recent ids catches duplicates without growing forever. Membership is a binary search in a
    sorted copy; when ids only increase (the common case) the search is skipped. The window
    lives in a buffer of twice its capacity, so adding a few ids costs a few ids, not a copy
    of the window.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"RecentIds capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._buf = np.empty(2 * capacity, dtype=np.int64)
        self._start = 0
        self._end = 0
        self._increasing = True  # the window, in arrival order, strictly increases
        self._sorted_copy: npt.NDArray[np.int64] | None = None  # when it does not
        self._bound: int | None = None  # >= every remembered id (exact while increasing)
        self._newest = 0  # the last id added (when the window is not empty)
        #: Ids given to :meth:`add_later` not added yet (each with its ``increasing``),
        #: added in one :meth:`add` before anything reads the window.
        self._pending: list[tuple[npt.NDArray[np.int64], bool | None]] = []

    def __len__(self) -> int:
        if self._pending:
            self._flush()
        return self._end - self._start

    @property
    def _fifo(self) -> npt.NDArray[np.int64]:
        """The window in arrival order, oldest first (a view)."""
        if self._pending:
            self._flush()
        return self._buf[self._start : self._end]

    def _sorted(self) -> npt.NDArray[np.int64]:
        if self._pending:
            self._flush()
        if self._increasing:
            return self._fifo
        if self._sorted_copy is None:
            fifo = self._fifo
            if len(fifo) < 2 or bool((fifo[1:] > fifo[:-1]).all()):
                self._increasing = True  # the ids that broke the order have left the window
                return fifo
            self._sorted_copy = np.sort(fifo)
        return self._sorted_copy

    @property
    def max_id(self) -> int | None:
        """The largest remembered id, or None."""
        srt = self._sorted()
        return int(srt[-1]) if len(srt) else None

    def contains(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """A mask: which of ``ids`` are remembered."""
        srt = self._sorted()
        if len(srt) == 0 or len(ids) == 0:
            return np.zeros(len(ids), dtype=bool)
        if int(ids.min()) > int(srt[-1]) or int(ids.max()) < int(srt[0]):
            return np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(srt, ids)
        pos[pos == len(srt)] = 0
        return srt[pos] == ids  # type: ignore[no-any-return]

    def _may_contain_from(self, first: int) -> bool:
        """False if no remembered id is ``first`` or above it (cheap, conservative)."""
        if self._pending:
            self._flush()
        return self._bound is not None and len(self) > 0 and first <= self._bound

    def add_later(self, ids: npt.NDArray[np.int64], *, increasing: bool | None = None) -> None:
        """:meth:`add` ``ids``, done when the window is next read (or every
        ``_PENDING_MAX`` calls): the ids of a run of batches validated ahead are then added
        at once, one :meth:`add` of them all instead of one per batch. The window, its order,
        bound and newest id are then what adding each in turn gives. ``ids`` must not change
        until then (a batch's read-only column)."""
        if len(ids):
            pending = self._pending
            pending.append((ids, increasing))
            if len(pending) >= _PENDING_MAX:
                self._flush()

    def _flush(self) -> None:
        """Add the ids :meth:`add_later` holds, as one :meth:`add` of them in order.

        Strictly increasing pieces whose each first id is above the previous piece's last
        are one strictly increasing run; otherwise :meth:`add` checks the joined ids, which
        increase exactly when every piece and every junction does. Either way the window
        (the last ``capacity`` ids), ``_increasing``, the bound (the largest id) and the
        newest id are those of adding the pieces one by one."""
        pending = self._pending
        self._pending = []
        if len(pending) == 1:
            ids, increasing = pending[0]
            self._add(ids, increasing=increasing)
            return
        joined = np.concatenate([ids for ids, _ in pending])
        known = all(increasing is True for _, increasing in pending) and all(
            int(a[-1]) < int(b[0]) for (a, _), (b, _) in itertools.pairwise(pending)
        )
        self._add(joined, increasing=True if known else None)

    def add(self, ids: npt.NDArray[np.int64], *, increasing: bool | None = None) -> None:
        """Remember ``ids`` (in arrival order), forgetting the oldest beyond the capacity.

        ``increasing``: the caller already knows whether ``ids`` strictly increase.
        """
        if self._pending:
            self._flush()
        self._add(ids, increasing=increasing)

    def _add(self, ids: npt.NDArray[np.int64], *, increasing: bool | None = None) -> None:
        k = len(ids)
        if k == 0:
            return
        if increasing is None:
            increasing = k < 2 or bool((ids[1:] > ids[:-1]).all())
        top = int(ids[-1]) if increasing else int(ids.max())
        start, end, cap, buf = self._start, self._end, self.capacity, self._buf
        held = end - start
        # Still increasing: so was the window, so are the ids, and the first is above the last.
        self._increasing = (
            self._increasing and increasing and (held == 0 or int(ids[0]) > self._newest)
        )
        if k >= cap:
            buf[:cap] = ids[k - cap :]
            start, end = 0, cap
        else:
            if end + k > len(buf):  # compact: keep what stays in the window
                keep = min(held, cap - k)
                buf[:keep] = buf[end - keep : end]
                start, end = 0, keep
            buf[end : end + k] = ids
            end += k
            start = max(start, end - cap)
        self._start, self._end = start, end
        self._newest = int(ids[-1])
        self._sorted_copy = None
        self._bound = top if self._bound is None or held == 0 else max(self._bound, top)

    def add_one(self, trade_id: int) -> None:
        """:meth:`add` of one id (a live trade, a candle-closing tick) without numpy's
        per-call cost: the same window afterwards."""
        if self._pending:
            self._flush()
        start, end, cap, buf = self._start, self._end, self.capacity, self._buf
        held = end - start
        self._increasing = self._increasing and (held == 0 or trade_id > self._newest)
        if cap == 1:
            buf[0] = trade_id
            start, end = 0, 1
        else:
            if end + 1 > len(buf):  # compact: keep what stays in the window
                keep = min(held, cap - 1)
                buf[:keep] = buf[end - keep : end]
                start, end = 0, keep
            buf[end] = trade_id
            end += 1
            start = max(start, end - cap)
        self._start, self._end = start, end
        self._newest = trade_id
        self._sorted_copy = None
        self._bound = trade_id if self._bound is None or held == 0 else max(self._bound, trade_id)


@attrs.frozen(kw_only=True, eq=False)
class ValidationResult:
    """The accepted ticks, and how many were rejected per reason (only reasons that occurred).

    ``codes`` gives, per input tick, 0 if accepted or ``1 + REASONS.index(reason)``.
    """

    clean: TickBatch
    rejected: Mapping[str, int]
    codes: npt.NDArray[np.int8]

    @property
    def n_rejected(self) -> int:
        """How many ticks were rejected in all."""
        return sum(self.rejected.values())


#: Zero codes (every tick accepted) handed out as read-only views: a batch taken whole needs
#: no array of its own (nothing writes a result's codes).
_ZERO_CODES = np.zeros(4096, dtype=np.int8)
_ZERO_CODES.flags.writeable = False


def _no_codes(n: int) -> npt.NDArray[np.int8]:
    """``n`` zero codes (read-only)."""
    global _ZERO_CODES
    if n > len(_ZERO_CODES):
        zeros = np.zeros(max(n, 2 * len(_ZERO_CODES)), dtype=np.int8)
        zeros.flags.writeable = False
        _ZERO_CODES = zeros
    return _ZERO_CODES[:n]


def validate(
    batch: TickBatch,
    *,
    last_ts_ns: int | None = None,
    seen_ids: RecentIds | None = None,
) -> ValidationResult:
    """Split ``batch`` into accepted ticks and counts of rejected ones.

    :param last_ts_ns: the timestamp of the last tick accepted before this batch, if any.
    :param seen_ids: recently seen trade ids (not modified here; :class:`TickValidator` keeps it).

    A trade id counts as seen once a tick carrying it passes the value checks, even if that tick
    is then rejected as out of order: a resend of it is a duplicate, not a late arrival.
    """
    return _validate(batch, last_ts_ns, seen_ids)[0]


_FEW = 16

#: The codes of a one-tick batch accepted as is (shared, so read-only).
_ACCEPTED_ONE = np.zeros(1, dtype=np.int8)
_ACCEPTED_ONE.flags.writeable = False
#: ``ValidationResult(clean=..., rejected=..., codes=...)``, positionally, its slots written
#: through their descriptors (tradewind.model.frozen): the same object in about half the time
#: of attrs' ``__init__`` (one per live trade).
_result = builder(ValidationResult, ("clean", "rejected", "codes"))


def _is_clean(batch: TickBatch, n: int, last_ts_ns: int | None, seen_ids: RecentIds | None) -> bool:
    """True only if :func:`validate` accepts every tick of ``batch`` (``n >= 1`` ticks) and
    returns it as is: a few whole-batch checks instead of the per-tick reasons. False means
    "look closer", not "something is wrong"."""
    if n == 1:
        p, q = float(batch.price[0]), float(batch.size[0])
        if not (0.0 < p < math.inf and 0.0 < q < math.inf):
            return False
        if last_ts_ns is not None and int(batch.ts_ns[0]) < last_ts_ns:
            return False
        if seen_ids is not None and seen_ids._may_contain_from(int(batch.trade_id[0])):
            return not bool(seen_ids.contains(batch.trade_id)[0])
        return True
    price, size, ts, ids = batch.price, batch.size, batch.ts_ns, batch.trade_id
    if n <= _FEW:  # Python lists beat numpy's per-call overhead
        for x in itertools.chain(price.tolist(), size.tolist()):
            if not 0.0 < x < math.inf:  # NaN compares False
                return False
        il, tl = ids.tolist(), ts.tolist()
        if not all(a < b for a, b in itertools.pairwise(il)):
            return False
        if (last_ts_ns is not None and tl[0] < last_ts_ns) or tl != sorted(tl):
            return False
        if seen_ids is not None and seen_ids._may_contain_from(il[0]):
            return not bool(seen_ids.contains(ids).any())
        return True
    # min/max propagate NaN, and NaN compares False: one reduction each covers NaN and inf.
    if not (price.min() > 0.0 and price.max() < math.inf):
        return False
    if not (size.min() > 0.0 and size.max() < math.inf):
        return False
    if not bool((ids[1:] > ids[:-1]).all()):
        return False  # validate() looks for duplicates inside the batch (and copies)
    if last_ts_ns is not None and int(ts[0]) < last_ts_ns:
        return False
    if not bool((ts[1:] >= ts[:-1]).all()):
        return False
    if seen_ids is not None and seen_ids._may_contain_from(int(ids[0])):
        return not bool(seen_ids.contains(ids).any())
    return True


def _validate(
    batch: TickBatch, last_ts_ns: int | None, seen_ids: RecentIds | None
) -> tuple[ValidationResult, bool]:
    """:func:`validate`, and whether the batch was clean as a whole (its ids increase)."""
    n = len(batch)
    if n == 1 and _is_clean(batch, 1, last_ts_ns, seen_ids):
        return _result(batch, {}, _ACCEPTED_ONE), True
    codes = np.zeros(n, dtype=np.int8)
    if n == 0:
        return _result(batch, {}, codes), True
    if n > 1 and _is_clean(batch, n, last_ts_ns, seen_ids):
        return _result(batch, {}, codes), True
    price, size, ts, ids = batch.price, batch.size, batch.ts_ns, batch.trade_id

    # Value checks, fastest first: one comparison pass each when all is well.
    if not (np.all(price > 0.0) and np.all(price < np.inf)):
        finite = np.isfinite(price)
        codes[(codes == 0) & ~finite] = _NAN_PRICE
        codes[(codes == 0) & (price <= 0.0)] = _NONPOS_PRICE
    if not (np.all(size > 0.0) and np.all(size < np.inf)):
        finite = np.isfinite(size)
        codes[(codes == 0) & ~finite] = _NAN_SIZE
        codes[(codes == 0) & (size <= 0.0)] = _NONPOS_SIZE

    ok = codes == 0
    all_ok = bool(ok.all())
    # Duplicates: against the remembered window, then within the batch (first occurrence wins).
    if seen_ids is not None:
        dup = seen_ids.contains(ids) & ok
        if dup.any():
            codes[dup] = _DUPLICATE
            ok &= ~dup
            all_ok = False
    cand = ids if all_ok else ids[ok]
    if len(cand) > 1 and not bool(np.all(cand[1:] > cand[:-1])):
        idx = np.flatnonzero(ok)
        _, first = np.unique(cand, return_index=True)
        keep = np.zeros(len(cand), dtype=bool)
        keep[first] = True
        codes[idx[~keep]] = _DUPLICATE
        ok[idx[~keep]] = False
        all_ok = False

    # Out of order: earlier than the running maximum of the ticks accepted so far. A tick
    # rejected as out of order is below that maximum, so it cannot move it: the running
    # maximum over all surviving ticks is the one over accepted ticks.
    t = ts if all_ok else ts[ok]
    if len(t):
        start = np.iinfo(np.int64).min if last_ts_ns is None else int(last_ts_ns)
        in_order = bool(t[0] >= start) and (len(t) < 2 or bool(np.all(t[1:] >= t[:-1])))
        if not in_order:
            prev = np.empty(len(t), dtype=np.int64)
            prev[0] = start
            np.maximum.accumulate(t[:-1], out=prev[1:])
            np.maximum(prev[1:], start, out=prev[1:])
            late = t < prev
            idx = np.flatnonzero(ok) if not all_ok else np.arange(n)
            codes[idx[late]] = _OUT_OF_ORDER
            all_ok = False

    if all_ok:
        return ValidationResult(clean=batch, rejected={}, codes=codes), False
    counts = np.bincount(codes, minlength=len(REASONS) + 1)
    rejected = {r: int(counts[i + 1]) for i, r in enumerate(REASONS) if counts[i + 1]}
    keep = codes == 0
    clean = TickBatch(
        instrument=batch.instrument,
        ts_ns=ts[keep],
        price=price[keep],
        size=size[keep],
        side=batch.side[keep],
        trade_id=ids[keep],
    )
    return ValidationResult(clean=clean, rejected=rejected, codes=codes), False


class TickValidator:
    """Stateful validation of one instrument's tick stream across batches.

    Remembers the last accepted timestamp and a window of recent trade ids, and keeps the
    cumulative count per reason in :attr:`rejected` (every reason present, zero included).
    Splitting a stream into batches does not change what is accepted, as long as duplicates
    arrive within ``id_window`` ticks of the original.
    """

    def __init__(self, instrument: str, *, id_window: int = 10_000) -> None:
        self.instrument = instrument
        self.last_ts_ns: int | None = None
        self.seen_ids = RecentIds(id_window)
        #: Cumulative rejected ticks per reason.
        self.rejected: dict[str, int] = dict.fromkeys(REASONS, 0)
        #: Cumulative accepted ticks.
        self.accepted = 0

    def validate(self, batch: TickBatch) -> ValidationResult:
        """Validate the next batch of the stream and update the state."""
        if batch.instrument != self.instrument:
            raise ValueError(
                f"TickValidator({self.instrument}) was given a batch of {batch.instrument}"
            )
        if len(batch.ts_ns) == 1:
            one = self._one(batch)
            if one is not None:
                return one
        result, whole = _validate(batch, self.last_ts_ns, self.seen_ids)
        for reason, count in result.rejected.items():
            self.rejected[reason] += count
        clean = result.clean
        self.accepted += len(clean)
        if len(clean):
            # Accepted ticks never go backwards, so the last one is the latest.
            self.last_ts_ns = clean.last_ts
        if result.rejected:
            codes = result.codes
            self.seen_ids.add(batch.trade_id[(codes == 0) | (codes == _OUT_OF_ORDER)])
        elif whole and len(clean) == 1:
            self.seen_ids.add_one(int(clean.trade_id[0]))
        else:
            self.seen_ids.add(batch.trade_id, increasing=True if whole else None)
        return result

    def _one(self, batch: TickBatch) -> ValidationResult | None:
        """:meth:`validate` of a one-trade batch that :func:`_is_clean` takes whole (a live
        trade, the trade that closes a candle): its checks and the state's update on the
        scalars read once (``item``: the same Python float and int as ``float``/``int`` of
        the numpy scalar), no second pass through :func:`_validate`. None when the trade
        needs a closer look (a bad value, out of order, a remembered id): :meth:`validate`
        then takes the general path, whose verdict on such a trade this does not change."""
        p = batch.price.item(0)
        q = batch.size.item(0)
        if not (0.0 < p < math.inf and 0.0 < q < math.inf):
            return None
        t = batch.ts_ns.item(0)
        last = self.last_ts_ns
        if last is not None and t < last:
            return None
        seen = self.seen_ids
        trade_id = batch.trade_id.item(0)
        if seen._may_contain_from(trade_id) and bool(seen.contains(batch.trade_id)[0]):
            return None
        self.accepted += 1
        self.last_ts_ns = t
        seen.add_one(trade_id)
        return _result(batch, {}, _ACCEPTED_ONE)

    def accept_checked(self, batch: TickBatch, *, increasing: bool) -> ValidationResult:
        """Take the next batch as accepted whole, without checking it again: the caller
        validated it already, as part of a longer stretch of this stream checked from this
        validator's state (tradewind.trading.block_lookahead). The same state and result as
        :meth:`validate` of that batch. ``increasing``: its trade ids strictly increase."""
        self.take_checked(batch, increasing=increasing)
        # Built through the slots (``_result``): attrs' __init__ was half of this call.
        return _result(batch, {}, _no_codes(len(batch)))

    def take_checked(self, batch: TickBatch, *, increasing: bool) -> None:
        """:meth:`accept_checked` without its result: the validator's state only (a caller
        that needs nothing of the result but that it accepted the batch whole)."""
        if batch.instrument != self.instrument:
            raise ValueError(
                f"TickValidator({self.instrument}) was given a batch of {batch.instrument}"
            )
        n = len(batch)
        self.accepted += n
        if n:
            self.last_ts_ns = batch.last_ts
        # validate() passes True for a batch its quick check takes whole (ids increasing).
        # Added when the window is next read: batches validated ahead come one after another
        # with nothing reading it between them.
        self.seen_ids.add_later(batch.trade_id, increasing=True if increasing else None)

    def __repr__(self) -> str:
        bad = {k: v for k, v in self.rejected.items() if v}
        return f"TickValidator({self.instrument!r}, accepted={self.accepted}, rejected={bad})"


# ---------------------------------------------------------------------------------------------
# Import-time plausibility: values a file can hold that no trade can have.

#: Largest price an import accepts. A price of 1e308 is finite and positive, yet no market
#: quotes it; beyond this it is a corrupt field, and notional (price × size) would overflow.
MAX_IMPORT_PRICE = 1e15
#: Latest trade time an import accepts: 2200-01-01 UTC. Later times are a wrong time unit or a
#: timestamp that overflowed 64-bit nanoseconds (which end in April 2262).
MAX_IMPORT_TS_NS = 7_258_118_400 * 1_000_000_000
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
_INT64_DIGITS = 19


def int64_overflow(texts: list[str]) -> npt.NDArray[np.bool_]:
    """Which of ``texts`` (already known to be ``[+-]digits``) do not fit a 64-bit integer."""
    out = np.zeros(len(texts), dtype=bool)
    for i, t in enumerate(texts):
        digits = t.lstrip("+-").lstrip("0")
        if len(digits) >= _INT64_DIGITS and not _INT64_MIN <= int(t) <= _INT64_MAX:
            out[i] = True
    return out


def scale_to_ns(ts: npt.NDArray[np.int64], factor: int) -> npt.NDArray[np.int64]:
    """``ts × factor`` in int64, with values that would overflow set to the int64 maximum
    (numpy wraps silently: a year-3000 time in µs became ``-4389808147419103232``), so that
    :func:`implausible` reports them as beyond :data:`MAX_IMPORT_TS_NS`."""
    ts = np.asarray(ts, dtype=np.int64)
    if factor == 1 or len(ts) == 0:
        return ts
    over = (ts > _INT64_MAX // factor) | (ts < _INT64_MIN // factor)
    out = ts * factor
    if over.any():
        out = np.where(over, np.int64(_INT64_MAX), out)
    return out


def implausible(
    ts_ns: npt.NDArray[np.int64], price: npt.NDArray[np.float64], price_label: str = "price"
) -> list[tuple[npt.NDArray[np.bool_], Callable[[int], str]]]:
    """Masks of rows an import must refuse though their fields parse, each with its reason
    (a function of the row index)."""
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    price = np.asarray(price, dtype=np.float64)

    def late(_i: int) -> str:
        return (
            "timestamp is after 2200-01-01 UTC (a wrong time unit, or beyond what 64-bit "
            "nanoseconds hold); check the file's time column"
        )

    def huge(i: int) -> str:
        return (
            f"{price_label} {price[i]:g} is implausibly large (above {MAX_IMPORT_PRICE:g}); "
            f"the field is corrupt"
        )

    return [(ts_ns > MAX_IMPORT_TS_NS, late), (price > MAX_IMPORT_PRICE, huge)]
