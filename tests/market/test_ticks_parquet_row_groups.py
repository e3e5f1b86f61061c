"""A tradewind ticks parquet file of several row groups is read a row group at a time into
numpy arrays (not concatenated in Arrow and copied): the batches, dtypes and bad rows are the
same as for the same rows in one row group, nulls included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tradewind.market.importers import ticks_parquet
from tradewind.model.ticks import BUY, SELL


def _table(n: int, *, nulls: bool) -> pa.Table:
    rng = np.random.default_rng(5)
    codes = np.repeat(np.arange(3, dtype=np.int32), n // 3 + 1)[:n]
    ts = np.arange(n, dtype=np.int64) * 1_000_000 + 1_700_000_000 * 10**9
    price = 100.0 + rng.random(n)
    size = rng.random(n) + 0.001
    side = np.where(rng.random(n) < 0.5, BUY, SELL).astype(np.int8)
    tid = np.arange(n, dtype=np.int64)
    mask = np.zeros(n, dtype=bool)
    if nulls:
        mask[[3, 40, 41, 99]] = True
    return pa.table(
        {
            "symbol": pa.DictionaryArray.from_arrays(
                pa.array(codes), pa.array(["AAAUSDT", "BBBUSDT", "CCCUSDT"])
            ),
            "ts_ns": pa.array(ts),
            "price": pa.array(price, mask=mask),
            "size": pa.array(size),
            "side": pa.array(side, mask=np.roll(mask, 5)),
            "trade_id": pa.array(tid),
        }
    )


@pytest.mark.parametrize("nulls", [False, True])
def test_row_groups_load_like_one(tmp_path: Path, nulls: bool) -> None:
    table = _table(300, nulls=nulls)
    one, many = tmp_path / "one.parquet", tmp_path / "many.parquet"
    pq.write_table(table, one)
    pq.write_table(table, many, row_group_size=17)
    assert pq.ParquetFile(one).metadata.num_row_groups == 1
    assert pq.ParquetFile(many).metadata.num_row_groups == 18
    a = ticks_parquet.read(one, symbol=None, exchange="x", market="perp", max_backwards_ns=0)
    b = ticks_parquet.read(many, symbol=None, exchange="x", market="perp", max_backwards_ns=0)
    assert list(a.batches) == list(b.batches) == ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
    for sym, x in a.batches.items():
        y = b.batches[sym]
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            u, v = getattr(x, col), getattr(y, col)
            assert u.dtype == v.dtype, col
            np.testing.assert_array_equal(u, v, err_msg=f"{sym} {col}")
    assert a.bad_rows == [r.__class__(str(one), r.line, r.reason) for r in b.bad_rows]
    if nulls:
        assert [(r.line, r.reason) for r in b.bad_rows] == [
            (4, "price is empty"),
            (9, "side is empty"),
            (41, "price is empty"),
            (42, "price is empty"),
            (46, "side is empty"),
            (47, "side is empty"),
            (100, "price is empty"),
            (105, "side is empty"),
        ]
        assert sum(len(x) for x in b.batches.values()) == 300 - 8
    else:
        assert b.bad_rows == [] and sum(len(x) for x in b.batches.values()) == 300


def test_one_column_of_row_groups_is_one_numpy_array(tmp_path: Path) -> None:
    path = tmp_path / "many.parquet"
    pq.write_table(_table(100, nulls=True), path, row_group_size=9)
    with pq.ParquetFile(path) as f:
        values, null = ticks_parquet._by_row_group(f, "price", 100)
    assert values.dtype == np.float64 and values.flags.owndata and len(values) == 100
    assert np.flatnonzero(null).tolist() == [3, 40, 41, 99]
    assert values[3] == 0.0 and values[4] > 100.0


def _unified_codes(arr: pa.ChunkedArray) -> tuple[list[int], list[str]]:
    """The previous computation: unify the chunks' dictionaries, trim and encode them."""
    import pyarrow.compute as pc

    chunks = arr.unify_dictionaries().chunks
    enc = pc.dictionary_encode(pc.utf8_trim_whitespace(chunks[0].dictionary))
    remap = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    indices = np.concatenate([np.asarray(c.indices.to_numpy()) for c in chunks])
    return remap[indices].tolist(), [str(v) for v in enc.dictionary.to_pylist()]


def test_dictionary_codes_per_chunk_match_the_unified_dictionary() -> None:
    from tradewind.market.importers import _base

    rng = np.random.default_rng(9)
    pool = ["ZZZUSDT", "AAAUSDT", " AAAUSDT", "BBBUSDT\t", "BBBUSDT", "CCC", "DDD ", "EEE"]
    chunks = []
    for k in range(6):  # each chunk its own dictionary: different values, order, unused ones
        names = list(rng.permutation(pool)[: 3 + k % 4])
        idx = rng.integers(0, len(names) - 1, size=50 + 10 * k).astype(np.int32)
        chunks.append(pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(names)))
    chunks.insert(2, pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array(["QQQ"])))
    arr = pa.chunked_array(chunks)
    got = _base._dictionary_codes(arr)
    assert got is not None
    codes, names = got
    want_codes, want_names = _unified_codes(arr)
    assert names == want_names and codes.dtype == np.int32
    assert codes.tolist() == want_codes
    assert "AAAUSDT" in names and " AAAUSDT" not in names  # trimmed values merge
    with_null = pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), pa.array(["A", None]))]
    )
    assert _base._dictionary_codes(with_null) is None


@pytest.mark.parametrize("row_group_size", [None, 2])
def test_a_column_of_text_is_a_data_error_naming_file_and_column(tmp_path: Path, row_group_size):
    from tradewind.errors import DataError
    from tradewind.market.importers import load

    table = _table(6, nulls=False)
    table = table.set_column(
        table.schema.get_field_index("price"), "price", pa.array([str(v) for v in range(6)])
    )
    path = tmp_path / "text.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    with pytest.raises(DataError, match=r"text\.parquet: column price has type string"):
        load(path)
