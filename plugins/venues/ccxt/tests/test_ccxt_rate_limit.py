"""The plugin's token-bucket rate limiter: idle time is credited, bursts are paced, 429 holds.

The bucket alone runs on a scripted clock (exact waits); the venue runs against the local
Binance USDⓈ-M server, whose request arrival times are read on the test's own monotonic clock.
ccxt's binanceusdm has ``rateLimit`` 50 ms: 20 tokens a second; the default bucket holds one
second of them (20). Weights are ccxt's: a create costs 4, ``userTrades`` 5, an order lookup 1.
"""

from __future__ import annotations

import asyncio
import itertools
import random
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
from tradewind_venue_ccxt.rate_limit import DEFAULT_READ_BYPASS, TokenBucket, urgent_calls

SYMBOL = "BTC/USDT:USDT"


# -- the bucket on a scripted clock -------------------------------------------------------------
class ScriptedTime:
    """A monotonic clock that moves only when the bucket sleeps; every sleep is recorded.

    A sleep moves the clock at once, then lets the loop turn ``turns`` times before it ends:
    what other tasks do in those turns happens while the sleeper waits.
    """

    def __init__(self, turns: int = 1) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.turns = turns

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for _ in range(self.turns):
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


def test_waiters_of_one_kind_leave_in_arrival_order() -> None:
    t = ScriptedTime()
    b = bucket(t, capacity=4)
    order: list[int] = []

    async def one(n: int, cost: float, urgent: bool) -> None:
        await b.acquire(cost, urgent=urgent)
        order.append(n)

    async def go(urgent: bool) -> None:
        await asyncio.gather(*(one(n, c, urgent) for n, c in enumerate([4, 40, 1, 1, 4])))

    asyncio.run(go(False))
    assert order == [0, 1, 2, 3, 4]  # the dear call is not starved by cheap ones behind it
    order.clear()
    asyncio.run(go(True))
    assert order == [0, 1, 2, 3, 4]


def test_a_create_queued_behind_reads_leaves_first() -> None:
    t = ScriptedTime(turns=5)
    b = bucket(t)
    left: list[tuple[str, float]] = []

    async def one(name: str, cost: float) -> None:
        arrived = t.now
        waited = await b.acquire(cost)
        left.append((name, arrived + waited))  # when it left (the clock has moved on since)

    async def create(name: str) -> None:
        with urgent_calls():  # as the venue makes its creates and cancels
            await one(name, 4)

    async def go() -> None:
        await b.acquire(25)  # five fill lookups at once: 5 in debt
        reads = [asyncio.create_task(one(f"lookup{n}", 1)) for n in range(5)]
        reads.append(asyncio.create_task(one("poll", 1)))
        await asyncio.sleep(0)  # the reads queue, the first of them keeps time
        assert b.queued == (0, 6)
        entry = asyncio.create_task(create("entry"))
        await asyncio.gather(*reads, entry)

    asyncio.run(go())
    # The entry arrived last and leaves first, as soon as the debt is paid (5 tokens at 20/s);
    # the reads follow in their order, each paced by the one before it.
    assert [name for name, _ in left] == [
        "entry",
        "lookup0",
        "lookup1",
        "lookup2",
        "lookup3",
        "lookup4",
        "poll",
    ]
    assert left[0][1] == pytest.approx(100.25)
    assert left[1][1] == pytest.approx(100.25 + 4 / 20)
    assert b.queued == (0, 0)


def test_a_read_leaves_within_its_bound_under_a_stream_of_creates() -> None:
    t = ScriptedTime(turns=5)
    b = bucket(t)
    assert b.read_bypass == DEFAULT_READ_BYPASS == 4
    left: list[str] = []
    read_left: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def create(n: int) -> None:
        await b.acquire(4, urgent=True)
        left.append(f"create{n}")
        if n < 30:  # every create that leaves brings the next: the queue never empties
            tasks.add(asyncio.create_task(create(n + 3)))

    async def read() -> None:
        arrived = t.now
        read_left.append(arrived + await b.acquire(1, urgent=False))
        left.append("read")

    async def go() -> None:
        await b.acquire(20)  # the bucket is empty: everything from here waits
        await b.acquire(4)  # and 4 in debt
        tasks.update(asyncio.create_task(create(n)) for n in range(3))
        await asyncio.sleep(0)
        tasks.add(asyncio.create_task(read()))
        while any(not task.done() for task in tasks):
            await asyncio.gather(*tasks)

    asyncio.run(go())
    # Four creates overtake the read (the three queued before it count: they left while it
    # waited), then the read leaves, however many creates still wait.
    assert left.index("read") == 4
    assert sum(1 for name in left if name.startswith("create")) == 33
    # It leaves after the debt (0.2 s) and four creates' worth of budget (4 x 4 tokens at
    # 20/s), 1 s after the stream began.
    assert read_left == [pytest.approx(100.0 + 0.2 + 16 / 20)]


def test_the_budget_holds_under_a_mixed_load_with_priorities() -> None:
    t = ScriptedTime()
    b = bucket(t)
    grants: list[tuple[float, float, bool]] = []
    rng = random.Random(19)
    tasks: list[asyncio.Task[None]] = []

    async def one(cost: float, urgent: bool) -> None:
        arrived = t.now
        waited = await b.acquire(cost, urgent=urgent)
        grants.append((arrived + waited, cost, urgent))  # the clock may have moved on since

    async def go() -> None:
        for _ in range(60):  # waves of mixed requests arriving while others wait
            for _ in range(rng.randint(1, 6)):
                urgent = rng.random() < 0.4
                cost = 4.0 if urgent else float(rng.choice([1, 1, 5, 5, 40]))
                tasks.append(asyncio.create_task(one(cost, urgent)))
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)  # the waves interleave with the bucket's grants
            if rng.random() < 0.05:
                b.hold(0.5)  # a 429 in the middle of it
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert len(grants) == len(tasks)
    assert {u for _, _, u in grants} == {True, False}
    grants.sort(key=lambda g: g[0])
    for i in range(len(grants)):
        sent = 0.0
        for j in range(i, len(grants)):
            sent += grants[j][1]
            span = grants[j][0] - grants[i][0]
            # Whatever the order, the weight sent in [t_i, t_j] is at most a full bucket plus
            # the refill, plus the last request's cost (the debt it may leave behind).
            assert sent <= 20 + 20 * span + grants[j][1] + 1e-6, (i, j, sent, span)
    assert b.spent == sum(c for _, c, _ in grants)
    assert b.queued == (0, 0)


def test_a_waiter_cancelled_while_keeping_time_hands_over() -> None:
    t = ScriptedTime(turns=5)
    b = bucket(t)
    left: list[str] = []

    async def one(name: str, urgent: bool) -> None:
        await b.acquire(1, urgent=urgent)
        left.append(name)

    async def go() -> None:
        await b.acquire(24)  # 4 in debt
        first = asyncio.create_task(one("first", False))
        await asyncio.sleep(0)  # it sleeps for the debt, keeping time for all
        others = [asyncio.create_task(one(n, u)) for n, u in [("read", False), ("cancel", True)]]
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.gather(*others)

    asyncio.run(go())
    assert left == ["cancel", "read"]
    assert b.queued == (0, 0)
    assert b.spent == 26  # the cancelled request spent nothing


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


def test_the_venues_creates_and_cancels_go_before_queued_reads(
    server: BinanceFuturesServer,
) -> None:
    async def go() -> None:
        venue = CcxtVenue(config(server), instance="bn")
        await venue.connect()
        try:
            limiter = venue.limiter
            assert limiter is not None
            for cid, action in [("tw-urgent", "submit"), ("tw-urgent", "cancel")]:
                limiter.hold(0.2)  # nothing leaves for a while: the reads queue
                reads = [
                    asyncio.create_task(venue.exchange.fetch_open_orders(SYMBOL)) for _ in range(6)
                ]
                await asyncio.sleep(0.05)
                assert limiter.queued == (0, 6)
                if action == "submit":
                    report = await venue.submit_order(limit_buy(cid))
                    assert report.status is OrderStatus.ACCEPTED
                else:
                    report = await venue.cancel_order("bn:BTCUSDT", cid)
                    assert report.status is OrderStatus.CANCELLED
                await asyncio.gather(*reads)
        finally:
            await venue.close()

    asyncio.run(go())
    reads = arrivals(server, "GET", "/fapi/v1/openOrders")
    create = arrivals(server, "POST", "/fapi/v1/order")
    cancel = arrivals(server, "DELETE", "/fapi/v1/order")
    assert len(reads) == 12 and len(create) == 1 and len(cancel) == 1
    # Each arrived last and left first: the six reads queued before it reached the exchange
    # after it.
    assert create[0] < min(reads[:6]) and max(reads[:6]) < cancel[0] < min(reads[6:])
