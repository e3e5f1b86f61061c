"""A close that leaves a position is tagged ``reduce``, in a real paper run: ccxt's real
``binance`` on the plugin's local Binance spot server, cryptofeed's real ``BinanceFutures``
feed on its local server (the set-up of :mod:`tests.e2e.test_paper_cryptofeed_ccxt`).

After the entry is filled, part of the BTC it bought leaves the exchange account (a
withdrawal the host does not make). The host's re-reconciliation (every 50 ms of wall time,
at candle boundaries) adopts the exchange's smaller BTC balance. When the trailing stop then
closes the position, spot allows selling only what is held: the order sells the BTC left, the
rest of the journaled position remains, and the order is journaled with intent ``reduce``.
"""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

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
    LocalSpot,
    ScriptedFeed,
    Tape,
    Trade,
)
from tests.e2e.test_paper_cryptofeed_ccxt import (  # noqa: E402
    MINUTE_MS,
    SPOT_ENTRY_QTY,
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
LOT = D("0.00001")
#: BTC taken out of the exchange account while the position is open.
WITHDRAWN = D("0.05")


def test_a_spot_close_of_less_than_the_position_is_a_reduce(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    exchange = LocalSpot(tape).start()
    t0 = market_start_ms(time.time_ns() // MS)
    m31 = t0 + 31 * MINUTE_MS
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            path = write_config(tmp_path, feed, exchange, "spot")
            text = path.read_text(encoding="utf-8")
            path.write_text(
                text.replace(
                    'reporting_currency = "USDT"\n',
                    'reporting_currency = "USDT"\nreconcile_interval_s = 0.05\n',
                    1,
                ),
                encoding="utf-8",
            )
            engine = Engine(load_config(path))

            def booked(n: int) -> Any:
                return lambda: len(engine.orders.fills) >= n

            def withdraw() -> bool:
                with exchange.lock:
                    exchange.balances["BTC"] -= WITHDRAWN
                return True

            def host_sees_withdrawal() -> bool:
                account = engine.portfolio.accounts.get("spot")
                with exchange.lock:
                    venue_btc = exchange.balances["BTC"]
                return account is not None and account.balance("BTC") == venue_btc

            warmup = warmup_and_signal(t0)
            # Minute boundaries (each one a re-reconciliation chance), prices kept away from
            # the trailing stop.
            boundaries = [
                ("trade", Trade(t0 + k * MINUTE_MS + 500, D(60020), D("0.1"), True))
                for k in range(32, 36)
            ]
            steps: list[tuple[Any, ...]] = [
                *[("trade", t) for t in warmup],
                ("trade", Trade(m31 + 500, D(60010), D("0.1"), True)),  # the signal
                ("until", booked(1), 20.0),  # the entry is filled and booked
                ("until", withdraw, 1.0),
            ]
            for b in boundaries:
                steps += [("wait", 0.1), b]
            m36 = t0 + 36 * MINUTE_MS
            steps += [
                ("until", host_sees_withdrawal, 20.0),
                ("trade", Trade(m36 + 2_000, D(60300), D("0.1"), True)),
                ("trade", Trade(m36 + 20_000, D(59990), D("0.3"), False)),  # trailing stop
                ("until", booked(2), 20.0),  # the reduce is filled and booked
                ("trade", Trade(m36 + 30_000, D(59995), D("0.1"), True)),
                ("until", lambda: engine.ticks >= len(warmup) + 1 + len(boundaries) + 3, 20.0),
                ("close",),
            ]
            feed.script(*steps)
            assert run_engine(engine) is not None
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the run did not react to the script in time"
    assert not exchange.unknown and exchange.bad_signatures == 0

    with exchange.lock:
        sent = list(exchange.orders.values())
        trades = list(exchange.trades)
        balances = {k: v for k, v in exchange.balances.items() if v}
    entry_trade, exit_trade = trades
    held = SPOT_ENTRY_QTY - D(entry_trade["commission"])  # what the entry brought in
    left = held - WITHDRAWN  # what the account holds at the close
    sold = (left / LOT).to_integral_value(rounding=ROUND_DOWN) * LOT
    assert [(o["side"], D(o["origQty"]), o["status"]) for o in sent] == [
        ("BUY", SPOT_ENTRY_QTY, "FILLED"),
        ("SELL", sold, "FILLED"),
    ]
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = rows(con, "SELECT side, reduce_only, intent, status FROM orders ORDER BY id_seq")
        assert orders == [
            {"side": "buy", "reduce_only": False, "intent": "entry", "status": "filled"},
            {"side": "sell", "reduce_only": False, "intent": "reduce", "status": "filled"},
        ]
        fills = rows(con, "SELECT trade_id, quantity FROM fills ORDER BY seq")
        assert [(f["trade_id"], D(f["quantity"])) for f in fills] == [
            (str(entry_trade["id"]), SPOT_ENTRY_QTY),
            (str(exit_trade["id"]), sold),
        ]
        positions = rows(con, "SELECT quantity FROM positions WHERE reason = 'fill' ORDER BY seq")
        assert [D(p["quantity"]) for p in positions] == [held, held - sold]
        assert held - sold >= WITHDRAWN  # a position remains (not dust)
        # The withdrawal was reported as drift and the exchange's balance adopted.
        drift = rows(
            con,
            "SELECT payload FROM events WHERE type = 'ReconciliationDiscrepancy' "
            "AND payload LIKE '%\"BTC\"%'",
        )
        assert drift
        assert final_balances(con, "spot") == balances
    finally:
        con.close()
