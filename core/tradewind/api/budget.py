"""The API's CPU budget (``[api] cpu_share``): HTTP requests wait, never refused, while the
API has used more than its share of one CPU.

The engine comes first: the API may use ``share`` of one CPU, averaged over a short window.
The budget is a bucket of CPU time. It fills at ``share`` CPU-seconds per wall-clock second
and holds at most ``share × window_s`` (what the API may spend at once after a quiet spell:
its burst); every CPU-second the API uses is taken out of it. A request arriving while the
bucket is below zero waits (``asyncio.sleep``) until the refill brings it back to zero:
``-level / share`` seconds, exactly what the window needs to average out to the share again.
It is backpressure, not rejection: a client sending faster than the budget allows gets its
answers later, and refusing a client is the per-client rate limit's job (429).

What is counted is the caller's CPU clock: in an API process of its own
(``serve = "process"``) the process's (``time.process_time``: every thread of it — HTTP,
JSON encoding and the mirror's update intake, which is counted but never delayed: a stale
mirror would be the price, and the host already coalesces its updates while the API process
has not read the last one). In thread mode the server's thread's (``time.thread_time``): it
paces the HTTP work the server's thread does, and with it how long that thread holds the
GIL; the engine's own CPU is never counted against the API.

The debt is capped at ``max_wait_s`` of refill and no request waits longer than that in all:
CPU spent beyond the cap (a burst of many requests admitted together, a large update) is
forgiven rather than carried, and CPU the API spends while a request waits (its update
intake) cannot hold the request for ever, so the API is never stalled by work it could not
pace. The counters (:attr:`CpuBudget.delayed`, :attr:`CpuBudget.waited_s`,
:attr:`CpuBudget.forgiven_cpu_s`) are answered by ``GET /api/v1/health``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tradewind.affinity import check_share as check_share  # its home before; re-exported

#: The default window, in seconds: long enough to hold a few large pages' CPU as a burst,
#: short enough that a wait is a fraction of a second.
WINDOW_S = 0.2
#: The longest a request waits; CPU spent beyond this much debt is forgiven.
MAX_WAIT_S = 1.0
#: A level this close to zero is zero (float residue after a wait of exactly the debt).
_EPSILON_S = 1e-9


class CpuBudget:
    """A bucket of CPU time filled at ``share`` of one CPU; :meth:`admit` waits while it is
    overspent.

    ``cpu`` and ``wall`` are the clocks (seconds; CPU time of what is budgeted, and a
    monotonic wall clock), ``sleep`` the coroutine that waits: injected so tests can drive
    them. ``share >= 1.0`` is no budget: :meth:`admit` returns at once without reading a clock.
    """

    def __init__(
        self,
        share: float,
        window_s: float = WINDOW_S,
        *,
        cpu: Callable[[], float] = time.process_time,
        wall: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.share = check_share(share)
        if not window_s > 0:
            raise ValueError(f"the CPU budget's window must be positive, got {window_s!r}")
        if not max_wait_s > 0:
            raise ValueError(f"the CPU budget's longest wait must be positive, got {max_wait_s!r}")
        self.window_s = float(window_s)
        self.max_wait_s = float(max_wait_s)
        self.unlimited = self.share >= 1.0
        self._cpu = cpu
        self._wall = wall
        self._sleep = sleep
        self._cap = self.share * self.window_s
        self._floor = -self.share * self.max_wait_s
        self._level = self._cap
        self._last: tuple[float, float] | None = None  # (cpu, wall) when last read
        #: Requests that waited, the seconds they waited in all, and the CPU seconds forgiven.
        self.admitted = 0
        self.delayed = 0
        self.waited_s = 0.0
        self.forgiven_cpu_s = 0.0

    def level(self) -> float:
        """The bucket now, in CPU-seconds (negative: overspent by that much)."""
        cpu, wall = self._cpu(), self._wall()
        if self._last is not None:
            used = cpu - self._last[0]
            earned = (wall - self._last[1]) * self.share
            level = min(self._cap, self._level + earned - used)
            if level < self._floor:
                self.forgiven_cpu_s += self._floor - level
                level = self._floor
            self._level = level
        self._last = (cpu, wall)
        return self._level

    def delay(self) -> float:
        """The seconds a request arriving now must wait (0.0: it may go ahead)."""
        if self.unlimited:
            return 0.0
        level = self.level()
        return -level / self.share if level < -_EPSILON_S else 0.0

    async def admit(self) -> float:
        """Wait until the budget allows one more request; the seconds waited."""
        if self.unlimited:
            self.admitted += 1
            return 0.0
        start = None
        waited = 0.0
        # Several requests may wait together and go ahead together: what they then spend is
        # taken out of the bucket all the same, and the next ones wait that much longer. CPU
        # spent while a request waits (the mirror's intake) can keep the bucket below zero:
        # after max_wait_s in all the request goes ahead anyway.
        while (d := self.delay()) > 0.0 and waited < self.max_wait_s:
            if start is None:
                start = self._wall()
            await self._sleep(min(d, self.max_wait_s - waited))
            waited = self._wall() - start
        self.admitted += 1
        if start is None:
            return 0.0
        self.delayed += 1
        self.waited_s += waited
        return waited

    def counters(self) -> dict[str, Any]:
        """What ``health`` answers of the budget."""
        return {
            "share": self.share,
            "window_s": self.window_s,
            "admitted": self.admitted,
            "delayed": self.delayed,
            "waited_s": round(self.waited_s, 6),
            "forgiven_cpu_s": round(self.forgiven_cpu_s, 6),
        }
