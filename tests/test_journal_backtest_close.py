"""A backtest's DuckDB journal is checkpointed by DuckDB as it closes, not by an explicit
CHECKPOINT at the end of the run, and a read-only journal asks no sequence numbers at open:
the files hold the same rows as with the explicit checkpoint, no write-ahead log is left
behind, and what a reader reads is the same."""

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.journal.store import Journal
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text
from tests.test_journal_backtest_batch import _contents


def _run(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, explicit: bool) -> Path:
    """The default backtest on the shipped sample; ``explicit``: checkpoint at finish, as
    before. Counts the explicit checkpoints into ``_run.checkpoints``."""
    d = tmp_path / name
    d.mkdir()
    cfg = d / "demo.toml"
    cfg.write_text(demo_config_text(d), encoding="utf-8")
    original_start = Journal.start
    original_checkpoint = store.DuckDBBackend.checkpoint
    calls: list[int] = []

    def start(self: Journal, *a: Any, **k: Any) -> None:
        original_start(self, *a, **k)
        if explicit:
            self._checkpoint_at_close = False

    def checkpoint(self: store.DuckDBBackend) -> None:
        calls.append(1)
        original_checkpoint(self)

    with monkeypatch.context() as m:
        m.setattr(Journal, "start", start)
        m.setattr(store.DuckDBBackend, "checkpoint", checkpoint)
        anyio.run(Engine(load_config(cfg), run_id="same").run)
    _run.checkpoints = len(calls)  # type: ignore[attr-defined]
    return d / "journal.duckdb"


def test_a_backtests_journal_is_checkpointed_at_close_with_the_same_rows(tmp_path, monkeypatch):
    before = _run(tmp_path, "explicit", monkeypatch, explicit=True)
    assert _run.checkpoints == 1  # type: ignore[attr-defined]
    after = _run(tmp_path, "at-close", monkeypatch, explicit=False)
    assert _run.checkpoints == 0  # type: ignore[attr-defined]
    for path in (before, after):
        # checkpointed: the rows are in the file, no write-ahead log is left to replay
        assert not Path(f"{path}.wal").exists()
    want = _contents(before)
    assert sum(len(rows) for rows in want.values()) > 64
    assert _contents(after) == want
    runs = want["runs"]
    assert len(runs) == 1 and all(v is not None for v in runs[0])  # finished, summary


def test_finish_still_checkpoints_paper_journals_and_backtests_with_their_own_durability(
    tmp_path, monkeypatch
):
    calls: list[int] = []
    original = store.DuckDBBackend.checkpoint
    monkeypatch.setattr(
        store.DuckDBBackend, "checkpoint", lambda self: (calls.append(1), original(self))[1]
    )
    for i, (mode, durable) in enumerate((("paper", None), ("backtest", True), ("backtest", None))):
        j = Journal(tmp_path / f"j{i}.duckdb", f"r{i}", durable=durable)
        j.start(mode, "cfg.toml", 0)
        j.record_cash("USDT", store.Decimal("100"), ts_ns=1, reason="start")
        before = len(calls)
        j.finish(2, {"ok": True})
        assert len(calls) - before == (0 if (mode, durable) == ("backtest", None) else 1)
        j.close()
        assert not Path(f"{tmp_path / f'j{i}.duckdb'}.wal").exists()
        r = Journal.open_readonly(tmp_path / f"j{i}.duckdb")
        try:
            assert r.query("SELECT finished_ts_ns FROM runs") == [(2,)]
            assert r.cash() == store.Decimal("100")
        finally:
            r.close()
    assert len(calls) == 2  # paper and the durable backtest; the plain backtest at close


def test_a_read_only_journal_asks_no_sequence_numbers_and_reads_the_same(tmp_path, monkeypatch):
    path = _run(tmp_path, "run", monkeypatch, explicit=False)
    # The reference: a writable open of a copy (which reads its sequence numbers), on the
    # session a read-only open chooses.
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(path, copy)
    reader = Journal.open_readonly(path)
    session = reader.session_id
    reader.close()
    want = Journal(copy, "other")
    want.session_id = session
    assert want._seq > 0
    try:
        expected = (
            want.fills(),
            want.orders(),
            want.positions(),
            want.cash(),
            want.last_client_order_seq(),
            want.query("SELECT * FROM events ORDER BY seq"),
        )
    finally:
        want.close()
    assert expected[0] and expected[1] and expected[5]

    def refuse(self: Journal) -> int:
        raise AssertionError("a read-only journal asked its sequence numbers")

    monkeypatch.setattr(Journal, "_max_seq", refuse)
    j = Journal.open_readonly(path)
    try:
        got = (
            j.fills(),
            j.orders(),
            j.positions(),
            j.cash(),
            j.last_client_order_seq(),
            j.query("SELECT * FROM events ORDER BY seq"),
        )
        assert got == expected
        with pytest.raises(RuntimeError, match="read-only"):
            j.record_cash("USDT", store.Decimal("1"), ts_ns=3, reason="x")
    finally:
        j.close()
