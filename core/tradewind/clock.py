"""Clocks. The engine never reads the wall clock itself: a clock is injected."""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import anyio.lowlevel


class Clock(Protocol):
    """Engine time in integer nanoseconds UTC."""

    def now_ns(self) -> int:
        """The current engine time."""


class SimClock:
    """Time that advances only when the replay says so (backtests are deterministic)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """The last time the replay advanced to."""
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move time forward to ``ts_ns`` (never backwards)."""
        if ts_ns > self._now:
            self._now = ts_ns

    def monotonic(self) -> float:
        """Engine time in seconds (retry backoff, breaker cooldowns)."""
        return self._now / 1e9

    async def sleep(self, seconds: float) -> None:
        """Wait in simulated time: the clock moves on, nothing really sleeps."""
        if seconds > 0:
            self.advance_to(self._now + int(seconds * 1e9))
        await anyio.lowlevel.checkpoint()


class WallClock:
    """Real time, for paper and live mode."""

    def now_ns(self) -> int:
        """The system's UTC time in nanoseconds."""
        return time.time_ns()

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (retry backoff, breaker cooldowns)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Really wait."""
        await anyio.sleep(seconds)
