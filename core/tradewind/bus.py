"""The event bus: typed events, a bounded queue per subscriber, ordered delivery, isolation.

- Each subscriber has its own bounded queue (:attr:`EventBus.capacity` events) and its own
  task. Delivery to one subscriber is in publish order. :meth:`EventBus.publish_many` hands a
  subscriber the events of a whole step at once (one queue item, its handler still called once
  per event, in order) when its queue has room for all of them; otherwise event by event, as
  :meth:`EventBus.publish` does, so fullness, drops and back-pressure are decided per event.
- A subscriber is isolated from the publisher and from the other subscribers: when its queue
  is full, the publisher yields once (so a subscriber that keeps up drains it), and if the
  queue is still full the event is *dropped for that subscriber only*. Drops are counted on
  the subscription (:attr:`Subscription.dropped`) and reported as an
  :class:`~tradewind.model.EventsDropped` event to every other subscriber (the journal writes
  it to ``system_events``): once when the subscriber catches up, every
  :attr:`EventBus.report_every` drops while it does not, and at close.
- A subscriber may refuse whole classes of events (``subscribe(..., accepts=...)``, decided
  once per class; the log notifier's events below its severity): they are never queued for
  it, so they cost it no queue room, no handler call and no drop.
- A *lossless* subscriber (``subscribe(..., lossless=True)``; the engine's journal) is never
  dropped for: when its queue is full the publisher waits (back-pressure).
- A subscriber that raises does not stop the others: the exception becomes a
  :class:`~tradewind.model.SystemError` event published to every other subscriber, and the
  failing subscriber keeps receiving later events. Failure and drop reports go through the
  bus's own reporter task, never from one subscriber's task into another's queue, so two
  failing subscribers cannot wait on each other (the deadlock of issue 19).
- An *inline* subscriber (``subscribe(..., inline=True)``; the engine's journal) has no queue
  and no task: its handler, a plain function, is called inside :meth:`EventBus.publish` as
  each event is published, so what it does with an event (the journal: the row's sequence
  number) happens at the event's place among everything else the publisher does, not when a
  task next runs. It is never dropped for; when it raises, the others get the same
  :class:`~tradewind.model.SystemError` report as for a queued subscriber.
- While the bus *holds* (:meth:`EventBus.hold`; the engine of a paper or live run whose
  step is being made durable behind it) an inline subscriber still gets each event as it is
  published, but the queued subscribers get nothing until :meth:`EventBus.release` hands them
  every event held, in publish order: nothing of a step reaches a notifier, the API or any
  other subscriber before the journal says the step is durable.
- :meth:`EventBus.close` waits until every queued event is handled; a non-lossless subscriber
  that is still busy after ``drain_timeout_s`` is cancelled and its queued events are counted
  as dropped, so a hung notifier cannot hang the end of a run.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from inspect import isawaitable
from typing import Any

import anyio
import anyio.lowlevel
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradewind.model import Event, EventsDropped, SystemError

log = logging.getLogger("tradewind.bus")

#: A subscriber: a function, a coroutine function, or a function that returns an awaitable
#: only when it has to wait (awaited then) and None otherwise (no coroutine per event).
Handler = Callable[[Event], Awaitable[None] | None]


@attrs.define
class Subscription:
    """One subscriber: its handler, the event types it wants, and its delivery counters."""

    name: str
    handler: Handler
    types: tuple[type[Event], ...]
    #: Queue items: an event, or a list of events handed over at once (``publish_many``).
    send: MemoryObjectSendStream[Any]
    receive: MemoryObjectReceiveStream[Any]
    is_async: bool
    #: Never dropped for: the publisher waits while its queue is full.
    lossless: bool = False
    delivered: int = 0
    failed: int = 0
    #: Events not delivered to this subscriber because its queue was full.
    dropped: int = 0
    #: Events queued and not handled yet (the one in the handler's hands included).
    pending: int = 0
    #: Events queued and not yet in the handler's hands: the queue is full at ``capacity``.
    queued: int = 0
    #: Set by the subscriber's task when its queue has room again (a lossless one waits).
    room: anyio.Event | None = None
    unreported: int = 0
    first_drop_ts: int = 0
    last_drop_ts: int = 0
    scope: anyio.CancelScope | None = None
    cancelled: bool = False
    #: The list of events being handled (``publish_many``), and the index of the one in hand.
    holding: Sequence[Event] | None = None
    held: int = 0
    #: Decides once per event class whether the subscriber takes any event of it (None: every
    #: event of :attr:`types`). An event of a class it refuses is never queued for it: no
    #: queue item, no handler call, never dropped for it.
    accepts: Callable[[type[Event]], bool] | None = None
    #: Per event class seen: whether the subscriber takes it (:attr:`types` and
    #: :attr:`accepts` together).
    taken: dict[type[Event], bool] = attrs.Factory(dict)
    #: Called inside ``publish`` (no queue, no task): see :meth:`EventBus.subscribe`.
    inline: bool = False

    def wants(self, event: Event) -> bool:
        """True when ``event`` is of a type this subscriber asked for."""
        if self.accepts is None:
            return isinstance(event, self.types)
        cls = type(event)
        taken = self.taken.get(cls)
        return self.takes(cls) if taken is None else taken

    def takes(self, cls: type[Event]) -> bool:
        """Whether the subscriber takes events of class ``cls``; decided once per class."""
        taken = self.taken.get(cls)
        if taken is None:
            accepts = self.accepts
            taken = issubclass(cls, self.types) and (accepts is None or bool(accepts(cls)))
            self.taken[cls] = taken
        return taken


class EventBus:
    """Publish/subscribe over anyio memory streams. Use as ``async with EventBus() as bus``."""

    #: While a subscriber keeps dropping, report its drops every this many.
    report_every = 1000

    def __init__(self, *, capacity: int = 1024, drain_timeout_s: float = 10.0) -> None:
        if capacity <= 0 and capacity != math.inf:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.drain_timeout_s = drain_timeout_s
        self._subs: list[Subscription] = []
        self._tg: TaskGroup | None = None
        self._closed = False
        self._changed: anyio.Event | None = None
        self._report_send: MemoryObjectSendStream[tuple[Subscription | None, Event]]
        self._report_receive: MemoryObjectReceiveStream[tuple[Subscription | None, Event]]
        self._reports_pending = 0
        self.published = 0
        #: Events published while the bus holds (:meth:`hold`), for the queued subscribers;
        #: None when it does not hold.
        self._held: list[Event] | None = None
        #: How many events were released before the first one held (:attr:`held_total`).
        self._released = 0

    def subscribe(
        self,
        name: str,
        handler: Handler,
        *,
        types: tuple[type[Event], ...] = (Event,),
        lossless: bool = False,
        accepts: Callable[[type[Event]], bool] | None = None,
        inline: bool = False,
    ) -> Subscription:
        """Add a subscriber. Must be called before the bus starts or while it runs.

        ``lossless`` subscribers apply back-pressure instead of being dropped for (use it only
        for a subscriber that must see everything and cannot hang, like the journal).
        ``accepts(cls)`` (called once per event class) is False for a class of events of
        ``types`` the handler would do nothing with (a notifier's events below its
        severity): they are never queued for this subscriber, so they cost it nothing.
        ``inline`` subscribers are plain functions called inside ``publish`` as each event is
        published, in publish order (no queue, no task; never dropped for): for a handler
        whose work must take its place among the publisher's own (the journal's sequence
        numbers) and that never waits.
        """
        if inline and inspect.iscoroutinefunction(handler):
            raise ValueError(f"inline subscriber '{name}' must be a plain function, not async")
        # The stream itself is unbounded: fullness is counted in events (``queued``), since an
        # item may hold many of them.
        send, receive = anyio.create_memory_object_stream[Any](math.inf)
        sub = Subscription(
            name=name,
            handler=handler,
            types=types,
            send=send,
            receive=receive,
            is_async=inspect.iscoroutinefunction(handler),
            lossless=lossless or inline,
            accepts=accepts,
            inline=inline,
        )
        if inline:  # no queue: its streams are never used
            send.close()
            receive.close()
        self._subs.append(sub)
        if self._tg is not None and not inline:
            self._tg.start_soon(self._drain, sub)
        return sub

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every subscriber, in subscription order."""
        return list(self._subs)

    @property
    def dropped(self) -> dict[str, int]:
        """Events dropped per subscriber name (subscribers that dropped none are left out)."""
        return {s.name: s.dropped for s in self._subs if s.dropped}

    def dispose(self) -> None:
        """Close the queues of a bus that never started (a run that failed before it)."""
        if self._tg is None:
            for sub in self._subs:
                sub.send.close()
                sub.receive.close()

    async def __aenter__(self) -> EventBus:
        # Created here, not in __init__: a bus that never starts leaves no stream to close.
        self._report_send, self._report_receive = anyio.create_memory_object_stream[
            tuple[Subscription | None, Event]
        ](math.inf)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._reporter)
        for sub in self._subs:
            if not sub.inline:
                self._tg.start_soon(self._drain, sub)
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        assert self._tg is not None
        if exc[0] is not None and not isinstance(exc[1], Exception):
            # Cancelled or interrupted: deliver nothing more, stop the tasks.
            self._closed = True
            self._tg.cancel_scope.cancel()
        else:
            await self.close()
        return await self._tg.__aexit__(*exc)

    # -- holding ----------------------------------------------------------------------------
    def hold(self) -> None:
        """From now on hand published events to the inline subscribers at once and hold them
        for the queued ones until :meth:`release` (a no-op when the bus holds already)."""
        if self._held is None:
            self._held = []

    @property
    def holding(self) -> bool:
        """True between :meth:`hold` and ``release(stop=True)``."""
        return self._held is not None

    @property
    def held(self) -> int:
        """Events held for the queued subscribers (:meth:`hold`)."""
        return 0 if self._held is None else len(self._held)

    @property
    def held_total(self) -> int:
        """Events held since :meth:`hold` (released ones included): where the next one held
        will stand, for ``release(upto=...)``."""
        return self._released + self.held

    async def release(self, *, upto: int | None = None, stop: bool = False) -> None:
        """Queue the held events for the queued subscribers, in publish order (as
        :meth:`publish_many` would have; the inline subscribers had them already): all of
        them, or those held before :attr:`held_total` was ``upto``; ``stop``: all, and hold
        no more."""
        held = self._held
        if held is None:
            return
        n = len(held) if upto is None or stop else max(0, min(len(held), upto - self._released))
        if stop:
            self._held = None
        elif n == len(held):
            self._held = []
        else:
            self._held = held[n:]
            held = held[:n]
        self._released += n
        if n:
            await self._queue_many(held)

    def _inline_many(self, events: Sequence[Event]) -> None:
        """Hand ``events`` to the inline subscribers that want them, in order."""
        for sub in self._subs:
            if not sub.inline:
                continue
            if sub.accepts is not None or sub.types != (Event,):
                for event in events:
                    if isinstance(event, sub.types) and (
                        sub.accepts is None or sub.takes(type(event))
                    ):
                        self._call(sub, event)
                continue
            # A subscriber of every event (the engine's journal): :meth:`_call` of each in
            # turn without a call per event; the same counts, and a raising event reported
            # and passed over as there.
            handler = sub.handler
            for event in events:
                try:
                    result = handler(event)
                    if result is not None and isawaitable(result):
                        close = getattr(result, "close", None)
                        if close is not None:
                            close()
                        raise TypeError("an inline subscriber's handler returned an awaitable")
                    sub.delivered += 1
                except Exception as exc:
                    sub.failed += 1
                    self._report_failure(sub, event, exc)

    # -- publishing -------------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Queue ``event`` for every interested subscriber. Never waits for a subscriber except
        a lossless one whose queue is full."""
        if self._closed:
            raise RuntimeError(f"event bus is closed; cannot publish {type(event).__name__}")
        self.published += 1
        held = self._held
        if held is not None:
            self._inline_many((event,))
            held.append(event)
            return
        capacity = self.capacity
        for sub in self._subs:
            if not isinstance(event, sub.types):
                continue
            if sub.accepts is not None and not sub.takes(type(event)):
                continue
            if sub.inline:
                self._call(sub, event)
                continue
            if sub.queued < capacity and not sub.cancelled and not sub.unreported:
                # The everyday case inline (a queue with room): no coroutine per delivery.
                sub.send.send_nowait(event)
                sub.queued += 1
                sub.pending += 1
                continue
            await self._deliver(sub, event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish ``events`` in order: what :meth:`publish` of each in turn gives every
        subscriber (each handler sees each event it wants, in order; drops and back-pressure
        per event), with one hand-over per subscriber when its queue has room for all the
        events it wants of them."""
        if not events:
            return
        if self._closed:
            raise RuntimeError(f"event bus is closed; cannot publish {type(events[0]).__name__}")
        self.published += len(events)
        held = self._held
        if held is not None:
            self._inline_many(events)
            held.extend(events)
            return
        await self._queue_many(events, inline=True)

    async def _queue_many(self, events: Sequence[Event], *, inline: bool = False) -> None:
        """:meth:`publish_many`'s hand-over to the subscribers (``inline``: to the inline
        ones too; a release hands the held events to the queued ones only)."""
        capacity = self.capacity
        events = list(events)  # one list, shared by the subscribers' queues (never changed)
        for sub in self._subs:
            if sub.inline and not inline:
                continue
            types = sub.types
            if sub.accepts is not None:
                taken = sub.taken
                try:
                    wanted = [e for e in events if taken[type(e)]]
                except KeyError:  # a class not seen yet: decide it once
                    takes = sub.takes
                    wanted = [e for e in events if takes(type(e))]
                if not wanted:
                    continue
            elif types == (Event,):
                wanted = events
            else:
                wanted = [e for e in events if isinstance(e, types)]
                if not wanted:
                    continue
            if sub.inline:
                for event in wanted:
                    self._call(sub, event)
                continue
            n = len(wanted)
            if sub.queued + n <= capacity and not sub.cancelled and not sub.unreported:
                sub.send.send_nowait(wanted if n > 1 else wanted[0])
                sub.queued += n
                sub.pending += n
                continue
            for event in wanted:  # the queue fills on the way: event by event
                if sub.queued < capacity and not sub.cancelled and not sub.unreported:
                    sub.send.send_nowait(event)
                    sub.queued += 1
                    sub.pending += 1
                else:
                    await self._deliver(sub, event)

    def _call(self, sub: Subscription, event: Event) -> None:
        """Hand ``event`` to an inline subscriber: its handler called now."""
        try:
            result = sub.handler(event)
            if result is not None and isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # never awaited: no "coroutine was never awaited" warning
                raise TypeError("an inline subscriber's handler returned an awaitable")
            sub.delivered += 1
        except Exception as exc:  # a subscriber's bug must not stop the publisher
            sub.failed += 1
            self._report_failure(sub, event, exc)

    async def _deliver(self, sub: Subscription, event: Event) -> None:
        if sub.inline:
            self._call(sub, event)
            return
        if sub.cancelled:
            self._drop(sub, event.ts_ns)
            return
        if sub.queued >= self.capacity:
            if sub.lossless:
                while sub.queued >= self.capacity:  # back-pressure: wait for room
                    # One event for every waiter (the publisher and the reporter may both
                    # wait): the subscriber's task sets it, and the next wait makes a new one.
                    room = sub.room
                    if room is None:
                        room = sub.room = anyio.Event()
                    await room.wait()
            else:
                # Let the subscriber run once: one that keeps up empties its queue now.
                await anyio.lowlevel.checkpoint()
                if sub.queued >= self.capacity or sub.cancelled:
                    self._drop(sub, event.ts_ns)
                    return
        sub.send.send_nowait(event)
        sub.queued += 1
        sub.pending += 1
        if sub.unreported:
            self._report_drops(sub)  # it caught up: say how much it missed

    def _drop(self, sub: Subscription, ts_ns: int) -> None:
        sub.dropped += 1
        if not sub.unreported:
            sub.first_drop_ts = ts_ns
        sub.unreported += 1
        sub.last_drop_ts = ts_ns
        if sub.unreported >= self.report_every:
            self._report_drops(sub)

    def _report_drops(self, sub: Subscription) -> None:
        n, sub.unreported = sub.unreported, 0
        reason = (
            f"subscriber '{sub.name}' was hung at close"
            if sub.cancelled
            else f"queue of subscriber '{sub.name}' was full ({self.capacity} events): it was "
            "slower than the publisher"
        )
        log.warning("bus: %d event(s) not delivered to '%s': %s", n, sub.name, reason)
        report = EventsDropped(
            ts_ns=sub.last_drop_ts,
            subscriber=sub.name,
            count=n,
            first_ts_ns=sub.first_drop_ts,
            last_ts_ns=sub.last_drop_ts,
            reason=reason,
        )
        self._queue_report(sub, report)

    def _queue_report(self, source: Subscription | None, report: Event) -> None:
        self._reports_pending += 1
        self._report_send.send_nowait((source, report))  # unbounded: never waits

    async def _reporter(self) -> None:
        """Deliver failure and drop reports to the subscribers other than their source."""
        async with self._report_receive:
            async for source, report in self._report_receive:
                try:
                    for other in self._subs:
                        if other is not source and not other.cancelled and other.wants(report):
                            await self._deliver(other, report)
                finally:
                    self._reports_pending -= 1
                    self._notify()

    # -- subscribers ------------------------------------------------------------------------
    async def _drain(self, sub: Subscription) -> None:
        capacity = self.capacity
        with anyio.CancelScope() as scope:
            sub.scope = scope
            async with sub.receive:
                while True:
                    try:
                        item = sub.receive.receive_nowait()
                    except anyio.WouldBlock:
                        try:
                            item = await sub.receive.receive()
                        except anyio.EndOfStream:
                            return
                    except anyio.EndOfStream:
                        return
                    # A step's events handed over at once (``publish_many``), or one event.
                    batch = item if type(item) is list else (item,)
                    sub.holding = batch
                    handler = sub.handler
                    for i, event in enumerate(batch):
                        sub.held = i
                        sub.queued -= 1
                        room = sub.room
                        if room is not None and sub.queued < capacity:
                            sub.room = None
                            room.set()
                        try:
                            result = handler(event)
                            if result is not None and (sub.is_async or isawaitable(result)):
                                await result
                            sub.delivered += 1
                        except Exception as exc:  # a subscriber's bug must not stop the others
                            sub.failed += 1
                            self._report_failure(sub, event, exc)
                        finally:
                            if not sub.cancelled:  # close() already counted it as dropped
                                sub.pending -= 1
                            if sub.pending == 0:
                                self._notify()
                    sub.holding = None

    def _report_failure(self, sub: Subscription, event: Event, exc: Exception) -> None:
        detail = (
            f"subscriber '{sub.name}' raised {type(exc).__name__}: {exc} on {type(event).__name__}"
        )
        log.error("%s", detail)
        if isinstance(event, SystemError | EventsDropped):
            # Failing on a report: log it only, or two failing subscribers would ping-pong.
            return
        report = SystemError(ts_ns=event.ts_ns, source=f"bus:{sub.name}", error=detail)
        self._queue_report(sub, report)

    # -- closing ----------------------------------------------------------------------------
    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _wait_until(self, done: Callable[[], bool]) -> None:
        while not done():
            self._changed = anyio.Event()
            await self._changed.wait()

    def _idle(self, *, lossy_too: bool = True) -> bool:
        if self._reports_pending:
            return False
        return not any(s.pending for s in self._subs if (lossy_too or s.lossless))

    async def close(self) -> None:
        """Deliver every queued event (and the reports it causes), then stop accepting events.

        A non-lossless subscriber still busy after ``drain_timeout_s`` is cancelled; what was
        queued for it is counted as dropped and reported to the others.
        """
        if self._closed:
            return
        await self.release(stop=True)  # what a run's end left held is delivered too
        with anyio.move_on_after(self.drain_timeout_s):
            await self._wait_until(self._idle)
        for sub in self._subs:
            if sub.pending and not sub.lossless and not sub.cancelled:
                sub.cancelled = True
                if sub.scope is not None:
                    sub.scope.cancel()
                # What is still queued is not delivered; the event in its hands neither.
                stamps = []
                if sub.holding is not None:  # the event in its hands, and the rest of its run
                    stamps += [e.ts_ns for e in sub.holding[sub.held :]]
                while True:
                    try:
                        item = sub.receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                        break
                    if type(item) is list:
                        stamps += [e.ts_ns for e in item]
                    else:
                        stamps.append(item.ts_ns)
                sub.queued = 0
                stamps += [stamps[-1] if stamps else sub.last_drop_ts] * (sub.pending - len(stamps))
                for ts in stamps:
                    self._drop(sub, ts)
                sub.pending = 0
        for _ in range(3):  # reports can be dropped too (and reported): a few rounds settle it
            for sub in self._subs:
                if sub.unreported:
                    self._report_drops(sub)
            await self._wait_until(lambda: self._idle(lossy_too=False))
            with anyio.move_on_after(self.drain_timeout_s):
                await self._wait_until(self._idle)
            if not any(s.unreported for s in self._subs):
                break
        self._closed = True
        self._report_send.close()
        for sub in self._subs:
            await sub.send.aclose()
