"""Periodic re-reconciliation compares perpetual positions too (issue 19): a position that
changed at the venue behind the host's back (closed there: a liquidation, a manual close) is
reported as a ReconciliationDiscrepancy, the venue's quantity adopted and journaled as a
correction; a run where nothing drifts reports nothing. (Spot holdings are compared as
balances: tests/e2e/test_paper_spot_reduce.py.)"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
from tradewind.config import load_config
from tradewind.model import Fill, Position
from tradewind.trading.engine import Engine

from tests.faulty_venue import FaultyVenue
from tests.test_engine import demo_config_text


class ClosedBehindOurBack(FaultyVenue):
    """The simulated venue; with ``close``, the first periodic position read that finds the
    host holding a position with no order in flight closes that position at the venue first
    (the host is not told)."""

    def __init__(self, inner: Any, engine: Engine, *, close: bool) -> None:
        super().__init__(inner)
        self.engine = engine
        self.close_one = close
        self.reads = 0
        #: (instrument, quantity the host held) when the venue closed it.
        self.closed: tuple[str, Decimal] | None = None

    async def fetch_positions(self) -> Any:
        self.reads += 1
        pf = self.engine.portfolio
        held = [p for p in pf.positions() if not p.is_flat]
        if self.close_one and self.closed is None and held and not pf.open_orders():
            pos = held[0]
            self.closed = (pos.instrument, pos.quantity)
            self.inner._positions[pos.instrument] = Position(instrument=pos.instrument)
        return await super().fetch_positions()


class FillAfterItsReport(ClosedBehindOurBack):
    """The simulated venue whose first fill after the host opened a position reaches the
    host only after two more position reads, while the order's "filled" report reaches it at
    once (a venue's order update ahead of its trade): meanwhile the venue's position has
    moved and the host's has not."""

    def __init__(self, inner: Any, engine: Engine) -> None:
        super().__init__(inner, engine, close=False)
        self.held: Fill | None = None
        self.held_cid = ""
        self.reads_while_held = 0
        self.released = False

    def on_fill(self, fill: Fill) -> None:
        if self.held is None and not self.released and self.engine.portfolio.positions():
            self.held, self.held_cid = fill, fill.client_order_id
            return
        super().on_fill(fill)

    async def fetch_positions(self) -> Any:
        out = await super().fetch_positions()
        if self.held is not None:
            self.reads_while_held += 1
            if self.reads_while_held > 2:
                # Two rounds read the venue while the fill was held (the first was applied
                # before the second started): deliver it now.
                fill, self.held, self.released = self.held, None, True
                super().on_fill(fill)
        return out


def _paper_run(
    tmp_path: Path, *, close: bool, late_fill: bool = False
) -> tuple[Engine, ClosedBehindOurBack]:
    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    text = text.replace("[run]\n", "[run]\nreconcile_interval_s = 0.05\n", 1)
    text = text.replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 1000.0\nchunk_ticks = 50\n'
    )
    cfg = tmp_path / "paper.toml"
    cfg.write_text(text)
    engine = Engine(load_config(cfg))
    venue = (
        FillAfterItsReport(engine.venues["sim"], engine)
        if late_fill
        else ClosedBehindOurBack(engine.venues["sim"], engine, close=close)
    )
    venue.set_sink(engine.orders)
    engine.venues["sim"] = venue
    for st in engine.state.values():
        st.exec_venue = venue
    anyio.run(engine.run)
    return engine, venue


def test_a_position_closed_at_the_venue_is_reported_and_corrected(tmp_path):
    engine, venue = _paper_run(tmp_path, close=True)
    assert venue.closed is not None, "the host never held a position at a reconciliation"
    inst, qty = venue.closed
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT ts_ns, payload->>'kind', payload->>'subject', payload->>'journal_state', "
        "payload->>'venue_state', payload->>'action' FROM events "
        "WHERE type = 'ReconciliationDiscrepancy' ORDER BY seq"
    ).fetchall()
    assert len(rows) == 1, rows
    ts, kind, subject, journal_state, venue_state, action = rows[0]
    assert (kind, subject, action) == ("position", inst, "corrected")
    assert Decimal(journal_state.split(" @ ")[0]) == qty
    assert venue_state == "0 @ 0"
    # The correction is journaled: the position row the journal rebuilds from says flat.
    corrections = con.execute(
        "SELECT ts_ns, quantity FROM positions WHERE reason = 'correction' AND instrument = ?",
        [inst],
    ).fetchall()
    assert [(t, Decimal(q)) for t, q in corrections] == [(ts, Decimal(0))]
    # The host's books and the venue's agree at the end.
    inner = venue.inner
    at_venue = inner._positions.get(inst) or Position(instrument=inst)
    assert engine.portfolio.position(inst).quantity == at_venue.quantity


def test_positions_that_agree_report_nothing(tmp_path):
    engine, venue = _paper_run(tmp_path, close=False)
    assert venue.reads > 1  # the rounds did read the venue's positions
    assert engine.orders.fills  # and the run traded between them
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    # The wrapped venue closed cleanly at the end (nothing reported by the run's end).
    assert con.execute(
        "SELECT count(*) FROM system_events WHERE type = 'SystemError' AND source = 'run_end'"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM events WHERE type = 'ReconciliationDiscrepancy'"
    ).fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM positions WHERE reason = 'correction'").fetchone() == (
        0,
    )


def test_a_fill_reported_filled_before_its_trade_arrives_is_not_taken_for_drift(tmp_path, caplog):
    """An order the venue reported filled whose fill has not reached the host yet: the venue's
    position already holds it, the host's not; the round leaves that venue to the next one
    (the fill, delivered later, is booked once) instead of "correcting" the position."""
    with caplog.at_level(logging.WARNING, logger="tradewind.trading.reconcile"):
        engine, venue = _paper_run(tmp_path, close=False, late_fill=True)
    assert isinstance(venue, FillAfterItsReport)
    assert venue.released and venue.reads_while_held > 2
    # Each round that skipped the venue said why, naming the order.
    said = [r.getMessage() for r in caplog.records if "positions not compared" in r.getMessage()]
    assert said and all("'sim'" in m and venue.held_cid in m for m in said), said
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    assert con.execute(
        "SELECT count(*) FROM events WHERE type = 'ReconciliationDiscrepancy'"
    ).fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM positions WHERE reason = 'correction'").fetchone() == (
        0,
    )
    # The held fill was booked (once), and the host's books and the venue's agree.
    assert con.execute("SELECT count(*) FROM fills").fetchone() == (len(engine.orders.fills),)
    for inst, at_venue in venue.inner._positions.items():
        assert engine.portfolio.position(inst).quantity == at_venue.quantity
