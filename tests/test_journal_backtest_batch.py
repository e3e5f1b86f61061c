"""A backtest's journal is written once, at the end of the run, one Arrow batch per table, and
holds exactly what the previous write path (a write every N buffered rows: 512 before, 64 and
7 here so that the short shipped sample spans several writes) wrote."""

from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.journal.store import TABLES, Journal
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text


def _run(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, flush_rows: int | None):
    """Run the default backtest on the shipped sample; count the inserts per table."""
    d = tmp_path / name
    d.mkdir()
    cfg = d / "demo.toml"
    cfg.write_text(demo_config_text(d), encoding="utf-8")
    inserts: dict[str, int] = {}
    original = Journal._insert_rows

    def counting(self: Journal, verb: str, table: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            inserts[table] = inserts.get(table, 0) + 1
        original(self, verb, table, rows)

    with monkeypatch.context() as m:
        m.setattr(Journal, "_insert_rows", counting)
        if flush_rows is not None:
            m.setattr(store, "BACKTEST_FLUSH_ROWS", flush_rows)
        result = anyio.run(Engine(load_config(cfg), run_id="same").run)
    return d / "journal.duckdb", inserts, result


def _contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            # the config file's path is the only thing that differs between the two runs
            keep = ", ".join(c for c in cols if c != "config_path")
            out[table] = con.execute(f"SELECT {keep} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def test_backtest_journal_is_one_batch_per_table_and_identical_to_periodic_writes(
    tmp_path, monkeypatch
):
    batched, batched_inserts, result = _run(tmp_path, "batched", monkeypatch, None)
    periodic, periodic_inserts, _ = _run(tmp_path, "periodic", monkeypatch, 64)
    small, small_inserts, _ = _run(tmp_path, "small", monkeypatch, 7)

    # the new path: every table that got rows was written by exactly one insert
    assert batched_inserts and set(batched_inserts.values()) == {1}
    assert {"events", "signals", "fills", "positions", "orders"} <= set(batched_inserts)
    # the old path really wrote in several batches (so the comparison means something)
    assert periodic_inserts["events"] > 1
    assert small_inserts["events"] > periodic_inserts["events"]

    want = _contents(periodic)
    got = _contents(batched)
    assert got == want
    assert _contents(small) == want
    assert len(want["fills"]) == len(result.fills) > 0
    assert sum(len(rows) for rows in want.values()) > 64


def test_paper_journal_still_writes_every_flush_rows(tmp_path):
    """Paper and live keep their write-ahead and the 512-row writes; only backtests batch."""
    j = Journal(tmp_path / "p.duckdb", "p1")
    j.start("paper", "cfg.toml", 0)
    assert j.durable is True and j.flush_every == store.FLUSH_ROWS == 512
    j.close()
    b = Journal(tmp_path / "b.duckdb", "b1")
    b.start("backtest", "cfg.toml", 0)
    assert b.durable is False and b.flush_every == store.BACKTEST_FLUSH_ROWS
    b.close()
    explicit = Journal(tmp_path / "e.duckdb", "e1", flush_every=64)
    explicit.start("backtest", "cfg.toml", 0)
    assert explicit.flush_every == 64
    explicit.close()
