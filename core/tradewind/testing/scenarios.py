"""Venue scenario conformance: what an execution venue must carry out, per market type.

Shape tests ("has a submit method") cannot catch a venue that opens a spot position it can
never close. These scenarios drive a venue against its exchange (a local server speaking the
exchange's protocol) and check the outcome, for the market type the test class declares:

- open and close a position with the order the engine sends for that market type
  (:func:`tradewind.trading.closing.close_terms`: spot = plain sell of what is held, perpetual =
  reduce-only);
- partial fills arrive as separate fills, then the order is filled;
- a resting order cancels;
- an order in flight across a restart delivers its fill once to the new venue instance
  (``orders:resume``);
- an execution that happened while no instance was connected is listed by ``fetch_fills``
  (``fills:history``), so reconciliation books it;
- on spot, a fee charged in the bought coin is reported in that coin and the account holds
  ``quantity - fee``.

Subclass :class:`VenueScenarios` in the venue plugin's tests, set the class attributes and
implement :meth:`make_venue` and :meth:`execute` (the exchange's side: execute part or all of
an order, as the test server's control does)::

    class TestSpotScenarios(VenueScenarios):
        plugin_class = CcxtVenue
        market_type = "spot"
        instrument = "spot:BTCUSDT"
        quantity = Decimal("0.01")
        resting_buy_price = Decimal("1000")

        async def make_venue(self): ...
        def execute(self, client_order_id, price=None, quantity=None): ...
"""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import pytest

from tradewind.model import (
    Event,
    Fill,
    Instrument,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradewind.trading.closing import close_terms

_ids = itertools.count(1)


class ScenarioSink:
    """Keeps what a venue delivers, in order."""

    def __init__(self) -> None:
        self.reports: list[OrderReport] = []
        self.fills: list[Fill] = []
        self.events: list[Event] = []

    def on_report(self, report: OrderReport) -> None:
        """Keep a report."""
        self.reports.append(report)

    def on_fill(self, fill: Fill) -> None:
        """Keep a fill."""
        self.fills.append(fill)

    def on_event(self, event: Event) -> None:
        """Keep an event."""
        self.events.append(event)

    def filled(self, client_order_id: str) -> Decimal:
        """Quantity delivered as fills for one order."""
        return sum(
            (f.quantity for f in self.fills if f.client_order_id == client_order_id), Decimal(0)
        )


async def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until ``predicate()`` holds (polling every 20 ms); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await anyio.sleep(0.02)


class VenueScenarios:
    """Scenarios an execution venue must pass for ``market_type`` ("spot" or "perp")."""

    plugin_class: ClassVar[Any]
    market_type: ClassVar[str]
    #: The instrument key the scenarios trade (``<instance>:<symbol>``).
    instrument: ClassVar[str]
    #: Size of each scenario's order (a few lots, above the minimum notional).
    quantity: ClassVar[Decimal]
    #: A buy limit price far below the market: the order rests.
    resting_buy_price: ClassVar[Decimal]
    #: Seconds to wait for a venue to deliver what the exchange did.
    timeout_s: ClassVar[float] = 10.0

    async def make_venue(self) -> Any:
        """A connected venue instance (a new one on each call) trading :attr:`instrument`."""
        raise NotImplementedError

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        """Make the exchange execute ``quantity`` (default: the rest) of an order at
        ``price`` (default: the market) — the test server's control."""
        raise NotImplementedError

    def market_executes_itself(self) -> bool:
        """True when the exchange fills a MARKET order on its own (else :meth:`execute`)."""
        return True

    # -- helpers --------------------------------------------------------------------------
    def _caps(self, venue: Any) -> frozenset[str]:
        return frozenset(venue.capabilities)

    def _cid(self, what: str) -> str:
        return f"scn-{what}-{next(_ids)}"

    async def _instrument(self, venue: Any) -> Instrument:
        for inst in await venue.instruments():
            if inst.key == self.instrument:
                if "account" in self._caps(venue) and not (inst.base and inst.quote):
                    base, quote = venue.instrument_currencies(inst.symbol)
                    return Instrument(
                        venue=inst.venue,
                        symbol=inst.symbol,
                        kind=inst.kind,
                        tick_size=inst.tick_size,
                        lot_size=inst.lot_size,
                        min_notional=inst.min_notional,
                        maker_fee=inst.maker_fee,
                        taker_fee=inst.taker_fee,
                        base=base,
                        quote=quote,
                    )
                return inst
        raise AssertionError(f"the venue does not offer {self.instrument}")

    async def _market(
        self, venue: Any, sink: ScenarioSink, side: Side, qty: Decimal, reduce_only: bool
    ) -> Order:
        order = Order(
            client_order_id=self._cid("mkt"),
            instrument=self.instrument,
            side=side,
            type=OrderType.MARKET,
            quantity=qty,
            time_in_force=TimeInForce.IOC,
            reduce_only=reduce_only,
            intent="close" if reduce_only or side is Side.SELL else "entry",
        )
        await venue.submit_order(order)
        if not self.market_executes_itself():
            self.execute(order.client_order_id)
        await wait_until(
            lambda: sink.filled(order.client_order_id) >= qty,
            self.timeout_s,
            f"the fills of {order.client_order_id}",
        )
        return order

    def _resting(self, what: str) -> Order:
        return Order(
            client_order_id=self._cid(what),
            instrument=self.instrument,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=self.quantity,
            price=self.resting_buy_price,
            time_in_force=TimeInForce.GTC,
        )

    # -- scenarios ------------------------------------------------------------------------
    def test_declares_the_capabilities_its_market_type_needs(self) -> None:
        async def go() -> None:
            venue = await self.make_venue()
            try:
                caps = self._caps(venue)
                assert "execution" in caps
                inst = await self._instrument(venue)
                assert inst.kind.value == self.market_type
                if self.market_type == "perp":
                    assert "reduce_only" in caps, "a perpetual close is reduce-only"
            finally:
                await venue.close()

        anyio.run(go)

    def test_open_and_close_a_position(self) -> None:
        async def go() -> None:
            venue = await self.make_venue()
            sink = ScenarioSink()
            venue.set_sink(sink)
            try:
                inst = await self._instrument(venue)
                opened = await self._market(venue, sink, Side.BUY, self.quantity, False)
                entry = [f for f in sink.fills if f.client_order_id == opened.client_order_id]
                position = sum((f.net_quantity for f in entry), Decimal(0))
                held = None
                if "account" in self._caps(venue) and self.market_type == "spot":
                    held = Decimal((await venue.fetch_balances()).get(inst.base, 0))
                    assert held == position, "the account holds what the fills delivered"
                qty, reduce_only = close_terms(inst, position, held)
                assert qty > 0
                closed = await self._market(venue, sink, Side.SELL, qty, reduce_only)
                left = position - sink.filled(closed.client_order_id)
                assert abs(left) < inst.lot_size, f"{left} left open after the close"
                if self.market_type == "spot" and "account" in self._caps(venue):
                    rest = Decimal((await venue.fetch_balances()).get(inst.base, 0))
                    assert rest == left
            finally:
                await venue.close()

        anyio.run(go)

    def test_partial_fills_then_filled(self) -> None:
        async def go() -> None:
            venue = await self.make_venue()
            sink = ScenarioSink()
            venue.set_sink(sink)
            try:
                inst = await self._instrument(venue)
                order = self._resting("partial")
                await venue.submit_order(order)
                half = inst.round_size(self.quantity / 2)
                self.execute(order.client_order_id, self.resting_buy_price, half)
                await wait_until(
                    lambda: sink.filled(order.client_order_id) >= half,
                    self.timeout_s,
                    "the first partial fill",
                )
                report = await venue.fetch_order(self.instrument, order.client_order_id)
                assert report is not None
                assert report.status is OrderStatus.PARTIALLY_FILLED
                self.execute(order.client_order_id, self.resting_buy_price)
                await wait_until(
                    lambda: sink.filled(order.client_order_id) >= self.quantity,
                    self.timeout_s,
                    "the rest of the fills",
                )
                mine = [f for f in sink.fills if f.client_order_id == order.client_order_id]
                assert [f.quantity for f in mine] == [half, self.quantity - half]
                assert len({f.trade_id for f in mine}) == 2
                await wait_until(
                    lambda: any(
                        r.client_order_id == order.client_order_id
                        and r.status is OrderStatus.FILLED
                        for r in sink.reports
                    ),
                    self.timeout_s,
                    "the filled report",
                )
            finally:
                await venue.close()

        anyio.run(go)

    def test_cancel_a_resting_order(self) -> None:
        async def go() -> None:
            venue = await self.make_venue()
            try:
                order = self._resting("cancel")
                await venue.submit_order(order)
                report = await venue.cancel_order(self.instrument, order.client_order_id)
                assert report.status is OrderStatus.CANCELLED
                still = [r.client_order_id for r in await venue.fetch_open_orders()]
                assert order.client_order_id not in still
            finally:
                await venue.close()

        anyio.run(go)

    async def _executed_after_its_venue_closed(self, capability: str, tag: str) -> Order:
        """A resting buy sent through a venue that is then closed, and executed at the
        exchange while no venue is connected (skips when the venue lacks ``capability``)."""
        first = await self.make_venue()
        if capability not in self._caps(first):
            await first.close()
            pytest.skip(f"venue does not declare {capability!r}")
        order = self._resting(tag)
        try:
            await first.submit_order(order)
        finally:
            await first.close()
        self.execute(order.client_order_id, self.resting_buy_price)
        return order

    def test_order_in_flight_across_a_restart_delivers_its_fill_once(self) -> None:
        async def go() -> None:
            order = await self._executed_after_its_venue_closed("orders:resume", "restart")
            second = await self.make_venue()
            sink = ScenarioSink()
            second.set_sink(sink)
            try:
                second.resume_order(order, [])
                await wait_until(
                    lambda: sink.filled(order.client_order_id) >= self.quantity,
                    self.timeout_s,
                    "the fill of the order sent before the restart",
                )
                await anyio.sleep(0.3)  # later polls must not deliver it again
                assert sink.filled(order.client_order_id) == self.quantity
            finally:
                await second.close()

        anyio.run(go)

    def test_an_execution_while_disconnected_is_listed_for_reconciliation(self) -> None:
        async def go() -> None:
            order = await self._executed_after_its_venue_closed("fills:history", "external")
            second = await self.make_venue()
            try:
                report = await second.fetch_order(self.instrument, order.client_order_id)
                assert report is not None and report.status is OrderStatus.FILLED
                fills = await second.fetch_fills(self.instrument, order.client_order_id)
                assert sum((f.quantity for f in fills), Decimal(0)) == self.quantity
                assert all(f.client_order_id == order.client_order_id for f in fills)
                assert all(f.fee_currency for f in fills), "a fee names its currency"
            finally:
                await second.close()

        anyio.run(go)

    def test_a_fee_in_the_bought_coin_reduces_what_arrives(self) -> None:
        if self.market_type != "spot":
            pytest.skip("fees in the base asset are a spot matter")

        async def go() -> None:
            venue = await self.make_venue()
            sink = ScenarioSink()
            venue.set_sink(sink)
            try:
                inst = await self._instrument(venue)
                before = Decimal((await venue.fetch_balances()).get(inst.base, 0))
                order = await self._market(venue, sink, Side.BUY, self.quantity, False)
                mine = [f for f in sink.fills if f.client_order_id == order.client_order_id]
                assert mine and all(f.fee_asset == "base" for f in mine)
                assert all(f.fee_currency == inst.base for f in mine)
                after = Decimal((await venue.fetch_balances()).get(inst.base, 0))
                assert after - before == sum((f.net_quantity for f in mine), Decimal(0))
                assert after - before == self.quantity - sum((f.fee for f in mine), Decimal(0))
            finally:
                await venue.close()

        anyio.run(go)
