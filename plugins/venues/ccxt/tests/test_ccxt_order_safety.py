"""Order safety under faults, on the local Binance USDⓈ-M server (real HTTP, every request
signed and verified; the faults are the server's switches): the core's order manager and
journal driving the ccxt venue.

- a create whose answer is lost while lookups say "not found" for 5 s is never sent again:
  one order at the exchange, one fill (with its fee) in the journal;
- a malformed 200 is "outcome unknown", never "accepted";
- 429 / 418 are retried after the venue's Retry-After (the injected sleep honours it);
- a cancel answered "unknown order" whose lookup fails is sent again, not taken as gone;
- reconciliation's ``unknown_orders = "cancel"`` settles its cancels the same way, and an
  unknown order that cannot be cancelled refuses the start;
- -1021 (clock skew) is one refusal, never retried;
- a sustained HTTP 500 outage opens the venue's breaker after its threshold of failed creates
  (lookups do not reset it), entries then fail fast, exits are still sent;
- an order update dropped on the websocket is booked by the poll within its interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV, set_credentials, wait_for
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.errors import (
    OrderRejectedError,
    ReconciliationError,
    VenueError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.journal.store import Journal
from tradewind.model import (
    CircuitBreaker,
    Order,
    OrderFailed,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradewind.secrets import Secret
from tradewind.trading.orders import BreakerPolicy, OrderManager, OrderSettings, RetryPolicy
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.reconcile import reconcile
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig

KEY = "usdm:BTCUSDT"
#: The exchange's answer to a request it failed to process (nothing done).
HTTP_500 = (500, {"code": -1001, "msg": "Internal error; unable to process your request."}, {})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


class Host:
    """A portfolio, a journal and the order manager on a connected ccxt venue, wired as the
    engine wires them; the sleep is real and recorded."""

    def __init__(self, venue: CcxtVenue, journal: Journal, orders: OrderManager) -> None:
        self.venue = venue
        self.journal = journal
        self.orders = orders
        self.sleeps: list[float] = []
        self.events: list[Any] = []

    def order(self, side: Side = Side.BUY, qty: str = "0.002", reduce_only: bool = False) -> Order:
        return Order(
            client_order_id=self.orders.next_client_order_id(),
            instrument=KEY,
            side=side,
            type=OrderType.MARKET,
            quantity=Decimal(qty),
            time_in_force=TimeInForce.IOC,
            reduce_only=reduce_only,
            created_ts_ns=time.time_ns(),
            intent="close" if reduce_only else "entry",
        )

    def limit_buy(self, price: str) -> Order:
        """A resting LIMIT buy of 0.002 at ``price`` (GTC)."""
        return Order(
            client_order_id=self.orders.next_client_order_id(),
            instrument=KEY,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.002"),
            price=Decimal(price),
            time_in_force=TimeInForce.GTC,
        )

    async def submit(self, order: Order, exit_reason: str = "") -> Any:
        try:
            return await self.orders.submit(self.venue, order, time.time_ns(), exit_reason)
        finally:
            self.events.extend(self.orders.take_events())

    async def poll_until_resolved(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.orders.unresolved():
            assert time.monotonic() < deadline, f"still unresolved: {self.orders.unresolved()}"
            await self.orders.poll()
            self.events.extend(self.orders.take_events())
            await asyncio.sleep(0.1)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def journal_fills(self) -> list[tuple[Any, ...]]:
        return [
            (f.client_order_id, f.trade_id, f.quantity, f.price, f.fee)
            for f in self.journal.fills()
        ]


async def make_host(
    server: BinanceFuturesServer, tmp: Path, settings: OrderSettings, **cfg: Any
) -> AsyncIterator[Host]:
    values: dict[str, Any] = {
        "exchange": "binanceusdm",
        "market_type": "swap",
        "symbols": ["BTCUSDT"],
        "api_key": Secret(KEY_ENV),
        "secret": Secret(SECRET_ENV),
        "api_host": server.url,
        "order_updates": "off",
        "timeout_ms": 1000,
        "lookup_attempts": 2,
        "lookup_delay_s": 0.05,
    }
    values.update(cfg)
    venue = CcxtVenue(CcxtVenueConfig(**values), instance="usdm")
    await venue.connect()
    journal = Journal(tmp / "journal.duckdb", "run1")
    journal.start("live", "live.toml", 0)
    inst = next(i for i in await venue.instruments() if i.key == KEY)
    portfolio = Portfolio({KEY: inst}, Decimal("10000"))
    host: Host
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(seconds)

    orders = OrderManager(
        portfolio,
        "run1",
        settings=settings,
        journal=journal,
        sleep=sleep,
        clock=time.monotonic,
        id_prefix=f"tw-{journal.session_id[:12]}",
    )
    venue.set_sink(orders)
    orders.register_venue(venue)
    host = Host(venue, journal, orders)
    host.sleeps = sleeps
    try:
        yield host
    finally:
        await venue.close()
        journal.close()


def settings(**kw: Any) -> OrderSettings:
    return OrderSettings(
        retry=RetryPolicy(max_attempts=kw.pop("attempts", 4), base_delay_s=0.05),
        breaker=BreakerPolicy(
            failure_threshold=kw.pop("threshold", 5), cooldown_s=kw.pop("cooldown", 30.0)
        ),
        call_timeout_s=10.0,
        resolve_interval_s=0.2,
        **kw,
    )


def run(server: BinanceFuturesServer, tmp: Path, body: Any, st: OrderSettings, **cfg: Any) -> Any:
    async def go() -> Any:
        gen = make_host(server, tmp, st, **cfg)
        host = await gen.__anext__()
        try:
            return await body(host)
        finally:
            await gen.aclose()

    return asyncio.run(go())


def test_a_lost_answer_with_lookups_not_found_for_5_s_is_never_resent(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    # The exchange takes and fills the MARKET entry, the answer never arrives in time, and
    # every lookup (by id, open orders, all orders) says "does not exist" for 5 s.
    with server.lock:
        server.market_fill_price = "50000"
        server.hide_new_orders_s = 5.0
        server.delay_next_create_s = 3.0

    async def body(host: Host) -> tuple[str, list[Any]]:
        order = host.order()
        with pytest.raises(VenueTimeoutError, match="outcome unknown"):
            await host.submit(order)
        cid = order.client_order_id
        # In doubt: kept open (the instrument paused), not rejected, not resent.
        assert host.orders.unresolved() == [cid]
        assert [o.client_order_id for o in host.orders.portfolio.open_orders()] == [cid]
        assert host.orders.records[cid].status is OrderStatus.NEW
        await host.poll_until_resolved(timeout=15)
        await wait_for(lambda: host.journal_fills(), timeout=5)
        assert host.orders.records[cid].status is OrderStatus.FILLED
        assert host.of(OrderFailed) == []
        return cid, host.journal_fills()

    cid, fills = run(server, tmp_path, body, settings())
    assert server.create_count() == 1
    (only,) = server.orders_of()
    assert only["clientOrderId"] == cid and only["status"] == "FILLED"
    (trade,) = server.trades_of()
    assert fills == [
        (
            cid,
            str(trade["id"]),
            Decimal(trade["qty"]),
            Decimal(trade["price"]),
            Decimal(trade["commission"]),
        )
    ]


def test_a_malformed_200_is_outcome_unknown_never_accepted(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    with server.lock:
        server.malformed_next_create = True

    async def body(host: Host) -> tuple[str, list[tuple[Any, ...]]]:
        order = host.order()
        with pytest.raises(VenueTimeoutError, match="outcome unknown"):
            await host.submit(order)
        cid = order.client_order_id
        assert host.orders.unresolved() == [cid]
        await host.orders.poll()  # still not found: still in doubt, never resent
        rows = host.journal.query(
            "SELECT kind, to_status FROM order_events WHERE client_order_id = ? ORDER BY seq",
            [cid],
        )
        return cid, rows

    cid, rows = run(server, tmp_path, body, settings())
    assert cid.startswith("tw-") and ("submitted", "new") in rows
    assert all(status != "accepted" for _, status in rows), rows
    assert server.orders_of() == [] and server.create_count() == 1


def test_429_and_418_are_retried_after_retry_after(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    with server.lock:
        server.create_faults = [
            (429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"}),
            (
                418,
                {"code": -1003, "msg": "Way too many requests; IP banned."},
                {"Retry-After": "2"},
            ),
        ]

    async def body(host: Host) -> Any:
        report = await host.submit(host.order())
        return report.status, list(host.sleeps)

    status, sleeps = run(server, tmp_path, body, settings())
    assert status is OrderStatus.ACCEPTED
    assert sleeps == [1.0, 2.0]  # the venue's Retry-After, not the 0.05 s backoff
    t = server.create_times
    assert len(t) == 3 and t[1] - t[0] >= 1.0 and t[2] - t[1] >= 2.0
    assert len(server.orders_of()) == 1


async def cancel_a_resting_buy(host: Host) -> tuple[str, OrderStatus, list[float]]:
    """A resting LIMIT buy, then the order manager's cancel of it: its client order id, the
    cancel's status and the sleeps it took."""
    order = host.limit_buy("40000")
    assert (await host.submit(order)).status is OrderStatus.ACCEPTED
    report = await host.orders.cancel(host.venue, order.client_order_id, 2)
    return order.client_order_id, report.status, list(host.sleeps)


def test_a_cancel_answered_429_then_500_is_retried_until_the_order_is_cancelled(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    """The cancel of a resting order is refused for the rate limit (429, Retry-After 1: sent
    again after it, no lookup needed), then answered HTTP 500 without being done (looked up:
    still open, sent again after the backoff): the third cancel is done."""
    with server.lock:
        server.cancel_faults = [
            (429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"}),
            HTTP_500,
        ]

    cid, status, sleeps = run(server, tmp_path, cancel_a_resting_buy, settings())
    assert status is OrderStatus.CANCELLED
    assert sleeps == [1.0, 0.1]  # Retry-After, then the second backoff step (0.05 s doubled)
    t = server.cancel_times
    assert len(t) == 3 and t[1] - t[0] >= 1.0
    (only,) = server.orders_of()
    assert only["clientOrderId"] == cid and only["status"] == "CANCELED"


def test_unknown_order_whose_lookup_fails_is_sent_again_not_taken_as_gone(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    """The cancel of a resting order is answered -2011 "Unknown order sent." (under load),
    the venue's own lookup -2013 "does not exist", and the order manager's lookup HTTP 500:
    nothing says the order is gone, so the cancel is sent again after the backoff (and the
    order, resting all along, is cancelled) instead of being reported as no such order."""
    unknown = (400, {"code": -2011, "msg": "Unknown order sent."}, {})
    with server.lock:
        server.cancel_faults = [unknown]
        server.query_faults = [
            (400, {"code": -2013, "msg": "Order does not exist."}, {}),
            HTTP_500,
        ]

    cid, status, sleeps = run(server, tmp_path, cancel_a_resting_buy, settings())
    assert status is OrderStatus.CANCELLED
    assert sleeps == [0.05]  # the first backoff step
    assert len(server.cancel_times) == 2 and server.query_faults == []
    (only,) = server.orders_of()
    assert only["clientOrderId"] == cid and only["status"] == "CANCELED"


async def reconcile_unknown_resting_order(host: Host) -> tuple[str, Any]:
    """A LIMIT buy placed at the exchange behind the journal's back (the venue sends it, the
    order manager never sees it), then reconciliation with ``unknown_orders = "cancel"``."""
    order = host.limit_buy("40000")
    assert (await host.venue.submit_order(order)).status is OrderStatus.ACCEPTED
    insts = [i for i in await host.venue.instruments() if i.key == KEY]
    report = await reconcile(
        host.venue,
        host.journal,
        insts,
        host.orders.portfolio,
        unknown_orders="cancel",
        orders=host.orders,
        ts_ns=time.time_ns(),
    )
    return order.client_order_id, report


def test_reconciliation_cancels_an_unknown_order_whose_first_cancel_fails(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    """``unknown_orders = "cancel"`` at start goes through the settled cancel: the first
    cancel is answered HTTP 500 without being done, the lookup finds the order still open,
    and the cancel is sent again after the backoff (one bare call refused the start)."""
    with server.lock:
        server.cancel_faults = [
            HTTP_500,
        ]

    async def body(host: Host) -> Any:
        cid, report = await reconcile_unknown_resting_order(host)
        rec = host.journal.order(cid)
        return cid, report, rec, list(host.sleeps)

    cid, report, rec, sleeps = run(server, tmp_path, body, settings())
    assert [
        (d.subject, d.action) for d in report.discrepancies if d.kind == "order_unknown_to_journal"
    ] == [(cid, "cancelled")]
    assert rec.origin == "foreign" and rec.status is OrderStatus.CANCELLED
    assert sleeps == [0.05] and len(server.cancel_times) == 2
    (only,) = server.orders_of()
    assert only["clientOrderId"] == cid and only["status"] == "CANCELED"


def test_an_unknown_order_that_cannot_be_cancelled_refuses_the_start(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    outage = HTTP_500
    with server.lock:
        server.cancel_faults = [outage] * 50

    async def body(host: Host) -> Any:
        with pytest.raises(ReconciliationError) as refused:
            await reconcile_unknown_resting_order(host)
        failed = host.journal.query(
            "SELECT message FROM system_events WHERE type = 'ReconciliationFailed'"
        )
        return str(refused.value), failed

    message, failed = run(server, tmp_path, body, settings(cancel_deadline_s=0.3))
    (only,) = server.orders_of()
    cid = only["clientOrderId"]
    assert only["status"] == "NEW"  # still resting: the host must not trade over it
    assert f"order {cid} ({KEY}, accepted (filled 0)) is open at the venue" in message
    assert "could not be cancelled: CancelUnsettledError" in message
    assert "the host does not start" in message and 'unknown_orders = "adopt"' in message
    assert len(failed) == 1 and "could not be cancelled" in failed[0][0]
    # Sent again after each backoff step that fits in the deadline, never given up at once.
    assert len(server.cancel_times) >= 2


def test_minus_1021_is_one_refusal_never_retried(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    with server.lock:
        server.create_faults = [
            (
                400,
                {
                    "code": -1021,
                    "msg": "Timestamp for this request is outside of the recvWindow.",
                },
                {},
            )
        ]

    async def body(host: Host) -> Any:
        order = host.order()
        with pytest.raises(OrderRejectedError, match="recvWindow"):
            await host.submit(order)
        await host.orders.poll()
        return host.orders.records[order.client_order_id].status, host.of(OrderFailed)

    status, failed = run(server, tmp_path, body, settings())
    assert status is OrderStatus.REJECTED
    assert len(failed) == 1 and "recvWindow" in failed[0].reason
    assert server.create_count() == 1 and server.orders_of() == []


def test_a_500_outage_opens_the_breaker_on_failed_creates_and_exits_still_go(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    outage = HTTP_500
    with server.lock:
        server.create_faults = [outage] * 50

    async def body(host: Host) -> Any:
        # Three entries (one per instrument in a real run; each stays in doubt: a 5xx is an
        # unknown outcome), each followed by lookups that succeed ("not found").
        for _ in range(3):
            with pytest.raises(VenueError):
                await host.submit(host.order())
            await host.orders.poll()
        assert host.orders.breaker_open(host.venue)
        creates = server.create_count()
        # Open: an entry fails fast without reaching the exchange ...
        with pytest.raises(VenueUnavailableError, match="circuit breaker"):
            await host.submit(host.order())
        assert server.create_count() == creates
        # ... an exit is still sent.
        with pytest.raises(VenueError):
            await host.submit(host.order(Side.SELL, reduce_only=True), exit_reason="stop")
        assert server.create_count() == creates + 1
        return [(e.tripped, e.reason) for e in host.of(CircuitBreaker)]

    breakers = run(server, tmp_path, body, settings(threshold=3, attempts=1))
    assert breakers and breakers[0][0] is True and "3 consecutive failures" in breakers[0][1]


def test_the_breaker_half_opens_and_closes_when_the_venue_answers(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    outage = HTTP_500
    with server.lock:
        server.create_faults = [outage] * 2

    async def body(host: Host) -> Any:
        for _ in range(2):
            with pytest.raises(VenueError):
                await host.submit(host.order())
        assert host.orders.breaker_open(host.venue)
        await asyncio.sleep(0.6)  # the cooldown
        assert (await host.submit(host.order())).status is OrderStatus.ACCEPTED
        return [(e.tripped, e.reason) for e in host.of(CircuitBreaker)]

    breakers = run(server, tmp_path, body, settings(threshold=2, attempts=1, cooldown=0.5))
    assert [t for t, _ in breakers] == [True, True, False]
    assert breakers[1][1].startswith("half-open")


def test_a_dropped_websocket_update_is_booked_by_the_poll_within_its_interval(
    server: BinanceFuturesServer, tmp_path: Path
) -> None:
    with server.lock:
        server.drop_ws_updates = True

    async def body(host: Host) -> Any:
        order = host.limit_buy("20000")
        await host.submit(order)
        await wait_for(lambda: server.streams, timeout=5)
        server.fill(order.client_order_id, "20000")
        server.push_order_update(order.client_order_id)  # lost on the way
        filled_at = time.monotonic()
        await wait_for(lambda: host.journal_fills(), timeout=5)
        return time.monotonic() - filled_at, host.journal_fills(), host.venue.update_mode

    took, fills, mode = run(
        server, tmp_path, body, settings(), order_updates="websocket", poll_interval_s=0.5
    )
    assert mode == "websocket"
    (trade,) = server.trades_of()
    assert len(fills) == 1 and fills[0][1] == str(trade["id"])
    assert fills[0][4] == Decimal(trade["commission"])
    assert took < 0.5 + 0.5  # one poll interval, plus the round trips
