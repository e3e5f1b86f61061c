"""Several replayed instruments: the curve points of the quiet closes taken from a block's
arrays are written a stretch at a time (``QuietCloses.defer_curves``: each close keeps its
time and row, the points go onto the curves as column chunks when the instrument's block
changes, before the engine's step appends to them, and at the run's end), and the run is the
one whose closes append their points one by one, bit for bit: every journal table, the
summary, every price, candle and charted-series curve point by point and its length, the
equity curve, fills and closed trades."""

from __future__ import annotations

import math

import anyio
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_event_scheduler_multi import _multi_config, _tapes
from tests.test_quiet_close_cuts import _curves


def _run(cfg, journal, *, defer: bool, arrays: bool = True):
    engine = Engine(load_config(cfg), run_id="multi", journal_path=str(journal))
    quiet = engine._quiet_closes
    assert quiet is not None
    quiet.from_arrays = arrays
    quiet.defer_curves = defer
    result = anyio.run(engine.run)
    assert not quiet._deferred  # every point written by the run's end
    return _rows(journal), result, engine


def _column_chunks(curve) -> int:
    return sum(1 for part in curve.chunks() if not isinstance(part, list))


def _same(tmp_path, cfg, *, arrays: bool = True, deferred: bool = True):
    """The run with deferred points against the one appending them close by close (with
    ``arrays`` False: every close through ``TapeBlock.take``); ``deferred``: whether the
    deferred run must have written points a stretch at a time."""
    base_rows, base, old = _run(cfg, tmp_path / "old.duckdb", defer=False, arrays=arrays)
    rows, result, new = _run(cfg, tmp_path / "new.duckdb", defer=True)
    q_old, q_new = old._quiet_closes, new._quiet_closes
    assert q_old.deferred_points == 0
    if deferred:
        assert q_new.deferred_points > q_new.closes // 2 > 0
        # ... and their analyzers' rows handed over unmade (AnalyzerValues.use_table_rows).
        assert q_new.lazy_rows > q_new.closes // 2
    else:
        assert q_new.deferred_points == q_new.lazy_rows == 0
    assert q_old.lazy_rows == 0
    assert base.summary["funnel"]["signals"] >= 2
    for table in TABLES:
        assert rows[table] == base_rows[table], table
    assert result.summary == base.summary
    got, want = _curves(result), _curves(base)
    assert [name for name, _ in got] == [name for name, _ in want]
    assert len(got) >= 3 * 3
    # Counted before the points are read (reading makes a curve's chunks one list).
    chunked = sum(_column_chunks(curve) for _, curve in got)
    assert (chunked > 0) is deferred
    assert all(_column_chunks(ref) == 0 for _, ref in want)
    for (name, curve), (_, ref) in zip(got, want, strict=True):
        assert len(curve) == len(ref) == len(list(curve)) > 0, name
        assert curve[-1] == ref[-1] and curve[0] == ref[0], name
        # The points as the tuples appended close by close: the same types and objects (a
        # NaN is the one ``math.nan``, so tuples holding one compare equal).
        for a, b in zip(curve, ref, strict=True):
            assert a == b, name
            assert tuple(map(type, a)) == tuple(map(type, b)), name
    assert result.equity_curve == base.equity_curve
    assert result.fills == base.fills
    assert result.closed_trades == base.closed_trades
    assert new.portfolio.cash == old.portfolio.cash
    assert (new.candles, new.decision_points, new.ticks, new.signals) == (
        old.candles,
        old.decision_points,
        old.ticks,
        old.signals,
    )
    assert q_new.closes == q_old.closes and q_new.idle_steps == q_old.idle_steps
    assert q_new.rejected_by_gate == q_old.rejected_by_gate
    return result


@pytest.mark.parametrize(("block", "latency_ms"), [(1_000_000, 25), (3_000, 25), (900, 90_000)])
def test_deferred_curve_points_are_the_points_appended_close_by_close(tmp_path, block, latency_ms):
    """Four instruments in blocks of 250,000 (whole tapes), 750 and 225 trades: blocks end
    inside decision intervals and change under pending points; at 90 s of venue latency
    orders are in flight across closes and positions are held (the engine's step appends to
    the same curves between quiet closes)."""
    data = tmp_path / "synth_4.parquet"
    symbols = _tapes(data, 4, 12_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=block, latency_ms=latency_ms)
    _same(tmp_path, cfg)


def test_deferred_curve_points_against_the_take_of_row_objects_over_a_data_gap(tmp_path):
    """Three instruments, one tape with an hour-long hole, blocks of 1,000 trades: the
    deferred run against every close through ``TapeBlock.take`` (its ``Curve.append``)."""
    data = tmp_path / "synth_hole.parquet"
    symbols = _tapes(data, 3, 12_000, 1.0, sample=False, hole=True)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=3_000)
    result = _same(tmp_path, cfg, arrays=False)
    assert len(result.data_gaps) == 1


def test_a_charted_output_no_table_has_is_nan_deferred_and_a_venue_series_is_not(tmp_path):
    """A charted output the analyzer's table lacks is NaN at every point (``math.nan``, as
    ``values.get`` gives it), deferred like the others; a charted name no analyzer's table
    holds (read through ``values.get``) keeps every close appending its points."""
    data = tmp_path / "synth_3.parquet"
    symbols = _tapes(data, 3, 8_000, 1.0, sample=False)
    cfg = _multi_config(tmp_path, data, symbols, scheduler=True, block=1_000_000)
    text = cfg.read_text()
    old = 'panes = ["orderflow.imbalance_1m", "regime.adx"]'
    assert old in text
    cfg.write_text(text.replace(old, 'panes = ["orderflow.imbalance_1m", "regime.no_such"]'))
    result = _same(tmp_path, cfg)
    for series in result.series.values():
        points = list(series["regime.no_such"])
        assert points and all(v is math.nan for _, v in points)
        adx = np.array([v for _, v in series["orderflow.imbalance_1m"]])
        assert np.isfinite(adx).any()
    cfg.write_text(text.replace(old, 'panes = ["orderflow.imbalance_1m", "nosuch.adx"]'))
    (tmp_path / "old.duckdb").unlink()
    (tmp_path / "new.duckdb").unlink()
    _same(tmp_path, cfg, deferred=False)


def test_table_rows_handed_over_unmade_read_as_the_rows_use_rows_takes() -> None:
    """``AnalyzerValues.use_table_rows`` (row ``r`` of each table, its mapping made on the
    first read) reads what ``use_rows`` of those tables' rows reads, through every way in:
    ``get``, ``[]``, ``outputs``, iteration, ``len`` and truth; a later ``use_rows``,
    ``refresh`` or ``feed`` drops the rows not made (and ``feed`` settles first)."""
    from tradewind.blocks import BlockTable
    from tradewind.trading.engine import AnalyzerValues

    class _Counter:
        def __init__(self) -> None:
            self.seen = 0

        def on_candle(self, candle: object) -> None:
            self.seen += 1

        def values(self):
            return {"seen": float(self.seen)}

    arrays = {"x": np.array([1.0, math.nan, 3.0]), "y": np.array([4.0, 5.0, 6.0])}
    tables = (("t", BlockTable.of_arrays(arrays, 3)), ("u", BlockTable({"z": [7.0, 8.0, 9.0]}, 3)))
    counter = _Counter()
    analyzers = [("t", counter), ("u", counter), ("c", counter)]
    for r in range(3):
        lazy, eager = AnalyzerValues(analyzers), AnalyzerValues(analyzers)
        lazy.use_table_rows(tables, r)
        eager.use_rows({name: table.row(r) for name, table in _fresh(tables)})
        assert lazy._cache == {}  # nothing made before a read
        for name in ("t.x", "t.y", "u.z", "t.none", "c.seen", "nosuch.x"):
            a, b = lazy.get(name), eager.get(name)
            assert a is b or a == b, (r, name)
        assert lazy["t.y"] == eager["t.y"] and dict(lazy.outputs("u")) == dict(eager.outputs("u"))
        assert list(lazy) == list(eager) and len(lazy) == len(eager) and bool(lazy)
    values = AnalyzerValues(analyzers)
    values.use_table_rows(tables, 2)
    values.use_rows({"t": {"x": -1.0}})
    # The rows not made are gone: u's outputs are its analyzer's own ``values()``.
    assert values["t.x"] == -1.0 and values.get("u.z") is math.nan and values["u.seen"] == 0.0
    values.use_table_rows(tables, 2)
    values.refresh()
    assert values.get("t.x") is math.nan and values["t.seen"] == 0.0
    values.use_table_rows(tables, 0)
    values.feed(["1m"])
    assert values.get("u.z") is math.nan and values["u.seen"] == 1.0  # fed, no row kept


def _fresh(tables):
    """Tables like ``tables`` with their iterators at row 0 (``row`` moves them on)."""
    from tradewind.blocks import BlockTable

    out = []
    for name, table in tables:
        if table._arrays is not None and type(table.columns).__name__ == "_Columns":
            out.append((name, BlockTable.of_arrays(table._arrays, table.rows)))
        else:
            out.append((name, BlockTable(dict(table.columns), table.rows)))
    return out
