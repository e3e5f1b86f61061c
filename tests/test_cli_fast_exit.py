"""``tradewind backtest`` run as a program ends without the interpreter's teardown once the
backtest has finished (tradewind.cli._fast_exit): the atexit handlers still run, and the
journal, the reports and the printed summary are the same bytes and rows as with the full
exit (``TRADEWIND_FULL_EXIT=1``)."""

import os
import subprocess
import sys
from pathlib import Path

from tradewind.journal.store import TABLES

from tests.test_determinism import _rows

# The CLI as the program (main() without argv), with an atexit handler and an object that
# reports when the interpreter's teardown frees it.
_PROGRAM = """
import atexit, sys


class Freed:
    def __del__(self):
        sys.stderr.write("MARK teardown\\n")


kept = Freed()
atexit.register(lambda: sys.stderr.write("MARK atexit\\n"))
sys.argv = ["tradewind", *sys.argv[1:]]
from tradewind.cli import main

sys.exit(main())
"""


def _backtest(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM, "backtest", "--report-dir", "reports"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / "reports").rename(tmp_path / name)
    marks = [line for line in proc.stderr.splitlines() if line.startswith("MARK ")]
    return proc.stdout, marks


def test_a_finished_backtest_skips_only_the_teardown(tmp_path):
    env = {k: v for k, v in os.environ.items() if k == "TRADEWIND_FULL_EXIT"}
    assert not env, "run the test without TRADEWIND_FULL_EXIT"
    fast_out, fast_marks = _backtest(tmp_path, "fast", {})
    full_out, full_marks = _backtest(tmp_path, "full", {"TRADEWIND_FULL_EXIT": "1"})
    assert fast_marks == ["MARK atexit"]
    assert full_marks == ["MARK atexit", "MARK teardown"]
    assert fast_out == full_out and "journal: reports/journal.duckdb" in fast_out
    fast, full = (
        _rows(tmp_path / "fast" / "journal.duckdb"),
        _rows(tmp_path / "full" / "journal.duckdb"),
    )
    assert fast["fills"] and fast["orders"]
    for table in TABLES:
        assert fast[table] == full[table], table
    for report in ("report.json", "report.html"):
        assert (tmp_path / "fast" / report).read_bytes() == (
            tmp_path / "full" / report
        ).read_bytes()
    # The journal closed cleanly: no write-ahead log left next to it.
    assert not (tmp_path / "fast" / "journal.duckdb.wal").exists()


def test_a_failed_backtest_exits_with_the_teardown(tmp_path):
    (tmp_path / "bad.toml").write_text('mode = "backtest"\n[run]\nnope = 1\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM, "backtest", "bad.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "MARK teardown" in proc.stderr
