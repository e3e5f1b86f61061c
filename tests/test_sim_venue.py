"""The simulated venue: fills only after arrival, at printed prices, volume-limited, exact fees."""

from decimal import Decimal

import anyio
import pytest
from tradewind.model import (
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TickBatch,
    TimeInForce,
)
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig, default_instrument

INST = Instrument(
    venue="sim",
    symbol="BTCUSDT",
    kind=InstrumentKind.PERP,
    tick_size="0.1",
    lot_size="0.001",
    min_notional="5",
    maker_fee="0.0002",
    taker_fee="0.0004",
)
MS = 1_000_000


class Sink:
    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.fills: list[Fill] = []

    def on_report(self, report: OrderReport) -> None:
        self.reports.append(report)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


def venue(**kw) -> tuple[SimulatedVenue, Sink]:
    v = SimulatedVenue(SimVenueConfig(**kw), instruments=[INST])
    sink = Sink()
    v.set_sink(sink)
    return v, sink


def tape(rows, side: int = 1) -> TickBatch:
    """rows of (ms, price, size) or (ms, price, size, aggressor side); ``side`` by default."""
    return TickBatch.from_arrays(
        INST.key,
        [r[0] * MS for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] if len(r) > 3 else side for r in rows],
    )


def order(
    cid="o1",
    side=Side.BUY,
    type_=OrderType.MARKET,
    qty="0.010",
    price=None,
    stop=None,
    tif=TimeInForce.GTC,
    reduce_only=False,
) -> Order:
    return Order(
        client_order_id=cid,
        instrument=INST.key,
        side=side,
        type=type_,
        quantity=Decimal(qty),
        price=None if price is None else Decimal(price),
        stop_price=None if stop is None else Decimal(stop),
        time_in_force=tif,
        reduce_only=reduce_only,
    )


def submit(v, o, at_ms):
    v.set_time(at_ms * MS)
    return anyio.run(v.submit_order, o)


def test_market_order_fills_only_on_trades_after_arrival_with_exact_taker_fee():
    v, sink = venue(latency_ms=25)
    submit(v, order(), at_ms=1_000)
    v.on_trades(tape([(1_010, 50_000.0, 1.0), (1_024, 50_001.0, 1.0), (1_025, 50_002.5, 1.0)]))
    assert len(sink.fills) == 1
    f = sink.fills[0]
    assert f.price == Decimal("50002.5") and f.ts_ns == 1_025 * MS  # the first print at arrival
    assert f.fee == Decimal("0.010") * Decimal("50002.5") * Decimal("0.0004")  # 0.200010
    assert f.fee == Decimal("0.20001000") and f.liquidity == "taker"
    assert sink.reports[-1].status is OrderStatus.FILLED


def test_volume_limited_partial_fills_walk_the_tape():
    v, sink = venue(latency_ms=0, participation=0.5)
    submit(v, order(qty="1.000"), at_ms=0)
    v.on_trades(tape([(1, 100.0, 0.8), (2, 101.0, 0.6), (3, 102.0, 2.0)]))
    assert [(f.quantity, f.price) for f in sink.fills] == [
        (Decimal("0.400"), Decimal("100.0")),
        (Decimal("0.300"), Decimal("101.0")),
        (Decimal("0.300"), Decimal("102.0")),
    ]
    assert sum(f.quantity for f in sink.fills) == Decimal("1.000")


def test_resting_limit_fills_at_its_price_only_when_the_tape_trades_through():
    v, sink = venue(latency_ms=0, queue="through")
    submit(v, order(type_=OrderType.LIMIT, price="49900.0"), at_ms=0)
    v.on_trades(tape([(1, 50_000.0, 1.0), (2, 49_900.0, 1.0)]))  # touches: no fill (queue)
    assert sink.fills == []
    v.on_trades(tape([(3, 49_899.9, 1.0)]))  # through
    assert [(f.price, f.liquidity, f.ts_ns) for f in sink.fills] == [
        (Decimal("49900.0"), "maker", 3 * MS)
    ]
    assert sink.fills[0].fee == Decimal("0.010") * Decimal("49900.0") * Decimal("0.0002")


def test_touch_queue_fills_at_the_touch():
    v, sink = venue(latency_ms=0, queue="touch")
    submit(v, order(type_=OrderType.LIMIT, price="49900.0"), at_ms=0)
    v.on_trades(tape([(1, 50_000.0, 1.0), (2, 49_900.0, 1.0)]))
    assert len(sink.fills) == 1 and sink.fills[0].ts_ns == 2 * MS


def test_stop_triggers_on_the_first_print_through_it_then_fills_as_market():
    v, sink = venue(latency_ms=0)
    submit(v, order(side=Side.SELL, type_=OrderType.STOP, stop="49500.0"), at_ms=0)
    v.on_trades(tape([(1, 49_600.0, 1.0), (2, 49_500.0, 1.0), (3, 49_400.0, 1.0)], side=-1))
    assert [(f.price, f.ts_ns) for f in sink.fills] == [(Decimal("49500.0"), 2 * MS)]


def test_post_only_that_would_cross_is_rejected_and_reduce_only_cannot_open():
    v, _ = venue(latency_ms=0)
    v.on_trades(tape([(1, 50_000.0, 1.0)]))
    r = submit(v, order(type_=OrderType.LIMIT, price="50100.0", tif=TimeInForce.POST_ONLY), 2)
    assert r.status is OrderStatus.REJECTED and "post-only" in r.reason
    r = submit(v, order(cid="o2", side=Side.SELL, reduce_only=True), 2)
    assert r.status is OrderStatus.REJECTED and "reduce-only" in r.reason


@pytest.mark.parametrize(
    "qty,price,reason",
    [
        ("0.0105", "50000.0", "lot size"),
        ("0.010", "50000.05", "tick size"),
        ("0.001", "1000.0", "min notional"),
    ],
)
def test_quantisation_and_min_notional_are_enforced(qty, price, reason):
    v, _ = venue()
    r = submit(v, order(type_=OrderType.LIMIT, qty=qty, price=price), 0)
    assert r.status is OrderStatus.REJECTED and reason in r.reason


def test_ioc_limit_that_does_not_cross_expires_and_fok_needs_the_whole_size():
    v, sink = venue(latency_ms=0)
    submit(v, order(type_=OrderType.LIMIT, price="49000.0", tif=TimeInForce.IOC), 0)
    submit(
        v,
        order(cid="o2", qty="5.000", type_=OrderType.LIMIT, price="51000.0", tif=TimeInForce.FOK),
        0,
    )
    v.on_trades(tape([(1, 50_000.0, 1.0)]))
    assert sink.fills == []
    statuses = {r.client_order_id: r.status for r in sink.reports}
    assert statuses == {"o1": OrderStatus.EXPIRED, "o2": OrderStatus.EXPIRED}


def test_cancel_takes_effect_after_latency():
    v, sink = venue(latency_ms=10)
    submit(v, order(type_=OrderType.LIMIT, price="49900.0"), at_ms=0)
    v.set_time(20 * MS)
    anyio.run(v.cancel_order, INST.key, "o1")
    # Arrived at 10 ms; cancel effective at 30 ms: the print at 25 ms fills, at 35 ms would not.
    v.on_trades(tape([(25, 49_800.0, 1.0), (35, 49_700.0, 1.0)]))
    assert [f.ts_ns for f in sink.fills] == [25 * MS]


def test_balances_and_positions_follow_fills_exactly():
    v, _ = venue(latency_ms=0, starting_balance="1000")
    submit(v, order(qty="0.010"), 0)
    v.on_trades(tape([(1, 50_000.0, 1.0)]))
    submit(v, order(cid="o2", side=Side.SELL, qty="0.010", reduce_only=True), 2)
    v.on_trades(tape([(3, 50_500.0, 1.0)], side=-1))
    bal = anyio.run(v.fetch_balances)["USDT"]
    fees = Decimal("0.010") * (Decimal("50000.0") + Decimal("50500.0")) * Decimal("0.0004")
    assert bal == Decimal("1000") + Decimal("5.0000") - fees
    assert anyio.run(v.fetch_positions) == []


def test_the_venue_keeps_only_its_recent_finished_orders(monkeypatch):
    """A long run's memory does not grow with every order: lookups answer for the last
    KEEP_FINISHED finished orders, older ones are forgotten (as an exchange's history)."""
    monkeypatch.setattr(SimulatedVenue, "KEEP_FINISHED", 3)
    venue = SimulatedVenue(SimVenueConfig(), instance="sim", instruments=[default_instrument()])
    key = default_instrument().key

    async def go() -> list[bool]:
        for n in range(5):
            # Off the lot size: refused at once, i.e. finished.
            await venue.submit_order(
                Order(
                    client_order_id=f"c{n}",
                    instrument=key,
                    side=Side.BUY,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.0001"),
                )
            )
        return [await venue.fetch_order(key, f"c{n}") is not None for n in range(5)]

    assert anyio.run(go) == [False, False, True, True, True]
    assert len(venue._orders) == 3
