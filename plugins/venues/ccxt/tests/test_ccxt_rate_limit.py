"""The plugin's token-bucket rate limiter: idle time is credited, bursts are paced, 429 holds.

The bucket alone runs on a scripted clock (exact waits); the venue runs against the local
Binance USDⓈ-M server, whose request arrival times are read on the test's own monotonic clock.
ccxt's binanceusdm has ``rateLimit`` 50 ms: 20 tokens a second; the default bucket holds one
second of them (20). Weights are ccxt's: a create costs 4, ``userTrades`` 5, an order lookup 1.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV, set_credentials
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.errors import VenueRateLimitedError
from tradewind.model import Order, OrderStatus, OrderType, Side, TimeInForce
from tradewind.secrets import Secret
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig
from tradewind_venue_ccxt.rate_limit import TokenBucket

SYMBOL = "BTC/USDT:USDT"


# -- the bucket on a scripted clock -------------------------------------------------------------
class ScriptedTime:
    """A monotonic clock that moves only when the bucket sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def bucket(t: ScriptedTime, rate: float = 20.0, capacity: float = 20.0) -> TokenBucket:
    return TokenBucket(rate, capacity, clock=t.clock, sleep=t.sleep)


def test_a_rested_bucket_lets_its_capacity_go_at_once_then_paces() -> None:
    t = ScriptedTime()
    b = bucket(t)

    async def go() -> list[float]:
        return [await b.acquire(4) for _ in range(7)]  # 28 tokens of weight, 20 in the bucket

    waits = asyncio.run(go())
    # Five creates empty the bucket; the sixth finds it empty, not in debt, and leaves too,
    # taking it 4 into debt; the seventh waits for that debt: 4 tokens at 20/s.
    assert waits == pytest.approx([0, 0, 0, 0, 0, 0, 0.2])
    assert (b.granted, b.waited) == (7, 1)


def test_idle_time_is_credited() -> None:
    t = ScriptedTime()
    b = bucket(t)

    async def go() -> tuple[float, float]:
        for _ in range(5):
            await b.acquire(5)  # five fill lookups: the bucket is 5 in debt
        assert b.tokens == pytest.approx(-5.0)
        t.now += 0.3  # idle: 6 tokens come back
        create = await b.acquire(4)  # without the idle credit it would wait 250 ms
        t.now += 10.0  # long idle: the bucket is full again, not fuller
        burst = sum([await b.acquire(4) for _ in range(5)])
        return create, burst

    create, burst = asyncio.run(go())
    assert create == 0.0 and burst == 0.0
    assert b.tokens == pytest.approx(0.0)  # capped at capacity: 20 - 5 x 4


def test_a_burst_never_exceeds_capacity_plus_rate_times_span() -> None:
    t = ScriptedTime()
    b = bucket(t)
    grants: list[tuple[float, float]] = []

    async def one(cost: float) -> None:
        await b.acquire(cost)
        grants.append((t.now, cost))

    async def go() -> None:
        await asyncio.gather(*(one(c) for c in [4, 5, 1, 1, 40, 4, 5] * 6))

    asyncio.run(go())
    total = sum(c for _, c in grants)
    assert len(grants) == 42 and total == 360
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            span = grants[j][0] - grants[i][0]
            sent = sum(c for _, c in grants[i : j + 1])
            # What left in [t_i, t_j] is at most a full bucket plus the refill, plus the last
            # request's cost (it may leave a debt behind it; the dearest here is 40).
            assert sent <= 20 + 20 * span + grants[j][1] + 1e-6, (i, j, sent, span)
    # And the whole burst took exactly what the budget allows: the last request left when
    # the 20 tokens of the start plus the refill had paid for all before it.
    assert grants[0][0] == 100.0
    assert grants[-1][0] - grants[0][0] == pytest.approx((total - grants[-1][1] - 20) / 20)


def test_waiters_leave_in_arrival_order() -> None:
    t = ScriptedTime()
    b = bucket(t, capacity=4)
    order: list[int] = []

    async def one(n: int, cost: float) -> None:
        await b.acquire(cost)
        order.append(n)

    async def go() -> None:
        await asyncio.gather(*(one(n, c) for n, c in enumerate([4, 40, 1, 1, 4])))

    asyncio.run(go())
    assert order == [0, 1, 2, 3, 4]  # the dear call is not starved by cheap ones behind it


def test_hold_stops_everything_and_empties_the_bucket() -> None:
    t = ScriptedTime()
    b = bucket(t)

    async def go() -> float:
        b.hold(2.0)
        return await b.acquire(1)

    waited = asyncio.run(go())
    # 2 s of hold, the bucket emptied and refilled only from the hold's end: the request
    # leaves then, in debt, and nothing is left over for a burst.
    assert waited == pytest.approx(2.0)
    assert b.tokens == pytest.approx(-1.0)


# -- the venue against the local exchange ---------------------------------------------------------
@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BinanceFuturesServer]:
    set_credentials(monkeypatch)
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()
    assert not srv.unknown, f"ccxt called routes the server lacks: {srv.unknown}"


def config(server: BinanceFuturesServer, **overrides: Any) -> CcxtVenueConfig:
    values: dict[str, Any] = {
        "exchange": "binanceusdm",
        "market_type": "swap",
        "symbols": ["BTCUSDT"],
        "api_key": Secret(KEY_ENV),
        "secret": Secret(SECRET_ENV),
        "api_host": server.url,
        "order_updates": "off",
        "timeout_ms": 5000,
    }
    values.update(overrides)
    return CcxtVenueConfig(**values)


def limit_buy(cid: str) -> Order:
    return Order(
        client_order_id=cid,
        instrument="bn:BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.001"),
        price=Decimal("20000"),
        time_in_force=TimeInForce.GTC,
    )


def arrivals(server: BinanceFuturesServer, method: str, path: str) -> list[float]:
    with server.lock:
        return [t for t, m, p in server.arrivals if (m, p) == (method, path)]


def test_the_token_bucket_is_the_default_and_uses_the_exchanges_weights(
    server: BinanceFuturesServer,
) -> None:
    assert CcxtVenueConfig().rate_limiter == "token_bucket"

    async def go() -> tuple[TokenBucket | None, list[float]]:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            limiter = venue.limiter
            assert limiter is not None
            spent = [limiter.spent]
            await venue.exchange.fetch_my_trades(SYMBOL)  # GET userTrades
            spent.append(limiter.spent)
            await venue.submit_order(limit_buy("tw-weights"))  # POST order
            spent.append(limiter.spent)
            await venue.exchange.fetch_open_orders(SYMBOL)  # GET openOrders with a symbol
            spent.append(limiter.spent)
            return limiter, spent
        finally:
            await venue.close()

    limiter, spent = asyncio.run(go())
    assert limiter is not None and (limiter.rate, limiter.capacity) == (20.0, 20.0)
    # ccxt's binanceusdm weights: userTrades 5, a create 4, open orders of a symbol 1.
    assert [b - a for a, b in itertools.pairwise(spent)] == [5, 4, 1]


def test_an_order_after_idle_time_leaves_at_once(server: BinanceFuturesServer) -> None:
    async def go(limiter: str) -> tuple[float, float, TokenBucket | None]:
        venue = CcxtVenue(config(server, rate_limiter=limiter), instance="bn")
        await venue.connect()
        try:
            for _ in range(5):  # five fill lookups: weight 25, the bucket ends in debt
                await venue.exchange.fetch_my_trades(SYMBOL)
            await asyncio.sleep(1.2)  # idle: a second's weight comes back
            began = time.monotonic()
            report = await venue.submit_order(limit_buy(f"tw-idle-{limiter}"))
            assert report.status is OrderStatus.ACCEPTED
            sent = arrivals(server, "POST", "/fapi/v1/order")[-1]
            return sent - began, time.monotonic() - began, venue.limiter
        finally:
            await venue.close()

    _, _, limiter = asyncio.run(go("token_bucket"))
    assert limiter is not None
    assert limiter.last_wait_s == 0.0  # the create did not wait in the limiter at all
    # ccxt's leaky bucket, for contrast: its clock stopped while idle, so the create pays the
    # last lookup's debt (5 tokens x 50 ms) after 1.2 s of idle time (ccxt/ccxt#25556) —
    # what the token bucket would do too if it did not credit idle time.
    to_server, _, _ = asyncio.run(go("leaky_bucket"))
    assert to_server >= 0.2


def test_a_burst_is_paced_within_the_exchanges_budget(server: BinanceFuturesServer) -> None:
    n = 60  # 60 order lookups of weight 1; the bucket holds 20 and refills 20 a second

    async def go() -> tuple[float, TokenBucket | None]:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            await asyncio.sleep(1.1)  # rested: a full bucket
            began = time.monotonic()
            await asyncio.gather(*(venue.exchange.fetch_open_orders(SYMBOL) for _ in range(n)))
            return began, venue.limiter
        finally:
            await venue.close()

    began, limiter = asyncio.run(go())
    times = arrivals(server, "GET", "/fapi/v1/openOrders")
    assert len(times) == n
    # The last 39 had to wait for tokens: the burst cannot reach the exchange sooner than
    # (59 - 20) / 20 = 1.95 s after it began, whatever the machine's load.
    assert times[-1] - began >= 1.95 - 0.01
    # The first 21 went at once (20 tokens, and the 21st found the bucket empty but not in
    # debt), the rest were paced (a few may find tokens that came back while the first ones
    # were being sent on a slow machine).
    assert limiter is not None and n - 26 <= limiter.waited <= n - 21


def test_a_429_holds_every_request_for_its_retry_after(server: BinanceFuturesServer) -> None:
    with server.lock:
        server.create_faults = [
            (429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"})
        ]

    async def go() -> None:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            with pytest.raises(VenueRateLimitedError, match=r"retry after 1\.0 s"):
                await venue.submit_order(limit_buy("tw-429"))
            await venue.exchange.fetch_open_orders(SYMBOL)  # any request: held too
        finally:
            await venue.close()

    asyncio.run(go())
    refused = arrivals(server, "POST", "/fapi/v1/order")
    after = arrivals(server, "GET", "/fapi/v1/openOrders")
    assert len(refused) == 1 and len(after) == 1
    assert after[0] - refused[0] >= 1.0
