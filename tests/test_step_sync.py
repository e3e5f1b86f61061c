"""A paper or live step's sync behind the engine (``[journal] sync_in_background``).

The engine writes step N's record to the step log, hands its ``fdatasync`` to the journal's
sync thread and computes step N+1 meanwhile; step N's events reach the bus's queued
subscribers (notifiers, the API, anything outside the process) only once the sync returned.
These tests show: the engine does compute while a step is synced; no fill reaches a queued
subscriber before its record is durable; a host killed inside a step's sync never announced
that step's fills and resumes with every fill it did announce; a step that wrote an order
ahead for a real venue waits for its own sync; a failed sync stages the step's rows again and
cuts its record off the log; and the bus's hold keeps its subscribers' order.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.bus import EventBus
from tradewind.config import load_config
from tradewind.errors import JournalError
from tradewind.journal import step_log
from tradewind.journal.store import Journal, OrderRecord, column_names
from tradewind.model import (
    Event,
    FillEvent,
    Order,
    OrderStatus,
    OrderType,
    RunStarted,
    Side,
    TimeInForce,
)

from tests.test_crash import _assert_resumed, _env, _journal_state, _paper_config, _restart
from tests.test_journal_step_loads import _bench

REPO = Path(__file__).resolve().parents[1]
FILL_ID = (column_names("fills").index("client_order_id"), column_names("fills").index("trade_id"))


def _written_fills(path: Path) -> set[tuple[str, str]]:
    """The fills of every record written to the step log so far (an ``fdatasync`` called
    now makes them all durable)."""
    return {
        (r[FILL_ID[0]], r[FILL_ID[1]])
        for record in step_log.read(path)
        for r in record["rows"].get("fills", [])
    }


def test_the_engine_computes_the_next_step_while_a_step_is_synced_and_no_fill_leaves_first(
    tmp_path, monkeypatch
):
    """A slow disk (each ``fdatasync`` up to 0.2 s longer): the engine journals the next step's
    rows while a step is synced, and every fill a queued subscriber gets is in a record whose
    sync had returned. On the code before, the sync ran on the engine's thread: nothing
    moved during one."""
    bench = _bench()
    engine = bench.paper_engine(6_000, 100, 10, tmp_path)
    assert engine.config.journal.sync_in_background
    steps = step_log.step_path(tmp_path / "retained_6000.duckdb")
    real = os.fdatasync
    durable: set[tuple[str, str]] = set()
    moved: list[int] = []  # rows the engine journaled while each step was synced
    lock = threading.Lock()

    def slow_fdatasync(fd: int) -> None:
        fills = _written_fills(steps)
        before = engine.journal._seq
        # Each sync lasts until the engine journaled something more (at most 0.2 s): a
        # pipelined engine does within a step's time whatever the machine's load, unless it
        # waits for this sync itself (a fifth step in flight, a load's rename of the log);
        # one that syncs on its own thread never does.
        deadline = time.monotonic() + 0.2
        while engine.journal._seq == before and time.monotonic() < deadline:
            threading.Event().wait(0.0005)
        real(fd)
        with lock:
            durable.update(fills)
            moved.append(engine.journal._seq - before)

    monkeypatch.setattr(os, "fdatasync", slow_fdatasync)
    early: list[tuple[str, str]] = []
    seen: list[tuple[str, str]] = []

    def on_fill(event: Event) -> None:
        assert isinstance(event, FillEvent)
        key = (event.fill.client_order_id, event.fill.trade_id)
        seen.append(key)
        with lock:
            if key not in durable:
                early.append(key)

    engine.bus.subscribe("observer", on_fill, types=(FillEvent,), lossless=True)
    anyio.run(engine.run)
    assert len(seen) > 400
    assert early == []  # no fill left before its step was durable
    assert len(durable) == len(seen)
    assert engine.journal.syncs_behind > 10
    # The engine journaled the next step's orders and fills during a good part of the syncs
    # (measured: 20-45 of 66 syncs; none on the code before).
    assert sum(1 for m in moved if m > 0) >= 10, moved


# The child of the kill test: a paper session (tests/crash_runner.py) whose process kills
# itself inside an fdatasync of a step that booked fills, once some fills were announced,
# after printing the fills of the records not yet acknowledged as CUT lines; the runner
# prints a FILL line for every fill the bus delivered.
KILLED_IN_SYNC = r"""
import os, signal, sys
from pathlib import Path
from tradewind.journal import step_log
from tradewind.journal.store import column_names
import tests.crash_runner as runner

steps = step_log.step_path(Path(sys.argv[2]))
cid, tid = column_names("fills").index("client_order_id"), column_names("fills").index("trade_id")
real = os.fdatasync
announced = [0]
real_print = runner._print_fill

def print_fill(event):
    real_print(event)
    announced[0] += 1

def fdatasync(fd):
    records = step_log.read(steps)
    fills = records[-1]["rows"].get("fills", []) if records else []
    if fills and announced[0] >= 3:
        # Past print's buffer (the engine's thread may be in the middle of a FILL line).
        cut = "".join(f"CUT {r[cid]} {r[tid]}\n" for r in fills)
        os.write(1, ("\n" + cut).encode())
        os.kill(os.getpid(), signal.SIGKILL)
    real(fd)

runner._print_fill = print_fill
os.fdatasync = fdatasync
sys.exit(runner.main([sys.argv[1]]))
"""


@pytest.mark.slow
def test_a_host_killed_inside_a_steps_sync_never_announced_its_fills_and_resumes(tmp_path):
    """SIGKILL while step N's record is being synced (written, not acknowledged): none of
    step N's fills reached the bus's subscribers; every fill that did is in the journal the
    host left, and the restarted session resumes where that journal says."""
    from tests.pg import JournalAt

    config = _paper_config(tmp_path, JournalAt("duckdb", tmp_path, None))
    # Unpaced: steps come back to back, so most are synced while the next one computes.
    config.write_text(
        config.read_text(encoding="utf-8").replace("speed = 300.0\n", ""), encoding="utf-8"
    )
    journal = tmp_path / "journal.duckdb"
    script = tmp_path / "killed_in_sync.py"
    script.write_text(KILLED_IN_SYNC, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(config), str(journal)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=180,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    announced = {tuple(x.split()[1:3]) for x in lines if x.startswith("FILL ")}
    cut = {tuple(x.split()[1:]) for x in lines if x.startswith("CUT ")}
    assert announced and cut
    assert not announced & cut  # the step being synced had sent nothing out
    at_kill = _journal_state(journal)
    assert announced <= at_kill["fills"]  # nothing that left the process is lost
    _assert_resumed(_restart(config, tmp_path / "state.json"), at_kill)


def _order_record(cid: str, venue: str) -> OrderRecord:
    order = Order(
        client_order_id=cid,
        instrument="BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.001"),
        time_in_force=TimeInForce.IOC,
        created_ts_ns=1,
    )
    return OrderRecord(
        client_order_id=cid,
        instrument="BTCUSDT",
        order=order,
        status=OrderStatus.NEW,
        venue=venue,
        updated_ts_ns=1,
    )


def _paper_journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "j.duckdb", "r1")
    j.start("paper", "cfg.toml", 1)
    j.group_commit = True
    j.simulated_venues = frozenset({"sim"})
    j.sync_behind = True
    return j


def _blocking_fdatasync(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[int]]:
    """``os.fdatasync`` that waits for the returned event (a disk that does not answer)."""
    real = os.fdatasync
    go = threading.Event()
    calls: list[int] = []

    def blocked(fd: int) -> None:
        calls.append(fd)
        assert go.wait(30)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", blocked)
    return go, calls


def test_commit_returns_while_the_disk_syncs_and_rows_reach_followers_once_durable(
    tmp_path, monkeypatch
):
    j = _paper_journal(tmp_path)
    followed: list[tuple[str, int]] = []
    j.follow(["order_events"], lambda t, rows: followed.append((t, len(rows))), newest=0)
    go, calls = _blocking_fdatasync(monkeypatch)
    j.record_order(_order_record("c1", "sim"), ts_ns=1, kind="submitted")
    j.commit()  # returns with the sync still waiting on the disk
    assert j.syncing and calls and j.buffered == 2  # one order event and the order's state
    # The record is written (a restart would find it), not acknowledged: no follower yet.
    assert [r["seq"] for r in step_log.read(step_log.step_path(tmp_path / "j.duckdb"))]
    assert followed == [] and j.steps_logged == 0
    go.set()
    j.settle()
    assert not j.syncing and j.buffered == 0 and j.steps_logged == 1
    assert followed == [("order_events", 1)]
    j.close()


def test_a_step_that_wrote_an_order_ahead_for_a_real_venue_waits_for_its_own_sync(tmp_path):
    j = _paper_journal(tmp_path)
    j.record_order(_order_record("c1", "binance"), ts_ns=1, kind="submitted")
    assert "c1" in j.written_ahead()  # durable in the intent log before it is sent
    j.commit()
    # Synced at once: the intent log is truncated only once the step's record is durable.
    assert not j.syncing and j.syncs_behind == 0 and not j.written_ahead()
    j.record_order(_order_record("c2", "sim"), ts_ns=2, kind="submitted")
    j.commit()
    assert j.syncs_behind == 1
    j.close()


def test_a_failed_sync_cuts_the_record_and_stages_its_rows_again(tmp_path, monkeypatch):
    j = _paper_journal(tmp_path)
    steps = step_log.step_path(tmp_path / "j.duckdb")
    real = os.fdatasync
    fail = [True]

    def failing(fd: int) -> None:
        if fail[0]:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", failing)
    j.record_order(_order_record("c1", "sim"), ts_ns=1, kind="submitted")
    j.commit()
    j.record_order(_order_record("c2", "sim"), ts_ns=2, kind="submitted")  # the next step
    with pytest.raises(JournalError, match="Input/output error"):
        j.settle()
    assert j.error is not None
    assert step_log.read(steps) == []  # never acknowledged: cut off
    assert j.buffered == 4  # both steps' order events and states, staged
    fail[0] = False
    j.commit()
    j.settle()
    assert j.error is None
    [record] = step_log.read(steps)
    assert [r[1] for r in record["orders"]] == [j.session_id] * 2
    assert len(record["rows"]["order_events"]) == 2
    j.flush()
    rows = j.query("SELECT client_order_id FROM order_events ORDER BY seq")
    assert rows == [("c1",), ("c2",)]
    j.close()


def test_while_the_bus_holds_inline_subscribers_get_events_at_once_and_queued_ones_in_order():
    inline: list[int] = []
    queued: list[int] = []

    async def main() -> None:
        async with EventBus() as bus:
            bus.subscribe("journal", lambda e: inline.append(e.ts_ns), inline=True)
            bus.subscribe("notifier", lambda e: queued.append(e.ts_ns))
            bus.hold()
            await bus.publish(RunStarted(ts_ns=1, run_id="r", mode="paper"))
            await bus.publish_many([RunStarted(ts_ns=t, run_id="r", mode="paper") for t in (2, 3)])
            for _ in range(5):
                await anyio.lowlevel.checkpoint()
            assert inline == [1, 2, 3] and queued == [] and bus.held == 3
            await bus.release()
            await bus.publish(RunStarted(ts_ns=4, run_id="r", mode="paper"))
            assert bus.holding and bus.held == 1
            # The bus closes with an event still held: it is delivered, in order.

    anyio.run(main)
    assert inline == [1, 2, 3, 4] and queued == [1, 2, 3, 4]


def _paper_run(tmp_path: Path, sync_in_background: bool) -> list[tuple[Any, ...]]:
    """The bench's churning paper run (2,000 ticks); the journal's rows, in sequence order."""
    bench = _bench()
    work = tmp_path / ("behind" if sync_in_background else "inline")
    work.mkdir()
    engine = bench.paper_engine(2_000, 500, 10, work)
    if not sync_in_background:
        engine.config = load_config(
            _with_journal_section(Path(engine.config.path), "sync_in_background = false")
        )
    engine.run_id = "same"
    anyio.run(engine.run)
    j = Journal.open_readonly(work / "retained_2000.duckdb")
    try:
        out = []
        for table in ("events", "order_events", "fills", "positions"):
            cols = [c for c in column_names(table) if c not in ("run_id", "session_id")]
            out += [(table, *r) for r in j.query(f"SELECT {', '.join(cols)} FROM {table}")]
        return sorted(out, key=lambda r: (r[1], r[0]))
    finally:
        j.close()


def _with_journal_section(config: Path, line: str) -> Path:
    config.write_text(config.read_text(encoding="utf-8") + f"\n[journal]\n{line}\n", "utf-8")
    return config


def test_a_paper_run_journals_the_same_rows_with_the_sync_behind_or_inline(tmp_path):
    """Only where a step's rows are durable moves (its events' rows in its own record): the
    rows, their sequence numbers and their payloads are the same."""
    behind = _paper_run(tmp_path, True)
    inline = _paper_run(tmp_path, False)
    assert len(behind) > 500
    assert _without_clock(behind) == _without_clock(inline)


def _without_clock(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # The RunStarted/RunFinished rows carry the wall clock of the run.
    return [r for r in rows if not (r[0] == "events" and r[3] in ("RunStarted", "RunFinished"))]
