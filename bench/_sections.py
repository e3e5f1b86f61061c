"""Per-decision section timings for bench_decision.py ``--sections``: the time of each wrapped
call, exclusive of the wrapped calls inside it, summed per section over one timed span; garbage
collections inside the span are timed too (``gc.callbacks``).

The clock is ``perf_counter_ns`` (a vDSO read, ~50 ns): the thread's CPU clock is a system
call of ~1 µs that would swamp the small sections. So a span in which the process waited for
a CPU charges that wait to whichever section was running; the benchmark leaves such spans
(wall time well above CPU time) out of the table. A wrapper still costs ~0.3 µs of its own:
read the figures as shares and as slow-against-median ratios, not as the latency itself.
"""

from __future__ import annotations

import functools
import gc
import inspect
import time
from collections.abc import Callable
from typing import Any

_now = time.perf_counter_ns


class Sections:
    """Exclusive CPU time per named section, collected between :meth:`start` and :meth:`take`."""

    def __init__(self) -> None:
        self.active = False
        self.totals: dict[str, int] = {}
        #: Open frames, innermost last: [name, start, time of the finished wrapped calls in it].
        self.stack: list[list[Any]] = []
        self._gc_start = 0
        #: Every collection of the run, in or out of a span: (generation, ns).
        self.collections: list[tuple[int, int]] = []
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = _now()
            return
        spent = _now() - self._gc_start
        self.collections.append((info["generation"], spent))
        if self.active:
            name = f"gc gen {info.get('generation')}"
            self.totals[name] = self.totals.get(name, 0) + spent
            if self.stack:
                self.stack[-1][2] += spent  # not the enclosing section's own time

    def start(self) -> None:
        """Begin a span (the clock of the benchmark starts right after)."""
        self.totals = {}
        self.stack = []
        self.active = True

    def take(self) -> dict[str, int]:
        """End the span now: the totals, the frames still open charged up to now."""
        now = _now()
        totals = dict(self.totals)
        inner = 0
        for name, start, children in reversed(self.stack):
            elapsed = now - start
            totals[name] = totals.get(name, 0) + elapsed - children - inner
            inner = elapsed  # the whole open frame is a child of its parent
        self.active = False
        return totals

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (sync or async) charging its own time to ``name`` while a span is open."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapped(*args: Any, **kwargs: Any) -> Any:
                if not self.active:
                    return await fn(*args, **kwargs)
                frame = [name, _now(), 0]
                self.stack.append(frame)
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._close(frame)

            return awrapped

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return fn(*args, **kwargs)
            frame = [name, _now(), 0]
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._close(frame)

        return wrapped

    def _close(self, frame: list[Any]) -> None:
        stack = self.stack
        if not self.active or not stack or stack[-1] is not frame:
            if frame in stack:
                stack.remove(frame)
            return
        stack.pop()
        elapsed = _now() - frame[1]
        self.totals[frame[0]] = self.totals.get(frame[0], 0) + elapsed - frame[2]
        if stack:
            stack[-1][2] += elapsed

    def patch(self, obj: Any, attr: str, name: str) -> None:
        """Replace ``obj.attr`` by its wrapped self (on the instance, or a module)."""
        setattr(obj, attr, self.wrap(name, getattr(obj, attr)))
