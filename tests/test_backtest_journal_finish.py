"""A ``tradewind backtest``'s journal writes its last rows, the run's end and its checkpoint
(``Journal.finish``: C++ that waits on the disk) on a thread of its own while the report
computes what it does not read from the journal (issue 17: the whole process's wall time).
The report's first read of the journal waits for it. The journal's rows, the report's files
and the printed summary are the bytes of a run that finishes its journal in the engine's
shutdown; a finish that fails gives the same line and exit code and writes no report file;
every way out leaves no thread running and the journal closed.

The run is a real CLI process (``main([...])`` in a child Python), probed from inside."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tradewind.errors import JournalError
from tradewind.report import journal_reader

from tests.test_backtest_read_ahead import (
    _RUN_WATCHED,
    _assert_nothing_left,
    _config,
    _ticks_file,
)
from tests.test_determinism import _rows

_PROBE = (
    """
import json, os, sys, threading
from contextlib import contextmanager

import duckdb
import tradewind.journal.store as store
import tradewind.report.html as html
import tradewind.report.journal_reader as journal_reader
import tradewind.trading.engine as engine
from tradewind.cli import main

mode = sys.argv[1]
events = []
imported_elsewhere = []
finishing = threading.Event()
real_finish, real_reading = engine.finish_journal, journal_reader.reading
real_equity = html.equity_figure


def probed_finish(*args, **kwargs):
    events.append(["finish", threading.current_thread().name])
    try:
        return real_finish(*args, **kwargs)
    finally:
        finishing.set()


@contextmanager
def probed_reading(*args, **kwargs):
    with real_reading(*args, **kwargs) as con:
        # The report or the summary reads the journal: was its finish done by then?
        events.append(["journal read", finishing.is_set()])
        yield con


def probed_equity(*args, **kwargs):
    events.append(["equity chart"])
    return real_equity(*args, **kwargs)



engine.finish_journal = probed_finish
journal_reader.reading = probed_reading
html.equity_figure = probed_equity
if mode in ("in-run", "fail-in-run"):  # as before: the engine's shutdown finishes it
    engine.Engine.defer_finish = property(lambda self: False, lambda self, value: None)
if mode.startswith("fail"):  # the disk fills up as the journal writes its last rows


    def full(self, *args, **kwargs):
        raise duckdb.IOException("IO Error: No space left on device")

    store.Journal.finish = full
if mode == "interrupt":  # Ctrl-C after the run's end, before the report takes the finish
    import tradewind.cli as cli

    def interrupted(self):
        events.append(["interrupted"])
        raise KeyboardInterrupt

    cli._StartupGC.run_ended = interrupted
"""
    + _RUN_WATCHED
)


_THREAD = "tradewind-journal-finish"


def _probe(folder: Path, mode: str, cfg: Path) -> tuple[dict, subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, "backtest", str(cfg), "--report-dir", "reports"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1]), proc


def test_the_journal_is_finished_on_its_own_thread_beside_the_report_same_bytes(tmp_path):
    data = _ticks_file(tmp_path / "ticks.parquet")
    folder = tmp_path / "run"
    folder.mkdir()
    cfg = _config(folder, data)
    runs = {}
    for mode in ("deferred", "in-run"):  # the same paths (the journal holds the config's)
        out, proc = _probe(folder, mode, cfg)
        assert out["rc"] == 0, proc.stderr[-3000:]
        _assert_nothing_left(out, data, folder / "journal.duckdb")
        kept = tmp_path / mode
        kept.mkdir()
        (folder / "journal.duckdb").rename(kept / "journal.duckdb")
        (folder / "reports").rename(kept / "reports")
        runs[mode] = (out, proc.stdout.splitlines()[:-1], kept)
    deferred, in_run = runs["deferred"][0], runs["in-run"][0]
    # Finished on a thread of its own, which imported nothing; the report's charts that do
    # not read the journal were made before its first read (the price chart's markers, the
    # execution quality, the summary's), each of which found the finish done.
    reads = [["journal read", True]] * 3
    assert sorted(deferred["events"][:2]) == [["equity chart"], ["finish", _THREAD]], deferred
    assert deferred["events"][2:] == reads, deferred
    assert deferred["imported_elsewhere"] == [], deferred
    # As before: in the engine's shutdown, on the main thread.
    assert in_run["events"] == [["finish", "MainThread"], ["equity chart"], *reads]
    # The journal's rows (the run's end and summary with them), the report's files and the
    # printed summary are the same bytes either way.
    a, b = runs["deferred"][2], runs["in-run"][2]
    rows = _rows(a / "journal.duckdb")
    assert rows["fills"] and rows["signals"]
    assert rows == _rows(b / "journal.duckdb")
    for name in ("report.json", "report.html"):
        assert (a / "reports" / name).read_bytes() == (b / "reports" / name).read_bytes()
    assert runs["deferred"][1] == runs["in-run"][1] and runs["deferred"][1]


def test_a_finish_that_fails_on_its_thread_gives_the_runs_line_and_no_report(tmp_path):
    data = _ticks_file(tmp_path / "ticks.parquet")
    folder = tmp_path / "run"
    folder.mkdir()
    cfg = _config(folder, data)
    seen = {}
    for mode in ("fail", "fail-in-run"):
        out, proc = _probe(folder, mode, cfg)
        assert out["rc"] == 6, proc.stderr[-3000:]  # the journal's exit code
        assert not (folder / "reports" / "report.json").exists()
        assert not (folder / "reports" / "report.html").exists()
        _assert_nothing_left(out, data, folder / "journal.duckdb")
        seen[mode] = (out["events"], proc.stderr)
        (folder / "journal.duckdb").unlink()
    assert sorted(seen["fail"][0]) == [["equity chart"], ["finish", _THREAD]]
    assert seen["fail-in-run"][0] == [["finish", "MainThread"]]
    line = seen["fail"][1]
    assert line == seen["fail-in-run"][1]
    assert line.startswith("error: ") and "No space left on device" in line, line
    assert line.count("\n") == 1


class _Journal:
    """What :func:`journal_reader.shared` does with the run's journal: close it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _finish(gate: threading.Event, ran: list[str], error: BaseException | None = None):
    def finish() -> None:
        gate.wait(5)
        ran.append(threading.current_thread().name)
        if error is not None:
            raise error

    return finish


def test_shared_waits_for_the_finish_at_the_first_read_and_raises_its_failure(tmp_path):
    path = tmp_path / "journal.duckdb"
    path.touch()
    # The first read waits for the finish, then reads through the run's journal.
    gate, ran = threading.Event(), []
    journal = _Journal(path)
    with journal_reader.shared(path, journal, _finish(gate, ran)):
        assert ran == []  # under way, on its thread
        threading.Timer(0.05, gate.set).start()
        with journal_reader.reading(path) as con:
            assert ran == ["tradewind-journal-finish"] and con is journal
        assert journal.closed == 0
    assert journal.closed == 1
    # A failed finish is raised at the first read (closed once, quietly)...
    gate.set()
    journal = _Journal(path)
    with (
        pytest.raises(JournalError, match="disk full"),
        journal_reader.shared(path, journal, _finish(gate, [], JournalError("disk full"))),
        journal_reader.reading(path),
    ):
        pytest.fail("read a journal whose finish failed")
    assert journal.closed == 1
    # ...or at the end of a block that read nothing.
    journal = _Journal(path)
    with (
        pytest.raises(JournalError, match="disk full"),
        journal_reader.shared(path, journal, _finish(gate, [], JournalError("disk full"))),
    ):
        pass
    assert journal.closed == 1 and not journal_reader._finishing and not journal_reader._open


def test_ctrl_c_while_the_finish_runs_waits_for_it_and_closes_the_journal(tmp_path):
    path = tmp_path / "journal.duckdb"
    path.touch()
    gate, ran = threading.Event(), []
    journal = _Journal(path)
    started = time.perf_counter()
    threading.Timer(0.1, gate.set).start()
    with (
        pytest.raises(KeyboardInterrupt),
        journal_reader.shared(path, journal, _finish(gate, ran)),
    ):
        raise KeyboardInterrupt
    # The finish ended (the journal's rows complete) before the block let the journal go.
    assert ran == ["tradewind-journal-finish"] and journal.closed == 1
    assert time.perf_counter() - started >= 0.09
    assert not [t for t in threading.enumerate() if t.name == "tradewind-journal-finish"]


def test_ctrl_c_between_the_runs_end_and_the_report_still_finishes_the_journal(tmp_path):
    """The finish is left to the CLI when the engine returns: a Ctrl-C before the report
    takes it (here: as the start-up's collector settles) still writes the journal's last rows,
    the run's end and its checkpoint, on the main thread, and closes the journal."""
    data = _ticks_file(tmp_path / "ticks.parquet")
    folder = tmp_path / "run"
    folder.mkdir()
    cfg = _config(folder, data)
    rows = {}
    for mode in ("interrupt", "in-run"):
        out, proc = _probe(folder, mode, cfg)
        if mode == "interrupt":
            assert out["rc"] == 130, proc.stderr[-3000:]  # interrupted
            assert out["events"] == [["interrupted"], ["finish", "MainThread"]], out
            assert not (folder / "reports" / "report.json").exists()
        else:
            assert out["rc"] == 0, proc.stderr[-3000:]
        _assert_nothing_left(out, data, folder / "journal.duckdb")
        rows[mode] = _rows(folder / "journal.duckdb")
        (folder / "journal.duckdb").unlink()
    assert rows["interrupt"]["fills"] and rows["interrupt"] == rows["in-run"]
