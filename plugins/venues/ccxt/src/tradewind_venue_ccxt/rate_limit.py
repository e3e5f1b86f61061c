"""The plugin's default rate limiter: a token bucket that refills in real time, idle or not,
and lets orders that change exposure go before reads.

ccxt's own leaky bucket (4.5) refills only while a request is waiting: its clock restarts at
each busy period (ccxt/ccxt#25556), so the weight a request spends is paid by the *next*
request however long the host was idle — on Binance USDⓈ-M every order after a fill lookup
waits ~250 ms. This bucket keeps its clock across idle time:

- it holds up to ``capacity`` tokens and gains ``rate`` tokens a second, always;
- a request of weight ``cost`` (ccxt's per-endpoint ``cost``, in units of the exchange's
  ``rateLimit``) leaves as soon as the bucket is out of debt (holds ≥ 0 tokens) and spends
  ``cost``, which may take the bucket into debt; the requests behind it wait until the debt is
  repaid. So an order that finds the budget nearly there leaves at once, and the fill lookup
  that follows it pays the wait — ccxt's own buckets gate the same way;
- :meth:`TokenBucket.hold` empties the bucket and stops every request for a while (an
  HTTP 429 / 418 answered with ``Retry-After``).

So an order after idle time leaves at once, and over any span ``T`` the weight sent is at most
``capacity + rate × T`` plus the cost of the last request sent: a burst is paced at the
exchange's rate once the bucket is empty. Which waiting request leaves changes nothing of
that: the moment the next one may leave depends on the bucket alone, not on who it is.

**Who leaves first.** A request is *urgent* when it changes exposure — a create or a cancel:
the venue makes them inside :func:`urgent_calls` — and a *read* otherwise (order lookups, the
open-orders poll, trade lists, balances). When both wait, urgent requests leave first, in
arrival order, so an entry's create does not queue behind the poll's lookups. Reads leave in
arrival order among themselves and are never starved: once ``read_bypass`` urgent requests
(default :data:`DEFAULT_READ_BYPASS`) have left while the oldest read waited, that read leaves
next. Under a steady stream of creates a read therefore waits for at most ``read_bypass``
creates' worth of budget beyond the reads ahead of it.

It plugs into ccxt through ccxt's public ``Exchange.throttle(cost)`` method — what ccxt's
``fetch2`` awaits (with the endpoint's computed cost) before every REST request when
``enableRateLimit`` is on, in the task that makes the call, so the caller's
:func:`urgent_calls` context reaches it — overridden in a subclass of the exchange's class
(:func:`token_bucket_exchange_class`). Nothing of ccxt is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

#: Tokens within this of what a request needs count as enough (float residue of the refill).
_EPSILON = 1e-9

#: Urgent requests (creates, cancels) that may leave ahead of the oldest waiting read; then it
#: leaves. Four Binance USDⓈ-M creates are 16 weight, 0.8 s of its budget.
DEFAULT_READ_BYPASS = 4

_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tradewind_urgent_call", default=False
)


@contextlib.contextmanager
def urgent_calls() -> Iterator[None]:
    """Mark the requests made inside as urgent (orders that change exposure: creates and
    cancels); a :class:`TokenBucket` lets them leave before waiting reads."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


class _Waiter:
    """One request waiting for the bucket."""

    __slots__ = ("began", "cost", "granted", "mark", "urgent", "waited", "wake")

    def __init__(self, cost: float, urgent: bool, began: float, mark: int) -> None:
        self.cost = cost
        self.urgent = urgent
        self.began = began
        self.mark = mark  # urgent grants counted when it began to wait
        self.granted = False
        self.waited = 0.0
        self.wake = asyncio.Event()


class TokenBucket:
    """A token bucket of ``capacity`` tokens refilled at ``rate`` tokens per second; urgent
    requests (:func:`urgent_calls`) leave before waiting reads, a read is overtaken by at most
    ``read_bypass`` of them.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests; the defaults are
    ``time.monotonic`` and ``asyncio.sleep`` — a rate limit is about the exchange's real time.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        read_bypass: int = DEFAULT_READ_BYPASS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"token bucket rate must be positive, got {rate}")
        if capacity <= 0:
            raise ValueError(f"token bucket capacity must be positive, got {capacity}")
        if read_bypass < 1:
            raise ValueError(f"token bucket read_bypass must be >= 1, got {read_bypass}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.read_bypass = int(read_bypass)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity  # a host starts rested
        self._stamp = clock()
        self._hold_until = float("-inf")
        self._urgent: deque[_Waiter] = deque()
        self._reads: deque[_Waiter] = deque()
        self._timer: _Waiter | None = None  # the waiter sleeping until the next may leave
        self._urgent_granted = 0
        #: Requests let through, requests that had to wait, and the seconds they waited.
        self.granted = 0
        self.waited = 0
        self.waited_s = 0.0
        #: The wait of the last request let through, in seconds (0.0: it left at once).
        self.last_wait_s = 0.0
        #: The weight spent since the start.
        self.spent = 0.0

    @classmethod
    def for_exchange(cls, exchange: Any, burst_s: float, **kwargs: Any) -> TokenBucket | None:
        """The bucket for a ccxt exchange: one token per ``rateLimit`` ms (ccxt's unit of
        cost), ``burst_s`` seconds of that rate as capacity. None when the exchange has no
        rate limit (``rateLimit`` ≤ 0)."""
        rate_limit_ms = float(getattr(exchange, "rateLimit", 0) or 0)
        if rate_limit_ms <= 0:
            return None
        rate = 1000.0 / rate_limit_ms
        return cls(rate, max(1.0, burst_s * rate), **kwargs)

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def _ready_in(self, now: float) -> float:
        """Seconds until the next request may leave (≤ 0: now); the bucket refilled to now."""
        self._refill(now)
        delay = self._hold_until - now
        if self._tokens + _EPSILON < 0:
            delay = max(delay, -self._tokens / self.rate)
        return delay

    @property
    def tokens(self) -> float:
        """The tokens in the bucket now."""
        self._refill(self._clock())
        return self._tokens

    @property
    def queued(self) -> tuple[int, int]:
        """Waiting requests: (urgent, reads)."""
        return len(self._urgent), len(self._reads)

    def _next(self) -> _Waiter | None:
        """The waiter that leaves next: the oldest urgent one, unless the oldest read has
        been overtaken ``read_bypass`` times."""
        if self._reads and (
            not self._urgent or self._urgent_granted - self._reads[0].mark >= self.read_bypass
        ):
            return self._reads[0]
        return self._urgent[0] if self._urgent else None

    def _spend(self, cost: float, urgent: bool, waited: float) -> None:
        self._tokens -= cost
        self.spent += cost
        self.granted += 1
        self.last_wait_s = waited
        if urgent:
            self._urgent_granted += 1
        if waited > 0:
            self.waited += 1
            self.waited_s += waited

    def _grant(self, now: float) -> None:
        waiter = self._next()
        assert waiter is not None
        (self._urgent if waiter.urgent else self._reads).popleft()
        waiter.granted = True
        waiter.waited = max(0.0, now - waiter.began)
        self._spend(waiter.cost, waiter.urgent, waiter.waited)
        waiter.wake.set()

    def _hand_over(self) -> None:
        """With nobody keeping time, wake the waiter that leaves next to do it."""
        if self._timer is None:
            waiter = self._next()
            if waiter is not None:
                waiter.wake.set()

    async def acquire(self, cost: float = 1.0, *, urgent: bool | None = None) -> float:
        """Wait until a request of weight ``cost`` may leave, spend it; the seconds waited.
        ``urgent`` None: as the caller's :func:`urgent_calls` context says."""
        if cost < 0:
            raise ValueError(f"request cost must be >= 0, got {cost}")
        if urgent is None:
            urgent = _URGENT.get()
        now = self._clock()
        if not self._urgent and not self._reads and self._ready_in(now) <= 0:
            self._spend(cost, urgent, 0.0)  # nobody waits and the budget is there
            return 0.0
        waiter = _Waiter(cost, urgent, now, self._urgent_granted)
        (self._urgent if urgent else self._reads).append(waiter)
        try:
            while not waiter.granted:
                if self._timer is not None:
                    await waiter.wake.wait()
                    waiter.wake.clear()
                    continue
                now = self._clock()
                delay = self._ready_in(now)
                if delay <= 0:
                    self._grant(now)  # whoever leaves next, this waiter or another
                    continue
                # One waiter sleeps until the next may leave, whoever that will be then.
                self._timer = waiter
                try:
                    await self._sleep(delay)
                finally:
                    self._timer = None
        except BaseException:
            if not waiter.granted:
                (self._urgent if waiter.urgent else self._reads).remove(waiter)
            self._hand_over()
            raise
        self._hand_over()
        return waiter.waited

    def hold(self, seconds: float) -> None:
        """Let nothing leave for ``seconds``, and refill from empty only after that (the
        exchange said "too many requests": its budget is spent, whatever this bucket
        counted; after the hold requests leave at the paced rate, not in a burst)."""
        now = self._clock()
        self._refill(now)
        self._hold_until = max(self._hold_until, now + max(0.0, seconds))
        self._tokens = min(self._tokens, 0.0)
        self._stamp = max(self._stamp, self._hold_until)


@functools.cache
def token_bucket_exchange_class(base: type) -> type:
    """A subclass of the ccxt exchange class ``base`` whose ``throttle`` awaits the instance's
    :class:`TokenBucket` (attribute ``tradewind_limiter``) instead of ccxt's throttler.

    ccxt calls ``throttle(cost)`` before each REST request (``fetch2``, when
    ``enableRateLimit`` is on) with the endpoint's weight; without a limiter set, ccxt's own
    throttle runs.
    """

    async def throttle(self: Any, cost: Any = None) -> None:
        limiter: TokenBucket | None = getattr(self, "tradewind_limiter", None)
        if limiter is None:
            await base.throttle(self, cost)  # type: ignore[attr-defined]
            return
        await limiter.acquire(1.0 if cost is None else float(cost))

    return type(base.__name__, (base,), {"throttle": throttle, "__module__": base.__module__})
