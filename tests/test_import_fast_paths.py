"""The importers' shortcuts for clean single-instrument data (issue 17: the parquet load of the
peer benchmark's 2 M ticks) give what the full checks give: a dictionary-coded symbol column
whose dictionaries all name one symbol needs no codes, and a clean price, size or time
column needs no per-reason masks; bad rows are still found with the same reasons."""

from pathlib import Path

import numpy as np
import pyarrow as pa
from tradewind.market.importers._base import Rejects, _single_name, assemble

F = Path("ticks.parquet")


def _assemble(symbol, ts, price, size):
    n = len(ts)
    return assemble(
        src_path=F,
        fmt="test",
        exchange="binance",
        market="perp",
        symbol=symbol,
        ts_ns=np.asarray(ts, dtype=np.int64),
        price=np.asarray(price, dtype=np.float64),
        size=np.asarray(size, dtype=np.float64),
        side=np.where(np.arange(n) % 2 == 0, 1, -1).astype(np.int8),
        trade_id=np.arange(n, dtype=np.int64),
        lines=np.arange(1, n + 1, dtype=np.int64),
        rejects=Rejects(F),
    )


def _same(a, b):
    assert list(a.batches) == list(b.batches)
    for name in a.batches:
        x, y = a.batches[name], b.batches[name]
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            assert np.array_equal(getattr(x, col), getattr(y, col)), (name, col)
    assert a.bad_rows == b.bad_rows


def _dict_chunks(*chunks):
    return pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array(i, pa.int32()), pa.array(d)) for i, d in chunks]
    )


def test_one_symbol_in_every_dictionary_is_that_symbol():
    rng = np.random.default_rng(7)
    n = 1000
    ts = np.sort(rng.integers(1, 10**12, n))
    price = rng.uniform(1, 2, n)
    size = rng.uniform(0.1, 1, n)
    # Two chunks whose dictionaries trim to the same name.
    col = _dict_chunks(([0] * 600, ["BTCUSDT"]), ([0] * 400, [" BTCUSDT"]))
    assert _single_name(col) == "BTCUSDT"
    _same(_assemble(col, ts, price, size), _assemble(np.array(["BTCUSDT"] * n), ts, price, size))


def test_a_second_name_in_a_dictionary_takes_the_codes_path():
    n = 6
    ts, price, size = np.arange(1, n + 1), np.ones(n), np.ones(n)
    unused = _dict_chunks(([0] * n, ["BTCUSDT", "ETHUSDT"]))  # ETHUSDT never used
    assert _single_name(unused) is None
    assert list(_assemble(unused, ts, price, size).batches) == ["BTCUSDT"]
    two = _dict_chunks(([0, 1, 0], ["BTCUSDT", "ETHUSDT"]), ([0, 0, 0], ["ETHUSDT"]))
    assert _single_name(two) is None
    out = _assemble(two, ts, price, size)
    assert {k: len(v.ts_ns) for k, v in out.batches.items()} == {"BTCUSDT": 2, "ETHUSDT": 4}
    with_null = pa.chunked_array([pa.DictionaryArray.from_arrays([0, None], ["BTCUSDT"])])
    assert _single_name(with_null) is None
    assert _single_name(np.array(["BTCUSDT"], dtype=object)) is None


def test_bad_values_are_still_rejected_with_their_reasons():
    ts = [5, 0, 7, 8, 9, 10, 11, 12, 13]
    price = [1.0, 1.0, np.nan, np.inf, -2.0, 1.0, 1.0, 1.0, 1.0]
    size = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, np.nan, -np.inf, 1.0]
    out = _assemble(np.array(["X"] * len(ts)), ts, price, size)
    reasons = {r.line: r.reason for r in out.bad_rows}
    assert reasons == {
        2: "timestamp 0 is not positive",
        3: "price is NaN",
        4: "price is infinite",
        5: "price -2 is not positive",
        6: "size 0 is not positive",
        7: "size is NaN",
        8: "size is infinite",
    }
    assert out.batches["X"].ts_ns.tolist() == [5, 13]
