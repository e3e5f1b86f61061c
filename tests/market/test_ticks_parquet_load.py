"""The load of a tradewind ticks parquet file without an array of line numbers, and the
writer's one dictionary of symbols: the batches and bad rows are those of the previous code
(an int64 array ``np.arange(1, n + 1)`` of line numbers; a dictionary per symbol)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tradewind.market.importers import _base, ticks_parquet
from tradewind.model.ticks import BUY, SELL, TickBatch


def test_line_numbers_read_like_their_array() -> None:
    rng = np.random.default_rng(17)
    for first, n in [(1, 0), (1, 1), (1, 7), (5, 40), (1, 1000)]:
        lazy, arr = _base.LineNumbers(first, n), np.arange(first, first + n, dtype=np.int64)
        assert len(lazy) == n
        for i in [*range(-n, n), -n - 1, n, n + 5]:
            if -n <= i < n:
                got = lazy[i]
                assert type(got) is int and got == int(arr[i])
                assert lazy[np.int64(i)] == int(arr[i])
            else:
                with pytest.raises(IndexError):
                    lazy[i]
        for _ in range(30):
            a, b = (int(v) for v in rng.integers(-n - 3, n + 4, size=2))
            step = int(rng.choice([None, 1, 2, -1, 3]) or 1)
            for s in (slice(a, b), slice(a, None), slice(None, b), slice(a, b, step)):
                got = np.asarray(
                    [lazy[s][k] for k in range(len(lazy[s]))]
                    if isinstance(lazy[s], _base.LineNumbers)
                    else lazy[s]
                )
                np.testing.assert_array_equal(got.astype(np.int64), arr[s])
            if n:
                idx = rng.integers(-n, n, size=int(rng.integers(0, 20)))
                got_idx = lazy[idx]
                assert got_idx.dtype == np.int64
                np.testing.assert_array_equal(got_idx, arr[idx])
                mask = rng.random(n) < 0.3
                np.testing.assert_array_equal(lazy[mask], arr[mask])
                # A run of a run: the slice of a slice, then an index array into it.
                inner = lazy[1:][::1]
                sub = rng.integers(0, max(1, len(inner)), size=5) if len(inner) else []
                if len(inner):
                    np.testing.assert_array_equal(inner[np.asarray(sub)], arr[1:][sub])
        if n:
            with pytest.raises(IndexError):
                lazy[np.array([n])]
            with pytest.raises(IndexError):
                lazy[np.ones(n + 1, dtype=bool)]


def _batches(rng: np.random.Generator, symbols: list[str], n: int) -> dict[str, TickBatch]:
    out = {}
    for k, sym in enumerate(symbols):
        m = n + 13 * k
        ts = np.cumsum(rng.integers(0, 3_000_000_000, size=m)).astype(np.int64) + 1_700 * 10**15
        out[sym] = TickBatch.from_arrays(
            sym,
            ts,
            100.0 + rng.random(m),
            rng.random(m) + 0.001,
            np.where(rng.random(m) < 0.5, BUY, SELL).astype(np.int8),
            np.arange(m, dtype=np.int64) + 1000 * k,
        )
    return out


def _old_write(path: Path, batches: dict[str, TickBatch]) -> None:
    """The previous writer: each symbol's piece with a dictionary of its own."""
    tables = [
        pa.table(
            {
                "symbol": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(len(b), dtype=np.int32)), pa.array([sym])
                ),
                "ts_ns": b.ts_ns,
                "price": b.price,
                "size": b.size,
                "side": b.side,
                "trade_id": b.trade_id,
            }
        )
        for sym, b in batches.items()
    ]
    table = pa.concat_tables(tables).replace_schema_metadata(
        {b"tradewind": b'{"exchange": "x", "market": "perp"}'}
    )
    pq.write_table(table, path, compression="zstd")


def _same(a: _base.ImportResult, b: _base.ImportResult) -> None:
    assert list(a.batches) == list(b.batches)
    for sym, x in a.batches.items():
        y = b.batches[sym]
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            u, v = getattr(x, col), getattr(y, col)
            assert u.dtype == v.dtype, col
            np.testing.assert_array_equal(u, v, err_msg=f"{sym} {col}")
    assert [(r.line, r.reason) for r in a.bad_rows] == [(r.line, r.reason) for r in b.bad_rows]


def _read(path: Path, **kw: object) -> _base.ImportResult:
    return ticks_parquet.read(path, symbol=None, exchange=None, market=None, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_written_symbols_stay_dictionary_coded_and_read_back_as_before(
    tmp_path: Path, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    symbols = [f"S{k:02d}USDT" for k in rng.permutation(12)]
    batches = _batches(rng, symbols, 300)
    new, old = tmp_path / "new.parquet", tmp_path / "old.parquet"
    ticks_parquet.write(new, batches, exchange="x", market="perp")
    _old_write(old, batches)
    rows = sum(len(b) for b in batches.values())
    meta_new = pq.ParquetFile(new).metadata.row_group(0).column(0)
    meta_old = pq.ParquetFile(old).metadata.row_group(0).column(0)
    # Dictionary codes in runs (a few bytes per run) against plain strings (~12 bytes a row):
    # the previous writer fell back to plain after the second symbol's dictionary.
    assert meta_new.total_uncompressed_size < rows
    assert meta_old.total_uncompressed_size > 10 * rows
    column = pq.ParquetFile(new).read(columns=["symbol"]).column(0)
    assert column.chunk(0).dictionary.to_pylist() == symbols
    got, want = _read(new), _read(old)
    _same(got, want)
    assert list(got.batches) == sorted(symbols)
    for sym, b in batches.items():
        np.testing.assert_array_equal(got.batches[sym].ts_ns, b.ts_ns)
        np.testing.assert_array_equal(got.batches[sym].trade_id, b.trade_id)


def _messy_table(rng: np.random.Generator, n: int, *, interleaved: bool) -> pa.Table:
    """Three symbols (in runs or interleaved), nulls, bad sides, non-positive prices and
    sizes, timestamps going backwards beyond and within a tolerance, unordered trade ids."""
    names = pa.array(["AAAUSDT", "BBBUSDT", "CCCUSDT"])
    if interleaved:
        codes = rng.integers(0, 3, size=n).astype(np.int32)
    else:
        codes = np.repeat(np.arange(3, dtype=np.int32), n // 3 + 1)[:n]
    ts = np.arange(n, dtype=np.int64) * 1_000_000 + 1_700_000_000 * 10**9
    back = rng.choice(n, size=n // 25, replace=False)
    ts[back] -= rng.integers(0, 40_000_000, size=len(back))
    price = 100.0 + rng.random(n)
    price[rng.choice(n, size=4, replace=False)] = -1.0
    size = rng.random(n) + 0.001
    size[rng.choice(n, size=3, replace=False)] = 0.0
    side = np.where(rng.random(n) < 0.5, BUY, SELL).astype(np.int8)
    side[rng.choice(n, size=3, replace=False)] = 2
    tid = rng.permutation(n).astype(np.int64)
    null = np.zeros(n, dtype=bool)
    null[rng.choice(n, size=5, replace=False)] = True
    return pa.table(
        {
            "symbol": pa.DictionaryArray.from_arrays(pa.array(codes), names),
            "ts_ns": pa.array(ts),
            "price": pa.array(price, mask=null),
            "size": pa.array(size),
            "side": pa.array(side, mask=np.roll(null, 7)),
            "trade_id": pa.array(tid),
        }
    )


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("row_group_size", [None, 37])
@pytest.mark.parametrize("tolerance", [0, 15_000_000])
def test_bad_rows_and_batches_are_those_of_the_array_of_line_numbers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interleaved: bool,
    row_group_size: int | None,
    tolerance: int,
) -> None:
    rng = np.random.default_rng(11 + interleaved + 2 * (row_group_size or 0))
    path = tmp_path / "messy.parquet"
    table = _messy_table(rng, 600, interleaved=interleaved)
    pq.write_table(table, path, row_group_size=row_group_size)
    got = _read(path, max_backwards_ns=tolerance)
    with monkeypatch.context() as m:
        # The previous code: an int64 array of the line numbers.
        m.setattr(
            ticks_parquet,
            "LineNumbers",
            lambda first, n: np.arange(first, first + n, dtype=np.int64),
        )
        want = _read(path, max_backwards_ns=tolerance)
    _same(got, want)
    reasons = {r.reason.split(" ")[0] for r in got.bad_rows}
    assert {"price", "side", "size", "timestamp"} <= reasons
    assert len(got.bad_rows) > 15


def test_runs_refuse_a_symbol_in_two_runs() -> None:
    codes = np.array([0, 0, 1, 1, 2, 0], dtype=np.int32)
    assert _base._runs(codes, ["A", "B", "C"]) is None
    runs = _base._runs(np.array([2, 2, 0, 1, 1], dtype=np.int32), ["A", "B", "C"])
    assert runs == {"C": slice(0, 2), "A": slice(2, 3), "B": slice(3, 5)}
