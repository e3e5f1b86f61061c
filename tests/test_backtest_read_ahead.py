"""A ``tradewind backtest`` reads its ticks parquet file and creates its journal file on
threads of their own once the config check has passed, while the engine's modules are
imported and the engine is built; the replay venue's connect and the engine's journal take
them (issue 17: the whole process's wall time). The journal and the report are the bytes of a
run that does both as before; a load that fails on its thread fails the run with the line a
load at connect gives; every path out (a bad file, an exception, Ctrl-C) leaves no thread
running, nothing open, and no journal file the run did not get to open.

The run is a real CLI process (``main([...])`` in a child Python), probed from inside: which
thread each load ran on, whether the engine was being built yet, what another thread imported,
and, once ``main`` returned, the threads still alive and the files still open."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from contextvars import ContextVar
from pathlib import Path

import pytest
import tradewind
from tradewind import ahead
from tradewind.errors import DataError
from tradewind.journal import opened_ahead
from tradewind.market import preload
from tradewind.market.importers import load, ticks_parquet

from tests.test_determinism import _rows

SAMPLE = Path(tradewind.__file__).parent / "defaults" / "data"
DEFAULT = Path(tradewind.__file__).parent / "defaults" / "backtest.toml"

#: The end of a probe child (its ``imported_elsewhere`` list and ``main`` defined first): the
#: command run with imports on other threads watched, then what it left open and running.
_RUN_WATCHED = """
class Watch:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is not threading.main_thread():
            imported_elsewhere.append(name)
        return None


sys.meta_path.insert(0, Watch())
rc = main(sys.argv[2:])
opened = []
for fd in os.listdir("/proc/self/fd"):
    try:
        opened.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
print(json.dumps({
    "rc": rc,
    "events": events,
    "imported_elsewhere": imported_elsewhere,
    "threads": [t.name for t in threading.enumerate() if t is not threading.main_thread()],
    "opened": opened,
}))
"""

_PROBE = (
    """
import json, os, sys, threading

import tradewind.journal.opened_ahead as opened_ahead
import tradewind.journal.store as store
import tradewind.market.importers as importers
import tradewind.market.preload as preload
import tradewind.trading.engine as engine
from tradewind.cli import main

mode = sys.argv[1]
events = []
imported_elsewhere = []
real_load, real_init = importers.load, engine.Engine.__init__
real_open = store.DuckDBBackend.__init__


def probed_load(*args, **kwargs):
    events.append(["load", threading.current_thread().name])
    return real_load(*args, **kwargs)


def probed_open(self, path, *, read_only):
    if not read_only:
        events.append(["journal", threading.current_thread().name])
    real_open(self, path, read_only=read_only)


def probed_init(self, *args, **kwargs):
    # The reads and opens started (their threads running or done) when the engine starts
    # being built.
    calls = [*(preload._current.get() or {}).values()]
    calls += (opened_ahead._current.get() or {}).values()
    events.append(["engine", sum(c.started for c in calls)])
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "raise":
        raise RuntimeError("a plugin's bug while the engine is built")
    real_init(self, *args, **kwargs)



importers.load = probed_load
engine.Engine.__init__ = probed_init
store.DuckDBBackend.__init__ = probed_open
if mode == "at-connect":  # the run as before: the file read by the venue's connect, the
    preload.readable_ahead = lambda path: False  # journal opened by the engine's run
    opened_ahead.openable_ahead = lambda path: False
"""
    + _RUN_WATCHED
)


def _ticks_file(path: Path) -> Path:
    """The shipped sample as a tradewind ticks parquet file (dictionary-coded symbols)."""
    batches = load(SAMPLE / "tardis_binance-futures_BTCUSDT_trades.csv").batches
    ticks_parquet.write(path, batches, exchange="binance", market="perp")
    return path


def _config(folder: Path, data: Path, journal: str = "journal.duckdb") -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    old = 'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"'
    assert old in text
    text = text.replace(old, f'path = "{data.as_posix()}"')
    text = text.replace('journal = "reports/journal.duckdb"', f'journal = "{journal}"')
    cfg = folder / "ticks.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _probe(folder: Path, mode: str, cfg: Path) -> tuple[dict, subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, "backtest", str(cfg), "--report-dir", "reports"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc


def _assert_nothing_left(out: dict, *paths: Path) -> None:
    assert out["threads"] == [], out
    for path in paths:
        assert not [p for p in out["opened"] if p.startswith(str(path))], out["opened"]


def test_the_file_is_read_on_its_own_thread_before_the_engine_is_built_same_bytes(tmp_path):
    data = _ticks_file(tmp_path / "ticks.parquet")
    folder = tmp_path / "run"
    folder.mkdir()
    cfg = _config(folder, data)
    runs = {}
    for mode in ("ahead", "at-connect"):  # the same paths (the journal holds the config's)
        out, proc = _probe(folder, mode, cfg)
        assert out["rc"] == 0, proc.stderr[-3000:]
        _assert_nothing_left(out, data, folder / "journal.duckdb")
        kept = tmp_path / mode
        kept.mkdir()
        (folder / "journal.duckdb").rename(kept / "journal.duckdb")
        (folder / "reports").rename(kept / "reports")
        runs[mode] = (out, kept)
    ahead, at_connect = runs["ahead"][0], runs["at-connect"][0]
    # Read once and the journal created once, each on a thread of its own, both started
    # before the engine was built; the threads imported nothing (the main thread imported
    # the reader's modules and DuckDB first).
    assert sorted(ahead["events"]) == [
        ["engine", 2],
        ["journal", "tradewind-journal journal.duckdb"],
        ["load", "tradewind-load ticks.parquet"],
    ]
    assert ahead["imported_elsewhere"] == [], ahead
    # As before: the engine built, then its run opens the journal and the venue's connect
    # reads the file, on the main thread.
    assert at_connect["events"] == [
        ["engine", 0],
        ["journal", "MainThread"],
        ["load", "MainThread"],
    ]
    # The journal's rows and the report's files are the same bytes either way.
    a, b = runs["ahead"][1], runs["at-connect"][1]
    assert _rows(a / "journal.duckdb") == _rows(b / "journal.duckdb")
    for name in ("report.json", "report.html"):
        assert (a / "reports" / name).read_bytes() == (b / "reports" / name).read_bytes()


def _corrupt(path: Path, out: Path) -> Path:
    """``path`` with its column pages scrambled and its footer (the schema) left whole."""
    raw = bytearray(path.read_bytes())
    footer = struct.unpack("<i", raw[-8:-4])[0]
    for i in range(4, len(raw) - 8 - footer, 7):
        raw[i] ^= 0x5A
    out.write_bytes(bytes(raw))
    return out


def test_a_file_that_fails_on_the_thread_fails_the_run_with_the_connect_line(tmp_path):
    bad = _corrupt(_ticks_file(tmp_path / "good.parquet"), tmp_path / "bad.parquet")
    assert preload.readable_ahead(bad)  # its footer reads: the thread is the one to fail
    with pytest.raises(DataError) as caught:
        load(bad)  # what the venue's own load at connect raises
    out, proc = _probe(tmp_path, "ahead", _config(tmp_path, bad))
    assert out["rc"] == 4
    assert proc.stderr == f"error: {caught.value}\n"
    # Read on the thread, once: the venue raised what the thread's read raised.
    assert sorted(out["events"]) == [
        ["engine", 2],
        ["journal", "tradewind-journal journal.duckdb"],
        ["load", "tradewind-load bad.parquet"],
    ]
    _assert_nothing_left(out, bad, tmp_path / "journal.duckdb")


def test_a_missing_file_and_a_journal_that_is_a_folder_are_refused_before_any_read(tmp_path):
    out, proc = _probe(tmp_path, "ahead", _config(tmp_path, tmp_path / "gone.parquet"))
    assert out["rc"] == 4
    assert proc.stderr == (
        f"error: venue 'replay' path {tmp_path / 'gone.parquet'} does not exist "
        "@ $.venues.replay.path\n"
    )
    assert out["events"] == [] and out["threads"] == []
    data = _ticks_file(tmp_path / "ticks.parquet")
    (tmp_path / "folder.duckdb").mkdir()
    out, proc = _probe(tmp_path, "ahead", _config(tmp_path, data, journal="folder.duckdb"))
    assert out["rc"] == 2
    assert proc.stderr == (
        f"error: journal {tmp_path / 'folder.duckdb'} is a directory; give a file path "
        "@ $.run.journal\n"
    )
    assert out["events"] == [], out  # the config check refused it: nothing read
    _assert_nothing_left(out, data)


@pytest.mark.parametrize(
    ("mode", "rc", "line"),
    [
        ("interrupt", 130, "error: interrupted"),
        (
            "raise",
            1,
            "error: RuntimeError: a plugin's bug while the engine is built "
            "(run again with --debug for the traceback)",
        ),
    ],
)
def test_ctrl_c_or_an_exception_while_the_file_is_read_ends_the_read(tmp_path, mode, rc, line):
    data = _ticks_file(tmp_path / "ticks.parquet")
    out, proc = _probe(tmp_path, mode, _config(tmp_path, data))
    assert out["rc"] == rc
    assert proc.stderr == line + "\n"
    assert sorted(out["events"]) == [
        ["engine", 2],
        ["journal", "tradewind-journal journal.duckdb"],
        ["load", "tradewind-load ticks.parquet"],
    ]
    _assert_nothing_left(out, data, tmp_path / "journal.duckdb")
    # Created ahead, never taken: closed and removed, as if never opened (as before).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ticks.parquet", "ticks.toml"]


def test_take_hands_over_the_read_once_raises_its_failure_and_rereads_a_changed_file(tmp_path):
    data = _ticks_file(tmp_path / "ticks.parquet")
    whole = load(data)
    assert preload.take(data, 0) is None  # outside a block: nothing read ahead
    with preload.preloading([(data, 0), (data, 0)]):
        assert preload.take(data, 1) is None  # another load's arguments
        got = preload.take(data, 0)
        assert got is not None and got.batches.keys() == whole.batches.keys()
        for col in ("ts_ns", "price", "size", "side", "trade_id"):
            a, b = getattr(got.batches["BTCUSDT"], col), getattr(whole.batches["BTCUSDT"], col)
            assert a.tobytes() == b.tobytes()
        assert preload.take(data, 0) is None  # taken once
    bad = _corrupt(data, tmp_path / "bad.parquet")
    with preload.preloading([(bad, 0)]):
        with pytest.raises(DataError, match="cannot read as parquet"):
            preload.take(bad, 0)
    with preload.preloading([(data, 0)]):
        time.sleep(0.01)
        os.utime(data, ns=(1, 1))  # touched after the read started: read again by the caller
        assert preload.take(data, 0) is None
    assert [t for t in threading.enumerate() if t.name.startswith("tradewind-load")] == []


def test_only_regular_dictionary_coded_ticks_files_are_read_ahead(tmp_path):
    fifo = tmp_path / "ticks.fifo"
    os.mkfifo(fifo)  # opening it would block forever
    csv = SAMPLE / "tardis_binance-futures_BTCUSDT_trades.csv"
    data = _ticks_file(tmp_path / "ticks.parquet")
    with preload.preloading([(fifo, 0), (csv, 0), (tmp_path / "gone.parquet", 0)]):
        assert [t for t in threading.enumerate() if t.name.startswith("tradewind-load")] == []
        assert preload.take(csv, 0) is None
    assert preload.readable_ahead(data) and not preload.readable_ahead(csv)


def test_a_journal_is_opened_ahead_only_when_the_open_would_create_it(tmp_path):
    new = tmp_path / "new.duckdb"
    with opened_ahead.opening(new):
        backend = opened_ahead.take(new)
        assert backend is not None and backend.fresh
        assert opened_ahead.take(new) is None  # taken once
    backend.close()
    # An existing journal (migrated and verified by the run's own open), one whose
    # write-ahead log is left, one in a folder that does not exist (the run creates it), a
    # PostgreSQL URL, none: nothing opened.
    wal = tmp_path / "wal.duckdb"
    Path(f"{wal}.wal").write_bytes(b"")
    for target in (new, wal, tmp_path / "no" / "j.duckdb", "postgresql://u@127.0.0.1/j", None):
        with opened_ahead.opening(target):
            assert not (opened_ahead._current.get() or {}), target
    assert not (tmp_path / "no").exists()
    # Not taken (the run ended before its journal was opened): closed and removed.
    left = tmp_path / "left.duckdb"
    with opened_ahead.opening(left):
        pass
    assert not left.exists() and not Path(f"{left}.wal").exists()


def test_a_call_ahead_raises_where_it_is_taken_and_is_dropped_whatever_ends_the_block():
    var = ContextVar("test_ahead", default=None)
    dropped = []

    def fails():
        raise OSError("disk full")

    with ahead.started(var) as calls:
        calls["a"] = ahead.Ahead("t-a", fails, dropped.append)
        with pytest.raises(OSError, match="disk full"):
            ahead.take(var, "a").result()
    assert dropped == []  # taken: the taker's to handle
    with pytest.raises(KeyError), ahead.started(var) as calls:
        calls["a"] = ahead.Ahead("t-a", fails, dropped.append)
        calls["b"] = ahead.Ahead("t-b", lambda: "made", dropped.append)
        raise KeyError("the block's own failure wins")
    assert sorted(dropped, key=str) == [None, "made"]  # both dropped, the failed one with None
    assert var.get() is None

    def bad_drop(result):
        raise ValueError("drop failed")

    with pytest.raises(ValueError, match="drop failed"), ahead.started(var) as calls:
        calls["a"] = ahead.Ahead("t-a", lambda: 1, bad_drop)
        calls["b"] = ahead.Ahead("t-b", lambda: 2, dropped.append)
    assert dropped[-1] == 2  # the other still dropped
    assert [t for t in threading.enumerate() if t.name.startswith("t-")] == []


def test_the_switch_interval_is_short_while_a_call_runs_ahead_and_restored_after():
    """A call ahead comes back from C code (pyarrow's read, DuckDB) needing the GIL from a
    busy main thread, which hands it over once per switch interval: while any call runs
    ahead the interval is ``ahead.SWITCH_INTERVAL_S``, and the one found is restored when the
    last call ends, whether it returned or raised (overlapping calls: only then)."""
    found = sys.getswitchinterval()
    assert found > ahead.SWITCH_INTERVAL_S  # CPython's default, 0.005
    go_a, go_b = threading.Event(), threading.Event()
    seen: list[float] = []

    def a() -> int:
        seen.append(sys.getswitchinterval())
        go_a.wait(10)
        return 1

    def b() -> int:
        go_b.wait(10)
        raise OSError("the read failed")

    var: ContextVar[dict | None] = ContextVar("test_switch", default=None)
    with ahead.started(var) as under_way:
        under_way["a"] = ahead.Ahead("test-a", a)
        under_way["b"] = ahead.Ahead("test-b", b)
        assert sys.getswitchinterval() == pytest.approx(ahead.SWITCH_INTERVAL_S)
        go_b.set()
        with pytest.raises(OSError, match="the read failed"):
            ahead.take(var, "b").result()  # type: ignore[union-attr]
        assert sys.getswitchinterval() == pytest.approx(ahead.SWITCH_INTERVAL_S)  # a runs
        go_a.set()
        assert ahead.take(var, "a").result() == 1  # type: ignore[union-attr]
    assert seen == [pytest.approx(ahead.SWITCH_INTERVAL_S)]
    assert sys.getswitchinterval() == found
