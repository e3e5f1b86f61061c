"""Accounts per execution venue: two real venues' balances, summed in the reporting currency.

A paper run with two ccxt execution venues — the plugin's local Binance spot server (5,000
USDT and 0.1 BTC) and the e2e suite's local Binance USD-M server (a 10,000 USDT wallet) —
and the shipped Binance BTCUSDT sample replayed as market data for both instruments. No
config names a starting balance or a quote currency: each account is seeded from its venue.
The strategy never signals; the run only marks prices, so equity is the accounts' value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.accounts import ConversionError
from tradewind.trading.engine import Engine

pytest.importorskip("tradewind_venue_ccxt", reason="the accounts run needs the ccxt venue")
pytest.importorskip("tradewind_analyzer_orderflow", reason="the run reads one analyzer value")

from tests.e2e.cex_local import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    BinanceSpotServer,
    LocalUsdm,
    Tape,
)

pytestmark = pytest.mark.e2e

D = Decimal
SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)


def write_config(folder: Path, spot_url: str, usdm_url: str, reporting: str) -> Path:
    path = folder / "accounts.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "{reporting}"
# The spot account holds BTC before the first run: take it over (the default refuses).
unknown_positions = "adopt"

[[instruments]]
symbol = "BTCUSDT"
venue = "spot"
data = "replay"
kind = "spot"
tick_size = "0.01"
lot_size = "0.00001"

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"

[venues.replay]
plugin = "replay"
path = "{SAMPLE.as_posix()}"

[venues.spot]
plugin = "ccxt"
exchange = "binance"
market_type = "spot"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{spot_url}"
order_updates = "poll"

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{usdm_url}"
order_updates = "poll"

[analyzers.orderflow]
plugin = "orderflow"

[strategy]
timeframe = "1m"
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1e12 }}]
""",
        encoding="utf-8",
    )
    return path


def run(tmp_path: Path, reporting: str) -> Engine:
    spot = BinanceSpotServer(API_KEY, SECRET, balances={"USDT": D("5000"), "BTC": D("0.1")}).start()
    usdm = LocalUsdm(Tape()).start()
    try:
        engine = Engine(load_config(write_config(tmp_path, spot.url, usdm.url, reporting)))
        anyio.run(engine.run)
    finally:
        spot.stop()
        usdm.stop()
    return engine


def test_two_venues_equity_is_the_sum_in_the_reporting_currency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    engine = run(tmp_path, "USDT")
    pf = engine.portfolio
    assert pf.accounts.get("spot").balances == {"USDT": D("5000"), "BTC": D("0.1")}
    assert pf.accounts.get("usdm").balances == {"USDT": D("10000")}
    mark = Decimal(repr(pf.last_price("spot:BTCUSDT")))
    assert mark > 0
    assert pf.equity() == D("5000") + D("0.1") * mark + D("10000")
    assert pf.starting_equity() > D("15000")  # valued at the first mark, BTC included
    # Every decision point's equity is the sum at that moment's mark, never one venue's.
    assert engine.equity_curve and all(eq > 15_000 for _, eq in engine.equity_curve)
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        seeded = con.execute(
            "SELECT venue, asset, amount FROM account_balances WHERE reason = 'start' "
            "ORDER BY venue, asset"
        ).fetchall()
    finally:
        con.close()
    assert [(v, a, D(x)) for v, a, x in seeded] == [
        ("spot", "BTC", D("0.1")),
        ("spot", "USDT", D("5000")),
        ("usdm", "USDT", D("10000")),
    ]


def test_equity_in_btc_converts_the_other_way_and_an_unknown_currency_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    engine = run(tmp_path, "BTC")
    pf = engine.portfolio
    mark = Decimal(repr(pf.last_price("spot:BTCUSDT")))
    assert pf.equity() == D("0.1") + D("15000") * (Decimal(1) / mark)
    # The run's summary names the currency its equity is counted in: the reporting currency
    # (not the instruments' quote, USDT).
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        (payload,) = con.execute("SELECT payload FROM events WHERE type = 'RunFinished'").fetchone()
    finally:
        con.close()
    summary = json.loads(payload)["summary"]
    assert summary["currency"] == "BTC"
    assert Decimal(summary["final_equity"]) == pf.equity()

    pf.accounts.reporting_currency = "EUR"
    with pytest.raises(ConversionError, match=r"cannot convert .* to the reporting currency EUR"):
        pf.equity()


def test_re_reconciliation_reports_drift_and_adopts_the_venue_balance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While running, a deposit at the exchange (which this host did not book) is found by the
    next re-reconciliation: a ``balance`` discrepancy, and the account takes the venue's."""
    from tradewind.journal.store import Journal
    from tradewind.model.events import ReconciliationDiscrepancy
    from tradewind.trading.reconcile import prepare_session, rereconcile

    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    spot = BinanceSpotServer(API_KEY, SECRET, balances={"USDT": D("5000")}).start()
    usdm = LocalUsdm(Tape()).start()
    try:
        cfg = load_config(write_config(tmp_path, spot.url, usdm.url, "USDT"))
        engine = Engine(cfg, run_id="rerec")

        async def go() -> list[ReconciliationDiscrepancy]:
            engine.journal = Journal(tmp_path / "journal.duckdb", engine.run_id)
            engine.journal.start("paper", str(cfg.path), 0)
            try:
                for venue in engine.venues.values():
                    await venue.connect()
                await prepare_session(engine)
                engine.orders.take_events()
                with spot.lock:
                    spot.balances["USDT"] += D("250")  # a deposit
                await rereconcile(engine)
                return [
                    e
                    for e in engine.orders.take_events()
                    if isinstance(e, ReconciliationDiscrepancy)
                ]
            finally:
                for venue in engine.venues.values():
                    await venue.close()
                engine.journal.close()

        found = anyio.run(go)
    finally:
        spot.stop()
        usdm.stop()
    assert [
        (e.venue, e.kind, e.subject, e.journal_state, e.venue_state, e.action) for e in found
    ] == [("spot", "balance", "USDT", "5000", "5250", "corrected")]
    assert engine.portfolio.accounts.get("spot").balances == {"USDT": D("5250")}
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT venue, reason, amount FROM account_balances WHERE asset = 'USDT' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    assert [(v, r, D(a)) for v, r, a in rows if v == "spot"] == [
        ("spot", "start", D("5000")),
        ("spot", "booked", D("5000")),
        ("spot", "correction", D("5250")),
    ]


def test_a_spot_holding_without_trades_is_priced_at_the_first_mark_and_journaled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spot account's 0.1 BTC has no trades behind it (a deposit): reconciliation adopts
    it without an entry price, and the first price of the replay prices it; the journal keeps
    both rows, so a resumed session restores the priced position."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    engine = run(tmp_path, "USDT")
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()[1:]
    # The first mark is the last price of the replay's first batch: one the tape printed, in
    # its opening seconds (the tape opens at 9682).
    opening = {D(r.split(",")[6]) for r in rows[:2000]}
    pos = engine.portfolio.position("spot:BTCUSDT")
    first = pos.avg_price
    assert first in opening and abs(first - D("9682")) < D("10")
    assert (pos.quantity, pos.lots) == (D("0.1"), ((D("0.1"), first),))
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        journaled = con.execute(
            "SELECT reason, quantity, avg_price FROM positions "
            "WHERE instrument = 'spot:BTCUSDT' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    assert [(r, D(q), D(p)) for r, q, p in journaled] == [
        ("correction", D("0.1"), D("0")),
        ("entry_priced", D("0.1"), first),
    ]
