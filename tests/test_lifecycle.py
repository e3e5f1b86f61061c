"""The run's lifecycle: any number of venues, shutdown whatever ends the run, the run-end
hook's contract, and SIGTERM stopping a paper run cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal.store import Journal, OrderRecord
from tradewind.model import Order, OrderStatus, OrderType, Side, TimeInForce
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text

TWO_VENUES = """
[[instruments]]
symbol = "BTCUSDT"
venue = "sim2"
data = "replay2"
kind = "perp"
tick_size = "0.01"
lot_size = "0.001"
min_notional = "5"
maker_fee = "0.0002"
taker_fee = "0.0004"

[venues.sim2]
plugin = "sim"
starting_balance = "10000"

[venues.replay2]
plugin = "replay"
path = "{path}"
"""


def test_two_data_venues_and_two_execution_venues_run(tmp_path):
    """Before issue 19 the feed closed its send stream before the pumps cloned it: a run with
    two data venues crashed at start."""
    text = demo_config_text(tmp_path)
    sample = text.split('path = "', 1)[1].split('"', 1)[0]
    text += TWO_VENUES.format(path=sample)
    cfg = tmp_path / "two.toml"
    cfg.write_text(text)
    result = anyio.run(Engine(load_config(cfg)).run)
    assert result.summary["ticks"] == 2 * 9_999
    assert result.summary["instruments"] == ["sim:BTCUSDT", "sim2:BTCUSDT"]


HOOKS_SRC = """
import attrs
from tradewind import hookimpl

CALLS = []

@attrs.frozen(kw_only=True)
class Cfg:
    fail_start: bool = False

class Pager:
    name = "pager"
    config_class = Cfg
    capabilities = frozenset()
    def __init__(self, config): self.config = config
    async def start(self):
        CALLS.append("start")
        if self.config.fail_start:
            raise RuntimeError("pager service refused the login")
    async def notify(self, event): pass
    async def close(self): CALLS.append("close")

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Pager)

@hookimpl
def tradewind_run_end(run, summary):
    CALLS.append("run_end")
    raise ValueError("report upload failed")
"""


def _with_pager(tmp_path: Path, fake_dists, extra: str = "") -> Path:
    fake_dists.add(
        "tradewind-notifier-pager",
        "1.0",
        {"tradewind.notifiers": {"pager": "tw_pager"}},
        {"tw_pager": HOOKS_SRC},
    )
    cfg = tmp_path / "hooks.toml"
    cfg.write_text(demo_config_text(tmp_path) + f"\n[notifiers.pager]\n{extra}")
    return cfg


@pytest.mark.hook("tradewind_run_end")
def test_a_raising_run_end_hook_is_a_system_error_event_and_the_run_ends(tmp_path, fake_dists):
    cfg = _with_pager(tmp_path, fake_dists)
    result = anyio.run(Engine(load_config(cfg)).run)
    calls = sys.modules.pop("tw_pager").CALLS
    assert calls == ["start", "close", "run_end"]
    assert result.summary["ticks"] == 9_999
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    rows = con.execute("SELECT source, message FROM system_events").fetchall()
    assert ("run_end", "tradewind_run_end raised ValueError: report upload failed") in rows
    assert con.execute("SELECT count(*) FROM events WHERE type = 'RunFinished'").fetchone() == (1,)
    assert con.execute("SELECT finished_ts_ns IS NOT NULL FROM runs").fetchone() == (True,)


def test_a_run_that_fails_still_closes_everything_and_publishes_run_finished(tmp_path, fake_dists):
    cfg = _with_pager(tmp_path, fake_dists, "fail_start = true\n")
    with pytest.raises(RuntimeError, match="pager service refused the login"):
        anyio.run(Engine(load_config(cfg)).run)
    calls = sys.modules.pop("tw_pager").CALLS
    assert calls == ["start", "close", "run_end"]  # closed although the run failed
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM events WHERE type = 'RunFinished'").fetchone() == (1,)
    assert con.execute("SELECT finished_ts_ns IS NOT NULL FROM runs").fetchone() == (True,)


# -- SIGTERM ----------------------------------------------------------------------------------
def _paper_config(tmp_path: Path) -> Path:
    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    # Slow enough that the run is still going when the signal comes (2 h of trades in ~70 s).
    text = text.replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 100.0\nchunk_ticks = 50\n'
    )
    cfg = tmp_path / "paper.toml"
    cfg.write_text(text)
    return cfg


def _seed_resting_entry(cfg: Path, journal: Path) -> str:
    """A paper session with a resting limit entry far below the market, as a previous run of
    the same config would have left it."""
    j = Journal(journal, "seed")
    j.start("paper", str(cfg), 1)
    j.record_cash("USDT", Decimal("10000"), ts_ns=1, reason="start")
    cid = "tw-seed-1"
    order = Order(
        client_order_id=cid,
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.010"),
        price=Decimal("1000.00"),
        time_in_force=TimeInForce.GTC,
        created_ts_ns=1,
        tag="entry",
    )
    rec = OrderRecord(
        client_order_id=cid,
        instrument=order.instrument,
        venue="sim",
        order=order,
        status=OrderStatus.ACCEPTED,
        venue_order_id="sim-1",
        updated_ts_ns=1,
        run_id="seed",
    )
    j.record_order(rec, ts_ns=1, kind="submitted")
    j.finish(1, {})
    j.close()
    return cid


def test_sigterm_stops_a_paper_run_cleanly(tmp_path):
    cfg = _paper_config(tmp_path)
    journal = tmp_path / "journal.duckdb"
    cid = _seed_resting_entry(cfg, journal)
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradewind", "run", str(cfg), "--report-dir", str(tmp_path / "r")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    # The run has started once it wrote its run row (the write-ahead log appears).
    deadline = time.monotonic() + 60
    while not Path(str(journal) + ".wal").exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(2.0)  # a few paced batches in
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["summary"]["stopped"] == "SIGTERM received"
    assert 0 < report["summary"]["ticks"] < 9_999  # stopped mid-feed
    con = duckdb.connect(str(journal), read_only=True)
    # The resting entry was cancelled and the change journaled; the run is finished.
    assert con.execute("SELECT status FROM orders WHERE client_order_id = ?", [cid]).fetchone() == (
        "cancelled",
    )
    run = con.execute(
        "SELECT finished_ts_ns IS NOT NULL, summary->>'stopped' FROM runs WHERE run_id <> 'seed'"
    ).fetchall()
    assert run == [(True, "SIGTERM received")]
    assert con.execute("SELECT count(*) FROM events WHERE type = 'RunFinished'").fetchone() == (1,)


def test_an_order_in_flight_at_the_end_is_reported_not_left_accepted(tmp_path):
    """The venue never answers the first entry (requests lost, lookups refused): at the end
    of the run the order is looked up once more and, still unknown, reported by name."""
    from tests.faulty_venue import FaultyVenue

    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    cfg = tmp_path / "paper.toml"
    cfg.write_text(text)
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)  # retries back off in no time

    engine = Engine(load_config(cfg), sleep=no_wait)
    faulty = FaultyVenue(engine.venues["sim"])
    faulty.set_sink(engine.orders)
    engine.venues["sim"] = faulty
    for st in engine.state.values():
        st.exec_venue = faulty
    faulty.fail("submit_order", *["timeout_before"] * 5)
    faulty.fail("fetch_order", *["unavailable"] * 1000)
    anyio.run(engine.run)
    # An unknown outcome is never resent: one create, then lookups only.
    assert faulty.calls["submit_order"] == 1
    (cid,) = engine.orders.unresolved()
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    messages = [m for (m,) in con.execute("SELECT message FROM system_events").fetchall()]
    ended = [m for m in messages if m.startswith("run ended with 1 order(s) open")]
    assert ended and f"{cid} (new, outcome unknown)" in ended[0]
    assert con.execute("SELECT status FROM orders WHERE client_order_id = ?", [cid]).fetchone() == (
        "new",
    )


def test_a_run_that_fails_before_its_bus_starts_still_journals_run_finished(tmp_path):
    """The data venue cannot connect (its file is missing): the run raises the venue's error,
    and the journal still records RunFinished and the run's end."""
    from tradewind.errors import TradewindError

    text = demo_config_text(tmp_path)
    sample = text.split('path = "', 1)[1].split('"', 1)[0]
    cfg = tmp_path / "missing.toml"
    cfg.write_text(text.replace(sample, (tmp_path / "missing.csv").as_posix()))
    with pytest.raises(TradewindError):
        anyio.run(Engine(load_config(cfg)).run)
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    assert con.execute("SELECT type FROM events").fetchall() == [("RunFinished",)]
    assert con.execute("SELECT finished_ts_ns IS NOT NULL FROM runs").fetchone() == (True,)


def test_a_resting_entry_whose_cancel_at_stop_is_answered_500_is_settled_cancelled(tmp_path):
    """The run stops (its feed ends) with a resting entry; the venue takes the cancel but
    answers it with an error (HTTP 500 after acting). The cancel is settled by looking the
    order up (still open: the simulated venue's cancel takes effect after its latency) and
    sending it again, not reported as failed."""
    from tests.faulty_venue import FaultyVenue

    cfg = tmp_path / "paper.toml"
    cfg.write_text(demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"'))
    journal = tmp_path / "journal.duckdb"
    cid = _seed_resting_entry(cfg, journal)
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    engine = Engine(load_config(cfg), sleep=no_wait)
    faulty = FaultyVenue(engine.venues["sim"])
    faulty.set_sink(engine.orders)
    engine.venues["sim"] = faulty
    for st in engine.state.values():
        st.exec_venue = faulty
    faulty.fail("cancel_order", "unavailable_after")
    anyio.run(engine.run)
    assert faulty.calls["cancel_order"] == 2 and faulty.calls["fetch_order"] >= 1
    assert slept[-1] == 0.25  # the backoff before the second cancel
    assert engine.orders.records[cid].status is OrderStatus.CANCELLED
    con = duckdb.connect(str(journal), read_only=True)
    assert con.execute("SELECT status FROM orders WHERE client_order_id = ?", [cid]).fetchone() == (
        "cancelled",
    )
    messages = [m for (m,) in con.execute("SELECT message FROM system_events").fetchall()]
    assert not [m for m in messages if "cancel" in m or "open at the venue" in m], messages
