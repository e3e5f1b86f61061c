"""A read-only journal (the report's, the summary's) asks no sequence numbers at its open:
it never draws one, and what it reads is what a writable open of the same file reads."""

import shutil
from pathlib import Path

import anyio
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.journal.store import Journal
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text


def _run(tmp_path: Path, name: str) -> Path:
    """The default backtest on the shipped sample; its journal."""
    d = tmp_path / name
    d.mkdir()
    cfg = d / "demo.toml"
    cfg.write_text(demo_config_text(d), encoding="utf-8")
    anyio.run(Engine(load_config(cfg), run_id="same").run)
    return d / "journal.duckdb"


def test_a_read_only_journal_asks_no_sequence_numbers_and_reads_the_same(tmp_path, monkeypatch):
    path = _run(tmp_path, "run")
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
