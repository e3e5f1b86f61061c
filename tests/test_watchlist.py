"""The watchlist: expiry on the injected clock, the warning an hour ahead, renew, restart, and
the engine taking entries for exactly the active watchlist's instruments."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
import pytest
from tradewind.clock import SimClock
from tradewind.config import WatchlistSection, load_config
from tradewind.journal.store import Journal
from tradewind.trading.control import ControlError
from tradewind.trading.engine import Engine
from tradewind.trading.watchlist import (
    NS_PER_HOUR,
    Watchlist,
    WatchlistExpired,
    WatchlistExpiring,
)

from tests.host_config import INSTRUMENT, SAMPLE_START_NS, host_toml

T0 = 1_700_000_000 * 1_000_000_000
KNOWN = {INSTRUMENT: "perp"}


def open_list(path, clock, **settings):
    journal = Journal(path, "run-1")
    return journal, Watchlist(journal, clock, WatchlistSection(**settings), known=KNOWN)


def test_an_entry_for_one_hour_warns_expires_and_renew_extends_it(tmp_path):
    clock = SimClock(T0)
    journal, wl = open_list(tmp_path / "j.duckdb", clock)
    e = wl.add(
        exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test", duration_hours=1
    )
    assert e.expires_ts_ns == T0 + NS_PER_HOUR and wl.is_active(INSTRUMENT)
    # One hour long: the one-hour warning is due at once, and only once.
    events = wl.sweep()
    assert [type(ev) for ev in events] == [WatchlistExpiring]
    assert events[0].instrument == INSTRUMENT and events[0].expires_ts_ns == T0 + NS_PER_HOUR
    assert wl.sweep() == []
    clock.advance_to(T0 + NS_PER_HOUR - 1)
    assert wl.is_active(INSTRUMENT) and wl.entry_guard(INSTRUMENT) is None
    clock.advance_to(T0 + NS_PER_HOUR)
    assert not wl.is_active(INSTRUMENT)
    assert wl.entry_guard(INSTRUMENT) == f"{INSTRUMENT} is not on the active watchlist"
    assert [type(ev) for ev in wl.sweep()] == [WatchlistExpired]
    assert wl.get(INSTRUMENT).status == "expired" and wl.entries() == []
    # Renewing a lapsed entry starts from now; renewing an active one extends its expiry.
    r = wl.renew(INSTRUMENT, caller="test", duration_hours=2)
    assert r.status == "active" and r.expires_ts_ns == T0 + 3 * NS_PER_HOUR
    r = wl.renew(INSTRUMENT, caller="test")  # default 24 h
    assert r.expires_ts_ns == T0 + 27 * NS_PER_HOUR and not r.warned
    journal.close()


def test_entries_survive_a_restart(tmp_path):
    clock = SimClock(T0)
    journal, wl = open_list(tmp_path / "j.duckdb", clock)
    wl.add(exchange="sim", market_type="perp", symbol="BTCUSDT", caller="alice", priority=7)
    journal.close()
    journal, again = open_list(tmp_path / "j.duckdb", clock)
    (e,) = again.entries()
    assert (e.instrument, e.priority, e.caller) == (INSTRUMENT, 7, "alice")
    assert e.expires_ts_ns == T0 + 24 * NS_PER_HOUR and again.is_active(INSTRUMENT)
    again.remove(INSTRUMENT, caller="bob")
    assert again.entries() == [] and again.get(INSTRUMENT).status == "removed"
    journal.close()


def test_only_configured_instruments_can_be_added_when_the_watchlist_drives(tmp_path):
    journal, wl = open_list(tmp_path / "j.duckdb", SimClock(T0))
    with pytest.raises(ControlError, match=r"'sim:ETHUSDT' is not configured on this host"):
        wl.add(exchange="sim", market_type="perp", symbol="ETHUSDT", caller="t")
    with pytest.raises(ControlError, match="is a perp market on this host, not spot"):
        wl.add(exchange="sim", market_type="spot", symbol="BTCUSDT", caller="t")
    with pytest.raises(ControlError, match="not on the watchlist"):
        wl.renew("sim:BTCUSDT", caller="t")
    journal.close()


def test_the_engine_takes_entries_only_while_the_instrument_is_on_the_watchlist(tmp_path):
    """A 1 h entry added at the start of the 2 h sample: entries in the first hour, none
    after; the warning and the expiry are journaled as events on engine time."""
    cfg = load_config(host_toml(tmp_path, watchlist="[watchlist]\ndrives_instruments = true\n"))
    engine = Engine(cfg, run_id="wl", clock=SimClock(SAMPLE_START_NS))

    @asynccontextmanager
    async def operator_adds(eng):
        from tradewind.trading.operator import Operator

        Operator.of(eng).watchlist.add(
            exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test", duration_hours=1
        )
        yield

    engine.services.append(operator_adds)
    result = anyio.run(engine.run)
    expiry = SAMPLE_START_NS + NS_PER_HOUR
    entries = [o for o in engine.orders.orders.values() if o.intent == "entry"]
    assert entries and all(o.created_ts_ns < expiry for o in entries)
    assert max(o.created_ts_ns for o in entries) > expiry - 10 * 60 * 1_000_000_000
    j = Journal.open_readonly(tmp_path / "journal.duckdb")
    refused = j.query(
        "SELECT min(ts_ns), count(*) FROM vetoes WHERE filter = 'operator' AND reason = ?",
        [f"{INSTRUMENT} is not on the active watchlist"],
    )[0]
    assert refused[0] >= expiry and refused[1] > 30  # every later 1m signal was refused
    types = dict(
        j.query("SELECT type, min(ts_ns) FROM events WHERE type LIKE 'Watchlist%' GROUP BY type")
    )
    # Due at once (it lasts one hour): swept at the first decision point, the first 1m close.
    assert SAMPLE_START_NS <= types["WatchlistExpiring"] <= SAMPLE_START_NS + 60 * 10**9
    assert expiry <= types["WatchlistExpired"] < expiry + 2 * 60 * 1_000_000_000
    assert result.summary["ticks"] == 9_999
    j.close()
