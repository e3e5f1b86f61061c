"""The order-intent log: an order written ahead survives SIGKILL before the group commit.

With group commit (paper and live) an order about to go to a real venue is made durable by one
``fdatasync``'d record in ``<journal>.intents`` instead of a DuckDB commit; the rows reach
DuckDB with the step's commit. These tests kill a process between the two and open the journal
it left behind.
"""

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal as D
from pathlib import Path

from tradewind.journal import intent_log
from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import Order, OrderStatus, OrderType, Side

REPO = Path(__file__).resolve().parents[1]

# A host's journal in paper mode: group commit on, one fill committed, then an order for a real
# venue written ahead — and SIGKILL before the step's commit.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from decimal import Decimal as D
    from tradewind.journal.store import Journal, OrderRecord
    from tradewind.model import Order, OrderType, Side

    path = sys.argv[1]
    j = Journal(path, "run-1")
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    def rec(cid, ts):
        order = Order(client_order_id=cid, instrument="usdm:BTCUSDT", side=Side.BUY,
                      type=OrderType.MARKET, quantity=D("0.002"), created_ts_ns=ts)
        return OrderRecord(client_order_id=cid, instrument=order.instrument, venue="usdm",
                           order=order, updated_ts_ns=ts, id_seq=int(cid[-1]), run_id="run-1")
    j.record_order(rec("tw-a-1", 10), ts_ns=10, kind="submitted")
    j.commit()  # the first step's group commit: tw-a-1 is in DuckDB, the log is empty
    j.record_order(rec("tw-a-2", 20), ts_ns=20, kind="submitted")
    print("WRITTEN-AHEAD", flush=True)  # the order would be sent now
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _kill_after_write_ahead(path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert proc.stdout.strip() == "WRITTEN-AHEAD"


def test_sigkill_after_the_write_ahead_and_before_the_commit_keeps_the_order(tmp_path):
    path = tmp_path / "journal.duckdb"
    _kill_after_write_ahead(path)
    log_path = intent_log.intent_path(path)
    assert [r["orders"][0] for r in intent_log.read(log_path)] == ["tw-a-2"]
    # DuckDB itself never got tw-a-2: the kill came before the step's commit.
    ro = Journal.open_readonly(path)
    try:
        assert ro.order("tw-a-1") is not None and ro.order("tw-a-2") is None
    finally:
        ro.close()

    # The restarted host opens the journal: the intent is replayed before anything reads it.
    j = Journal(path, "run-2")
    try:
        j.start("paper", "paper.toml", 30)
        assert j.session_id == "run-1"  # the same paper session continues
        open_orders = {r.client_order_id: r for r in j.open_orders()}
        assert set(open_orders) == {"tw-a-1", "tw-a-2"}
        restored = open_orders["tw-a-2"]
        assert restored.status is OrderStatus.NEW and restored.venue == "usdm"
        assert restored.order is not None and restored.order.quantity == D("0.002")
        assert restored.order.created_ts_ns == 20 and restored.id_seq == 2
        events = j._con.execute(
            "SELECT kind, to_status FROM order_events WHERE client_order_id = 'tw-a-2'"
        ).fetchall()
        assert events == [("submitted", "new")]
        assert j.last_client_order_seq() >= 2
    finally:
        j.close()
    assert not log_path.exists()  # committed into DuckDB, the log is gone


def test_replaying_an_intent_already_committed_adds_nothing(tmp_path):
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1")
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    order = Order(
        client_order_id="tw-b-1",
        instrument="usdm:BTCUSDT",
        side=Side.SELL,
        type=OrderType.MARKET,
        quantity=D("0.005"),
        reduce_only=True,
    )
    rec = OrderRecord(
        client_order_id="tw-b-1", instrument=order.instrument, venue="usdm", order=order
    )
    j.record_order(rec, ts_ns=5, kind="submitted")
    log_path = intent_log.intent_path(path)
    kept = log_path.read_bytes()  # as if the host died after COMMIT, before the truncate
    j.commit()
    j.close()
    log_path.write_bytes(kept)

    again = Journal(path, "run-2")
    try:
        assert again._con.execute(
            "SELECT count(*) FROM orders WHERE client_order_id = 'tw-b-1'"
        ).fetchone() == (1,)
        assert again._con.execute(
            "SELECT count(*) FROM order_events WHERE client_order_id = 'tw-b-1'"
        ).fetchone() == (1,)
    finally:
        again.close()
    assert not log_path.exists()


def test_a_torn_or_damaged_record_ends_the_log():
    one = intent_log.encode(("tw-1", "s", "r"), ("r", "s", 1))
    two = intent_log.encode(("tw-2", "s", "r"), ("r", "s", 2))
    records, end = intent_log.decode(one + two[:-5])  # the second write was cut
    assert [r["orders"][0] for r in records] == ["tw-1"] and end == len(one)
    flipped = two.replace(b"tw-2", b"tw-3")  # same length, wrong checksum
    assert [r["orders"][0] for r in intent_log.decode(one + flipped + one)[0]] == ["tw-1"]
    assert intent_log.decode(b"")[0] == []


def test_without_group_commit_the_order_is_committed_and_no_log_is_written(tmp_path):
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-1")
    j.start("paper", "paper.toml", 1)  # durable, group commit off
    order = Order(
        client_order_id="tw-c-1",
        instrument="usdm:BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("0.001"),
    )
    rec = OrderRecord(
        client_order_id="tw-c-1", instrument=order.instrument, venue="usdm", order=order
    )
    j.record_order(rec, ts_ns=5, kind="submitted")
    assert j._npending == 0 and j.count("orders") == 1
    j.close()
    assert not intent_log.intent_path(path).exists()


def test_an_append_cut_short_by_a_full_disk_leaves_no_torn_record(tmp_path):
    """A write the file size limit cuts short raises the limit's error and leaves the log as
    it was, so a later append is readable (a torn record would hide every record after it)."""
    path = tmp_path / "journal.duckdb.intents"
    script = f"""
import resource, signal
from tradewind.journal import intent_log
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
log = intent_log.IntentLog(__import__("pathlib").Path({str(path)!r}))
log.append(("tw-1", "s", "r" * 100), ("r", "s", 1))
size = log.path.stat().st_size
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 50, hard))
try:
    log.append(("tw-2", "s", "r" * 100), ("r", "s", 2))
    print("no failure")
except OSError as exc:
    print("failed", exc.errno, log.path.stat().st_size == size)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
log.append(("tw-3", "s", "r"), ("r", "s", 3))
print([r["orders"][0] for r in intent_log.read(log.path)])
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["failed 27 True", "['tw-1', 'tw-3']"]  # EFBIG
