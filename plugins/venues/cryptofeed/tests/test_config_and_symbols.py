"""Config errors name the key and the fix; symbols resolve in either form; capabilities narrow."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptofeed.defines import PERPETUAL, SPOT
from cryptofeed.symbols import Symbols
from tradewind._serde import structure
from tradewind.errors import ConfigError, VenueError
from tradewind.model import Instrument, InstrumentKind

from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue


def config(**table: object) -> CryptofeedConfig:
    return structure(table, CryptofeedConfig)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"exchange": "BINANSE"}, "unknown cryptofeed exchange 'BINANSE'; known: .*BINANCE"),
        ({"channels": ["trades", "ticks"]}, "unknown channel\\(s\\) 'ticks'"),
        ({"channels": ["book"]}, "channels must include 'trades'"),
        (
            {"exchange": "BINANCE", "channels": ["trades", "funding"]},
            "BINANCE does not offer 'funding' through cryptofeed; it offers trades, book, l2",
        ),
        ({"gap_detection": "ids"}, "gap_detection must be one of auto, trade_id, time, off"),
        ({"batch_max": 0}, "batch_max must be positive"),
        ({"stale_after_s": -1.0}, "stale_after_s must be >= 0"),
        ({"max_retries": -2}, "max_retries must be -1"),
        ({"symbols": []}, "symbols must name at least one symbol"),
        ({"batch_ms": "fast"}, "expected a number, got 'fast' @ \\$.batch_ms"),
        ({"ws_host": "ws://127.0.0.1:1"}, "ws_host must be a wss:// URL"),
        ({"rest_host": "ftp://x"}, "rest_host must be an http\\(s\\):// URL"),
        ({"ca_file": "ca.pem"}, "ca_file applies to ws_host"),
    ],
)
def test_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**table)


def test_defaults_and_capabilities_follow_channels() -> None:
    cfg = config()
    assert (cfg.exchange, cfg.symbols, cfg.channels) == ("BINANCE", ["BTC-USDT"], ["trades"])
    assert CryptofeedVenue(config=cfg).capabilities == {"data", "trades", "subscribe"}
    full = config(exchange="OKX", channels=["trades", "book", "l2", "funding", "liquidations"])
    assert CryptofeedVenue(config=full).capabilities == CryptofeedVenue.capabilities
    assert config(exchange="BYBIT", channels=["trades", "l2"]).cf_channels == [
        "trades",
        "l2_book",
    ]


@pytest.fixture
def futures_symbols() -> None:
    Symbols.set(
        "BINANCE_FUTURES",
        {"BTC-USDT-PERP": "BTCUSDT", "ETH-USDT-PERP": "ETHUSDT", "BTC-USDT": "BTCUSDT_SPOT"},
        {
            "tick_size": {"BTC-USDT-PERP": "0.10", "ETH-USDT-PERP": "0.01"},
            "instrument_type": {
                "BTC-USDT-PERP": PERPETUAL,
                "ETH-USDT-PERP": PERPETUAL,
                "BTC-USDT": SPOT,
            },
        },
    )


def test_symbols_resolve_in_either_form(futures_symbols: None) -> None:
    venue = CryptofeedVenue(
        config=config(exchange="BINANCE_FUTURES", symbols=["BTCUSDT", "ETH-USDT-PERP"]),
        instance="bnf",
    )

    async def go() -> list[Instrument]:
        await venue.connect()
        venue.add_instruments([Instrument(venue="sim", symbol="ETHUSDT")])
        return list(await venue.instruments())

    btc, eth, added = anyio.run(go)
    assert btc == Instrument(
        venue="bnf", symbol="BTCUSDT", kind=InstrumentKind.PERP, tick_size=Decimal("0.10")
    )
    assert (eth.key, eth.kind, eth.tick_size) == (
        "bnf:ETH-USDT-PERP",
        InstrumentKind.PERP,
        Decimal("0.01"),
    )
    assert added.key == "sim:ETHUSDT"
    assert venue._routes([btc, added]) == {
        "BTC-USDT-PERP": ["bnf:BTCUSDT"],
        "ETH-USDT-PERP": ["sim:ETHUSDT"],
    }


def test_unknown_symbol_names_the_key_and_close_matches(futures_symbols: None) -> None:
    venue = CryptofeedVenue(
        config=config(exchange="BINANCE_FUTURES", symbols=["BTCUSTD"]), instance="bnf"
    )
    with pytest.raises(VenueError) as err:
        anyio.run(venue.connect)
    text = str(err.value)
    assert "[venues.bnf] symbols" in text and "'BTCUSTD' is not listed on BINANCE_FUTURES" in text
    assert "close matches: BTCUSDT" in text


def test_subscribe_only_configured_channels(futures_symbols: None) -> None:
    venue = CryptofeedVenue(config=config(exchange="BINANCE_FUTURES", symbols=["BTCUSDT"]))
    with pytest.raises(VenueError, match="channel 'funding' is not configured"):
        venue.subscribe("funding")
    with pytest.raises(VenueError, match="no channel 'ticker'"):
        venue.subscribe("ticker")


def test_stream_needs_the_asyncio_backend(futures_symbols: None) -> None:
    pytest.importorskip("trio")
    venue = CryptofeedVenue(config=config(exchange="BINANCE_FUTURES", symbols=["BTCUSDT"]))

    async def go() -> None:
        async for _ in venue.stream_trades([Instrument(venue="cf", symbol="BTCUSDT")]):
            pass

    with pytest.raises(VenueError, match="asyncio backend"):
        anyio.run(go, backend="trio")


def test_hosts_redirect_every_endpoint_keeping_paths(tmp_path: Path) -> None:
    from cryptofeed.exchanges import Bybit
    from cryptofeed_stub import make_certificate

    cert, _ = make_certificate(tmp_path)
    venue = CryptofeedVenue(
        config=config(
            exchange="BYBIT",
            symbols=["BTC-USDT-PERP"],
            ws_host="wss://127.0.0.1:9443",
            rest_host="http://127.0.0.1:8080",
            ca_file=cert.name,
            base_dir=str(tmp_path),
        ),
        instance="by",
    )
    cls: Any = venue.feed_class
    assert issubclass(cls, Bybit) and cls.id == "BYBIT"
    assert [ep.address for ep in cls.websocket_endpoints] == [
        "wss://127.0.0.1:9443" + ep.address.split(".com", 1)[1] for ep in Bybit.websocket_endpoints
    ]
    assert all("ssl" in ep.options for ep in cls.websocket_endpoints)
    assert cls.rest_endpoints[0].address == "http://127.0.0.1:8080"
    assert cls.rest_endpoints[0].route("instruments") == [
        "http://127.0.0.1:8080" + r for r in Bybit.rest_endpoints[0].routes.instruments
    ]
    with pytest.raises(ConfigError, match="ca_file\\): no file"):
        CryptofeedVenue(config=config(ws_host="wss://h", ca_file="missing.pem"), instance="x")
