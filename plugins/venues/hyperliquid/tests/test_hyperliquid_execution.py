"""Orders against the local exchange, which verifies every signature and matches the book.

The BTC book is the one recorded on 2025-01-26 (best bid 105055, best ask 105056); the DYDX
book the one recorded on 2023-07-17 (2.111 / 2.1124).
"""

from __future__ import annotations

import time
from decimal import Decimal

import anyio
import pytest
from hyperliquid_local_server import (
    AGENT_ACCOUNT,
    STRANGER_ADDRESS,
    WALLET_ADDRESS,
)
from hyperliquid_testkit import (
    AGENT_ACCOUNT_ENV,
    AGENT_KEY_ENV,
    STRANGER_KEY_ENV,
    Sink,
    order,
    start_server,
    until,
    venue_config,
)
from tradewind.errors import VenueError
from tradewind.model import ConnectionLost, OrderStatus, OrderType, Side, TimeInForce
from tradewind_venue_hyperliquid import HyperliquidVenue, cloid_for

BTC, DYDX = "hl:BTC", "hl:DYDX"


def with_venue(server, body, sink=None, **overrides):
    """Run ``body(venue)`` on a connected venue for ``server``, closing it after."""

    async def go():
        venue = HyperliquidVenue(venue_config(server, **overrides), "hl")
        if sink is not None:
            venue.set_sink(sink)
        await venue.connect()
        try:
            return await body(venue)
        finally:
            await venue.close()

    return anyio.run(go)


def test_limit_order_round_trip_and_cancel_by_cloid(hl_server):
    sink = Sink()

    async def body(v):
        placed = await v.submit_order(order("lim-1"))
        again = await v.submit_order(order("lim-1"))
        found = await v.fetch_order(BTC, "lim-1")
        open_ = await v.fetch_open_orders()
        cancelled = await v.cancel_order(BTC, "lim-1")
        after = await v.fetch_open_orders()
        twice = await v.cancel_order(BTC, "lim-1")
        return placed, again, found, open_, cancelled, after, twice

    placed, again, found, open_, cancelled, after, twice = with_venue(hl_server, body, sink)
    assert placed.status is OrderStatus.ACCEPTED and placed.venue_order_id
    assert again.status is OrderStatus.ACCEPTED and again.venue_order_id == placed.venue_order_id
    assert found.client_order_id == "lim-1" and found.status is OrderStatus.ACCEPTED
    assert [r.client_order_id for r in open_] == ["lim-1"]
    assert cancelled.status is OrderStatus.CANCELLED and after == []
    assert twice.status is OrderStatus.CANCELLED
    orders = hl_server.account_orders(WALLET_ADDRESS)
    assert len(orders) == 1  # the resubmission sent nothing
    (o,) = orders
    assert o["cloid"] == cloid_for("lim-1").to_raw() and o["tif"] == "Gtc"
    assert (o["px"], o["sz"], o["side"], o["status"]) == (
        Decimal("100000"),
        Decimal("0.0001"),
        "B",
        "canceled",
    )
    assert [r.status for r in sink.reports if r.client_order_id == "lim-1"] == [
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELLED,
    ]


def test_post_only_crossing_the_book_is_rejected_as_alo(hl_server):
    async def body(v):
        resting = await v.submit_order(
            order("alo-1", price=Decimal("105000"), time_in_force=TimeInForce.POST_ONLY)
        )
        crossing = await v.submit_order(
            order("alo-2", price=Decimal("105060"), time_in_force=TimeInForce.POST_ONLY)
        )
        return resting, crossing

    resting, crossing = with_venue(hl_server, body)
    assert resting.status is OrderStatus.ACCEPTED
    assert crossing.status is OrderStatus.REJECTED
    assert crossing.reason.startswith("Post only order would have immediately matched")
    tifs = {o["cloid"]: (o["tif"], o["status"]) for o in hl_server.account_orders(WALLET_ADDRESS)}
    assert tifs[cloid_for("alo-1").to_raw()] == ("Alo", "open")
    assert tifs[cloid_for("alo-2").to_raw()] == ("Alo", "badAloPxRejected")


def test_market_order_is_an_ioc_limit_at_the_slippage_bound(hl_server):
    sink = Sink()

    async def body(v):
        report = await v.submit_order(
            order("mkt-1", type=OrderType.MARKET, price=None, quantity=Decimal("0.001"))
        )
        positions = await v.fetch_positions()
        balances = await v.fetch_balances()
        return report, positions, balances

    report, positions, balances = with_venue(hl_server, body, sink, market_slippage="0.05")
    assert report.status is OrderStatus.FILLED and report.filled_quantity == Decimal("0.001")
    (o,) = hl_server.account_orders(WALLET_ADDRESS)
    # mid 105055.5 * 1.05 = 110308.275 -> the valid price at or inside the bound: 110308.
    assert (o["tif"], o["px"]) == ("Ioc", Decimal("110308"))
    (fill,) = [f for f in sink.fills if f.client_order_id == "mkt-1"]
    assert fill.price == Decimal("105056.0") and fill.quantity == Decimal("0.001")
    assert fill.liquidity == "taker"
    assert fill.fee == Decimal("0.047275")  # 105.056 USDC * 0.045 %, rounded to 1e-6
    assert [(p.instrument, p.quantity) for p in positions] == [(BTC, Decimal("0.001"))]
    assert balances == {"USDC": Decimal("9999.952725")}


def test_an_ioc_that_matches_nothing_expires(hl_server):
    async def body(v):
        return await v.submit_order(
            order("ioc-1", price=Decimal("104000"), time_in_force=TimeInForce.IOC)
        )

    report = with_venue(hl_server, body)
    assert report.status is OrderStatus.EXPIRED
    assert report.reason.startswith("Order could not immediately match")


def test_reduce_only_is_refused_when_it_would_increase_and_closes_otherwise(hl_server):
    sink = Sink()

    async def body(v):
        refused = await v.submit_order(
            order("ro-1", side=Side.SELL, type=OrderType.MARKET, price=None, reduce_only=True)
        )
        opened = await v.submit_order(
            order(
                "open-1", instrument=DYDX, type=OrderType.MARKET, price=None, quantity=Decimal("10")
            )
        )
        closed = await v.submit_order(
            order(
                "ro-2",
                instrument=DYDX,
                side=Side.SELL,
                type=OrderType.MARKET,
                price=None,
                quantity=Decimal("10"),
                reduce_only=True,
            )
        )
        return refused, opened, closed, await v.fetch_positions()

    refused, opened, closed, positions = with_venue(hl_server, body, sink)
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason.startswith("Reduce only order would increase position")
    assert opened.status is OrderStatus.FILLED and closed.status is OrderStatus.FILLED
    assert positions == []
    sent = {o["cloid"]: o for o in hl_server.account_orders(WALLET_ADDRESS)}
    assert sent[cloid_for("ro-2").to_raw()]["reduceOnly"] is True
    dydx_fills = [(f.side, f.price) for f in sink.fills if f.instrument == DYDX]
    assert dydx_fills == [(Side.BUY, Decimal("2.1124")), (Side.SELL, Decimal("2.111"))]


def test_a_resting_order_that_fills_later_reaches_the_sink(hl_server):
    sink = Sink()

    async def body(v):
        await v.submit_order(
            order("rest-1", instrument=DYDX, price=Decimal("2.1"), quantity=Decimal("5"))
        )
        await anyio.to_thread.run_sync(hl_server.trade_through, "DYDX", "2.09")
        await until(lambda: any(f.client_order_id == "rest-1" for f in sink.fills))
        await until(lambda: sink.reports[-1].status is OrderStatus.FILLED)
        return await v.fetch_order(DYDX, "rest-1")

    final = with_venue(hl_server, body, sink)
    (fill,) = [f for f in sink.fills if f.client_order_id == "rest-1"]
    assert (fill.price, fill.quantity, fill.liquidity) == (Decimal("2.1"), Decimal("5"), "maker")
    assert fill.fee == Decimal("0.001575")  # 10.5 USDC * 0.015 %
    assert final.status is OrderStatus.FILLED and final.filled_quantity == Decimal("5")


def test_what_happens_while_the_user_stream_is_down_is_caught_up(hl_server):
    sink = Sink()

    async def body(v):
        await v.submit_order(
            order("gap-1", instrument=DYDX, price=Decimal("2.1"), quantity=Decimal("5"))
        )
        hl_server.refuse_websockets = True
        await anyio.to_thread.run_sync(hl_server.drop_websockets)
        await until(lambda: any(isinstance(e, ConnectionLost) for e in sink.events))
        await anyio.to_thread.run_sync(hl_server.trade_through, "DYDX", "2.09")
        hl_server.refuse_websockets = False
        await until(lambda: any(f.client_order_id == "gap-1" for f in sink.fills))
        await until(lambda: sink.reports[-1].status is OrderStatus.FILLED)

    with_venue(hl_server, body, sink)
    lost = [e for e in sink.events if isinstance(e, ConnectionLost)]
    assert lost and all("user websocket" in e.reason for e in lost)
    assert [f.client_order_id for f in sink.fills] == ["gap-1"]


def test_orders_breaking_the_exchange_rules_are_rejected_before_sending(hl_server):
    async def body(v):
        return [
            await v.submit_order(order("bad-tick", price=Decimal("100000.5"))),
            await v.submit_order(order("bad-lot", quantity=Decimal("0.000015"))),
            await v.submit_order(order("too-small", quantity=Decimal("0.00001"))),
            await v.submit_order(order("fok", time_in_force=TimeInForce.FOK)),
            await v.submit_order(
                order("stop", type=OrderType.STOP, price=None, stop_price=Decimal("90000"))
            ),
            await v.submit_order(order("elsewhere", instrument="hl:ETH")),
        ]

    reports = with_venue(hl_server, body)
    assert all(r.status is OrderStatus.REJECTED for r in reports)
    reasons = [r.reason for r in reports]
    assert "at most 5 are allowed" in reasons[0]
    assert "szDecimals=5" in reasons[1]
    assert "below Hyperliquid's minimum of 10" in reasons[2]
    assert "fill-or-kill" in reasons[3]
    assert "stop orders are not supported" in reasons[4]
    assert "unknown instrument hl:ETH" in reasons[5]
    assert hl_server.exchange_requests == []


def test_a_timeout_after_acceptance_is_resolved_by_cloid_not_by_resending(hl_server):
    hl_server.stall_after_accept_s, hl_server.stalls_left = 3.0, 1  # accept, then say nothing
    sink = Sink()

    async def body(v):
        first = await v.submit_order(order("slow-1"))
        again = await v.submit_order(order("slow-1"))
        return first, again

    first, again = with_venue(hl_server, body, sink, request_timeout_s=0.5)
    assert first.status is OrderStatus.ACCEPTED and first.venue_order_id
    assert again.status is OrderStatus.ACCEPTED
    orders = hl_server.account_orders(WALLET_ADDRESS)
    assert len(orders) == 1 and orders[0]["cloid"] == cloid_for("slow-1").to_raw()
    order_posts = [r for r in hl_server.exchange_requests if r["action"]["type"] == "order"]
    assert len(order_posts) == 1
    lookups = [r for r in hl_server.info_requests if r["type"] == "orderStatus"]
    assert lookups and lookups[0]["oid"] == cloid_for("slow-1").to_raw()


def test_a_request_lost_before_the_exchange_is_proven_unplaced_after_expiry(hl_server):
    # The request is held back past its expiresAfter, then refused by the exchange.
    hl_server.stall_before_accept_s, hl_server.stalls_left = 3.0, 1

    async def body(v):
        return await v.submit_order(order("lost-1"))

    report = with_venue(
        hl_server, body, request_timeout_s=0.5, order_expiry_s=1.0, clock_skew_s=0.5
    )
    assert report.status is OrderStatus.REJECTED
    assert report.reason.startswith("not placed:") and "safe to send again" in report.reason
    deadline = time.monotonic() + 10
    while not hl_server.answers and time.monotonic() < deadline:
        time.sleep(0.05)  # the held request reaches the exchange now, expired
    assert hl_server.answers[0]["response"].startswith("Action expired")
    assert hl_server.account_orders(WALLET_ADDRESS) == []
    assert len([r for r in hl_server.exchange_requests if r["action"]["type"] == "order"]) == 1


def test_leverage_is_set_on_connect(hl_server):
    async def body(v):
        await v.set_leverage("DYDX", 3, cross=False)

    with_venue(hl_server, body, leverage={"BTC": 5})
    assert hl_server.leverage[(WALLET_ADDRESS, "BTC")] == (5, True)
    assert hl_server.leverage[(WALLET_ADDRESS, "DYDX")] == (3, False)


def test_an_api_wallet_signs_for_its_account(hl_server):
    async def body(v):
        return v.account_address, await v.submit_order(order("agent-1"))

    account, report = with_venue(
        hl_server,
        body,
        private_key=f"env:{AGENT_KEY_ENV}",
        account_address=f"env:{AGENT_ACCOUNT_ENV}",
    )
    assert account == AGENT_ACCOUNT and report.status is OrderStatus.ACCEPTED
    assert len(hl_server.account_orders(AGENT_ACCOUNT)) == 1


def test_a_wrong_signer_is_refused_and_nothing_is_placed(hl_server):
    async def body(v):
        with pytest.raises(VenueError) as err:
            await v.submit_order(order("stranger-1"))
        # Refused as a whole: the id is free again, and a lookup finds nothing.
        assert await v.fetch_order(BTC, "stranger-1") is None
        return str(err.value)

    message = with_venue(hl_server, body, private_key=f"env:{STRANGER_KEY_ENV}")
    assert f"User or API Wallet {STRANGER_ADDRESS} does not exist" in message
    assert f"env:{STRANGER_KEY_ENV}" in message and "check network" in message
    assert hl_server.refused == [STRANGER_ADDRESS]
    assert hl_server.orders == []


def test_signing_follows_network_not_the_url(hl_env):
    """Signed for mainnet, an action is refused by a testnet exchange and accepted by mainnet."""
    for server_network, venue_network, accepted in [
        ("mainnet", "mainnet", True),
        ("testnet", "mainnet", False),
        ("mainnet", "testnet", False),
    ]:
        server = start_server(server_network)
        try:

            async def body(v):
                try:
                    return (await v.submit_order(order("net-1"))).status
                except VenueError as exc:
                    return str(exc)

            outcome = with_venue(server, body, network=venue_network)
            if accepted:
                assert outcome is OrderStatus.ACCEPTED
            else:
                assert "does not exist" in outcome and server.orders == []
        finally:
            server.stop()
