"""The event bus: typed events, a bounded queue per subscriber, ordered delivery.

- Each subscriber has its own bounded memory stream and its own task, so a slow subscriber
  delays only itself until its queue is full; then :meth:`EventBus.publish` waits
  (back-pressure). Nothing is ever dropped.
- Delivery to one subscriber is in publish order.
- A subscriber that raises does not stop the others: the exception becomes a
  :class:`~tradewind.model.SystemError` event published to every other subscriber, and the
  failing subscriber keeps receiving later events.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradewind.model import Event, SystemError

log = logging.getLogger("tradewind.bus")

Handler = Callable[[Event], Awaitable[None] | None]


@attrs.define
class Subscription:
    """One subscriber: its handler, the event types it wants, and its delivery counters."""

    name: str
    handler: Handler
    types: tuple[type[Event], ...]
    send: MemoryObjectSendStream[Event]
    receive: MemoryObjectReceiveStream[Event]
    is_async: bool
    delivered: int = 0
    failed: int = 0

    def wants(self, event: Event) -> bool:
        """True when ``event`` is of a type this subscriber asked for."""
        return isinstance(event, self.types)


class EventBus:
    """Publish/subscribe over anyio memory streams. Use as ``async with EventBus() as bus``."""

    def __init__(self, *, capacity: int = 1024) -> None:
        if capacity <= 0 and capacity != math.inf:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._subs: list[Subscription] = []
        self._tg: TaskGroup | None = None
        self._closed = False
        self._inflight = 0
        self._idle: anyio.Event | None = None
        self.published = 0

    def subscribe(
        self, name: str, handler: Handler, *, types: tuple[type[Event], ...] = (Event,)
    ) -> Subscription:
        """Add a subscriber. Must be called before the bus starts or while it runs."""
        send, receive = anyio.create_memory_object_stream[Event](self.capacity)
        sub = Subscription(
            name=name,
            handler=handler,
            types=types,
            send=send,
            receive=receive,
            is_async=inspect.iscoroutinefunction(handler),
        )
        self._subs.append(sub)
        if self._tg is not None:
            self._tg.start_soon(self._drain, sub)
        return sub

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every subscriber, in subscription order."""
        return list(self._subs)

    async def __aenter__(self) -> EventBus:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for sub in self._subs:
            self._tg.start_soon(self._drain, sub)
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        await self.close()
        assert self._tg is not None
        return await self._tg.__aexit__(*exc)

    async def close(self) -> None:
        """Stop accepting events once every queued event (and any failure report it causes)
        has been delivered."""
        if self._closed:
            return
        while self._inflight:
            self._idle = anyio.Event()
            await self._idle.wait()
        self._closed = True
        for sub in self._subs:
            await sub.send.aclose()

    async def publish(self, event: Event) -> None:
        """Queue ``event`` for every interested subscriber, waiting while a queue is full."""
        if self._closed:
            raise RuntimeError(f"event bus is closed; cannot publish {type(event).__name__}")
        self.published += 1
        for sub in self._subs:
            if sub.wants(event):
                self._inflight += 1
                try:
                    # No checkpoint while the queue has room: the publisher runs until a queue
                    # is full, then waits (back-pressure). Far cheaper than a checkpoint per send.
                    sub.send.send_nowait(event)
                except anyio.WouldBlock:
                    await sub.send.send(event)

    async def _drain(self, sub: Subscription) -> None:
        async with sub.receive:
            while True:
                try:
                    event = sub.receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        event = await sub.receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                try:
                    result = sub.handler(event)
                    if sub.is_async:
                        await result  # type: ignore[misc]
                    sub.delivered += 1
                except Exception as exc:  # a subscriber's bug must not stop the others
                    sub.failed += 1
                    await self._report_failure(sub, event, exc)
                finally:
                    self._inflight -= 1
                    if self._inflight == 0 and self._idle is not None:
                        self._idle.set()

    async def _report_failure(self, sub: Subscription, event: Event, exc: Exception) -> None:
        detail = (
            f"subscriber '{sub.name}' raised {type(exc).__name__}: {exc} on {type(event).__name__}"
        )
        log.error("%s", detail)
        if isinstance(event, SystemError):
            # Failing on a failure report: report it in the log only, or two failing
            # subscribers would ping-pong forever.
            return
        report = SystemError(ts_ns=event.ts_ns, source=f"bus:{sub.name}", error=detail)
        for other in self._subs:
            if other is not sub and other.wants(report):
                self._inflight += 1
                await other.send.send(report)
