"""A real simulated venue behind a connection that misbehaves on cue, and a small harness.

``FaultyVenue`` forwards every call to a real :class:`SimulatedVenue`; faults queued with
:meth:`FaultyVenue.fail` apply to the next calls of one method:

``unavailable``
    the call never reaches the venue (connection refused): VenueUnavailableError.
``unavailable_after``
    the venue acts, then the connection drops before the answer: VenueUnavailableError.
``timeout_before``
    the request is lost on the way: VenueTimeoutError, the venue never saw it.
``timeout_after``
    the venue acts, the answer is lost: VenueTimeoutError.
``hang_after``
    the venue acts, the answer never comes (the caller's own timeout must fire).
``rate_limited``
    the venue refuses for its rate limit before acting (HTTP 429 with ``Retry-After: 2``):
    VenueRateLimitedError.
``reject``
    the venue refuses: OrderRejectedError.
``bug``
    the plugin raises something that is not a VenueError.

:meth:`FaultyVenue.disconnect` drops the connection: calls fail and reports and fills happen
at the venue without being delivered; :meth:`FaultyVenue.reconnect` re-sends every fill (as
venues do after a reconnect), so the host must de-duplicate. :meth:`FaultyVenue.behind_our_back`
places an order at the venue that the host never sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import anyio
from tradewind.errors import (
    OrderRejectedError,
    VenueNotSentError,
    VenueRateLimitedError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.journal.store import Journal
from tradewind.model import (
    Event,
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderType,
    Side,
    TickBatch,
    TimeInForce,
)
from tradewind.trading.orders import BreakerPolicy, OrderManager, OrderSettings, RetryPolicy
from tradewind.trading.portfolio import Portfolio
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

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


class FaultyVenue:
    """A SimulatedVenue reached through an unreliable connection."""

    name = "faulty"
    config_class = SimVenueConfig

    def __init__(self, inner: SimulatedVenue) -> None:
        self.inner = inner
        self.instance = inner.instance
        self.config = inner.config
        self.capabilities = inner.capabilities | {"fills:history"}
        self.faults: dict[str, list[str]] = {}
        #: Client order ids of every submit that reached the venue (resends included).
        self.received: list[str] = []
        #: Every fill the venue made, delivered or not.
        self.made: list[Fill] = []
        self.calls: dict[str, int] = {}
        self.down = False
        self._sink: Any = None
        inner.set_sink(self)

    # -- scripting ------------------------------------------------------------------------
    def fail(self, method: str, *faults: str) -> None:
        """Queue faults for the next calls of ``method``."""
        self.faults.setdefault(method, []).extend(faults)

    def disconnect(self) -> None:
        """Drop the connection: calls fail, reports and fills are not delivered."""
        self.down = True

    def reconnect(self, resend: bool = True) -> None:
        """Restore the connection; re-send every fill made so far (the host must drop
        the ones it booked already)."""
        self.down = False
        if resend and self._sink is not None:
            for fill in list(self.made):
                self._sink.on_fill(fill)

    async def behind_our_back(self, order: Order) -> OrderReport:
        """Place an order at the venue that the host never sent (its reports are not
        delivered)."""
        sink, self._sink = self._sink, None
        try:
            return await self.inner.submit_order(order)
        finally:
            self._sink = sink

    def orders_at_venue(self) -> list[str]:
        """Client order ids the venue holds (every state)."""
        return list(self.inner._orders)

    # -- the connection -------------------------------------------------------------------
    def _before(self, method: str) -> str | None:
        self.calls[method] = self.calls.get(method, 0) + 1
        queue = self.faults.get(method)
        fault = queue.pop(0) if queue else None
        if self.down or fault == "unavailable":
            raise VenueNotSentError(f"{method}: connection refused")
        if fault == "rate_limited":
            raise VenueRateLimitedError(f"{method}: HTTP 429", retry_after_s=2.0)
        if fault == "timeout_before":
            raise VenueTimeoutError(f"{method}: request lost")
        if fault == "reject":
            raise OrderRejectedError(f"{method}: insufficient margin")
        if fault == "bug":
            raise KeyError("venue plugin bug")
        return fault

    async def _after(self, method: str, fault: str | None) -> None:
        if fault == "timeout_after":
            raise VenueTimeoutError(f"{method}: answer lost")
        if fault == "unavailable_after":
            raise VenueUnavailableError(f"{method}: connection reset")
        if fault == "hang_after":
            await anyio.sleep_forever()

    async def submit_order(self, order: Order) -> OrderReport:
        fault = self._before("submit_order")
        self.received.append(order.client_order_id)
        report = await self.inner.submit_order(order)
        await self._after("submit_order", fault)
        return report

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        fault = self._before("fetch_order")
        report = await self.inner.fetch_order(instrument, client_order_id)
        await self._after("fetch_order", fault)
        return report

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        fault = self._before("cancel_order")
        report = await self.inner.cancel_order(instrument, client_order_id)
        await self._after("cancel_order", fault)
        return report

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        fault = self._before("fetch_open_orders")
        out = await self.inner.fetch_open_orders()
        await self._after("fetch_open_orders", fault)
        return out

    async def fetch_positions(self) -> Sequence[Any]:
        fault = self._before("fetch_positions")
        out = await self.inner.fetch_positions()
        await self._after("fetch_positions", fault)
        return out

    async def fetch_balances(self) -> dict[str, Decimal]:
        fault = self._before("fetch_balances")
        out = dict(await self.inner.fetch_balances())
        await self._after("fetch_balances", fault)
        return out

    async def fetch_fills(self, instrument: str, client_order_id: str) -> list[Fill]:
        """The venue's fills of one order (the optional venue method reconciliation uses)."""
        fault = self._before("fetch_fills")
        out = [f for f in self.made if f.client_order_id == client_order_id]
        await self._after("fetch_fills", fault)
        return out

    # -- EventSink towards the host -------------------------------------------------------
    def set_sink(self, sink: Any) -> None:
        self._sink = sink

    def on_report(self, report: OrderReport) -> None:
        if self._sink is not None and not self.down:
            self._sink.on_report(report)

    def on_fill(self, fill: Fill) -> None:
        self.made.append(fill)
        if self._sink is not None and not self.down:
            self._sink.on_fill(fill)

    def on_event(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.on_event(event)

    def __getattr__(self, name: str) -> Any:
        # on_trades, set_time, restore, add_instruments, connect, close, instruments, ...
        return getattr(self.inner, name)


class FakeTime:
    """An injected monotonic clock and sleep: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings(
    *,
    attempts: int = 5,
    threshold: int = 50,
    cooldown: float = 30.0,
    timeout: float | None = 5.0,
) -> OrderSettings:
    return OrderSettings(
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.25, multiplier=2.0),
        breaker=BreakerPolicy(failure_threshold=threshold, cooldown_s=cooldown),
        call_timeout_s=timeout,
    )


class Stack:
    """A portfolio, journal, order manager and a faulty real sim venue, wired like the engine."""

    def __init__(
        self,
        journal_path: Any,
        *,
        run_id: str = "run1",
        mode: str = "paper",
        config_path: str = "paper.toml",
        order_settings: OrderSettings | None = None,
        latency_ms: float = 0.0,
        cash: str = "10000",
        durable: bool | None = None,
        intents: bool = True,
    ) -> None:
        self.time = FakeTime()
        self.sim = SimulatedVenue(
            SimVenueConfig(latency_ms=latency_ms, starting_balance=Decimal(cash)),
            instruments=[INST],
        )
        self.venue = FaultyVenue(self.sim)
        self.portfolio = Portfolio({INST.key: INST}, Decimal(cash))
        self.journal = Journal(journal_path, run_id, durable=durable, intents=intents)
        self.journal.start(mode, config_path, 0)
        self.orders = OrderManager(
            self.portfolio,
            run_id,
            settings=order_settings or settings(),
            journal=self.journal,
            sleep=self.time.sleep,
            clock=self.time.clock,
            id_prefix=f"tw-{self.journal.session_id[:12]}",
        )
        self.venue.set_sink(self.orders)
        self.events: list[Event] = []

    def order(
        self,
        side: Side = Side.BUY,
        qty: str = "0.010",
        type_: OrderType = OrderType.MARKET,
        price: str | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
    ) -> Order:
        return Order(
            client_order_id=self.orders.next_client_order_id(),
            instrument=INST.key,
            side=side,
            type=type_,
            quantity=Decimal(qty),
            price=None if price is None else Decimal(price),
            time_in_force=tif,
            reduce_only=reduce_only,
        )

    def submit(self, order: Order, at_ms: int = 0) -> OrderReport:
        self.sim.set_time(at_ms * MS)
        return anyio.run(self.orders.submit, self.venue, order, at_ms * MS)

    def trades(
        self, rows: Sequence[tuple[int, float, float] | tuple[int, float, float, int]]
    ) -> None:
        """Feed the tape: rows of (ms, price, size) of buyer-initiated prints, or
        (ms, price, size, aggressor side)."""
        batch = TickBatch.from_arrays(
            INST.key,
            [r[0] * MS for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] if len(r) > 3 else 1 for r in rows],  # type: ignore[misc]
        )
        self.portfolio.mark(INST.key, batch.last_price, batch.last_ts)
        self.venue.on_trades(batch)

    def publish(self) -> list[Event]:
        """What the engine does after each step: take the events, journal them (the bus)."""
        out = self.orders.take_events()
        for e in out:
            self.journal.record(e)
        self.events.extend(out)
        return out

    def of(self, cls: type) -> list[Any]:
        self.publish()
        return [e for e in self.events if isinstance(e, cls)]
