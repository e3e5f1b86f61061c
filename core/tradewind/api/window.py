"""The API's append-only histories (fills, equity points) with only their newest part in memory.

A :class:`Window` is read as the sequence of every item appended (``len``, slices, one item),
but keeps in memory only the newest: once it holds more than twice ``keep`` items it lets go
of all but the newest ``keep`` (the drop's cost spread over ``keep`` appends), handing them to
``spill`` first, and reads a range older than what it keeps with ``read_old`` — the run's
journal for fills, a :class:`~tradewind.trading.curves.CurveStore` for equity points
(:class:`SpilledPoints`). ``keep`` None keeps everything (a backtest's, as before).

One thread appends (the engine's, or the API process's mirror); any thread reads. What is
kept is one ``(dropped, kept)`` pair swapped with one reference assignment after ``spill``
ran, and the kept list only grows until it is replaced, so a reader that took the pair reads
a consistent prefix without a lock, and never blocks the appending thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from tradewind.trading.curves import CurveStore, _as_columns, _record_dtype, _Spilled, _values

T = TypeVar("T")

#: ``read_old(start, stop, step)``: items ``start``, ``start + step``, ... before ``stop``
#: (all of them older than what is kept).
ReadOld = Callable[[int, int, int], list[Any]]


class Window(Generic[T]):
    """Items in order, the newest ``keep`` to ``2 * keep`` of them in memory."""

    def __init__(
        self,
        keep: int | None = None,
        read_old: ReadOld | None = None,
        spill: Callable[[int, list[T]], int] | None = None,
    ) -> None:
        self.keep = keep
        self._read_old = read_old
        #: ``spill(first, items)``: called (on the appending thread) with the items about to
        #: be let go of and the index of the first; returns how many of them (the oldest)
        #: may go (0: all stay, and everything after).
        self._spill = spill
        self._state: tuple[int, list[T]] = (0, [])
        #: After ``spill`` let fewer go than asked: the length to try again at (half a
        #: ``keep`` later, not at every append).
        self._retry_at = 0

    def __len__(self) -> int:
        dropped, kept = self._state
        return dropped + len(kept)

    @property
    def dropped(self) -> int:
        """Items no longer in memory (the oldest)."""
        return self._state[0]

    @property
    def kept(self) -> list[T]:
        """The items in memory, oldest first (do not change it)."""
        return self._state[1]

    def extend(self, items: Iterable[T]) -> None:
        """Append ``items``; let go of the older ones once more than ``2 * keep`` are kept."""
        dropped, kept = self._state
        kept.extend(items)
        keep = self.keep
        if keep is None or len(kept) <= 2 * keep or dropped + len(kept) < self._retry_at:
            return
        cut = wanted = len(kept) - keep
        if self._spill is not None:
            cut = self._spill(dropped, kept[:wanted])
            if cut < wanted:
                self._retry_at = dropped + len(kept) + max(1, keep // 2)
            if cut <= 0:
                return
        self._state = (dropped + cut, kept[cut:])

    def __getitem__(self, index: slice) -> list[T]:
        start, stop, step = index.indices(len(self))
        if step != 1:
            raise ValueError("a window is read by contiguous slices (see sample)")
        return self.sample(stop, 1, start)

    def item(self, i: int) -> T:
        """Item ``i`` (0 <= i < len)."""
        return self.sample(i + 1, 1, i)[0]

    @property
    def state(self) -> tuple[int, list[T]]:
        """What is kept now, for :meth:`sample` to read later (taken under a caller's lock
        with what goes with it)."""
        return self._state

    def sample(
        self, stop: int, step: int, start: int = 0, state: tuple[int, list[T]] | None = None
    ) -> list[T]:
        """Items ``start``, ``start + step``, ... before ``stop`` (``seq[start:stop:step]``),
        of what is kept now or was kept in ``state``."""
        dropped, kept = self._state if state is None else state
        stop = min(stop, dropped + len(kept))
        out: list[T] = []
        if start >= stop:
            return out
        if start < dropped:
            if self._read_old is None:
                raise LookupError(f"items {start}:{min(stop, dropped)} are no longer kept")
            out = self._read_old(start, min(stop, dropped), step)
        first = start if start >= dropped else start + -(-(dropped - start) // step) * step
        if first < stop:
            out.extend(kept[first - dropped : stop - dropped : step])
        return out


class SpilledPoints:
    """Points (an int time and float fields) a :class:`Window` let go of, in a
    :class:`~tradewind.trading.curves.CurveStore` as its curves write theirs: use
    :meth:`spill` and :meth:`read` as the window's ``spill`` and ``read_old``."""

    def __init__(self, store: Callable[[], CurveStore | None]) -> None:
        #: Gives the store to write to (None: the points stay in memory).
        self._store_of = store
        self._store: CurveStore | None = None
        #: The spilled runs of points and the index of each one's first, in order.
        self._parts: list[tuple[int, _Spilled]] = []

    def spill(self, first: int, points: list[Any]) -> int:
        """Write ``points`` (the window's items ``first`` on); how many were (all or none)."""
        cols = _as_columns(points)
        if cols is None:
            return 0
        if self._store is None:
            self._store = self._store_of()
            if self._store is None:
                return 0
        rec_dtype = _record_dtype(len(cols))
        import numpy as np

        rec = np.empty(len(cols[0]), dtype=rec_dtype)
        for name, col in zip(rec.dtype.names or (), cols, strict=True):
            rec[name] = col
        try:
            offset = self._store.write(rec.tobytes())
        except OSError:
            return 0
        self._parts.append((first, _Spilled(self._store, offset, len(rec), rec.dtype)))
        return len(points)

    def read(self, start: int, stop: int, step: int) -> list[Any]:
        """The points ``start``, ``start + step``, ... before ``stop``, read back (the same
        values, the same bits)."""
        out: list[Any] = []
        for first, part in list(self._parts):
            end = first + part.n
            if end <= start or first >= stop:
                continue
            lo = start if start >= first else start + -(-(first - start) // step) * step
            hi = min(stop, end)
            if lo >= hi:
                continue
            cols = [c[::step] for c in part.columns(lo - first, hi - first)]
            out.extend(zip(*map(_values, cols), strict=True))
        return out
