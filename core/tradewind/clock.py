"""Clocks. The engine never reads the wall clock itself: a clock is injected."""

from __future__ import annotations

import time
from typing import Protocol


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


class WallClock:
    """Real time, for paper and live mode."""

    def now_ns(self) -> int:
        """The system's UTC time in nanoseconds."""
        return time.time_ns()
