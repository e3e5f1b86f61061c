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
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, cast, overload

import numpy as np

T = TypeVar("T")


class Curve(Sequence[T], Generic[T]):
    """Points (tuples of one width) in order: column-array chunks and lists of tuples."""

    def __init__(self, points: Iterable[T] = ()) -> None:
        #: The chunks before ``_tail``: a list of tuples, or a tuple of columns (1-D arrays
        #: of one length, one per field of a point).
        self._parts: list[list[T] | tuple[np.ndarray, ...]] = []
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

    # -- reading ------------------------------------------------------------------------
    def chunks(self) -> list[list[T] | tuple[np.ndarray, ...]]:
        """The points in order as chunks: lists of tuples and tuples of columns."""
        out = list(self._parts)
        if self._tail:
            out.append(self._tail)
        return out

    def _list(self) -> list[T]:
        """Every point as a tuple (the chunks of columns made into tuples once)."""
        if self._parts:
            out: list[Any] = []
            for part in self._parts:
                if isinstance(part, list):
                    out.extend(part)
                else:
                    out.extend(zip(*map(_values, part), strict=True))
            out.extend(self._tail)
            self._parts = []
            self._tail = out
        return self._tail

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if self._parts and isinstance(index, int):
            # One point (a curve's first or last, say) without making the others.
            n = self._len
            i = index + n if index < 0 else index
            if not 0 <= i < n:
                raise IndexError("Curve index out of range")
            chunks = self.chunks()
            starts = self._starts
            if starts is None or len(starts) != len(chunks) + 1 or starts[-1] != n:
                starts = [0]
                for part in chunks:
                    starts.append(starts[-1] + len(part if isinstance(part, list) else part[0]))
                self._starts = starts
            x = bisect.bisect_right(starts, i) - 1
            part = chunks[x]
            i -= starts[x]
            if isinstance(part, list):
                return part[i]
            return cast("T", tuple(_values(col[i : i + 1])[0] for col in part))
        return self._list()[index]

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

    def copy(self) -> Curve[T]:
        """A curve of the same points that later additions to this one do not change."""
        out: Curve[T] = Curve()
        out._parts = list(self._parts)
        out._tail = list(self._tail)
        out._len = self._len
        out._starts = None
        return out


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
