"""The engine's control surface on the real sample: pause, force exit, stop."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from tradewind.config import load_config
from tradewind.model import TickBatch
from tradewind.trading.control import ControlError
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    p = tmp_path / "demo.toml"
    p.write_text(demo_config_text(tmp_path), encoding="utf-8")
    return Engine(load_config(p), run_id="ctl")


def on_first_entry_fill(engine: Engine, action) -> dict[str, int]:
    """Call ``action()`` once, between two feed batches, as soon as a position is open — the
    moment a command arriving then would be taken; note the engine time."""
    seen: dict[str, int] = {}
    on_ticks = engine._on_ticks

    async def wrapped(st, piece: TickBatch) -> None:
        await on_ticks(st, piece)
        if "at" not in seen and engine.portfolio.positions():
            seen["at"] = engine.clock.now_ns()
            action()

    engine._on_ticks = wrapped  # type: ignore[method-assign]
    return seen


def orders(engine: Engine) -> list:
    return sorted((r.order for r in engine.orders.records.values()), key=lambda o: o.created_ts_ns)


def test_paused_from_the_start_no_entry_is_sent_but_decision_points_still_pass(engine):
    engine.control.pause()
    result = anyio.run(engine.run)
    assert result.summary["decisions"] == 125  # the tape is processed to the end
    assert engine.entries_sent == 0 and orders(engine) == []


def test_pause_stops_new_entries_while_the_exit_still_runs(engine):
    seen = on_first_entry_fill(engine, engine.control.pause)
    result = anyio.run(engine.run)
    first, *later = orders(engine)
    assert first.tag == "entry" and "at" in seen
    # Nothing opened after the pause; the open position was still closed by its exit monitor.
    assert [o.tag for o in later if o.created_ts_ns >= seen["at"] and not o.reduce_only] == []
    exits = [o for o in later if o.reduce_only]
    # Exit monitors still closed it (IOC closes take the prints of their side at arrival, so a
    # position can take several: docs/venues/sim.md).
    assert exits and all(o.intent == "close" and o.tag != "entry" for o in exits)
    assert engine.portfolio.positions() == [] and len(result.closed_trades) == 1


def test_forceexit_all_closes_every_position_through_the_order_manager(engine):
    seen = on_first_entry_fill(engine, lambda: engine.control.force_exit("all", who="chat 42"))
    result = anyio.run(engine.run)
    entry, close, *rest = orders(engine)
    assert entry.tag == "entry" and "at" in seen
    assert close.reduce_only and close.tag == "control: forceexit by chat 42"
    # The close asks for the whole position the entry opened, through the order manager.
    opened = engine.orders.records[entry.client_order_id].filled_quantity
    assert close.side is entry.side.opposite and close.quantity == opened
    assert engine.orders.records[close.client_order_id].filled_quantity > 0
    # An IOC close takes what the prints of its side offer at arrival; what it leaves is
    # closed by the exit monitors (docs/venues/sim.md), never re-opened.
    assert all(o.reduce_only and o.intent == "close" for o in rest)
    assert engine.portfolio.positions() == [] and len(result.closed_trades) == 1


def test_forceexit_of_an_unknown_instrument_names_the_known_ones(engine):
    with pytest.raises(ControlError, match=r"unknown instrument 'ETHUSDT'; instruments: sim:BTC"):
        engine.control.force_exit("ETHUSDT", who="t")
    with pytest.raises(ControlError, match="no open position in sim:BTCUSDT"):
        engine.control.force_exit("btcusdt", who="t")


def test_stop_ends_the_run_after_the_current_batch(tmp_path):
    p = tmp_path / "chunked.toml"
    text = demo_config_text(tmp_path)
    p.write_text(text.replace('plugin = "replay"\n', 'plugin = "replay"\nchunk_ticks = 200\n'))
    engine = Engine(load_config(p), run_id="stop")
    seen = on_first_entry_fill(engine, engine.control.stop)
    result = anyio.run(engine.run)
    # The run ended at the end of the 200-tick batch in which the stop came, and finished
    # cleanly (summary written, journal closed).
    assert "at" in seen
    assert 0 < result.summary["ticks"] < 9_999
    assert result.summary["open_positions"] == 1  # stop does not close positions


def test_read_outs_report_cash_equity_and_positions(engine):
    assert engine.control.balance() == {
        "cash": "10,000.00",
        "equity": "10,000.00",
        "currency": "USDT",
    }
    assert engine.control.profit()["realized_pnl"] == "0.00"
    assert engine.control.positions() == [] and engine.control.trades() == []
    assert engine.control.status()["state"] == "running"
    engine.control.pause()
    assert engine.control.status()["state"] == "paused"
    assert Decimal(engine.control.daily_figures(0, 1)["fees"].replace(",", "")) == 0
