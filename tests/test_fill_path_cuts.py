"""The fill path's cuts of the fifteenth session (issues 17 and 19, docs/performance.md) change
nothing: a tick batch's slice writes its fields through their slots' descriptors instead of
``object.__setattr__`` (the same object, field for field). Checked against the code before,
kept verbatim here: slices of random batches, and every journal table of a backtest and of a
paper run made with the code before put back."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.model.ticks import TickBatch
from tradewind.trading.engine import Engine

from tests.test_determinism import _rows
from tests.test_engine import demo_config_text
from tests.test_journal_step_loads import LOADED, _bench, _contents

COLUMNS = ("ts_ns", "price", "size", "side", "trade_id")


# -- the code before, verbatim ------------------------------------------------------------------
def _slice_before(self: TickBatch, start: int, stop: int) -> TickBatch:
    """``TickBatch.slice`` as it was (each field through ``object.__setattr__``)."""
    new = object.__new__(TickBatch)
    put = object.__setattr__
    put(new, "instrument", self.instrument)
    put(new, "ts_ns", self.ts_ns[start:stop])
    put(new, "price", self.price[start:stop])
    put(new, "size", self.size[start:stop])
    put(new, "side", self.side[start:stop])
    put(new, "trade_id", self.trade_id[start:stop])
    return new


def _batch(rng: random.Random, n: int) -> TickBatch:
    ts = sorted(rng.randrange(0, 10**12) for _ in range(n))
    return TickBatch.from_arrays(
        rng.choice(("sim:BTCUSDT", "x:ETH-PERP", "")),
        ts,
        [rng.choice((rng.uniform(1, 1e5), float("nan"), 0.1, -0.0)) for _ in range(n)],
        [rng.uniform(0, 5) for _ in range(n)],
        [rng.choice((1, -1)) for _ in range(n)],
        [rng.randrange(-(2**62), 2**62) for _ in range(n)],
    )


def _same_batch(a: TickBatch, b: TickBatch) -> None:
    assert type(a) is type(b) is TickBatch
    assert a.instrument is b.instrument
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and x.strides == y.strides, name
        assert x.tobytes() == y.tobytes(), name  # NaN and -0.0 by their bits
        assert x.base is y.base, name  # views of the same array
        assert not x.flags.writeable and not y.flags.writeable, name
        assert x.__array_interface__["data"] == y.__array_interface__["data"], name


@pytest.mark.parametrize("seed", range(4))
def test_a_slice_is_the_code_befores_field_for_field(seed: int):
    """Random batches (0 to 300 trades, NaN and signed zero prices), sliced at random bounds,
    in and out of range, negative, reversed, empty, and slices of slices: the same views of
    the same arrays, the same instrument object, read-only alike."""
    rng = random.Random(seed)
    for _ in range(200):
        n = rng.choice((0, 1, 2, 10, 64, 65, 300))
        batch = _batch(rng, n)
        for _ in range(5):
            start = rng.randint(-n - 3, n + 3)
            stop = rng.randint(-n - 3, n + 3)
            got, want = batch.slice(start, stop), _slice_before(batch, start, stop)
            _same_batch(got, want)
            if len(got):
                i, j = sorted((rng.randrange(len(got) + 1), rng.randrange(len(got) + 1)))
                _same_batch(got.slice(i, j), _slice_before(want, i, j))


def test_a_backtests_journal_is_the_same_with_the_slice_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The demo backtest (event scheduler, stepped closes, fills): every journal table, row by
    row, is the same with the slice before."""
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    calls = 0
    real = TickBatch.slice

    def counted(self: TickBatch, start: int, stop: int) -> TickBatch:
        nonlocal calls
        calls += 1
        return real(self, start, stop)

    monkeypatch.setattr(TickBatch, "slice", counted)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "after.duckdb")).run)
    assert calls > 20  # the run sliced its tape with the new code
    monkeypatch.setattr(TickBatch, "slice", _slice_before)
    anyio.run(Engine(load_config(cfg), journal_path=str(tmp_path / "before.duckdb")).run)
    a, b = _rows(tmp_path / "after.duckdb"), _rows(tmp_path / "before.duckdb")
    assert a["fills"] and a["orders"] and a["order_events"] and a["events"]
    for table in TABLES:
        assert a[table] == b[table], table


def _paper_tables(work: Path) -> dict[str, Any]:
    """A 3,000-tick paper run of bench_paper_throughput's engine (one flipping market order
    every 10 ticks, step log, loads on the load thread): its loaded tables, with the run's
    random id and the wall-clock times of its run events made the same for every run."""
    work.mkdir()
    _bench().run(3_000, 1_000, 10, True, work)
    (journal,) = work.glob("journal_after_*.duckdb")
    tables = _contents(journal, LOADED)
    (run_id,) = {row[0] for row in tables["events"]}
    ids = re.compile(f"{run_id}|{run_id[:12]}")
    out: dict[str, Any] = {}
    for name, rows in tables.items():
        if name == "events":  # (run_id, seq, ts_ns, type, ...): a Run* event's ts is wall time
            rows = [(*r[:2], None if r[3].startswith("Run") else r[2], *r[3:]) for r in rows]
        out[name] = [ids.sub("RUN", repr(r)) for r in rows]
    return out


def test_a_paper_runs_journal_is_the_same_with_the_slice_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A paper run (the engine's 10-tick steps, each fill's step cut at the fill): every loaded
    table, row by row, is the same with the slice before."""
    after = _paper_tables(tmp_path / "after")
    monkeypatch.setattr(TickBatch, "slice", _slice_before)
    before = _paper_tables(tmp_path / "before")
    assert len(after["fills"]) > 200 and len(after["events"]) > 1000
    assert after == before
