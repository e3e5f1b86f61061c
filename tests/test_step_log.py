"""The step log: a step's rows survive SIGKILL between the durable append and the DuckDB load.

With group commit on a DuckDB journal each engine step is made durable by one ``fdatasync``'d
record in ``<journal>.steps``; the rows reach the DuckDB tables in batches. These tests kill a
process between the two, and between a load's commit and the log's truncate, and open the
journal it left behind: every row is there exactly once.
"""

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal as D
from pathlib import Path

import attrs
import duckdb
import pytest
from tradewind.errors import JournalError
from tradewind.journal import step_log
from tradewind.journal.store import TABLES, Journal, OrderRecord
from tradewind.model import Fill, Order, OrderStatus, OrderType, Position, Side

REPO = Path(__file__).resolve().parents[1]

# A paper host's journal: group commit, orders to the simulated venue, fills and positions in
# three steps, each made durable by the step log and none loaded into DuckDB (the load
# thresholds are out of reach) — then SIGKILL.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from tradewind.journal.store import Journal
    from tests.step_log_writer import write_three_steps

    j = Journal(sys.argv[1], "run-1", load_rows=10**9, load_every_s=1e9)
    # each step: one durable append, no DuckDB write
    write_three_steps(j, lambda n: print(f"STEP {n} {j.steps_logged} {j.loads}", flush=True))
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _run_killed(script: str, *args: str) -> list[str]:
    """Run ``script`` in a child process that SIGKILLs itself; its stdout lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    return proc.stdout.split("\n")


def _run_writer(path: Path) -> list[str]:
    return _run_killed(WRITER, str(path))


def _buy(client_order_id: str, trade_id: str, ts_ns: int) -> Fill:
    """A 0.001 BTCUSDT buy at 60,000 with a 0.01 fee."""
    return Fill(
        client_order_id=client_order_id,
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=D("0.001"),
        price=D(60000),
        fee=D("0.01"),
        ts_ns=ts_ns,
        trade_id=trade_id,
    )


def _counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def test_sigkill_after_the_step_log_append_and_before_the_load_keeps_every_row_once(tmp_path):
    path = tmp_path / "journal.duckdb"
    out = _run_writer(path)
    assert out[:3] == ["STEP 1 1 0", "STEP 2 2 0", "STEP 3 3 0"]  # appended, never loaded
    log_path = step_log.step_path(path)
    assert len(step_log.read(log_path)) == 3
    # DuckDB itself holds none of the steps' rows: only the step log has them.
    raw = _counts(path)
    assert raw["orders"] == raw["fills"] == raw["positions"] == raw["order_events"] == 0

    # A reader of the killed host's journal sees every row the host made durable (the
    # tables read with the log's rows added), and changes nothing.
    ro = Journal.open_readonly(path)
    try:
        assert [f.trade_id for f in ro.fills()] == ["t-1", "t-2", "t-3"]
        assert [r.status for r in ro.orders()] == [OrderStatus.FILLED] * 3
        assert ro.positions()["sim:BTCUSDT"].quantity == D("0.002")
    finally:
        ro.close()
    assert _counts(path) == raw and len(step_log.read(log_path)) == 3

    # The restarted host loads the log into DuckDB before anything reads it, once.
    j = Journal(path, "run-2")
    try:
        j.start("paper", "paper.toml", 50)
        assert j.session_id == "run-1"
        fills = j.fills()
        assert [(f.trade_id, f.price, f.fee) for f in fills] == [
            ("t-1", D(60001), D("0.05")),
            ("t-2", D(60002), D("0.05")),
            ("t-3", D(60003), D("0.05")),
        ]
        assert j.positions()["sim:BTCUSDT"].quantity == D("0.002")
        orders = j.query(
            "SELECT client_order_id, status, filled_quantity FROM orders ORDER BY id_seq"
        )
        assert orders == [(f"tw-a-{n}", "filled", "0.002") for n in (1, 2, 3)]
        assert j.last_client_order_seq() == 3
    finally:
        j.close()
    assert not log_path.exists()
    loaded = _counts(path)
    assert loaded["fills"] == 3 and loaded["orders"] == 3 and loaded["positions"] == 3
    assert loaded["order_events"] == 6  # submitted and filled, per order
    # Every sequence number once across the tables.
    con = duckdb.connect(str(path), read_only=True)
    try:
        seqs = [
            s
            for t in TABLES
            if t != "runs"
            for (s,) in con.execute(f"SELECT seq FROM {t} WHERE seq IS NOT NULL").fetchall()
        ]
    finally:
        con.close()
    # Each row once: only an order's row repeats the sequence number of its last event.
    assert len(set(seqs)) == len(seqs) - loaded["orders"]

    # Opened again: nothing is loaded twice.
    Journal(path, "run-3").close()
    assert _counts(path) == loaded


def test_a_journal_without_the_step_log_still_loads_one_a_killed_host_left(tmp_path):
    path = tmp_path / "journal.duckdb"
    _run_writer(path)
    j = Journal(path, "run-2", intents=False)  # commits each step itself: no step log
    try:
        j.start("paper", "paper.toml", 50)
        assert j.session_id == "run-1"
        assert [f.trade_id for f in j.fills()] == ["t-1", "t-2", "t-3"]
    finally:
        j.close()
    assert not step_log.step_path(path).exists()


def test_a_kill_between_the_load_and_the_truncate_loads_nothing_twice(tmp_path):
    """The log's records are in DuckDB already (the load committed, the truncate did not
    happen): the next open skips them by sequence number and removes the log."""
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_rows=10**9, load_every_s=1e9)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    j.simulated_venues = frozenset({"sim"})
    order = Order(
        client_order_id="tw-b-1",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("0.005"),
    )
    rec = OrderRecord(
        client_order_id="tw-b-1", instrument=order.instrument, venue="sim", order=order, id_seq=1
    )
    j.record_order(rec, ts_ns=5, kind="submitted")
    j.commit()
    fill = Fill(
        client_order_id="tw-b-1",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=D("0.005"),
        price=D(60000),
        fee=D("0.1"),
        ts_ns=6,
        trade_id="t-9",
    )
    pos = Position(instrument="sim:BTCUSDT").apply(fill)
    j.record_fill(fill, pos)
    j.commit()
    log_path = step_log.step_path(path)
    kept = log_path.read_bytes()
    assert len(step_log.decode(kept)[0]) == 2
    j.close()  # loads both steps and truncates the log
    before = _counts(path)
    log_path.write_bytes(kept)  # as if the host died after the load's COMMIT

    again = Journal(path, "run-2")
    try:
        assert again.count("fills", session_only=False) == 1
        assert again.count("orders", session_only=False) == 1
    finally:
        again.close()
    assert _counts(path) == before
    assert not log_path.exists()


def test_a_torn_or_damaged_step_record_ends_the_log():
    one = step_log.encode(3, {"events": [("r", 1, 2, "X", 0, "{}")]}, [])
    two = step_log.encode(5, {"events": [("r", 4, 5, "Y", 0, "{}")]}, [])
    records, end = step_log.decode(one + two[:-3])  # the second write was cut
    assert [r["seq"] for r in records] == [3] and end == len(one)
    assert records[0]["rows"] == {"events": [("r", 1, 2, "X", 0, "{}")]}
    assert step_log.decode(one + two[:5])[1] == len(one)  # a torn header
    flipped = two.replace(b"Y", b"Z")  # same length, wrong checksum
    assert flipped != two
    assert [r["seq"] for r in step_log.decode(one + flipped + one)[0]] == [3]
    assert step_log.decode(b"")[0] == []
    assert [r["seq"] for r in step_log.unloaded(step_log.decode(one + two)[0], 3)] == [5]


def test_steps_load_into_duckdb_in_batches_and_every_read_sees_them(tmp_path):
    """Steps are appended to the log; DuckDB gets them when ``load_rows`` rows gathered, when
    the journal is read, and at close — and the API's own connection (a cursor that does not
    make the journal write) sees what was loaded."""
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_rows=12, load_every_s=1e9)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    j.simulated_venues = frozenset({"sim"})
    cursor = j.cursor()
    pos = Position(instrument="sim:BTCUSDT")
    seen = []
    for n in range(1, 7):
        side = Side.BUY if n % 2 else Side.SELL
        fill = Fill(
            client_order_id=f"tw-c-{n}",
            instrument="sim:BTCUSDT",
            side=side,
            quantity=D("0.001"),
            price=D(60000),
            fee=D("0.01"),
            ts_ns=n,
            trade_id=f"t-{n}",
        )
        pos = pos.apply(fill)
        j.record_fill(fill, pos)  # two rows per step
        j.commit()
        j.wait_load()  # a due load runs on the journal's load thread
        seen.append(
            (j.steps_logged, j.loads, cursor.execute("SELECT count(*) FROM fills").fetchone()[0])
        )
    # A load every 12 rows: after the sixth step's append (rows 11 and 12).
    assert seen == [(1, 0, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0), (5, 0, 0), (6, 1, 6)]
    j.record_fill(
        Fill(
            client_order_id="tw-c-7",
            instrument="sim:BTCUSDT",
            side=Side.BUY,
            quantity=D("0.001"),
            price=D(60000),
            fee=D("0.01"),
            ts_ns=7,
            trade_id="t-7",
        ),
        pos,
    )
    j.commit()
    assert j.loads == 1 and cursor.execute("SELECT count(*) FROM fills").fetchone()[0] == 6
    assert len(j.fills()) == 7  # a read through the journal loads first
    assert j.loads == 2 and cursor.execute("SELECT count(*) FROM fills").fetchone()[0] == 7
    cursor.close()
    j.close()
    assert not step_log.step_path(path).exists()


def test_without_group_commit_no_step_log_is_written(tmp_path):
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1")
    j.start("paper", "paper.toml", 1)  # durable, group commit off: a commit per write
    fill = Fill(
        client_order_id="tw-d-1",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=D("0.001"),
        price=D(60000),
        fee=D("0.01"),
        ts_ns=1,
        trade_id="t-1",
    )
    j.record_fill(fill, Position(instrument="sim:BTCUSDT").apply(fill))
    assert j._npending == 0 and j.count("fills") == 1 and j.steps_logged == 0
    j.close()
    assert not step_log.step_path(path).exists()


def test_while_no_step_comes_the_logged_rows_are_loaded_once_they_are_due(tmp_path):
    """The engine calls ``load_due`` while it waits for data: rows durable in the step log
    reach DuckDB (what the API's own connection reads) once ``load_every_s`` has passed;
    staged rows wait for their step's commit."""
    import time

    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_every_s=0.05)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    cursor = j.cursor()
    fill = Fill(
        client_order_id="tw-e-1",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=D("0.001"),
        price=D(60000),
        fee=D("0.01"),
        ts_ns=1,
        trade_id="t-1",
    )
    j.record_fill(fill, Position(instrument="sim:BTCUSDT").apply(fill))
    j.commit()  # the first step: appended, its clock starts
    j.load_due()
    assert j.loads == 0 and cursor.execute("SELECT count(*) FROM fills").fetchone() == (0,)
    time.sleep(0.06)
    staged = attrs.evolve(fill, trade_id="t-2", ts_ns=2)
    j.record_fill(staged, Position(instrument="sim:BTCUSDT").apply(staged))  # not committed
    j.load_due()
    j.wait_load()
    assert j.loads == 1
    assert cursor.execute("SELECT trade_id FROM fills").fetchall() == [("t-1",)]
    assert j.buffered == 2  # the staged fill and its position: still for their step
    cursor.close()
    j.close()


def test_an_append_cut_short_by_a_full_disk_leaves_no_torn_record(tmp_path):
    """A write the file size limit cuts short raises the limit's error and leaves the log as
    it was, so a later append is readable (a torn record would hide every record after it)."""
    path = tmp_path / "journal.duckdb.steps"
    script = f"""
import resource, signal
from pathlib import Path
from tradewind.journal import step_log
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
log = step_log.StepLog(Path({str(path)!r}))
log.append(1, {{"events": [("r", 1, 1, "X", 0, "{{}}")]}}, [])
size = log.path.stat().st_size
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20, hard))
try:
    log.append(2, {{"events": [("r", 2, 2, "Y" * 200, 0, "{{}}")]}}, [])
    print("no failure")
except OSError as exc:
    print("failed", exc.errno, log.path.stat().st_size == size)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
log.append(3, {{"events": [("r", 3, 3, "Z", 0, "{{}}")]}}, [])
print([r["seq"] for r in step_log.read(log.path)])
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["failed 27 True", "[1, 3]"]  # 27: EFBIG


def test_a_step_log_written_before_fills_had_fee_rate_loads_with_it_null(tmp_path):
    """A host killed with fills in its step log, restarted by a tradewind whose ``fills``
    table has gained ``fee_rate``: the old rows load, the new column NULL."""
    path = tmp_path / "journal.duckdb"
    _run_writer(path)
    log_path = step_log.step_path(path)
    records = step_log.read(log_path)
    # The rows as the previous release wrote them: one column fewer in ``fills``.
    for r in records:
        r["rows"]["fills"] = [tuple(row[:-1]) for row in r["rows"].get("fills", [])]
    log_path.write_bytes(
        b"".join(step_log.encode(r["seq"], r["rows"], r["orders"]) for r in records)
    )
    ro = Journal.open_readonly(path)
    try:
        fills = ro.fills()
    finally:
        ro.close()
    assert [(f.trade_id, f.price, f.fee_rate) for f in fills] == [
        ("t-1", D(60001), None),
        ("t-2", D(60002), None),
        ("t-3", D(60003), None),
    ]


# A paper host whose first step's load runs on the journal's load thread while the engine
# appends two more steps to a new step log; the process is killed on the load thread either
# in the middle of the load's transaction (``during``: one table inserted, nothing committed)
# or after the load's COMMIT and before the rotated log's removal (``committed``).
BACKGROUND_WRITER = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from tradewind.journal import store
    from tradewind.journal.store import Journal
    from tests.step_log_writer import write_three_steps

    path, when = sys.argv[1], sys.argv[2]
    go = threading.Event()  # set once the engine appended its steps to the new log

    def kill() -> None:
        go.wait(60)
        print("KILL", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    real_insert = store.DuckDBBackend.insert
    real_write = Journal._write

    def insert(self, table, rows, *, ignore, con=None):
        real_insert(self, table, rows, ignore=ignore, con=con)
        if when == "during" and con is not None:
            kill()

    def write(self, tables, orders, *, ignore_fills, upsert_all=False, con=None, then=None):
        real_write(
            self,
            tables,
            orders,
            ignore_fills=ignore_fills,
            upsert_all=upsert_all,
            con=con,
            then=then,
        )
        if when == "committed" and con is not None:
            kill()

    store.DuckDBBackend.insert = insert
    Journal._write = write
    j = Journal(path, "run-1", load_rows=1, load_every_s=1e9)
    # step 1 starts a load on the load thread; steps 2 and 3 go to a new log
    write_three_steps(j, lambda n: print(f"STEP {n} {j.steps_logged}", flush=True))
    go.set()
    time.sleep(60)
    """
)


def _kill_during_background_load(path: Path, when: str) -> list[str]:
    return _run_killed(BACKGROUND_WRITER, str(path), when)


def _each_row_once_after_restart(path: Path) -> None:
    j = Journal(path, "run-2")
    try:
        j.start("paper", "paper.toml", 50)
        assert j.session_id == "run-1"
        assert [(f.trade_id, f.price) for f in j.fills()] == [
            ("t-1", D(60001)),
            ("t-2", D(60002)),
            ("t-3", D(60003)),
        ]
        assert j.positions()["sim:BTCUSDT"].quantity == D("0.002")
        assert j.query(
            "SELECT client_order_id, status, filled_quantity FROM orders ORDER BY id_seq"
        ) == [(f"tw-a-{n}", "filled", "0.002") for n in (1, 2, 3)]
    finally:
        j.close()
    assert not step_log.step_path(path).exists()
    assert not step_log.loading_path(path).exists()
    loaded = _counts(path)
    assert (loaded["fills"], loaded["orders"], loaded["positions"]) == (3, 3, 3)
    assert loaded["order_events"] == 6
    Journal(path, "run-3").close()  # opened again: nothing loaded twice
    assert _counts(path) == loaded


def test_sigkill_during_a_background_load_loads_both_step_logs_once_at_restart(tmp_path):
    path = tmp_path / "journal.duckdb"
    out = _kill_during_background_load(path, "during")
    assert out[:4] == ["STEP 1 1", "STEP 2 2", "STEP 3 3", "KILL"]
    # The load's transaction never committed: its rows are only in the rotated log, the
    # next steps' in the new one.
    assert [r["seq"] for r in step_log.read(step_log.loading_path(path))] == [4]
    assert len(step_log.read(step_log.step_path(path))) == 2
    raw = _counts(path)
    assert raw["fills"] == raw["orders"] == raw["order_events"] == 0
    # A reader of the killed host's journal sees all three steps.
    ro = Journal.open_readonly(path)
    try:
        assert [f.trade_id for f in ro.fills()] == ["t-1", "t-2", "t-3"]
    finally:
        ro.close()
    _each_row_once_after_restart(path)


def test_sigkill_between_a_background_load_commit_and_the_removal_of_its_log(tmp_path):
    path = tmp_path / "journal.duckdb"
    out = _kill_during_background_load(path, "committed")
    assert out[:4] == ["STEP 1 1", "STEP 2 2", "STEP 3 3", "KILL"]
    # The first step is in DuckDB and still in the rotated log; the next two only in the
    # new log.
    assert len(step_log.read(step_log.loading_path(path))) == 1
    assert len(step_log.read(step_log.step_path(path))) == 2
    raw = _counts(path)
    assert (raw["fills"], raw["orders"], raw["order_events"]) == (1, 1, 2)
    _each_row_once_after_restart(path)


def test_a_failed_background_load_is_raised_by_the_next_commit_and_its_rows_loaded_once(
    tmp_path, monkeypatch
):
    """The load thread's write fails (a disk error): the next step's commit raises the
    JournalError, the rotated log stays, and the next load (on the engine's thread) writes
    its rows and the newer ones once, then removes both logs' records."""
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_rows=1, load_every_s=1e9)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    real_write = Journal._write
    failed = []

    def write(self, tables, orders, *, ignore_fills, upsert_all=False, con=None, then=None):
        if con is not None and not failed:
            failed.append(True)
            raise duckdb.IOException("IO Error: could not write file: No space left on device")
        real_write(
            self,
            tables,
            orders,
            ignore_fills=ignore_fills,
            upsert_all=upsert_all,
            con=con,
            then=then,
        )

    monkeypatch.setattr(Journal, "_write", write)
    pos = Position(instrument="sim:BTCUSDT")
    fills = [_buy(f"tw-f-{n}", f"t-{n}", n) for n in (1, 2)]
    j.record_fill(fills[0], pos := pos.apply(fills[0]))
    j.commit()  # appended; its load starts on the load thread and fails
    j._loader.join()
    assert step_log.loading_path(path).exists()
    j.record_fill(fills[1], pos.apply(fills[1]))
    with pytest.raises(JournalError, match="No space left on device"):
        j.commit()
    assert j.error is not None and j.loads == 0
    # The second step is durable (appended) although the commit raised the load's error.
    assert len(step_log.read(step_log.step_path(path))) == 1
    assert [f.trade_id for f in j.fills()] == ["t-1", "t-2"]  # the read loads, once
    assert j.error is None
    assert not step_log.loading_path(path).exists()
    j.close()
    assert _counts(path)["fills"] == 2 and _counts(path)["positions"] == 2


def test_loads_on_the_engines_thread_when_background_loads_are_off(tmp_path):
    """``[journal] load_in_background = false``: a due load is written before the step's
    commit returns, the step log truncated in place (never rotated)."""
    from tradewind.config import JournalSection

    assert JournalSection().load_in_background is True
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_rows=1, load_every_s=1e9, background=False)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    cursor = j.cursor()
    fill = _buy("tw-g-1", "t-1", 1)
    j.record_fill(fill, Position(instrument="sim:BTCUSDT").apply(fill))
    j.commit()
    assert j._loader is None and j.loads == 1
    assert cursor.execute("SELECT trade_id FROM fills").fetchall() == [("t-1",)]
    assert not step_log.loading_path(path).exists()
    assert step_log.step_path(path).stat().st_size == 0  # truncated in place
    cursor.close()
    j.close()


def test_an_unexpected_error_inside_a_load_rolls_its_transaction_back(tmp_path, monkeypatch):
    """A load that fails with something other than a database or disk error (here a bug's
    RuntimeError in the middle of its inserts) does not leave its transaction open: the next
    load writes every row once instead of failing on "transaction within a transaction"."""
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1", load_rows=1, load_every_s=1e9, background=False)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    real_insert = Journal._insert_rows
    calls = []

    def insert(self, verb, table, rows, **kw):
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("a bug in the middle of a load")
        real_insert(self, verb, table, rows, **kw)

    monkeypatch.setattr(Journal, "_insert_rows", insert)
    pos = Position(instrument="sim:BTCUSDT")
    fills = [_buy(f"tw-u-{n}", f"u-{n}", n) for n in (1, 2)]
    j.record_fill(fills[0], pos := pos.apply(fills[0]))
    with pytest.raises(RuntimeError, match="a bug in the middle of a load"):
        j.commit()
    monkeypatch.setattr(Journal, "_insert_rows", real_insert)
    j.record_fill(fills[1], pos.apply(fills[1]))
    j.commit()
    j.close()
    ro = Journal.open_readonly(path)
    try:
        assert sorted(f.trade_id for f in ro.fills()) == ["u-1", "u-2"]
    finally:
        ro.close()
