"""A journal that is corrupt, truncated, a directory, locked by another host, or out of space
ends the run in one line (exit code 6), no traceback — and, mid-run, nothing booked is dropped
without being reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.errors import JournalError
from tradewind.journal.store import Journal
from tradewind.model import RunStarted
from tradewind.trading.engine import Engine

from tests.test_cli_errors import assert_one_error_line
from tests.test_engine import demo_config_text

# Sets a real file-size limit (RLIMIT_FSIZE) on its own process, then runs the CLI: writes past
# the limit fail with EFBIG, exactly as a full disk fails them with ENOSPC.
LIMITED = """
import resource, signal, sys
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from tradewind.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _cli(*args: str, limit: int | None = None, cwd: Path | None = None):
    cmd = [sys.executable, "-m", "tradewind", *args]
    if limit is not None:
        cmd = [sys.executable, "-c", LIMITED, str(limit), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture
def paper(tmp_path: Path) -> Path:
    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    text = text.replace('plugin = "replay"\n', 'plugin = "replay"\nspeed = 100000.0\n')
    cfg = tmp_path / "paper.toml"
    cfg.write_text(text)
    return cfg


def _journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.duckdb"


def test_a_corrupt_journal_is_one_line(tmp_path, paper):
    _journal(tmp_path).write_bytes(os.urandom(64 * 1024))
    proc = _cli("run", str(paper))
    assert_one_error_line(proc, "journal", "is corrupt or truncated", code=6)


def _real_journal(path: Path) -> None:
    """A journal with some history (about 1 MB)."""
    j = Journal(path, "old")
    j.start("paper", "other.toml", 0)
    for i in range(60_000):
        j.record(RunStarted(ts_ns=i, run_id="x" * 40, mode="paper"))
    j.finish(1, {})
    j.close()


def test_a_truncated_journal_is_detected_at_open(tmp_path, paper):
    """Cut by 256 KB: found when the journal is opened, before anything trades (the blocks
    are read back whole at open), not at the first checkpoint."""
    path = _journal(tmp_path)
    _real_journal(path)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 256 * 1024)
    proc = _cli("run", str(paper))
    assert_one_error_line(proc, "is corrupt or truncated", "Could not read", code=6)


def test_a_journal_path_that_is_a_directory_is_one_line(tmp_path, paper):
    # The config check finds it first (exit 2); the journal itself refuses it too (below).
    _journal(tmp_path).mkdir()
    proc = _cli("run", str(paper))
    assert_one_error_line(proc, "journal.duckdb is a directory", code=2)


def test_a_second_host_on_the_same_journal_is_refused(tmp_path, paper):
    path = _journal(tmp_path)
    _real_journal(path)
    holder = duckdb.connect(str(path))  # this process is the first host
    try:
        proc = _cli("run", str(paper))
    finally:
        holder.close()
    assert_one_error_line(
        proc, "is in use by another process", f"(PID {os.getpid()})", "one host per journal", code=6
    )


def test_the_journal_error_in_process_names_the_problem(tmp_path):
    path = tmp_path / "j.duckdb"
    path.write_bytes(b"not a database at all" * 1000)
    with pytest.raises(JournalError, match="is corrupt or truncated"):
        Journal(path, "r")


def test_out_of_space_at_the_final_checkpoint_is_one_line(tmp_path, paper):
    proc = _cli("run", str(paper), "--report-dir", str(tmp_path / "r"), limit=600_000)
    assert_one_error_line(proc, "out of disk space", "File too large", code=6)


def test_out_of_space_mid_run_stops_entries_and_reports_what_is_unjournaled(tmp_path, paper):
    """The step log hits the limit while the run trades (its loads into DuckDB deferred to
    the end, so the append is what fails): the run stops (no new orders), and the one error
    line lists the fills that could not be journaled."""
    paper.write_text(
        paper.read_text() + "\n[journal]\nload_rows = 1000000\nload_every_s = 3600.0\n"
    )
    proc = _cli("run", str(paper), "--report-dir", str(tmp_path / "r"), limit=14_000)
    assert_one_error_line(
        proc, "out of disk space while trying to write it", "unjournaled rows:", code=6
    )
    line = proc.stderr.strip()
    # With the limit lifted, the journal opens (loading the steps the step log made durable)
    # and holds what was written before the failure, and none of the fills listed.
    path = _journal(tmp_path)
    Journal(path, "reopen").close()
    assert not (tmp_path / "journal.duckdb.steps").exists()
    con = duckdb.connect(str(path), read_only=True)
    sql = "SELECT client_order_id || '/' || fill_key FROM fills"
    fills = {r[0] for r in con.execute(sql).fetchall()}
    # The failing append is of whichever step crossed the limit: it lists its fills, if it
    # held any (test_a_failed_step_log_append_... below fails one that does, in process).
    listed = []
    if "fills not journaled: " in line:
        listed = line.split("fills not journaled: ")[-1].split(" (")[0].split(", ")
    assert all("/" in f and f not in fills for f in listed)  # really not there
    assert fills  # the steps before the failure: durable in the step log, then loaded
    con.close()


def test_a_failed_step_log_append_keeps_the_fills_reports_them_and_writes_them_later(tmp_path):
    """In process, with group commit: a step whose append to the step log fails stays staged,
    the journal says which fills are not journaled, and the next commit writes them."""
    script = f"""
import resource, signal
from decimal import Decimal as D
from tradewind.journal.store import Journal
from tradewind.errors import JournalError
from tradewind.model import Fill, Position, Side
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
j = Journal({str(tmp_path / "j.duckdb")!r}, "r", load_rows=10**9, load_every_s=1e9)
j.start("paper", "c.toml", 0)
j.group_commit = True
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (6_000, hard))
pos = Position(instrument="sim:X")
for i in range(40):
    fill = Fill(client_order_id=f"o-{{i}}", instrument="sim:X", side=Side.BUY, quantity=D(1),
                price=D(100), fee=D(0), ts_ns=i, trade_id=f"t-{{i}}")
    pos = pos.apply(fill)
    j.record_fill(fill, pos)
try:
    j.commit()
    print("no failure")
except JournalError as exc:
    print("failed:", "out of disk space" in str(exc), j.error is not None)
print(j.unjournaled().split("fills not journaled: ")[1].split(",")[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
j.commit()
print("after:", j.error is None, j.buffered, len(j.fills()))
j.close()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["failed: True True", "o-0/t-0", "after: True 0 40"]


@pytest.mark.slow
def test_a_failed_write_keeps_the_rows_and_writes_them_when_space_returns(tmp_path):
    """In process: a commit that fails leaves every row buffered; the next commit writes
    them. (The file-size limit is set in a child process: the test runner keeps its own.)"""
    script = f"""
import resource, signal
from decimal import Decimal
from tradewind.journal.store import Journal
from tradewind.errors import JournalError
from tradewind.model import RunStarted
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
j = Journal({str(tmp_path / "j.duckdb")!r}, "r")
j.start("paper", "c.toml", 0)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
for i in range(3000):
    j.record(RunStarted(ts_ns=i, run_id="y" * 60, mode="paper"))
try:
    j.commit()
    print("no failure")
except JournalError as exc:
    print("failed:", "out of disk space" in str(exc), j.error is not None)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
j.commit()
print("after:", j.error is None, j.count("events"))
j.close()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "failed: True True"
    assert lines[-1] == "after: True 3000"


def test_an_engine_with_an_unopenable_journal_raises_journal_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(demo_config_text(tmp_path))
    engine = Engine(load_config(cfg))  # the path became a directory after the config check
    (tmp_path / "journal.duckdb").mkdir()
    with pytest.raises(JournalError, match="is a directory, not a journal file"):
        anyio.run(engine.run)
