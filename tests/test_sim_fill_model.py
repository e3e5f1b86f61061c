"""The simulated venue's fill model on scripted prints: aggressor side, IOC, FOK, per-instrument
clocks and the queue-position model for resting limits."""

from decimal import Decimal

import anyio
import attrs
from tradewind.model import OrderStatus, OrderType, Side, TickBatch, TimeInForce
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

from tests.test_sim_venue import INST, MS, Sink, order, submit, tape

ETH = attrs.evolve(INST, symbol="ETHUSDT")
BUY, SELL = 1, -1


def venue(**kw) -> tuple[SimulatedVenue, Sink]:
    v = SimulatedVenue(SimVenueConfig(**kw), instruments=[INST, ETH])
    sink = Sink()
    v.set_sink(sink)
    return v, sink


def statuses(sink: Sink, cid: str = "o1") -> list[OrderStatus]:
    return [r.status for r in sink.reports if r.client_order_id == cid]


def test_a_market_buy_never_fills_at_a_seller_initiated_print():
    v, sink = venue(latency_ms=0)
    submit(v, order(qty="0.010"), at_ms=0)
    # The bid (sell prints) trades lower than the offer (buy prints): a buy pays the offer.
    v.on_trades(tape([(1, 99.0, 5.0, SELL), (2, 99.0, 5.0, SELL), (3, 101.0, 5.0, BUY)]))
    assert [(f.price, f.ts_ns) for f in sink.fills] == [(Decimal("101.0"), 3 * MS)]


def test_a_market_sell_fills_only_at_seller_initiated_prints():
    v, sink = venue(latency_ms=0)
    submit(v, order(side=Side.SELL, qty="0.010"), at_ms=0)
    v.on_trades(tape([(1, 101.0, 5.0, BUY), (2, 99.0, 5.0, SELL)]))
    assert [(f.price, f.ts_ns) for f in sink.fills] == [(Decimal("99.0"), 2 * MS)]


def test_an_ioc_market_order_fills_only_at_the_prints_of_its_arrival():
    v, sink = venue(latency_ms=0)
    submit(v, order(qty="3", tif=TimeInForce.IOC), at_ms=0)
    # Arrival instant on its side: two prints at 1 ms (1 + 0.5); later size must not be used.
    v.on_trades(tape([(1, 100.0, 1.0, BUY), (1, 100.5, 0.5, BUY), (2, 101.0, 10.0, BUY)]))
    v.on_trades(tape([(3_600_000, 150.0, 10.0, BUY)]))  # an hour later: nothing more
    assert [(f.quantity, f.price, f.ts_ns) for f in sink.fills] == [
        (Decimal("1.000"), Decimal("100.0"), 1 * MS),
        (Decimal("0.500"), Decimal("100.5"), 1 * MS),
    ]
    assert statuses(sink)[-1] is OrderStatus.CANCELLED  # the rest was cancelled at arrival


def test_a_gtc_market_order_keeps_taking_until_filled():
    v, sink = venue(latency_ms=0)
    submit(v, order(qty="3"), at_ms=0)
    v.on_trades(tape([(1, 100.0, 1.0, BUY), (2, 99.0, 9.0, SELL), (3, 101.0, 10.0, BUY)]))
    assert [(f.quantity, f.price) for f in sink.fills] == [
        (Decimal("1.000"), Decimal("100.0")),
        (Decimal("2.000"), Decimal("101.0")),
    ]
    assert statuses(sink)[-1] is OrderStatus.FILLED


def test_a_fok_market_order_fills_fully_or_not_at_all():
    v, sink = venue(latency_ms=0)
    submit(v, order(cid="short", qty="3", tif=TimeInForce.FOK), at_ms=0)
    v.on_trades(tape([(1, 100.0, 2.0, BUY), (2, 101.0, 10.0, BUY)]))
    assert sink.fills == []  # 2 at arrival < 3: nothing, even though 10 printed later
    assert statuses(sink, "short")[-1] is OrderStatus.EXPIRED

    submit(v, order(cid="enough", qty="3", tif=TimeInForce.FOK), at_ms=10)
    v.on_trades(tape([(11, 100.0, 2.0, BUY), (11, 100.5, 2.0, BUY)]))
    assert [(f.quantity, f.price) for f in sink.fills] == [
        (Decimal("2.000"), Decimal("100.0")),
        (Decimal("1.000"), Decimal("100.5")),
    ]
    assert statuses(sink, "enough")[-1] is OrderStatus.FILLED


def test_each_instrument_keeps_its_own_clock():
    v, sink = venue(latency_ms=25)
    # ETH's tape has run a minute ahead; a BTC order sent at BTC's time 1 s still arrives at
    # 1.025 s and fills at BTC's next print, not after ETH's time.
    v.on_trades(TickBatch.from_arrays(ETH.key, [60_000 * MS], [2000.0], [1.0], [BUY]))
    v.set_time(1_000 * MS, INST.key)
    anyio.run(v.submit_order, order(qty="0.010"))
    v.on_trades(tape([(1_030, 100.0, 1.0, BUY)]))
    assert [(f.price, f.ts_ns) for f in sink.fills] == [(Decimal("100.0"), 1_030 * MS)]
    assert v.time_of(INST.key) == 1_030 * MS and v.time_of(ETH.key) == 60_000 * MS


def _resting_buy(v: SimulatedVenue) -> None:
    submit(v, order(type_=OrderType.LIMIT, price="100.0", qty="1"), at_ms=0)


def test_queue_position_model_waits_for_the_queue_ahead_before_filling_at_the_price():
    v, sink = venue(latency_ms=0, queue="position", queue_ahead=1.0)
    _resting_buy(v)
    # First contact: 2 traded at our price (sellers hitting the bids ahead of us) -> 2 ahead.
    v.on_trades(tape([(1, 100.0, 2.0, SELL)]))
    assert sink.fills == []
    v.on_trades(tape([(2, 100.0, 1.5, SELL)]))  # eats 1.5 of the queue: 0.5 still ahead
    assert sink.fills == []
    v.on_trades(tape([(3, 100.0, 1.0, SELL)]))  # 0.5 for the queue, 0.5 for us
    assert [(f.quantity, f.price, f.liquidity) for f in sink.fills] == [
        (Decimal("0.500"), Decimal("100.0"), "maker")
    ]
    v.on_trades(tape([(4, 99.9, 5.0, SELL)]))  # through the price: the rest fills
    assert sum(f.quantity for f in sink.fills) == Decimal("1")


def test_through_rule_never_fills_a_resting_limit_at_its_own_price():
    v, sink = venue(latency_ms=0)
    _resting_buy(v)
    v.on_trades(tape([(1, 100.0, 2.0, SELL), (2, 100.0, 50.0, SELL)]))
    assert sink.fills == []
    v.on_trades(tape([(3, 99.9, 1.0, SELL)]))
    assert [(f.quantity, f.price) for f in sink.fills] == [(Decimal("1.000"), Decimal("100.0"))]


def test_a_limit_is_taker_only_against_its_own_side_and_maker_against_the_other():
    v, sink = venue(latency_ms=0)
    submit(v, order(side=Side.SELL, type_=OrderType.LIMIT, price="100.0", qty="1"), at_ms=0)
    # A buyer lifts 100.1 at the first instant: our 100.0 offer was on the book -> maker.
    v.on_trades(tape([(1, 100.1, 0.4, BUY)]))
    assert [(f.quantity, f.price, f.liquidity) for f in sink.fills] == [
        (Decimal("0.400"), Decimal("100.0"), "maker")
    ]
    submit(v, order(cid="o2", side=Side.SELL, type_=OrderType.LIMIT, price="100.0", qty="1"), 10)
    # A seller hits 100.2 (>= our limit): marketable for us at that instant -> taker at 100.2.
    v.on_trades(tape([(11, 100.2, 0.3, SELL)]))
    second = [(f.quantity, f.price, f.liquidity) for f in sink.fills if f.client_order_id == "o2"]
    assert second == [(Decimal("0.300"), Decimal("100.2"), "taker")]
