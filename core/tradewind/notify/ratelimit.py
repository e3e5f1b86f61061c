"""Per-channel rate limits: a token bucket, and a pause a channel's 429 can impose.

This paces I/O to a third-party service, not trading decisions, so it runs on the event
loop's monotonic time (``anyio.current_time``), not on the engine clock.
"""

from __future__ import annotations

import anyio


class RateLimit:
    """At most ``burst`` sends at once, refilled at ``rate`` per second (0: unlimited)."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate < 0 or burst < 1:
            raise ValueError(f"rate must be >= 0 and burst >= 1, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None
        self._blocked_until = 0.0
        #: Seconds spent waiting for the limit (for tests and benchmarks).
        self.waited = 0.0

    async def acquire(self) -> None:
        """Wait until one send is allowed, then take it."""
        while True:
            now = anyio.current_time()
            if now < self._blocked_until:
                wait = self._blocked_until - now
                self.waited += wait
                await anyio.sleep(wait)
                continue
            if self.rate == 0:
                return
            if self._last is not None:
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.rate
            self.waited += wait
            await anyio.sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a 429's ``retry_after`` applies to the whole channel)."""
        self._blocked_until = max(self._blocked_until, anyio.current_time() + seconds)
