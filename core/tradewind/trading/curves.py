"""A run's curves (equity, prices, candles, charted series) as chunks of column arrays.

A backtest's walk over its quiet closes adds a curve's points a stretch at a time: the close
times, closes and candles of the stretch come from the block's int64 and float64 columns.
Making a tuple of Python objects for each of them (~7 per decision close) was most of the
walk's time, and the report turned the tuples back into arrays. A :class:`Curve` keeps such a
stretch as its columns (:meth:`Curve.extend_columns`) and single points as tuples
(:meth:`Curve.append`, the engine's stepping), in order; read as a sequence it is the list of
tuples it always was (made on the first read: ``int`` and ``float`` of the same int64 and
float64 values, the same bits), and :meth:`Curve.chunks` hands the report the arrays and
lists as they are.

A paper or live run lets go of its curves' older points: :meth:`Curve.spill` writes them to
a :class:`CurveStore` (an unnamed temporary file) as the same columns and keeps the newest in
memory; every read above reads them back from the file, the same bits, without keeping them.
"""

from __future__ import annotations

import bisect
import functools
import math
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, cast, overload

import numpy as np

T = TypeVar("T")


class CurveStore:
    """An unnamed temporary file (gone when it is closed or the process ends) that the
    curves of a paper or live run write their older points to, append-only."""

    def __init__(self, directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="tradewind-curves-", dir=directory)
        # Closed once no curve reads it any more, or as the process exits: the run's result
        # (its report) reads the curves after the engine is done.
        self._closer = weakref.finalize(self, self._file.close)
        self._end = 0
        self._lock = threading.Lock()  # the engine writes; a report or the API may read
        #: Points written, all curves together.
        self.points = 0

    def write(self, data: bytes) -> int:
        """Append ``data``; returns its offset."""
        with self._lock:
            offset = self._end
            self._file.seek(offset)
            self._file.write(data)
            self._file.flush()
            self._end += len(data)
            return offset

    def read(self, offset: int, size: int) -> bytes:
        with self._lock:
            self._file.seek(offset)
            data = self._file.read(size)
        if len(data) != size:
            raise OSError(f"curve store {self._file.name}: {len(data)} of {size} bytes read")
        return data

    @property
    def size(self) -> int:
        """Bytes written."""
        return self._end

    def close(self) -> None:
        self._closer()


class _Spilled:
    """``n`` points of a curve in a :class:`CurveStore` at ``offset``: one record per point
    (an int64 time, then float64 fields)."""

    __slots__ = ("dtype", "n", "offset", "store")

    def __init__(self, store: CurveStore, offset: int, n: int, dtype: np.dtype[Any]) -> None:
        self.store = store
        self.offset = offset
        self.n = n
        self.dtype = dtype

    def columns(self, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, ...]:
        """The columns of points ``start:stop`` (0 <= start <= stop <= n), read back."""
        stop = self.n if stop is None else stop
        size = self.dtype.itemsize
        raw = self.store.read(self.offset + start * size, (stop - start) * size)
        rec = np.frombuffer(raw, dtype=self.dtype)
        return tuple(np.ascontiguousarray(rec[name]) for name in self.dtype.names or ())


@functools.cache
def _record_dtype(width: int) -> np.dtype[Any]:
    return np.dtype([("t", "<i8"), *((f"v{k}", "<f8") for k in range(1, width))])


def _as_columns(part: list[Any] | tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...] | None:
    """A chunk's columns when its points are an int time and float fields (what a spilled
    record holds, read back as the same values); None otherwise (kept in memory)."""
    if isinstance(part, tuple):
        cols = part
        if cols[0].dtype != np.int64 or any(c.dtype != np.float64 for c in cols[1:]):
            return None
        return cols
    if not part:
        return None
    try:
        fields = list(zip(*part, strict=True))
    except ValueError:  # points of different widths
        return None
    if len(fields) < 2 or not all(type(v) is int for v in fields[0]):
        return None
    if not all(type(v) is float for f in fields[1:] for v in f):
        return None
    return (
        np.array(fields[0], dtype=np.int64),
        *(np.array(f, dtype=np.float64) for f in fields[1:]),
    )


class Curve(Sequence[T], Generic[T]):
    """Points (tuples of one width) in order: column-array chunks and lists of tuples."""

    def __init__(self, points: Iterable[T] = ()) -> None:
        #: The chunks before ``_tail``: a list of tuples, a tuple of columns (1-D arrays
        #: of one length, one per field of a point), or points spilled to a store.
        self._parts: list[list[T] | tuple[np.ndarray, ...] | _Spilled] = []
        #: How many of ``_parts`` are spilled (they come first), and their points.
        self._spilled = 0
        self._spilled_points = 0
        #: The points appended since the last chunk of columns.
        self._tail: list[T] = list(points)
        self._len = len(self._tail)
        #: Where each chunk starts (a point's lookup), made on the first one.
        self._starts: list[int] | None = None

    # -- adding -------------------------------------------------------------------------
    def append(self, point: T) -> None:
        self._tail.append(point)
        self._len += 1

    def extend(self, points: Iterable[T]) -> None:
        tail = self._tail
        n = len(tail)
        tail.extend(points)
        self._len += len(tail) - n

    def extend_columns(self, *columns: np.ndarray) -> None:
        """Points whose fields are ``columns`` (1-D arrays of one length): point ``i`` is
        ``tuple(col[i].item() for col in columns)``. The arrays are kept, not copied: the
        caller hands over arrays it does not change."""
        n = len(columns[0])
        if not n:
            return
        if self._tail:
            self._parts.append(self._tail)
            self._tail = []
        self._parts.append(columns)
        self._len += n

    def spill(self, store: CurveStore, keep: int) -> int:
        """Write every point but the newest ``keep`` of those appended as tuples since the
        last chunk of columns to ``store`` and let go of them (a chunk whose points are not
        an int time and float fields stays in memory, as does every point after it);
        returns how many points were written."""
        tail = self._tail
        cut = max(0, len(tail) - keep)
        unspilled = self._parts[self._spilled :]
        if not cut and not unspilled:
            return 0
        head = self._parts[: self._spilled]
        chunks: list[Any] = [*unspilled, tail[:cut]] if cut else list(unspilled)
        spilled: list[_Spilled] = []
        for part in chunks:
            cols = _as_columns(part)
            if cols is None:
                break
            rec = np.empty(len(cols[0]), dtype=_record_dtype(len(cols)))
            for name, col in zip(rec.dtype.names or (), cols, strict=True):
                rec[name] = col
            spilled.append(_Spilled(store, store.write(rec.tobytes()), len(rec), rec.dtype))
        if not spilled:
            return 0
        if len(spilled) == len(chunks):  # the tail's older points included
            self._parts = [*head, *spilled]
            self._tail = tail[cut:]
        else:  # a chunk that cannot be spilled: it, and every point after it, stays
            self._parts = [*head, *spilled, *unspilled[len(spilled) :]]
        self._spilled = len(head) + len(spilled)
        self._starts = None
        written = sum(p.n for p in spilled)
        store.points += written
        self._spilled_points += written
        return written

    @property
    def in_memory(self) -> int:
        """Points held in memory (not spilled)."""
        return self._len - self._spilled_points

    # -- reading ------------------------------------------------------------------------
    def chunks(self) -> list[list[T] | tuple[np.ndarray, ...]]:
        """The points in order as chunks: lists of tuples and tuples of columns (spilled
        points read back as columns)."""
        out: list[list[T] | tuple[np.ndarray, ...]] = [
            p.columns() if isinstance(p, _Spilled) else p for p in self._parts
        ]
        if self._tail:
            out.append(self._tail)
        return out

    def _list(self) -> list[T]:
        """Every point as a tuple (the chunks of columns made into tuples once; spilled
        points read back each time, never kept)."""
        if self._spilled:
            return self._range(0, self._len)
        if self._parts:
            out: list[Any] = []
            for part in self._parts:
                if isinstance(part, list):
                    out.extend(part)
                else:  # (none is spilled here)
                    out.extend(zip(*map(_values, _columns(part, 0, _held_len(part))), strict=True))
            out.extend(self._tail)
            self._parts = []
            self._tail = out
        return self._tail

    def __len__(self) -> int:
        return self._len

    def _located(self) -> tuple[list[Any], list[int]]:
        """The chunks as held (spilled ones not read) and where each starts."""
        held: list[Any] = [*self._parts, self._tail] if self._tail else list(self._parts)
        starts = self._starts
        if starts is None or len(starts) != len(held) + 1 or starts[-1] != self._len:
            starts = [0]
            for part in held:
                starts.append(starts[-1] + _held_len(part))
            self._starts = starts
        return held, starts

    def _range(self, start: int, stop: int) -> list[T]:
        """Points ``start:stop`` (0 <= start <= stop <= len) as tuples, reading only the
        chunks they are in."""
        out: list[Any] = []
        if start >= stop:
            return out
        held, starts = self._located()
        x = bisect.bisect_right(starts, start) - 1
        while x < len(held) and starts[x] < stop:
            part = held[x]
            a = max(start, starts[x]) - starts[x]
            b = min(stop, starts[x + 1]) - starts[x]
            if isinstance(part, list):
                out.extend(part[a:b])
            else:
                out.extend(zip(*map(_values, _columns(part, a, b)), strict=True))
            x += 1
        return out

    def since(self, start_ns: int) -> list[T]:
        """The points whose time (a point's first field) is ``start_ns`` or later, of a curve
        in time order (an engine's), reading only the chunks that can hold them."""
        held, starts = self._located()
        x = len(held)
        while x > 0 and _first_time(held[x - 1]) >= start_ns:
            x -= 1
        points = self._range(starts[max(0, x - 1)], self._len)
        return [p for p in points if cast("tuple[Any, ...]", p)[0] >= start_ns]

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            if self._spilled and index.step in (None, 1):
                start, stop, _ = index.indices(self._len)
                return self._range(start, stop)
            return self._list()[index]
        if not self._parts:
            return self._tail[index]
        # One point (a curve's first or last, say) without making the others.
        n = self._len
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("Curve index out of range")
        held, starts = self._located()
        x = bisect.bisect_right(starts, i) - 1
        part = held[x]
        i -= starts[x]
        if isinstance(part, list):
            return cast("T", part[i])
        return cast("T", tuple(_values(col)[0] for col in _columns(part, i, i + 1)))

    def __iter__(self) -> Iterator[T]:
        return iter(self._list())

    def __reversed__(self) -> Iterator[T]:
        return reversed(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Curve):
            return self._list() == other._list()
        if isinstance(other, list):
            return self._list() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Curve({self._list()!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Spilled points travel as their columns (a store is this process's file)."""
        state = dict(self.__dict__)
        if self._spilled:
            state["_parts"] = [p.columns() if isinstance(p, _Spilled) else p for p in self._parts]
            state["_spilled"] = state["_spilled_points"] = 0
            state["_starts"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_spilled", 0)  # pickled before curves spilled
        self.__dict__.setdefault("_spilled_points", 0)

    def copy(self) -> Curve[T]:
        """A curve of the same points that later additions to this one do not change."""
        out: Curve[T] = Curve()
        out._parts = list(self._parts)
        out._tail = list(self._tail)
        out._len = self._len
        out._spilled = self._spilled
        out._spilled_points = self._spilled_points
        out._starts = None
        return out


def _columns(part: tuple[np.ndarray, ...] | _Spilled, a: int, b: int) -> tuple[np.ndarray, ...]:
    """Points ``a:b`` of a chunk of columns, or of spilled points (read back)."""
    if isinstance(part, _Spilled):
        return part.columns(a, b)
    return tuple(col[a:b] for col in part)


def _first_time(part: list[Any] | tuple[np.ndarray, ...] | _Spilled) -> Any:
    if isinstance(part, list):
        return part[0][0]
    return _columns(part, 0, 1)[0][0]


def _held_len(part: list[Any] | tuple[np.ndarray, ...] | _Spilled) -> int:
    if isinstance(part, list):
        return len(part)
    if isinstance(part, _Spilled):
        return part.n
    return len(part[0])


def _values(column: np.ndarray) -> list[Any]:
    """``column`` as Python numbers; a NaN as the one ``math.nan`` object, as the engine's
    points hold a missing value (``float`` of it keeps the object)."""
    out: list[Any] = column.tolist()
    if column.dtype.kind == "f":
        bad = np.isnan(column)
        if bad.any():
            for i in np.flatnonzero(bad).tolist():
                out[i] = math.nan
    return out


def curve_of(curves: dict[str, Curve[T]], key: str) -> Curve[T]:
    """``curves[key]``, an empty curve put there first when missing."""
    got = curves.get(key)
    if got is None:
        got = curves[key] = Curve()
    return got


def columns_of(
    curve: Sequence[Any],
    of_list: Callable[[Sequence[Any]], tuple[np.ndarray, ...] | None],
    pad: Callable[[tuple[np.ndarray, ...]], tuple[np.ndarray, ...]] | None = None,
) -> tuple[np.ndarray, ...] | None:
    """The columns of ``curve`` (a :class:`Curve` or a sequence of tuples): ``of_list`` of
    its points held as tuples (their columns, or None when the caller's per-point path must
    draw the curve; called once, on all of them in order) and its column chunks as they are
    (``pad`` of each, when given: the columns ``of_list`` gives more of), joined in order."""
    if not isinstance(curve, Curve):
        return of_list(curve)
    chunks = curve.chunks()
    lists = [part for part in chunks if isinstance(part, list)]
    if len(lists) == len(chunks):
        return of_list(curve._list())
    listed: tuple[np.ndarray, ...] | None = None
    if lists:
        listed = of_list([p for part in lists for p in part])
        if listed is None:
            return None
    arrays = [part if pad is None else pad(part) for part in chunks if not isinstance(part, list)]
    if len(chunks) == 1:
        return arrays[0]
    # Each column of the array chunks joined at once, the listed points' columns put in
    # their places through one mask (a per-chunk slice and join was a Python step per
    # chunk: a charted series of the walk has thousands of chunks).
    joined = [np.concatenate(cols) for cols in zip(*arrays, strict=True)]
    if listed is None:
        return tuple(joined)
    if len(listed) != len(joined):
        raise ValueError("the listed points' columns and the array chunks' differ in number")
    # A list chunk's length, and minus an array chunk's.
    sized = np.array(
        [len(part) if isinstance(part, list) else -len(part[0]) for part in chunks], np.int64
    )
    in_list = np.repeat(sized > 0, np.abs(sized))
    in_array = ~in_list
    out: list[np.ndarray] = []
    for col_l, col_a in zip(listed, joined, strict=True):
        col = np.empty(len(in_list), dtype=np.result_type(col_l, col_a))
        col[in_list] = col_l
        col[in_array] = col_a
        out.append(col)
    return tuple(out)
