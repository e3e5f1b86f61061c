"""A backtest's end-of-run write: its rows and the run's end go into the file in one
transaction whose commit checkpoints at once (no write-ahead log of the rows), and the JSON
columns' text goes in as Arrow's JSON extension type (not parsed again by DuckDB). The journal
holds exactly what the previous write (a commit through the write-ahead log, the run's row
updated after it, JSON columns sent as strings) wrote: the default backtest and random rows."""

import random
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal import store
from tradewind.journal.store import TABLES, Journal
from tradewind.model import SystemError
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text


def _previous_write(m: pytest.MonkeyPatch) -> None:
    """Journals started under ``m`` write as before: rows committed through the write-ahead
    log, the run's row updated after them, the JSON columns' text parsed by DuckDB."""
    original = Journal.start

    def start(self: Journal, *a: Any, **k: Any) -> None:
        original(self, *a, **k)
        self._one_write = False
        if isinstance(self._db, store.DuckDBBackend):
            self._db.json_as_is = False

    m.setattr(Journal, "start", start)


def _contents(path: Path) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: dict[str, Any] = {}
        for table in TABLES:
            described = con.execute(f"DESCRIBE {table}").fetchall()
            out[f"{table} columns"] = [(r[0], r[1]) for r in described]
            # the config file's path is the only thing that differs between two runs
            keep = ", ".join(r[0] for r in described if r[0] != "config_path")
            out[table] = con.execute(f"SELECT {keep} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def _backtest(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, previous: bool):
    d = tmp_path / name
    d.mkdir()
    cfg = d / "demo.toml"
    cfg.write_text(demo_config_text(d), encoding="utf-8")
    commits: list[str] = []
    original = Journal._write

    def write(self: Journal, tables: Any, orders: Any, **k: Any) -> None:
        commits.append("with the run's end" if k.get("then") else "rows")
        original(self, tables, orders, **k)

    with monkeypatch.context() as m:
        if previous:
            _previous_write(m)
        m.setattr(Journal, "_write", write)
        result = anyio.run(Engine(load_config(cfg), run_id="same").run)
    return d / "journal.duckdb", commits, result


def test_the_default_backtests_journal_is_the_previous_writes(tmp_path, monkeypatch):
    new, new_commits, result = _backtest(tmp_path, "new", monkeypatch, previous=False)
    old, old_commits, _ = _backtest(tmp_path, "old", monkeypatch, previous=True)
    # the new path really wrote the rows and the run's end in one transaction, the old did not
    assert new_commits[-1] == "with the run's end"
    assert old_commits == ["rows"] * len(new_commits)
    assert not Path(f"{new}.wal").exists()
    got, want = _contents(new), _contents(old)
    assert got == want
    assert len(want["fills"]) == len(result.fills) > 0
    assert len(want["events"]) > 10
    ((finished, summary),) = [(r[3], r[4]) for r in want["runs"]]
    assert finished is not None and '"trades"' in summary
    con = duckdb.connect(str(new), read_only=True)
    try:
        # JSON columns are still DuckDB's JSON type, their values JSON
        assert con.execute("SELECT DISTINCT typeof(payload) FROM events").fetchall() == [("JSON",)]
        assert (
            con.execute("SELECT count(*) FROM events WHERE NOT json_valid(payload)").fetchone()[0]
            == 0
        )
    finally:
        con.close()


_TEXT = "aZ09 _-\"'\\/\n\t{}[]:,éß€😀\u2028\x00\x1f"


def _random_journal(path: Path, seed: int, monkeypatch: pytest.MonkeyPatch, previous: bool):
    rng = random.Random(seed)
    with monkeypatch.context() as m:
        if previous:
            _previous_write(m)
        j = Journal(path, "rand")
        j.start("backtest", "cfg.toml", 1)
        for i in range(rng.randrange(1, 400)):
            text = "".join(rng.choice(_TEXT) for _ in range(rng.randrange(0, 40)))
            j.record(SystemError(ts_ns=10 + i, source=text[:5], error=text))
        summary = {"note": "".join(rng.choice(_TEXT) for _ in range(30)), "n": rng.random()}
        j.finish(10_000, summary)
        threshold = j._con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
        j.close()
    return threshold


@pytest.mark.parametrize("seed", range(6))
def test_random_rows_and_summaries_are_written_as_before(tmp_path, monkeypatch, seed):
    default = duckdb.connect().execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    new = _random_journal(tmp_path / "new.duckdb", seed, monkeypatch, previous=False)
    _random_journal(tmp_path / "old.duckdb", seed, monkeypatch, previous=True)
    # the one-byte threshold of the end-of-run commit does not outlive it
    assert new == default
    got, want = _contents(tmp_path / "new.duckdb"), _contents(tmp_path / "old.duckdb")
    assert got == want
    assert want["system_events"] and want["runs"][0][4] is not None


def test_without_the_json_extension_the_text_goes_in_as_strings(tmp_path, monkeypatch):
    """A pyarrow or DuckDB without Arrow's JSON extension type: the same rows."""
    _random_journal(tmp_path / "old.duckdb", 7, monkeypatch, previous=True)
    monkeypatch.setattr(store, "_JSON_TYPE", None)
    _random_journal(tmp_path / "new.duckdb", 7, monkeypatch, previous=False)
    assert _contents(tmp_path / "new.duckdb") == _contents(tmp_path / "old.duckdb")


def test_a_failed_end_of_run_write_keeps_the_rows_and_resets_the_threshold(tmp_path):
    j = Journal(tmp_path / "f.duckdb", "f")
    j.start("backtest", "cfg.toml", 1)
    j.record(SystemError(ts_ns=2, source="s", error="e"))
    default = j._con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    j._con.execute("DROP TABLE runs")  # the run's end cannot be written
    with pytest.raises(store.JournalError):
        j.finish(3, {})
    assert j.buffered > 0  # still buffered: rolled back with the failed statement
    assert j._con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    assert j._con.execute("SELECT current_setting('checkpoint_threshold')").fetchone() == default
    j._pending.clear()
    j._npending = 0
    j.close()
