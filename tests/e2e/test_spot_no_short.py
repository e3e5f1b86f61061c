"""Spot has no short selling: a paper run on the ccxt plugin's local Binance spot server whose
strategy wants to go short at every decision point sends nothing; each sell entry is refused
by the engine (a ``position`` veto naming the market), and the account ends as it started.

The shipped Binance BTCUSDT sample is replayed as market data; the account (5,000 USDT, no
BTC) is seeded from the exchange. Without the rule each signal would become a market sell of
BTC the account does not hold.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.trading.engine import Engine

pytest.importorskip("tradewind_venue_ccxt", reason="the spot run needs the ccxt venue")
pytest.importorskip("tradewind_analyzer_orderflow", reason="the run reads one analyzer value")

from tests.e2e.cex_local import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    BinanceSpotServer,
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


def test_a_short_signal_on_spot_is_refused_and_nothing_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    spot = BinanceSpotServer(API_KEY, SECRET, balances={"USDT": D("5000")}).start()
    path = tmp_path / "spot.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USDT"

[[instruments]]
symbol = "BTCUSDT"
venue = "spot"
data = "replay"
kind = "spot"
tick_size = "0.01"
lot_size = "0.00001"

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
api_host = "{spot.url}"
order_updates = "poll"

[analyzers.orderflow]
plugin = "orderflow"

[strategy]
timeframe = "1m"
risk_pct = 0.01
short = [{{ value = "orderflow.imbalance_1m", op = ">=", threshold = 0.0 }}]
""",
        encoding="utf-8",
    )
    try:
        engine = Engine(load_config(path))
        anyio.run(engine.run)
        with spot.lock:
            sent = list(spot.orders.values())
            balances = {k: v for k, v in spot.balances.items() if v}
    finally:
        spot.stop()
    assert engine.signals > 10  # the strategy asked again and again
    assert sent == []
    assert balances == {"USDT": D("5000")}
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = con.execute("SELECT count(*) FROM orders").fetchone()
        vetoes = con.execute("SELECT DISTINCT filter, reason FROM vetoes").fetchall()
    finally:
        con.close()
    assert orders == (0,)
    assert vetoes == [
        (
            "position",
            "spot:BTCUSDT is a spot market and its venue 'spot' does not declare margin: no "
            "short selling (a sell entry would sell coin the account does not hold)",
        )
    ]
    assert engine.portfolio.accounts.get("spot").balances == {"USDT": D("5000")}
