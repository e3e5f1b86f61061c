"""Restart of a paper host on a perpetual with an order in flight and funding settled while it
is down: ccxt's real ``binanceusdm`` on the plugin's local Binance USD-M server, cryptofeed's
real ``BinanceFutures`` feed on its local server (the set-up of
:mod:`tests.e2e.test_paper_cryptofeed_ccxt`).

The first run sends its entry (a MARKET buy) and stops while the exchange holds it (NEW).
While the host is down the exchange executes it and then settles a funding payment on the
position (``/fapi/v1/income``, ``FUNDING_FEE``), moving the USDT wallet. The second run of
the same session books the fill once (from the exchange's trade list), journals the funding
it did not see (from the venue's funding history, so the account shows no unexplained
drift), and the position trades again: the trailing exit closes it with a reduce-only sell.
Positions and cash, funding included, end exactly as the exchange's.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.engine import Engine

for _module in (
    "tradewind_venue_cryptofeed",
    "tradewind_venue_ccxt",
    "tradewind_analyzer_regime",
    "tradewind_exit_trailing",
):
    pytest.importorskip(_module, reason=f"the CEX end-to-end run needs {_module}")

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    MS,
    SECRET,
    SECRET_ENV,
    LocalUsdm,
    ScriptedFeed,
    Tape,
    Trade,
)
from tests.e2e.test_paper_cryptofeed_ccxt import (  # noqa: E402
    MINUTE_MS,
    _isolated_symbol_cache,  # noqa: F401  (autouse: cryptofeed's symbol cache per test)
    final_balances,
    market_start_ms,
    rows,
    run_engine,
    warmup_and_signal,
    write_config,
)

pytestmark = pytest.mark.e2e
D = Decimal
#: Funding the exchange charges the long while the host is down (Binance's income sign:
#: < 0 paid by the account).
FUNDING_INCOME = D("-0.99616600")


def test_perp_restart_with_an_order_in_flight_and_funding_while_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    exchange = LocalUsdm(tape).start()
    exchange.hold_market = True  # MARKET orders wait for release(): in flight
    t0 = market_start_ms(time.time_ns() // MS)
    m31 = t0 + 31 * MINUTE_MS
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            path = write_config(tmp_path, feed, exchange, "usdm")
            first = Engine(load_config(path))
            warmup = warmup_and_signal(t0)
            feed.script(
                ("until", lambda: bool(exchange.streams), 20.0),  # ccxt.pro's user stream
                *[("trade", t) for t in warmup],
                ("trade", Trade(m31 + 500, D(60010), D("0.1"), True)),  # the signal
                ("until", lambda: bool(exchange.orders), 20.0),  # the entry reached it
                ("trade", Trade(m31 + 1_000, D(60010), D("0.1"), True)),
                ("until", lambda: first.ticks >= len(warmup) + 2, 20.0),
                ("close",),
            )
            assert run_engine(first) is not None
            next_id = feed.next_id
        (entry_id,) = exchange.orders
        assert exchange.orders[entry_id]["status"] == "NEW"
        assert not first.orders.fills
        # While the host is down: the entry executes, then funding is settled on it.
        exchange.hold_market = False
        (entry_trade,) = exchange.release()
        funding_ms = int(entry_trade["time"]) + 500
        exchange.book_income("BTCUSDT", FUNDING_INCOME, funding_ms)
        with exchange.lock:
            wallet_after_funding = exchange.wallet
            streams_before = len(exchange.streams)
            held_while_down = exchange.positions["BTCUSDT"][0]
        assert held_while_down > 0  # the exchange's position the second run must find

        with ScriptedFeed(tmp_path, tape, first_id=next_id) as feed:
            write_config(tmp_path, feed, exchange, "usdm")  # the same file: the session resumes
            second = Engine(load_config(path))
            feed.script(
                ("until", lambda: len(exchange.streams) > streams_before, 20.0),
                ("trade", Trade(m31 + 2_000, D(60020), D("0.1"), True)),
                ("trade", Trade(m31 + 5_000, D(60300), D("0.1"), True)),
                ("trade", Trade(m31 + 20_000, D(59990), D("0.3"), False)),  # trailing stop
                ("until", lambda: len(second.orders.fills) >= 1, 20.0),  # the exit is booked
                ("trade", Trade(m31 + 30_000, D(59995), D("0.1"), True)),
                ("until", lambda: second.ticks >= 4, 20.0),
                ("close",),
            )
            assert run_engine(second) is not None
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the run did not react to the script in time"
    assert not exchange.push_errors and not exchange.unknown and exchange.bad_signatures == 0

    with exchange.lock:
        orders = list(exchange.orders.values())
        trades = list(exchange.trades)
        wallet = exchange.wallet
        positions = dict(exchange.positions)
    assert [(o["side"], o["status"], o["reduceOnly"]) for o in orders] == [
        ("BUY", "FILLED", False),
        ("SELL", "FILLED", True),
    ]
    assert positions["BTCUSDT"][0] == 0
    exit_trade = trades[1]
    # The exchange's wallet: 10,000, the funding, the exit's realised P&L, both commissions.
    assert wallet == (
        D(10000)
        + FUNDING_INCOME
        + D(exit_trade["realizedPnl"])
        - D(entry_trade["commission"])
        - D(exit_trade["commission"])
    )
    assert wallet != wallet_after_funding  # the exit moved it after the restart
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        # The fill in flight is delivered once; the position then traded again (closed).
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert [(f["client_order_id"], f["trade_id"]) for f in fills] == [
            (entry_id, str(entry_trade["id"])),
            (orders[1]["clientOrderId"], str(exit_trade["id"])),
        ]
        assert [(D(f["fee"]), f["fee_currency"]) for f in fills] == [
            (D(entry_trade["commission"]), "USDT"),
            (D(exit_trade["commission"]), "USDT"),
        ]
        journaled = rows(con, "SELECT status, intent FROM orders ORDER BY id_seq")
        assert [(o["status"], o["intent"]) for o in journaled] == [
            ("filled", "entry"),
            ("filled", "close"),
        ]
        # The position the restart booked is the exchange's while the host was down; the
        # exit then took it to the exchange's flat.
        booked = rows(con, "SELECT quantity FROM positions WHERE reason = 'fill' ORDER BY seq")
        assert [D(p["quantity"]) for p in booked] == [D(held_while_down), D(0)]
        # The funding settled while the host was down is journaled once, as paid (> 0).
        flows = rows(con, "SELECT venue, instrument, asset, amount, kind, ts_ns FROM cash_flows")
        flows = [{**f, "amount": D(f["amount"])} for f in flows]
        assert flows == [
            {
                "venue": "usdm",
                "instrument": "usdm:BTCUSDT",
                "asset": "USDT",
                "amount": -FUNDING_INCOME,
                "kind": "funding",
                "ts_ns": funding_ms * 1_000_000,
            }
        ]
        # Booked balances plus the funding equal the exchange's at the restart: no drift.
        discrepancies = rows(
            con,
            "SELECT payload FROM events WHERE type = 'ReconciliationDiscrepancy' "
            "AND payload LIKE '%\"balance\"%'",
        )
        assert discrepancies == []
        # Cash at the end, funding included, is the exchange's wallet exactly.
        assert final_balances(con, "usdm") == {"USDT": wallet}
        runs = rows(con, "SELECT session_id FROM runs")
        assert len(runs) == 2 and runs[0]["session_id"] == runs[1]["session_id"]
    finally:
        con.close()
    assert second.portfolio.funding_paid == -FUNDING_INCOME
