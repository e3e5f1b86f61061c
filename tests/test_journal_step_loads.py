"""The step log's loads into DuckDB (paper and live): what a load writes reads back the same,
byte for byte, whichever way the load is made.

A recorded paper run — bench_paper_throughput's engine: the real engine, the simulated venue,
one flipping market order every 10 ticks, loads on the journal's load thread — gives the rows
each load wrote. They are written again into fresh journals the way the loads were made
before (DuckDB's default threads, the JSON columns' text parsed by DuckDB, every column
converted by the journal's own buffer conversion) and the way they are made now; every table
(its column types, and every value with the JSON columns read as text) must be the same.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tradewind.journal.store import Journal

REPO = Path(__file__).resolve().parents[1]
#: The tables a load writes (``runs`` is written by the start and the finish themselves).
LOADED = ("events", "order_events", "fills", "positions", "orders")


def _bench() -> Any:
    path = REPO / "bench" / "bench_paper_throughput.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("_bench_paper_throughput", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _recorded_paper_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A short paper run with small loads (most on the load thread); every write into DuckDB
    it made, in order: (tables, orders, JSON as is, DuckDB's threads, on the load thread)."""
    writes: list[tuple[Any, ...]] = []
    original_write = Journal._write
    original_init = Journal.__init__

    def init(self: Journal, *a: Any, **k: Any) -> None:
        k["load_rows"] = 400  # a load every few steps
        original_init(self, *a, **k)

    def write(self: Journal, tables: Any, orders: Any, **k: Any) -> None:
        con = k.get("con") or self._con
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        writes.append(
            (
                {t: list(rows) for t, rows in tables.items()},
                dict(orders),
                self._db.json_as_is,
                threads,
                k.get("con") is not None,
            )
        )
        original_write(self, tables, orders, **k)

    monkeypatch.setattr(Journal, "__init__", init)
    monkeypatch.setattr(Journal, "_write", write)
    work = tmp_path / "run"
    work.mkdir()
    figures = _bench().run(3_000, 1_000, 10, True, work)
    monkeypatch.undo()
    (journal,) = work.glob("journal_after_*.duckdb")
    return {"figures": figures, "writes": writes, "journal": journal}


def _contents(path: Path, tables: tuple[str, ...] = LOADED) -> dict[str, Any]:
    """Every table's column types and rows, sorted, JSON columns as their text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, Any] = {}
        for table in tables:
            described = con.execute(f"DESCRIBE {table}").fetchall()
            out[f"{table} columns"] = [(r[0], r[1]) for r in described]
            cols = ", ".join(
                f"{name}::VARCHAR" if typ == "JSON" else name for name, typ, *_ in described
            )
            out[table] = con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def _replay(path: Path, writes: list[tuple[Any, ...]], *, before: bool) -> None:
    """Write the recorded loads into a fresh journal at ``path``: as the loads were made
    before (``before``) or as they are made now."""
    j = Journal(path, "replay", steps=False, intents=False)
    try:
        if not before:
            j._tune_loads()
            assert j._db.json_as_is
        for tables, orders, *_ in writes:
            session = next(iter(orders.values()))[1] if orders else j.session_id
            j.session_id = session
            j._write(tables, orders, ignore_fills=False, upsert_all=True, con=j._con.cursor())
    finally:
        j.close()


def test_a_recorded_paper_runs_loads_read_back_the_same_as_the_previous_loads(
    tmp_path, monkeypatch
):
    run = _recorded_paper_run(tmp_path, monkeypatch)
    writes = run["writes"]
    assert run["figures"]["fills"] > 200
    # Loads ran on the load thread and on the engine's thread (the end of the run), every
    # one tuned (one DuckDB thread, JSON text as is).
    assert any(w[4] for w in writes) and any(not w[4] for w in writes)
    assert all(w[2] is True and str(w[3]) == "1" for w in writes)
    payloads = [r for w in writes for r in w[0].get("events", ())]
    assert len(payloads) > 1_000

    before, now = tmp_path / "before.duckdb", tmp_path / "now.duckdb"
    _replay(before, writes, before=True)
    _replay(now, writes, before=False)
    got, want = _contents(now), _contents(before)
    assert got == want
    # ... and both are what the run's own journal holds (its loads and its final flush).
    assert _contents(run["journal"]) == want
    # the orders table holds each order's last state once; every other row once
    assert len(want["fills"]) == run["figures"]["fills"]
    assert len(want["events"]) == len(payloads)


def test_the_loads_settings_are_a_step_logged_journals_only(tmp_path):
    """A durable journal without a step log (PostgreSQL, or the step log turned off) is not
    changed; a step-logged one is tuned before its first load, once."""
    j = Journal(tmp_path / "no-steps.duckdb", "a", steps=False)
    j.start("paper", "cfg.toml", 1)
    j.group_commit = True
    j.commit()
    assert not j._db.json_as_is and not j._loads_tuned
    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    assert j._con.execute("SELECT current_setting('threads')").fetchone()[0] == default
    j.close()

    j = Journal(tmp_path / "steps.duckdb", "b")
    j.start("paper", "cfg.toml", 1)
    j.group_commit = True
    assert not j._db.json_as_is
    j.commit()
    assert not j._db.json_as_is  # nothing loaded yet
    j.flush()
    assert j._db.json_as_is
    assert j._con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
    calls = []
    j._tune_loads = lambda: calls.append(1)  # type: ignore[method-assign]
    j.flush()
    assert calls == []
    j.close()
