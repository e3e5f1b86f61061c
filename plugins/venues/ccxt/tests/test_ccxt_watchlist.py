"""A paper host whose watchlist drives the instrument set, streaming public trades from the
local Binance USDⓈ-M server through the ccxt venue: ETHUSDT is unsubscribed while it is off
the watchlist (the exchange never sends its trades), subscribed when an operator adds it
(its trades reach the engine), and unsubscribed again when it is removed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV, set_credentials
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind.trading.operator import Operator

BTC, ETH = "bn:BTCUSDT", "bn:ETHUSDT"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()


def write_config(folder: Path, server: BinanceFuturesServer) -> Path:
    instruments = "".join(
        f'\n[[instruments]]\nsymbol = "{s}"\nvenue = "bn"\nkind = "perp"\n'
        for s in ("BTCUSDT", "ETHUSDT")
    )
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
reporting_currency = "USDT"
unknown_positions = "adopt"  # the server's account holds a BTCUSDT position
{instruments}
[venues.bn]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT", "ETHUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{server.url}"
order_updates = "auto"
poll_interval_s = 0.2

[strategy]
composition = "gates"
timeframe = "1m"
stop_pct = 0.004
risk_pct = 0.002
long = [{{ value = "close", op = "<", threshold = 0 }}]

[watchlist]
drives_instruments = true
""",
        encoding="utf-8",
    )
    return path


def test_the_watchlist_subscribes_and_unsubscribes_an_instruments_trades(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    engine = Engine(load_config(write_config(tmp_path, server)))
    seen: dict[str, object] = {}

    async def until(what: str, pred, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
        with anyio.fail_after(timeout):
            while not pred():
                await anyio.sleep(0.02)

    async def script(eng: Engine) -> None:
        wl = Operator.of(eng).watchlist
        assert wl is not None
        # BTC on the list from the start; ETH is off it.
        wl.add(exchange="bn", market_type="perp", symbol="BTCUSDT", caller="test")
        await until("BTC subscribed", lambda: "btcusdt@trade" in server.subscribed())
        seen["at_start"] = server.subscribed()
        seen["eth_off"] = server.push_trade("ETHUSDT", "2300", "1", buyer_maker=False)
        server.push_trade("BTCUSDT", "43000", "0.01", buyer_maker=True)
        await until("BTC's trade", lambda: eng.ticks >= 1)
        wl.add(exchange="bn", market_type="perp", symbol="ETHUSDT", caller="test")
        await until("ETH subscribed", lambda: "ethusdt@trade" in server.subscribed())
        server.push_trade("ETHUSDT", "2301", "0.5", buyer_maker=False)
        await until("ETH's trade", lambda: eng.state[ETH].last_ts is not None)
        seen["eth_ticks_on"] = eng.ticks
        wl.remove(ETH, caller="test")
        await until("ETH unsubscribed", lambda: "ethusdt@trade" not in server.subscribed())
        seen["eth_removed"] = server.push_trade("ETHUSDT", "2302", "2", buyer_maker=True)
        server.push_trade("BTCUSDT", "43001", "0.02", buyer_maker=False)
        await until("BTC's second trade", lambda: eng.ticks >= 3)
        await anyio.sleep(0.3)
        seen["ticks_end"] = eng.ticks
        eng.stopper.request("the test is done")

    @asynccontextmanager
    async def operator(eng):  # type: ignore[no-untyped-def]
        async with anyio.create_task_group() as tg:
            tg.start_soon(script, eng)
            yield

    engine.services.append(operator)
    anyio.run(engine.run)
    subs = Operator.of(engine).watchlist.subscriptions  # type: ignore[union-attr]
    # Both off the list when the host starts; BTC added (and kept), ETH added then removed.
    assert [a for _, a, k in subs.log if k == BTC] == ["unsubscribe", "subscribe"]
    assert [a for _, a, k in subs.log if k == ETH] == ["unsubscribe", "subscribe", "unsubscribe"]
    assert seen["at_start"] == {"btcusdt@trade"}
    assert seen["eth_off"] == 0 and seen["eth_removed"] == 0  # the exchange sent ETH nothing
    # Three trades reached the engine: BTC's two and ETH's one while it was on the list.
    assert seen["ticks_end"] == 3
