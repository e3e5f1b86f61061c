"""tradewind._arrow builds and reads Arrow arrays through their buffers (pyarrow's own
conversions import pandas where it is installed): the same arrays and values as pyarrow's."""

import random
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tradewind import _arrow


@pytest.fixture(autouse=True)
def _buffer_path(monkeypatch):
    """The buffer conversions themselves, even where pandas is imported (then
    ``_arrow.array`` hands over to pa.array)."""
    monkeypatch.delitem(sys.modules, "pandas", raising=False)


def _values(rng: random.Random, typ: pa.DataType, n: int) -> list:
    out: list = []
    for _ in range(n):
        if rng.random() < 0.2:
            out.append(None)
        elif pa.types.is_string(typ):
            out.append(
                rng.choice(["", "a", "héllo €", '{"x": [1, 2.5, null]}', "x" * rng.randint(0, 40)])
            )
        elif pa.types.is_boolean(typ):
            out.append(rng.random() < 0.5)
        elif pa.types.is_floating(typ):
            out.append(rng.choice([0.0, -0.0, 1e300, -1e-300, rng.uniform(-1e6, 1e6), 3]))
        elif typ == pa.int32():
            out.append(rng.randint(-(2**31), 2**31 - 1))
        else:
            out.append(rng.randint(-(2**63), 2**63 - 1))
    return out


@pytest.mark.parametrize("typ", [pa.string(), pa.int64(), pa.int32(), pa.float64(), pa.bool_()])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000])
def test_array_is_pyarrows_array(typ, n):
    rng = random.Random(n * 31 + len(str(typ)))
    for _ in range(5):
        values = _values(rng, typ, n)
        got = _arrow.array(values, typ)
        got.validate(full=True)
        assert got.equals(pa.array(values, type=typ))
        assert got.null_count == sum(v is None for v in values)


@pytest.mark.parametrize("typ", [pa.string(), pa.int64(), pa.int32(), pa.float64(), pa.bool_()])
def test_array_without_nulls_is_pyarrows(typ):
    """No None among the values (their count is then not taken): no validity bitmap."""
    rng = random.Random(len(str(typ)))
    for n in (1, 9, 1000):
        values = [v for v in _values(rng, typ, 2 * n) if v is not None][:n]
        got = _arrow.array(values, typ)
        got.validate(full=True)
        assert got.equals(pa.array(values, type=typ))
        assert got.null_count == 0 and got.buffers()[0] is None


def test_array_of_only_nulls_and_of_tuples():
    for typ in (pa.string(), pa.int64(), pa.float64(), pa.bool_()):
        assert _arrow.array((None, None, None), typ).equals(pa.array([None] * 3, type=typ))
    assert _arrow.array(("a", "b"), pa.string()).equals(pa.array(["a", "b"]))


def test_array_rejects_what_pyarrow_rejects():
    with pytest.raises(TypeError):
        _arrow.array(["1"], pa.int64())
    with pytest.raises(TypeError):
        _arrow.array([1], pa.string())
    with pytest.raises(TypeError):
        _arrow.array([1.5], pa.int64())
    with pytest.raises(OverflowError):
        _arrow.array([2**63], pa.int64())
    with pytest.raises(TypeError):
        _arrow.array([1], pa.timestamp("ns"))


@pytest.mark.parametrize(
    "typ", [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float32(), pa.float64(), pa.bool_()]
)
def test_to_numpy_and_null_mask_are_pyarrows(typ):
    rng = np.random.default_rng(5)
    n = 1000
    raw = rng.integers(0 if pa.types.is_unsigned_integer(typ) else -100, 100, n)
    if pa.types.is_boolean(typ):
        raw = raw > 0
    mask = rng.random(n) < 0.1
    arr = pa.array(raw, type=typ, mask=mask)
    # Chunks with offsets (slices) and an empty chunk, as parquet row groups can give.
    chunked = pa.chunked_array([arr.slice(0, 3), arr.slice(3, 0), arr.slice(3, 500), arr[503:]])
    for a in (arr, arr.slice(13, 77), chunked):
        filled = pc.fill_null(a, False if pa.types.is_boolean(typ) else 0)
        expected = np.asarray(filled.to_numpy(zero_copy_only=False))
        got = _arrow.to_numpy(a)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected)
        assert np.array_equal(
            _arrow.null_mask(a), np.asarray(a.is_null().to_numpy(zero_copy_only=False))
        )
    plain = pa.array(raw, type=typ)
    assert not _arrow.null_mask(plain).any()
    assert np.array_equal(_arrow.to_numpy(plain), plain.to_numpy(zero_copy_only=False))


def test_to_numpy_refuses_other_types():
    with pytest.raises(TypeError):
        _arrow.to_numpy(pa.array(["a"]))


def test_indices_and_string_scalar_are_pyarrows():
    idx = np.array([0, 5, 2, 2**40], dtype=np.int64)
    assert _arrow.indices(idx).equals(pa.array(idx, pa.int64()))
    assert _arrow.indices(np.flatnonzero([True, False, True])).equals(pa.array([0, 2], pa.int64()))
    assert _arrow.indices(idx[::2]).equals(pa.array(idx[::2], pa.int64()))  # not contiguous
    assert _arrow.indices(np.empty(0, dtype=np.intp)).equals(pa.array([], pa.int64()))
    for text in ("buy", "", "héllo"):
        got = _arrow.string_scalar(text)
        assert got.equals(pa.scalar(text, pa.string()))
        arr = pa.array(["buy", "sell", text])
        assert pc.equal(arr, got).equals(pc.equal(arr, text))
