"""The plugin's default rate limiter: a token bucket that refills in real time, idle or not.

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
- waiters leave in arrival order (one waits at a time: FIFO, no starvation of dear calls);
- :meth:`TokenBucket.hold` empties the bucket and stops every request for a while (an
  HTTP 429 / 418 answered with ``Retry-After``).

So an order after idle time leaves at once, and over any span ``T`` the weight sent is at most
``capacity + rate × T`` plus the cost of the last request sent: a burst is paced at the
exchange's rate once the bucket is empty.

It plugs into ccxt through ccxt's public ``Exchange.throttle(cost)`` method — what ccxt's
``fetch2`` awaits (with the endpoint's computed cost) before every REST request when
``enableRateLimit`` is on — overridden in a subclass of the exchange's class
(:func:`token_bucket_exchange_class`). Nothing of ccxt is patched.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: Tokens within this of what a request needs count as enough (float residue of the refill).
_EPSILON = 1e-9


class TokenBucket:
    """A token bucket of ``capacity`` tokens refilled at ``rate`` tokens per second.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests; the defaults are
    ``time.monotonic`` and ``asyncio.sleep`` — a rate limit is about the exchange's real time.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"token bucket rate must be positive, got {rate}")
        if capacity <= 0:
            raise ValueError(f"token bucket capacity must be positive, got {capacity}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity  # a host starts rested
        self._stamp = clock()
        self._hold_until = float("-inf")
        self._lock: asyncio.Lock | None = None
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

    @property
    def tokens(self) -> float:
        """The tokens in the bucket now."""
        self._refill(self._clock())
        return self._tokens

    async def acquire(self, cost: float = 1.0) -> float:
        """Wait until a request of weight ``cost`` may leave, spend it; the seconds waited."""
        if cost < 0:
            raise ValueError(f"request cost must be >= 0, got {cost}")
        if self._lock is None:
            self._lock = asyncio.Lock()  # FIFO: waiters leave in arrival order
        async with self._lock:
            began = self._clock()
            slept = False
            while True:
                now = self._clock()
                self._refill(now)
                delay = self._hold_until - now
                if self._tokens + _EPSILON < 0:
                    delay = max(delay, -self._tokens / self.rate)
                if delay <= 0:
                    break
                slept = True
                await self._sleep(delay)
            self._tokens -= cost
            self.spent += cost
            waited = max(0.0, now - began) if slept else 0.0
            self.granted += 1
            self.last_wait_s = waited
            if waited > 0:
                self.waited += 1
                self.waited_s += waited
            return waited

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
