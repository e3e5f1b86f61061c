"""A paper host whose watchlist drives the instrument set, with market data from the cryptofeed
venue on the local Binance USD-M over TLS: BTCUSDT's feed is not opened while it is off the
watchlist, is opened when an operator adds it (its trades reach the engine), and is closed
when it is removed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from cryptofeed_stub import BinanceStub, ws_lines
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind.trading.operator import Operator

CTK, BTC = "sim:CTKUSDT", "sim:BTCUSDT"
CTK_QUERY, BTC_QUERY = "streams=ctkusdt@aggTrade", "streams=btcusdt@aggTrade"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[BinanceStub]:
    with BinanceStub(tmp_path) as server:
        yield server


def now_lines(symbol: str, n: int, first: int) -> list[str]:
    """``n`` recorded aggTrade messages re-addressed to ``symbol`` and stamped now (ids from
    ``first``)."""
    out = []
    now = int(time.time() * 1000)
    for i, line in enumerate(ws_lines("binance_futures_ctkusdt_aggtrade.jsonl")[:n]):
        msg = json.loads(line)
        msg["stream"] = f"{symbol.lower()}@aggTrade"
        d = msg["data"]
        d.update(s=symbol, T=now + i, E=now + i, a=first + i)
        out.append(json.dumps(msg))
    return out


def write_config(folder: Path, stub: BinanceStub) -> Path:
    instruments = "".join(
        f'\n[[instruments]]\nsymbol = "{s}"\nvenue = "sim"\ndata = "bnf"\nkind = "perp"\n'
        f'tick_size = "0.00001"\nlot_size = "0.001"\n'
        for s in ("CTKUSDT", "BTCUSDT")
    )
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1m"]

[run]
journal = "journal.duckdb"
{instruments}
[venues.sim]
plugin = "sim"
starting_balance = "10000"

[venues.bnf]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["CTKUSDT", "BTCUSDT"]
batch_max = 100
batch_ms = 10.0
ws_host = "{stub.wss_url}"
rest_host = "{stub.http_url}"
ca_file = "{stub.cert.as_posix()}"

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


def test_the_watchlist_opens_and_closes_a_symbols_feed(stub: BinanceStub, tmp_path: Path) -> None:
    stub.script_for(CTK_QUERY, *[("send", x) for x in now_lines("CTKUSDT", 3, 100)])
    stub.script_for(BTC_QUERY, *[("send", x) for x in now_lines("BTCUSDT", 4, 500)])
    engine = Engine(load_config(write_config(tmp_path, stub)))
    seen: dict[str, object] = {}

    async def until(what: str, pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        with anyio.fail_after(timeout):
            while not pred():
                await anyio.sleep(0.02)

    async def script(eng: Engine) -> None:
        wl = Operator.of(eng).watchlist
        assert wl is not None
        wl.add(exchange="sim", market_type="perp", symbol="CTKUSDT", caller="test")
        await until("CTK's trades", lambda: eng.ticks >= 3)
        seen["queries_before"] = list(stub.ws_requests)
        wl.add(exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test")
        await until("BTC's trades", lambda: eng.ticks >= 7)
        seen["open_with_btc"] = sorted(stub.open_queries)
        wl.remove(BTC, caller="test")
        await until("BTC's feed closed", lambda: BTC_QUERY in stub.closed_queries)
        seen["open_after"] = sorted(stub.open_queries)
        seen["ticks"] = eng.ticks
        eng.stopper.request("the test is done")

    @asynccontextmanager
    async def operator(eng):  # type: ignore[no-untyped-def]
        async with anyio.create_task_group() as tg:
            tg.start_soon(script, eng)
            yield

    engine.services.append(operator)
    anyio.run(engine.run)
    subs = Operator.of(engine).watchlist.subscriptions  # type: ignore[union-attr]
    assert [a for _, a, k in subs.log if k == BTC] == ["unsubscribe", "subscribe", "unsubscribe"]
    # Only CTK's feed connected until BTC was added; BTC's closed when it was removed.
    assert seen["queries_before"] == [CTK_QUERY]
    assert seen["open_with_btc"] == sorted([CTK_QUERY, BTC_QUERY])
    assert seen["open_after"] == [CTK_QUERY]
    assert seen["ticks"] == 7  # CTK's three trades and BTC's four, each once
