"""Recorded account payloads into the domain model."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from tradewind.errors import VenueError
from tradewind.model import Fill, OrderStatus, Position, Side
from tradewind_venue_hyperliquid.schemas import (
    ClearinghouseState,
    ExchangeResponse,
    OrderPayload,
    OrderStatusPayload,
    PlacementStatus,
    UserFillPayload,
)

RES = Path(__file__).parent / "resources"


def load(name: str):
    return json.loads((RES / name).read_text())


def test_clearinghouse_state_positions_and_balance():
    state = ClearinghouseState.from_json(load("http/clearinghouse_state.json"))
    positions = state.to_positions({"BTC": "hl:BTC", "DYDX": "hl:DYDX"})
    assert positions[0] == Position(
        instrument="hl:BTC",
        quantity=Decimal("-0.00785"),
        avg_price=Decimal("26951.0"),
        opened_ts_ns=0,
        lots=((Decimal("-0.00785"), Decimal("26951.0")),),
    )
    assert [p.instrument for p in positions] == ["hl:BTC", "hl:DYDX"]
    assert state.account_value > 0


def test_frontend_open_orders_become_reports():
    rows = [OrderPayload.from_json(r) for r in load("http/frontend_open_orders.json")]
    first = rows[0]
    assert (first.coin, first.side, first.limit_price, first.oid) == (
        "INJ",
        Side.SELL,
        Decimal("9.2037"),
        3184595907,
    )
    report = first.to_domain("c1", "hl:INJ", "open")
    assert report.status is OrderStatus.ACCEPTED and report.venue_order_id == "3184595907"
    assert report.filled_quantity == 0 and report.ts_ns == 1700126022555 * 10**6


def test_user_fills_become_fills():
    (first, *_) = [UserFillPayload.from_json(r) for r in load("http/user_fills.json")]
    assert first.to_domain("c1", "hl:SUI") == Fill(
        client_order_id="c1",
        instrument="hl:SUI",
        side=Side.SELL,
        quantity=Decimal("142.7"),
        price=Decimal("1.3189"),
        fee=Decimal("0.0"),
        ts_ns=1683245884863 * 10**6,
        liquidity="taker",
        # Fills recorded in 2023 carried no tid: the identity is hash/oid/startPosition/px/sz/time.
        trade_id="0x3d4770d0527317ef77c404017559cb0103000b34010cc95e97b437cbc3b6087a/189324432/"
        "4623.5/1.3189/142.7/1683245884863",
        fee_currency="USDC",
    )


def test_500_recorded_fills_without_tid_are_500_fills(hl_env):
    """The SDK's recorded ``userFills`` (500 fills, none with a ``tid``, 345 distinct
    transaction hashes) delivers 500 fills through the venue's de-duplication, each once."""
    from hyperliquid_testkit import Sink, venue_config
    from tradewind_venue_hyperliquid.venue import HyperliquidVenue

    raw = load("http/user_fills_500.json")
    assert len(raw) == 500 and not any("tid" in r for r in raw)
    venue = HyperliquidVenue(venue_config(_NoServer()), instance="hl")
    sink = Sink()
    venue.set_sink(sink)
    venue._key_of.update({r["coin"]: f"hl:{r['coin']}" for r in raw})
    payloads = [UserFillPayload.from_json(r) for r in raw]
    for fill in payloads:
        venue._deliver_fill(fill)
    assert len(sink.fills) == 500
    assert len({f.trade_id for f in sink.fills}) == 500
    for fill in payloads:  # a catch-up that sees them again books nothing twice
        venue._deliver_fill(fill)
    assert len(sink.fills) == 500


class _NoServer:
    """A venue config needs an API URL; these tests make no request."""

    url = "http://127.0.0.1:9"
    ws_url = "ws://127.0.0.1:9/ws"


def test_a_websocket_user_fill_carries_its_cloid_and_maker_fee():
    raw = load("ws/user_fill_liquidation.json")["data"]["fills"][0]
    fill = UserFillPayload.from_json(raw)
    assert fill.cloid == "0xe8d5fd7ebbb4c3cff4d1803472a11463"
    domain = fill.to_domain("tw-1", "hl:BTC")
    assert (domain.side, domain.liquidity, domain.fee) == (Side.SELL, "maker", Decimal("0.009997"))
    assert domain.trade_id == "745210434703679"


@pytest.mark.parametrize(
    ("status", "ours"),
    [
        ("open", OrderStatus.ACCEPTED),
        ("filled", OrderStatus.FILLED),
        ("canceled", OrderStatus.CANCELLED),
        ("marginCanceled", OrderStatus.CANCELLED),
        ("scheduledCancel", OrderStatus.CANCELLED),
        ("iocCancelRejected", OrderStatus.EXPIRED),
        ("badAloPxRejected", OrderStatus.REJECTED),
        ("perpMarginRejected", OrderStatus.REJECTED),
    ],
)
def test_order_statuses_map_to_ours(status, ours):
    raw = {
        "status": "order",
        "order": {
            "order": {
                "coin": "BTC",
                "side": "B",
                "limitPx": "100000.0",
                "sz": "0.0001",
                "origSz": "0.0001",
                "oid": 7,
                "timestamp": 1,
            },
            "status": status,
            "statusTimestamp": 2,
        },
    }
    parsed = OrderStatusPayload.from_json(raw)
    assert parsed.order.to_domain("c", "hl:BTC", parsed.status).status is ours
    assert OrderStatusPayload.from_json({"status": "unknownOid"}).order is None


def test_an_unknown_status_is_an_error_not_a_guess():
    order = OrderPayload.from_json(
        {"coin": "BTC", "side": "B", "limitPx": "1.0", "sz": "1.0", "oid": 1, "timestamp": 1}
    )
    with pytest.raises(VenueError, match="unknown order status 'teleported'"):
        order.to_domain("c", "hl:BTC", "teleported")


def test_placement_statuses():
    ok = ExchangeResponse.from_json(
        {
            "status": "ok",
            "response": {
                "type": "order",
                "data": {
                    "statuses": [
                        {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 77738308}}
                    ]
                },
            },
        }
    )
    placed = PlacementStatus.from_json(ok.statuses[0])
    report = placed.to_domain("c", "hl:ETH", Decimal("0.05"), False, 1)
    assert report.status is OrderStatus.CANCELLED and report.filled_quantity == Decimal("0.02")
    report = placed.to_domain("c", "hl:ETH", Decimal("0.05"), True, 1)
    assert report.status is OrderStatus.PARTIALLY_FILLED
    err = ExchangeResponse.from_json(
        {"status": "err", "response": "User or API Wallet 0x1 does not exist."}
    )
    assert not err.ok and "does not exist" in err.error
