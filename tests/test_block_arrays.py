"""The block's set-up as arrays gives the object path's bits (issue 17).

``CandleAggregator.update_arrays`` against ``update``, :class:`tradewind.blocks.BlockRows`
against :func:`tradewind.blocks.make_rows`, and the order-flow, regime and microstructure
analyzers' tables built from a block's arrays against the same analyzers given the rows as
plain :class:`BlockRow` objects (their per-row path), on random tapes with data gaps and on
the shipped sample, block after block.
"""

from __future__ import annotations

import importlib
import itertools
import math
import struct
from pathlib import Path

import attrs
import numpy as np
import pytest
from tradewind.blocks import BlockRow, BlockRows, BlockTable, TapeBlock, make_rows
from tradewind.config import load_config
from tradewind.market.candles import CANDLE_DTYPE, CandleAggregator, _candle
from tradewind.market.importers import load
from tradewind.model import Candle, TickBatch

from tests.test_engine import SAMPLE, demo_config_text

TFS = (60_000_000_000, 300_000_000_000, 900_000_000_000)
MIN = 60_000_000_000


def _tape(seed: int, n: int) -> TickBatch:
    """``n`` random BTCUSDT trades: equal timestamps, quiet minutes, gaps of hours, sides
    -1/0/+1, sizes over six orders of magnitude."""
    rng = np.random.default_rng(seed)
    steps = rng.choice(
        [0, 1, 50_000_000, 2_000_000_000, 45 * MIN, 5 * 60 * MIN],
        size=n,
        p=[0.1, 0.05, 0.5, 0.33, 0.015, 0.005],
    )
    ts = 1_700_000_000_000_000_000 + np.cumsum(steps).astype(np.int64)
    price = np.round(30_000.0 * np.exp(np.cumsum(rng.normal(0, 4e-4, n))), 1)
    size = np.round(10.0 ** rng.uniform(-4, 2, n), 6)
    side = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=n, p=[0.45, 0.1, 0.45])
    return TickBatch.from_arrays("BTCUSDT", ts, price, size, side)


def _sample() -> TickBatch:
    return next(iter(load(SAMPLE).batches.values()))


def _bits(c: Candle) -> tuple[object, ...]:
    """Every field of a candle, floats as their bytes."""
    return tuple(
        struct.pack("<d", v) if isinstance(v, float) else (type(v), v) for v in attrs.astuple(c)
    )


def _cuts(n: int, seed: int) -> list[int]:
    """Batch boundaries over ``n`` trades: single trades, a few, hundreds, tens of thousands."""
    rng = np.random.default_rng(seed)
    cuts = [0]
    while cuts[-1] < n:
        cuts.append(min(n, cuts[-1] + int(rng.choice([1, 3, 40, 700, 9_000, 70_000]))))
    return cuts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_update_arrays_gives_the_candles_of_update_bit_for_bit(seed):
    """Fed the same batches (the small scalar paths and the kernel), ``update_arrays``
    returns ``update``'s candles, in its order, as records and timeframes."""
    tape = _tape(seed, 120_000)
    by_objects, by_arrays = CandleAggregator("BTCUSDT", TFS), CandleAggregator("BTCUSDT", TFS)
    total = 0
    cuts = _cuts(len(tape), seed)
    for lo, hi in itertools.pairwise(cuts):
        batch = tape.slice(lo, hi)
        expected = by_objects.update(batch)
        data, tf = by_arrays.update_arrays(batch)
        assert data.dtype == CANDLE_DTYPE and tf.dtype == np.int64 and len(data) == len(tf)
        got = [
            _candle("BTCUSDT", t, rec) for t, rec in zip(tf.tolist(), data.tolist(), strict=True)
        ]
        assert [_bits(c) for c in got] == [_bits(c) for c in expected]
        total += len(expected)
    assert total > 1_000
    assert _bits(by_arrays.flush()[0]) == _bits(by_objects.flush()[0])


def _block_rows(ticks: TickBatch) -> tuple[list[BlockRow], BlockRows]:
    objects = make_rows(ticks, CandleAggregator(ticks.instrument, TFS).update(ticks))
    data, tf = CandleAggregator(ticks.instrument, TFS).update_arrays(ticks)
    return objects, BlockRows(ticks.instrument, ticks.ts_ns, data, tf)


@pytest.mark.parametrize("tape", ["sample", "random-4", "random-5"])
def test_block_rows_are_make_rows_rows_and_their_arrays(tape):
    """The rows of :class:`BlockRows`, read in any order, are :func:`make_rows`' rows (the
    same candles bit for bit), and its arrays are those rows' close times, first trades and
    candles by timeframe."""
    ticks = _sample() if tape == "sample" else _tape(int(tape[-1]), 60_000)
    objects, arrays = _block_rows(ticks)
    n = len(objects)
    assert n > 100 and len(arrays) == n
    assert arrays.close_ns.tolist() == [r.close_ns for r in objects]
    assert arrays.tick_end.tolist() == [r.tick_end for r in objects]
    assert arrays.offsets.tolist() == np.cumsum([0] + [len(r.candles) for r in objects]).tolist()
    assert arrays.candle_row.tolist() == [r for r, row in enumerate(objects) for _ in row.candles]
    for tf in TFS:
        where, got = arrays.of_timeframe(tf)
        mine = [
            (r, c) for r, row in enumerate(objects) for c in row.candles if c.timeframe_ns == tf
        ]
        assert where.tolist() == [r for r, _ in mine]
        assert [_bits(_candle("BTCUSDT", tf, rec)) for rec in got.tolist()] == [
            _bits(c) for _, c in mine
        ]
    # No object is made before a row is read; then in any order, the same rows.
    assert all(r is None for r in arrays._made)
    order = [n - 1, 0, n // 2, *range(n)]
    for r in order:
        row = arrays[r]
        assert row.close_ns == objects[r].close_ns and row.tick_end == objects[r].tick_end
        assert [_bits(c) for c in row.candles] == [_bits(c) for c in objects[r].candles]
        assert type(row.close_ns) is int and type(row.tick_end) is int
    assert arrays[-1] is arrays[n - 1] and arrays[2:5] == objects[2:5]
    assert list(arrays) == objects and arrays.made() == objects
    with pytest.raises(IndexError):
        arrays[n]
    # Built from Candle objects (TapeBlock.open given update's list): the same arrays.
    again = BlockRows.of_candles(ticks, [c for r in objects for c in r.candles])
    assert again.candles.tobytes() == arrays.candles.tobytes()
    assert list(again) == objects


def test_an_empty_block_has_no_rows():
    ticks = _tape(9, 5).slice(0, 0)
    rows = BlockRows("BTCUSDT", ticks.ts_ns, np.empty(0, CANDLE_DTYPE), np.empty(0, np.int64))
    assert len(rows) == 0 and list(rows) == [] and rows.made() == []
    assert rows.close_ns.size == rows.tick_end.size == 0 and rows.offsets.tolist() == [0]


def test_a_tape_block_makes_no_row_objects_until_its_rows_are_read():
    """``TapeBlock.open`` given the aggregator's arrays keeps the rows as arrays; its rows
    are made on the first read, as ``make_rows`` gives them, and :attr:`next_row` counts
    the rows taken."""
    ticks = _sample().slice(0, 30_000)
    block = TapeBlock.open(
        ticks, len(ticks), CandleAggregator(ticks.instrument, TFS).update_arrays(ticks), []
    )
    assert block._rows is None and all(r is None for r in block.arrays._made)
    assert block.next_row == 0 and block.total == len(block.arrays) > 20
    expected = make_rows(ticks, CandleAggregator(ticks.instrument, TFS).update(ticks))
    assert list(block.rows) == expected
    block.take(expected[3].close_ns)
    assert block.next_row == 4 and list(block.rows) == expected[4:]


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_a_blocks_take_and_first_row_are_the_row_deques(seed):
    """``TapeBlock.take`` and ``RowQueue.first`` against a deque of ``make_rows``' rows: at
    random close times (before, on and between rows' closes, past the last), with rows
    dropped unmade between takes, the candles and each analyzer's values taken, the first
    row left and the rows left are the deque's; a block whose table ends early says so."""
    from collections import deque

    rng = np.random.default_rng(seed)
    ticks = _tape(seed, 40_000)
    expected = make_rows(ticks, CandleAggregator(ticks.instrument, TFS).update(ticks))
    n = len(expected)
    assert n > 50
    tables = {
        name: BlockTable({"x": rng.normal(size=n).tolist(), "y": list(range(n))}, n)
        for name in ("a", "b")
    }
    block = TapeBlock.open(
        ticks,
        len(ticks),
        CandleAggregator(ticks.instrument, TFS).update_arrays(ticks),
        [(name, _Tabled(t)) for name, t in tables.items()],
    )
    ref = deque(expected)
    taken = 0
    closes = [r.close_ns for r in expected]
    while ref:
        kind = rng.integers(4)
        if kind == 0:  # a row's close exactly
            t = closes[min(n - 1, taken + int(rng.integers(0, 4)))]
        elif kind == 1:  # between closes (or before the next)
            t = closes[min(n - 1, taken + int(rng.integers(0, 3)))] - 1
        elif kind == 2 and taken + 2 < n:  # rows passed unmade, as the walk passes them
            k = int(rng.integers(1, 3))
            block.rows.drop(k)
            for _ in range(k):
                ref.popleft()
            taken += k
            for t_ in tables.values():
                t_.row(taken - 1)
            assert block.rows.first() == (ref[0] if ref else None)
            continue
        else:
            t = closes[-1] + 1 if rng.random() < 0.05 else closes[min(n - 1, taken)]
        want_candles, want_rows = [], []
        while ref and ref[0].close_ns <= t:
            row = ref.popleft()
            want_candles.extend(row.candles)
            want_rows.append(taken)
            taken += 1
        candles, values = block.take(t)
        assert candles == want_candles
        if want_rows:
            assert {k: (v["x"], v["y"]) for k, v in values.items()} == {
                k: (tb.columns["x"][want_rows[-1]], want_rows[-1]) for k, tb in tables.items()
            }
        else:
            assert values == {}
        assert block.rows.first() == (ref[0] if ref else None)
        assert block.next_row == taken and list(block.rows) == list(ref)
    assert block.rows.first() is None and block.take(closes[-1] + 10**12) == ([], {})
    # An analyzer whose rows end before the block's: the same error as before.
    short = TapeBlock.open(
        ticks,
        len(ticks),
        CandleAggregator(ticks.instrument, TFS).update_arrays(ticks),
        [("short", _Tabled(BlockTable({"x": [1.0]}, 1)))],
    )
    short.take(closes[0])
    with pytest.raises(RuntimeError, match="its block ended before the row"):
        short.take(closes[1])


class _Tabled:
    """An analyzer whose ``on_block`` returns a given table."""

    capabilities = frozenset({"block"})

    def __init__(self, table: BlockTable) -> None:
        self.table = table

    def on_block(self, ticks: TickBatch, rows: object) -> BlockTable:
        return self.table


def test_a_table_of_arrays_makes_each_column_on_its_first_read():
    """``BlockTable.of_arrays``: a column's list is made when first read, NaN as the object
    ``math.nan``, the other floats as they are; rows read the same floats."""
    arrays = {
        "a": np.array([1.5, math.nan, -0.0, 2.0**-1074]),
        "b": np.array([0.1, 0.2, 0.3, math.inf]),
    }
    table = BlockTable.of_arrays(arrays, 4)
    assert table.columns._made == {}  # type: ignore[attr-defined]
    row = next(table)
    assert row["a"] == 1.5 and list(table.columns._made) == ["a"]  # type: ignore[attr-defined]
    column = table.columns["a"]
    assert column[1] is math.nan and struct.pack("<d", column[2]) == struct.pack("<d", -0.0)
    assert column[3] == 2.0**-1074 and all(type(x) is float for x in column)
    assert list(table.columns) == ["a", "b"] and len(table.columns) == 2
    assert table.arrays() is arrays and table.row(3)["b"] == math.inf
    with pytest.raises(ValueError, match="column 'a' has 4 rows, not 3"):
        BlockTable.of_arrays(arrays, 3)


TABLED = [
    ("tradewind_analyzer_orderflow", "OrderFlowAnalyzer", "OrderFlowConfig", {}),
    # The CVD restarting every hour: segments of the running sum inside a block.
    ("tradewind_analyzer_orderflow", "OrderFlowAnalyzer", "OrderFlowConfig", {"cvd_reset": "1h"}),
    ("tradewind_analyzer_regime", "RegimeAnalyzer", "RegimeConfig", {}),
    ("tradewind_analyzer_microstructure", "MicrostructureAnalyzer", "MicrostructureConfig", {}),
]


def _same_column(a: list[float], b: list[float]) -> bool:
    """Equal bit for bit, NaN the same object ``math.nan`` in both."""
    return len(a) == len(b) and all(
        (x is math.nan and y is math.nan)
        or (x == x and y == y and struct.pack("<d", x) == struct.pack("<d", y))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize(("package", "cls_name", "cfg_name", "options"), TABLED)
@pytest.mark.parametrize("tape", ["sample", "random-6", "random-7"])
def test_an_analyzers_table_from_the_block_arrays_is_its_table_from_row_objects(
    tmp_path: Path, monkeypatch, package, cls_name, cfg_name, options, tape
):
    """Block after block (each its own aggregator call, the analyzer's state carried over),
    ``on_block`` given :class:`BlockRows` (the engine's) and given the same rows as a list
    of :class:`BlockRow` objects (any other caller's, the per-row path) returns the same
    columns, arrays and rows, and leaves the analyzer with the same ``values()``."""
    plugin = importlib.import_module(f"{package}.plugin")
    config = importlib.import_module(f"{package}.config")
    cls, cfg_cls = getattr(plugin, cls_name), getattr(config, cfg_name)
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    inst = load_config(cfg).instruments[0].to_instrument()
    ticks = _sample() if tape == "sample" else _tape(int(tape[-1]), 150_000)
    by_arrays, by_objects = cls(cfg_cls(**options), inst), cls(cfg_cls(**options), inst)
    agg_a, agg_o = CandleAggregator(ticks.instrument, TFS), CandleAggregator(ticks.instrument, TFS)
    read = {"of_timeframe": 0}
    of_timeframe = BlockRows.of_timeframe

    def counted(self, tf):
        read["of_timeframe"] += 1
        return of_timeframe(self, tf)

    monkeypatch.setattr(BlockRows, "of_timeframe", counted)
    cuts = [0, 1, 2, 500, 501, len(ticks) // 3, len(ticks) // 3 + 7, len(ticks)]
    rows_seen = defined = 0
    for lo, hi in itertools.pairwise(cuts):
        piece = ticks.slice(lo, hi)
        data, tf = agg_a.update_arrays(piece)
        arrays = BlockRows(piece.instrument, piece.ts_ns, data, tf)
        objects = make_rows(piece, agg_o.update(piece))
        got, expected = by_arrays.on_block(piece, arrays), by_objects.on_block(piece, objects)
        assert isinstance(got, BlockTable) and isinstance(expected, BlockTable)
        assert got.rows == expected.rows == len(objects)
        assert list(got.columns) == list(expected.columns)
        for key in expected.columns:
            assert _same_column(got.columns[key], expected.columns[key]), key
            assert got.arrays()[key].tobytes() == expected.arrays()[key].tobytes(), key
        for a, b in zip(got, expected, strict=True):
            assert _same_column(list(a.values()), list(b.values()))
        va, vb = dict(by_arrays.values()), dict(by_objects.values())
        assert va.keys() == vb.keys() and _same_column(list(va.values()), list(vb.values()))
        rows_seen += len(objects)
        defined += sum(v == v for v in vb.values())
        assert all(r is None for r in arrays._made)  # the table read no row objects
    assert rows_seen > 100 and defined > 0
    assert read["of_timeframe"] > 0  # the array path ran


@pytest.mark.parametrize("seed", [6, 8])
def test_the_microstructure_kernels_run_recomputes_in_c_with_the_python_bits(monkeypatch, seed):
    """``MicroKernel.run`` (the block path) does the exact window recomputations in C
    (math.fsum's algorithm): the outputs after every candle are those of ``step`` (the
    per-candle path), on random candles, runs of equal closes (the moments collapse) and
    sizes over ten orders of magnitude, and no recompute is left to Python by either. (Since
    the nineteenth session ``step`` recomputes in C too; the compiled recompute against
    Python's is the plugin's test_per_candle_kernel_is_the_python_bits, against its pure-Python
    reference.)"""
    from tradewind_analyzer_microstructure.config import MicrostructureConfig
    from tradewind_analyzer_microstructure.kernel import MicroKernel

    data, _ = CandleAggregator("BTCUSDT", (MIN,)).update_arrays(_tape(seed, 150_000))
    cols = [np.ascontiguousarray(data[f]) for f in ("open", "high", "low", "close", "volume")]
    rng = np.random.default_rng(seed)
    flat = slice(len(data) // 2, len(data) // 2 + 80)
    for col in cols[:4]:
        col[flat] = 30_000.5  # equal prices: the moments and covariances collapse
    cols[4] *= 10.0 ** rng.integers(-5, 5, len(data))
    python = {"recomputes": 0}
    recompute = MicroKernel._recompute

    def counted(self):
        python["recomputes"] += 1
        recompute(self)

    monkeypatch.setattr(MicroKernel, "_recompute", counted)
    by_run, by_step = MicroKernel(MicrostructureConfig()), MicroKernel(MicrostructureConfig())
    got = by_run.run(*cols)
    assert python["recomputes"] == 0
    expected = np.empty_like(got)
    for i, candle in enumerate(zip(*(c.tolist() for c in cols), strict=True)):
        by_step.step(*candle)
        expected[i] = by_step.out
    assert python["recomputes"] == 0  # the step path's recomputes are the kernel's too
    assert got.tobytes() == expected.tobytes()
    assert by_run._mem.tobytes() == by_step._mem.tobytes()


def test_a_tables_columns_get_answers_as_mappings_get() -> None:
    """BlockTable.of_arrays' columns (converted on first read) answer ``get`` as
    ``Mapping.get`` does over ``__getitem__``: the same list object for a column, read
    before or after its conversion, NaN as ``math.nan``, and the default for a name the
    table does not have; a row's ``get`` reads through it."""
    from collections.abc import Mapping

    rng = np.random.default_rng(5)
    arrays = {
        "a": rng.normal(size=7),
        "b": np.where(rng.random(7) < 0.5, np.nan, rng.normal(size=7)),
        "c": np.full(7, np.nan),
    }
    table = BlockTable.of_arrays(arrays, 7)
    cols = table.columns
    for key in ("b", "a", "c", "missing", "b", "a"):
        got = cols.get(key, "default")
        want = Mapping.get(cols, key, "default")
        if key == "missing":
            assert got == want == "default"
            continue
        assert got is want is cols[key]
        assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in arrays[key]]
        assert all(x is math.nan for x in got if x != x)
    assert cols.get("missing") is None
    rows = list(table)
    assert rows[3].get("b") is cols["b"][3]
    assert rows[3].get("missing", 1.5) == 1.5


@pytest.mark.parametrize("seed", [7, 8])
def test_a_row_queue_read_on_makes_longer_chunks_and_the_same_rows(seed, monkeypatch):
    """``RowQueue`` reading row after row makes chunks twice as long as the last (up to
    ``_QUEUE_CHUNK_MAX``), and a short one again after rows passed unmade; whatever the
    chunks, every row read is ``make_rows``' row."""
    from tradewind import blocks
    from tradewind.blocks import _QUEUE_CHUNK, _QUEUE_CHUNK_MAX, RowQueue

    rng = np.random.default_rng(seed)
    ticks = _tape(seed, 60_000)
    expected = make_rows(ticks, CandleAggregator(ticks.instrument, TFS).update(ticks))
    n = len(expected)
    assert n > 4 * _QUEUE_CHUNK_MAX
    arrays = CandleAggregator(ticks.instrument, TFS).update_arrays(ticks)
    rows = BlockRows(ticks.instrument, ticks.ts_ns, arrays[0], arrays[1])
    calls: list[tuple[int, int]] = []
    make = BlockRows._make

    def spy(self, r, hi=None):
        calls.append((r, hi))
        make(self, r, hi)

    monkeypatch.setattr(blocks.BlockRows, "_make", spy)
    queue = RowQueue(rows)
    # Row after row: 8, 16, 32, ... up to the longest.
    while queue.head < 3 * _QUEUE_CHUNK_MAX:
        assert queue.first() == expected[queue.head]
        queue.head += 1
    sizes = [hi - r for r, hi in calls]
    assert sizes[:5] == [8, 16, 32, 64, 128] and set(sizes[5:]) <= {_QUEUE_CHUNK_MAX}
    # Passing rows unmade, then reading: a short chunk again, then growing.
    calls.clear()
    queue.drop((len(rows._made) - queue.head) // 4)
    while queue:
        if rng.random() < 0.02:
            queue.drop(int(rng.integers(1, 40)))
            continue
        assert queue.first() == expected[queue.head]
        queue.head += 1
    assert calls[0][1] - calls[0][0] == _QUEUE_CHUNK
    assert max(hi - r for r, hi in calls) <= _QUEUE_CHUNK_MAX
    assert all(row is None or row == expected[k] for k, row in enumerate(rows._made))
    assert list(rows) == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_candle_records_taken_whole_are_the_records_indexing_selects(seed):
    """The block's candle records are selected with ``take``/``compress`` (numpy's fancy and
    boolean indexing of a structured array copies field by field, ~20-30x slower): the same
    bytes as indexing, for any bit pattern (NaN payloads, -0.0, infinities) and any indices
    (repeated, unsorted, negative, none), and so for ``BlockRows.of_timeframe``, the
    aggregator's sorted arrays and the walk's decision candles."""
    from tradewind.trading.scheduler import _Stretches

    rng = np.random.default_rng(seed)
    n = 5_000
    raw = rng.integers(0, 256, n * CANDLE_DTYPE.itemsize, dtype=np.uint8)
    records = raw.view(CANDLE_DTYPE)
    assert np.isnan(records["close"]).any()
    for idx in (
        rng.integers(-n, n, 700),
        np.sort(rng.choice(n, 60, replace=False)),
        np.arange(0),
        np.array([3, 3, 3, n - 1, -1]),
    ):
        assert records.take(idx).tobytes() == records[idx].tobytes()
        assert records.take(idx).dtype == records[idx].dtype
    mask = rng.random(n) < 0.8
    assert records.compress(mask).tobytes() == records[mask].tobytes()
    assert records.compress(np.zeros(n, dtype=bool)).tobytes() == b""

    # The call sites, on a real block's rows: of_timeframe and the walk's decisions.
    ticks = _tape(seed, 40_000)
    data, tf = CandleAggregator(ticks.instrument, TFS).update_arrays(ticks)
    rows = BlockRows(ticks.instrument, ticks.ts_ns, data, tf)
    for t in TFS:
        at, got = rows.of_timeframe(t)
        keep = rows.candle_tf == t
        assert got.tobytes() == rows.candles[keep].tobytes()
        assert at.tolist() == rows.candle_row[keep].tolist()
    block = TapeBlock(end=len(ticks), arrays=rows, iters=[], start=0, total=len(rows))
    plan = _Stretches(block, ticks.ts_ns, MIN, MIN, (0, None, []))
    m = len(rows)
    for r, b in ((0, m), (m // 3, m // 3 + 57), (m - 1, m)):
        times, close, columns = plan.decisions(r, b)
        idx = plan.dec_idx[r:b]
        want = rows.candles[idx[idx >= 0]]
        assert close.tobytes() == want["close"].tobytes()
        names = ("open_ts_ns", "open", "high", "low", "close", "volume")
        assert [c.tobytes() for c in columns] == [want[k].tobytes() for k in names]
        assert times.tolist() == rows.close_ns[r:b][idx >= 0].tolist()

    # The aggregator's arrays sorted by close time, then timeframe: every candle once.
    emitted = [(t, rows.candles[rows.candle_tf == t]) for t in TFS]
    agg = CandleAggregator(ticks.instrument, TFS)
    sorted_data, sorted_tf = agg._sorted_arrays(list(emitted))
    cat = np.concatenate([d for _, d in emitted])
    cat_tf = np.concatenate([np.full(len(d), t, dtype=np.int64) for t, d in emitted])
    order = np.lexsort((cat_tf, cat["open_ts_ns"] + cat_tf))
    assert sorted_data.tobytes() == cat[order].tobytes()
    assert sorted_tf.tolist() == cat_tf[order].tolist()
    assert sorted_data.tobytes() == rows.candles.tobytes()
