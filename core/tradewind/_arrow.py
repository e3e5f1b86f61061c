"""Arrow ⇄ numpy/Python conversions that do not import pandas.

pyarrow's own conversions (``pa.array`` of a list or of a numpy array, ``Array.to_numpy``,
``pc.fill_null`` with a Python scalar) ask its lazy pandas shim whether the object is a pandas
one, and the first such question imports pandas when it is installed — about a second of a
``tradewind backtest`` process's wall time (0.4 s of CPU) in an environment that has pandas
(the peer benchmark's: nautilus_trader needs it), for a run that uses none of it. These
helpers build and read arrays through their buffers instead: the same arrays, the same values.

Only the types the backtest path moves in bulk are handled: fixed-width integers and floats,
booleans and UTF-8 strings; anything else is a ``TypeError`` (the callers' own types).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

_NUMPY_OF: dict[pa.DataType, np.dtype[Any]] = {
    pa.int8(): np.dtype(np.int8),
    pa.int16(): np.dtype(np.int16),
    pa.int32(): np.dtype(np.int32),
    pa.int64(): np.dtype(np.int64),
    pa.uint8(): np.dtype(np.uint8),
    pa.uint16(): np.dtype(np.uint16),
    pa.uint32(): np.dtype(np.uint32),
    pa.uint64(): np.dtype(np.uint64),
    pa.float32(): np.dtype(np.float32),
    pa.float64(): np.dtype(np.float64),
}


def _bits(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """``n`` bits of an Arrow bitmap from bit ``offset``, as booleans."""
    raw = np.frombuffer(buf, dtype=np.uint8, count=(offset + n + 7) // 8)
    return np.unpackbits(raw, bitorder="little", count=offset + n)[offset:].astype(bool)


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def null_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which rows of ``arr`` are null, as a numpy bool array."""
    out = np.zeros(len(arr), dtype=bool)
    if not arr.null_count:
        return out
    pos = 0
    for c in _chunks(arr):
        m = len(c)
        validity = c.buffers()[0]
        if c.null_count and validity is not None:
            out[pos : pos + m] = ~_bits(validity, c.offset, m)
        elif c.null_count:  # a null-typed chunk: every row null
            out[pos : pos + m] = True
        pos += m
    return out


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a fixed-width numeric or boolean column as one new numpy array (null
    rows as 0 / False): what ``pc.fill_null(arr, 0).to_numpy()`` gives, without pandas."""
    typ = arr.type
    if pa.types.is_boolean(typ):
        dtype: np.dtype[Any] = np.dtype(bool)
    elif typ in _NUMPY_OF:
        dtype = _NUMPY_OF[typ]
    else:
        raise TypeError(f"no buffer conversion of Arrow type {typ} to numpy")
    out = np.empty(len(arr), dtype=dtype)
    pos = 0
    for c in _chunks(arr):
        m = len(c)
        if m:
            data = c.buffers()[1]
            if dtype.kind == "b":
                out[pos : pos + m] = _bits(data, c.offset, m)
            else:
                out[pos : pos + m] = np.frombuffer(
                    data, dtype=dtype, count=m, offset=c.offset * dtype.itemsize
                )
            if c.null_count:
                out[pos : pos + m][null_mask(c)] = 0
        pos += m
    return out


def _validity(values: Sequence[Any], null_count: int) -> pa.Buffer | None:
    if not null_count:
        return None
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


_NUMBERS = (int, float, np.integer, np.floating)


def array(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """``pa.array(values, type=typ)`` of Python values (None is null) for the journal's
    column types: int64/int32, float64, bool and string. Raises ``TypeError`` (like
    pa.array) for a value of another type, e.g. a string in a numeric column. The per-value
    work is C-level where it can be (type sets, joins, numpy conversions), about 2.5× the
    time of pa.array (50 ms for 90,000 journal rows); once pandas is imported anyway,
    pa.array itself is used."""
    if "pandas" in sys.modules:  # nothing left to avoid: pyarrow's C conversion is faster
        return pa.array(values, type=typ)
    values = list(values)
    n = len(values)
    types = set(map(type, values))
    # Counted only when there is a None: ``list.count(None)`` compares each str or int with
    # None through both types' ``__eq__`` (a third of a journal column's conversion).
    null_count = values.count(None) if type(None) in types else 0
    validity = _validity(values, null_count)
    types.discard(type(None))
    if pa.types.is_string(typ):
        if types - {str}:
            raise TypeError(
                f"expected str values for {typ}, got {sorted(t.__name__ for t in types)}"
            )
        texts = [v or "" for v in values] if null_count else values
        joined = "".join(texts)
        if joined.isascii():  # one byte per character: the lengths are the strings' lengths
            data = joined.encode("ascii")
            lengths: Any = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        else:
            encoded = [t.encode("utf-8") for t in texts]
            data = b"".join(encoded)
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        if len(data) >= 2**31:
            raise OverflowError(f"{len(data)} bytes of text do not fit a {typ} column")
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
        return pa.Array.from_buffers(typ, n, buffers, null_count=null_count)
    if pa.types.is_boolean(typ):
        if types - {bool, np.bool_}:
            raise TypeError(f"expected bool values for {typ}")
        bits = np.fromiter((v is True or v is np.True_ for v in values), dtype=bool, count=n)
        data = pa.py_buffer(np.packbits(bits, bitorder="little"))
        return pa.Array.from_buffers(typ, n, [validity, data], null_count=null_count)
    if typ not in _NUMPY_OF:
        raise TypeError(f"no buffer conversion of Python values to Arrow type {typ}")
    if any(not issubclass(t, _NUMBERS) for t in types):
        raise TypeError(f"expected numbers for {typ}, got {sorted(t.__name__ for t in types)}")
    dtype = _NUMPY_OF[typ]
    if dtype.kind in "iu" and any(issubclass(t, float | np.floating) for t in types):
        if any(isinstance(v, float | np.floating) and not float(v).is_integer() for v in values):
            raise TypeError(f"a float that is not an integer for {typ}")
    filled = [0 if v is None else v for v in values] if null_count else values
    data_np = np.array(filled, dtype=dtype)  # OverflowError past the type's range, as pa.array
    return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(data_np)], null_count=null_count)


class LazyModule:
    """A module imported at its first attribute read: ``pyarrow.compute`` costs 50-100 ms
    to import (it writes a docstring for each of its ~300 functions), and the text-format
    importers that need it are imported with every ``tradewind.market.importers`` — by every
    backtest, which may read only a ticks parquet file."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> Any:
    """``name`` imported at its first use (:class:`LazyModule`)."""
    return LazyModule(name)


def indices(idx: np.ndarray) -> pa.Array:
    """``pa.array(idx, pa.int64())`` of a numpy array of row numbers (for ``take``)."""
    data = np.ascontiguousarray(idx, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def string_scalar(value: str) -> pa.Scalar:
    """``pa.scalar(value, pa.string())`` (a compute function's argument)."""
    return array([value], pa.string())[0]
