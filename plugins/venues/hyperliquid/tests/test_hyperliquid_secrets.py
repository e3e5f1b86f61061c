"""The private key never appears in a message, a log line, a report or a repr."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import pytest
from hyperliquid_local_server import STRANGER_KEY, WALLET_KEY
from hyperliquid_testkit import KEY_ENV, STRANGER_KEY_ENV, Sink, order, venue_config
from tradewind.errors import ConfigError, TradewindError
from tradewind.model import OrderType, TimeInForce
from tradewind_venue_hyperliquid import HyperliquidVenue


def forms(key: str) -> list[str]:
    """Ways a key could leak: with and without 0x, either case, as bytes' repr."""
    bare = key.removeprefix("0x")
    return [bare, bare.upper(), repr(bytes.fromhex(bare))[2:-1]]


def test_no_key_in_logs_messages_or_reports(hl_server, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and urllib3's included
    sink = Sink()
    texts: list[str] = []

    async def go():
        venue = HyperliquidVenue(venue_config(hl_server, leverage={"BTC": 3}), "hl")
        venue.set_sink(sink)
        await venue.connect()
        texts.append(repr(venue))
        texts.append(repr(venue.config))
        await venue.submit_order(order("s-1"))
        await venue.submit_order(
            order("s-2", price=Decimal("105060"), time_in_force=TimeInForce.POST_ONLY)
        )
        await venue.submit_order(order("s-3", type=OrderType.MARKET, price=None))
        await venue.cancel_order("hl:BTC", "s-1")
        await venue.close()
        stranger = HyperliquidVenue(
            venue_config(hl_server, private_key=f"env:{STRANGER_KEY_ENV}"), "hl"
        )
        await stranger.connect()
        try:
            await stranger.submit_order(order("s-4"))
        except TradewindError as exc:
            texts.append(str(exc))
        finally:
            await stranger.close()

    anyio.run(go)
    assert any("does not exist" in t for t in texts)
    texts.extend(str(r) for r in sink.reports)
    texts.extend(str(f) for f in sink.fills)
    texts.extend(str(e) for e in sink.events)
    haystack = "\n".join(texts) + "\n" + caplog.text
    assert "connected to" in caplog.text  # the venue did log
    for key in (WALLET_KEY, STRANGER_KEY):
        for form in forms(key):
            assert form not in haystack


def test_a_malformed_key_is_reported_without_its_value(hl_server, monkeypatch):
    bad = "0x" + "zz" * 32
    monkeypatch.setenv(KEY_ENV, bad)

    async def go():
        await HyperliquidVenue(venue_config(hl_server)).connect()

    with pytest.raises(ConfigError) as err:
        anyio.run(go)
    assert f"env:{KEY_ENV}" in str(err.value) and "zz" * 8 not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_missing_key_variable_names_it(hl_server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)

    async def go():
        await HyperliquidVenue(venue_config(hl_server)).connect()

    with pytest.raises(ConfigError, match=f"environment variable {KEY_ENV} is not set"):
        anyio.run(go)


def test_trading_without_a_key_names_the_option(hl_server):
    async def go():
        venue = HyperliquidVenue(venue_config(hl_server, private_key=None, user_stream=False))
        await venue.connect()
        try:
            await venue.submit_order(order("nokey"))
        finally:
            await venue.close()

    with pytest.raises(ConfigError, match=r"submit_order needs a signing key: set private_key"):
        anyio.run(go)
