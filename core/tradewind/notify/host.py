"""The notifier host: routes bus events to every notifier through its own queue and task.

For each notifier instance it keeps a channel:

- The channel's bus handler is synchronous and never waits: it routes the event
  (:class:`~tradewind.notify.routing.Router`) and puts each resulting message on the
  channel's bounded queue. A full queue does not block and loses nothing: the message is kept
  for the outbox, and the channel's task reads the outbox once it has caught up. So the
  decision path (which publishes to the bus) never waits for a notifier, and a slow notifier
  never delays another.
- The channel's writer task writes the messages routed since its last write to the outbox
  (one committed statement, in a worker thread) as they come; the delivery task sends a
  message only once it is written, one message at a time: rate limit, ``deliver``; a
  transient failure is retried with exponential backoff (or after the channel's
  ``retry_after``); a permanent one, or running out of attempts, marks the row undelivered
  with the reason and logs one error. Deliveries are
  marked sent in batches (whenever the queue runs empty, and every 256).
- What a crash can do: a message routed in the last moments before it and not yet written is
  lost, exactly like an event still in the bus's queue; a message delivered but not yet marked
  sent is delivered again after the restart, with the same id (webhook
  ``X-Tradewind-Delivery``, email ``Message-ID``), so a receiver can drop it.
- At start each channel first sends what an earlier run left pending in the outbox.

Notifiers that are not outbox notifiers (the core's log notifier, older plugins) get a bounded
queue of events and a task calling ``notify``. They keep the bus's contract: nothing is
dropped, and a notifier that falls behind by more than its queue and its bus queue makes the
publisher wait — write an outbox notifier to be isolated from the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from tradewind.clock import Clock
from tradewind.model import Event, Severity
from tradewind.notify.message import Message, RetryLater, Undeliverable
from tradewind.notify.outbox import Outbox
from tradewind.notify.ratelimit import RateLimit
from tradewind.notify.routing import NotifierOptions, Router, SummarySource

log = logging.getLogger("tradewind.notify")

#: How often (seconds of loop time) due digests and daily summaries are looked for.
TICK_S = 0.25


def is_outbox_notifier(notifier: Any) -> bool:
    """True for notifiers that deliver rendered messages through the outbox."""
    return "outbox" in getattr(notifier, "capabilities", ()) and callable(
        getattr(notifier, "deliver", None)
    )


class OutboxChannel:
    """One outbox notifier instance: its router, queue, rate limit and delivery task."""

    def __init__(
        self,
        key: str,
        notifier: Any,
        outbox: Outbox,
        clock: Clock,
        summary_source: SummarySource | None,
    ) -> None:
        self.key = key
        self.notifier = notifier
        self.outbox = outbox.fork()  # this channel's own connection, used from worker threads
        self.clock = clock
        options: NotifierOptions = notifier.config
        self.options = options
        self.router = Router(key, options, summary_source=summary_source)
        self.limit: RateLimit = notifier.rate_limit()
        self._send: MemoryObjectSendStream[tuple[int, Message]]
        self._receive: MemoryObjectReceiveStream[tuple[int, Message]]
        self._send, self._receive = anyio.create_memory_object_stream[tuple[int, Message]](
            options.queue_size
        )
        # The writer has its own connection: it runs beside the delivery task's DB calls.
        self._writer = outbox.fork()
        self._submitted = 0  # messages routed so far
        self._written = 0  # of which this many are in the outbox
        self._dirty = anyio.Event()
        self._wrote = anyio.Event()
        self._overflowed = False
        self._done: set[str] = set()
        self._open: set[str] = set()
        self._unwritten: list[Message] = []
        self._sent: list[tuple[str, int, int]] = []
        self.sent = 0
        self.undelivered = 0
        self.retries = 0

    # -- the bus side (never waits) ----------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Route ``event`` at its own engine time; queue what is due now."""
        for msg in self.router.route(event, event.ts_ns):
            self.submit(msg)

    def tick(self) -> None:
        """Queue digests and daily summaries that came due."""
        for msg in self.router.due(self.clock.now_ns()):
            self.submit(msg)

    def submit(self, msg: Message) -> None:
        """Queue ``msg`` (or, when the queue is full, leave it for the outbox scan); the
        channel's task writes it to the outbox before sending anything."""
        self._submitted += 1
        self._unwritten.append(msg)
        self._open.add(msg.id)
        self._dirty.set()
        try:
            self._send.send_nowait((self._submitted, msg))
        except anyio.WouldBlock:
            self._overflowed = True

    def flush(self) -> None:
        """Send the digest being collected now (at shutdown)."""
        if self.router.pending_digest():
            self.submit(self.router.flush_digest(self.clock.now_ns()))

    # -- the channel task -------------------------------------------------------------------
    async def run(self) -> None:
        """Deliver what an earlier run left pending, then the queue, forever."""
        await self._drain_outbox(restart=True)
        while True:
            if self._overflowed and self._queue_empty():
                self._overflowed = False
                await self._drain_outbox(restart=False)
                continue
            if self._queue_empty():
                await self._mark_sent()
            index, msg = await self._receive.receive()
            await self._until_written(index)
            if msg.id not in self._done:  # else an outbox scan sent it already
                await self._deliver(msg, 0)
            if len(self._sent) >= 256:
                await self._mark_sent()

    async def write_loop(self) -> None:
        """Write routed messages to the outbox as they come, whatever the delivery task is
        doing (a channel stuck on one request still has everything else on disk)."""
        while True:
            await self._dirty.wait()
            self._dirty = anyio.Event()
            if not self._unwritten:
                continue
            batch, self._unwritten = self._unwritten, []
            upto = self._submitted
            await anyio.to_thread.run_sync(self._writer.add_many, batch)
            self._written = upto
            self._wrote.set()
            self._wrote = anyio.Event()

    async def _until_written(self, index: int) -> None:
        while self._written < index:
            await self._wrote.wait()

    async def _mark_sent(self) -> None:
        if self._sent:
            batch, self._sent = self._sent, []
            try:
                await anyio.to_thread.run_sync(self.outbox.mark_sent_many, batch)
            except BaseException:
                self._sent[:0] = batch  # not written: kept for the next try or for shutdown
                raise

    def write_now(self) -> None:
        """Write what is routed and what is sent (at shutdown, on the event loop's thread)."""
        batch, self._unwritten = self._unwritten, []
        self._writer.add_many(batch)
        sent, self._sent = self._sent, []
        self.outbox.mark_sent_many(sent)

    def close_db(self) -> None:
        """Close this channel's outbox connections."""
        self._writer.close()
        self.outbox.close()

    @property
    def outstanding(self) -> int:
        """Messages routed (or found pending) and not yet sent or given up."""
        return len(self._open)

    def _queue_empty(self) -> bool:
        return self._receive.statistics().current_buffer_used == 0

    async def _drain_outbox(self, *, restart: bool) -> None:
        await self._until_written(self._submitted)
        await self._mark_sent()
        pending = await anyio.to_thread.run_sync(self.outbox.pending, self.key)
        for msg, attempts in pending:
            if msg.id in self._done:
                continue
            if restart:
                self._open.add(msg.id)
            await self._deliver(msg, attempts)

    async def _deliver(self, msg: Message, attempts: int) -> None:
        opts = self.options
        while True:
            await self.limit.acquire()
            attempts += 1
            try:
                await self.notifier.deliver(msg)
            except Undeliverable as exc:
                self._give_up(msg, attempts, self._redact(str(exc)))
                return
            except Exception as exc:  # transient, or a plugin bug: retried, then given up
                retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
                if isinstance(exc, RetryLater):
                    reason = self._redact(str(exc))
                else:
                    reason = self._redact(f"{type(exc).__name__}: {exc}")
                if attempts >= opts.max_attempts:
                    self._give_up(msg, attempts, f"gave up after {attempts} attempts: {reason}")
                    return
                self.retries += 1
                self.outbox.note_attempt(msg.id, attempts, reason, self.clock.now_ns())
                if retry_after is not None:
                    self.limit.block_for(retry_after)
                    log.info(
                        "notifier '%s' asked to wait %.3f s (%s); message %s kept",
                        self.key,
                        retry_after,
                        reason,
                        msg.id,
                    )
                else:
                    delay = min(opts.retry_initial_s * 2 ** (attempts - 1), opts.retry_max_s)
                    log.warning(
                        "notifier '%s' delivery of %s failed (attempt %d, retry in %.1f s): %s",
                        self.key,
                        msg.id,
                        attempts,
                        delay,
                        reason,
                    )
                    await anyio.sleep(delay)
            else:
                self._sent.append((msg.id, attempts, self.clock.now_ns()))
                self._done.add(msg.id)
                self._open.discard(msg.id)
                self.sent += 1
                return

    def _give_up(self, msg: Message, attempts: int, reason: str) -> None:
        self.outbox.mark_undelivered(msg.id, attempts, reason, self.clock.now_ns())
        self._done.add(msg.id)
        self._open.discard(msg.id)
        self.undelivered += 1
        log.error(
            "notifier '%s' could not deliver %s message %s (journaled as undelivered): %s",
            self.key,
            msg.kind,
            msg.id,
            reason,
        )

    def _redact(self, text: str) -> str:
        redact = getattr(self.notifier, "redact", None)
        return redact(text) if callable(redact) else text


class EventChannel:
    """A notifier without the outbox: a bounded queue of events and a task calling notify."""

    def __init__(self, key: str, notifier: Any, queue_size: int = 1000) -> None:
        self.key = key
        self.notifier = notifier
        raw = getattr(getattr(notifier, "config", None), "min_severity", "info")
        self.threshold = Severity[str(raw).upper()] if isinstance(raw, str) else Severity(raw)
        self._send, self._receive = anyio.create_memory_object_stream[Event](queue_size)
        self.outstanding = 0

    def accepts(self, cls: type[Event]) -> bool:
        """False when no event of class ``cls`` is severe enough for this channel (the bus
        then never hands it one): its severity is the class's own value. A class whose
        severity may be each event's own — a field, a property, events with a ``__dict__``
        to hold one — is taken, and :meth:`on_event` decides per event, as for every event
        before."""
        severity = getattr(cls, "severity", None)
        if (
            not isinstance(severity, int)
            or cls.__dictoffset__ != 0
            or (attrs.has(cls) and any(f.name == "severity" for f in attrs.fields(cls)))
        ):
            return True
        return severity >= self.threshold

    def on_event(self, event: Event) -> Awaitable[None] | None:
        """Queue ``event`` if it is severe enough, waiting while the queue is full (the bus's
        back-pressure, as before the outbox existed: nothing is dropped). Returns what the bus
        must await when the queue is full (the send), else None: no coroutine per event."""
        if event.severity < self.threshold:
            return None
        self.outstanding += 1
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            return self._send.send(event)
        return None

    def tick(self) -> None:
        """Nothing is due on a timer."""

    def flush(self) -> None:
        """Nothing is collected."""

    def write_now(self) -> None:
        """Nothing is kept."""

    def close_db(self) -> None:
        """No connection."""

    async def run(self) -> None:
        """Call ``notify`` for each queued event; a failure is logged and the next goes on."""
        receive = self._receive
        async with receive:
            while True:
                # What is queued is taken without a checkpoint per event (anyio's receive()
                # yields to the loop every time); the task waits only on an empty queue.
                try:
                    event = receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        event = await receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                try:
                    await self.notifier.notify(event)
                except Exception as exc:  # a notifier's bug must not stop the others
                    log.error(
                        "notifier '%s' raised %s: %s on %s",
                        self.key,
                        type(exc).__name__,
                        exc,
                        type(event).__name__,
                    )
                finally:
                    self.outstanding -= 1


class NotifierHost:
    """Every notifier of a run. ``async with host:`` starts them and their tasks; leaving
    waits up to each notifier's ``close_timeout_s`` for queued messages, then closes them."""

    def __init__(
        self,
        notifiers: Mapping[str, Any],
        *,
        clock: Clock,
        outbox: Outbox | None = None,
        control: Any = None,
        summary_source: SummarySource | None = None,
        close_outbox: bool = False,
        ticker: bool = True,
    ) -> None:
        self.notifiers = dict(notifiers)
        #: Route due messages on a real-time timer (paper, live). A backtest has no real
        #: time to wait on: the engine calls :meth:`tick` after each step instead.
        self.ticker = ticker
        self._outbox = outbox
        self._close_outbox = close_outbox
        self.clock = clock
        self.control = control
        self.channels: dict[str, OutboxChannel | EventChannel] = {}
        for key, notifier in self.notifiers.items():
            if is_outbox_notifier(notifier):
                if outbox is None:
                    raise ValueError(f"notifier '{key}' delivers through the outbox; give one")
                notifier.instance = key
                notifier.control = control
                self.channels[key] = OutboxChannel(key, notifier, outbox, clock, summary_source)
            else:
                self.channels[key] = EventChannel(key, notifier)
        self._tg: TaskGroup | None = None
        #: True once ``async with`` entered: the host then closes the notifiers itself.
        self.entered = False

    def subscribe(self, bus: Any) -> None:
        """One bus subscriber per notifier; each handler returns at once. A notifier without
        the outbox is never handed the events its severity threshold refuses (the bus
        filters them by class: :meth:`EventChannel.accepts`); an outbox notifier's router
        sees every event (digests and summaries come due at events' times)."""
        for key, ch in self.channels.items():
            if isinstance(ch, EventChannel):
                bus.subscribe(f"notifier:{key}", ch.on_event, accepts=ch.accepts)
            else:
                bus.subscribe(f"notifier:{key}", ch.on_event)

    async def __aenter__(self) -> NotifierHost:
        self.entered = True
        try:
            for notifier in self.notifiers.values():
                await notifier.start()
        except BaseException:
            self.entered = False  # not started: the engine closes the notifiers itself
            raise
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        for key, ch in self.channels.items():
            self._tg.start_soon(self._guard, f"notifier '{key}'", ch.run)
            if isinstance(ch, OutboxChannel):
                self._tg.start_soon(self._guard, f"notifier '{key}' outbox", ch.write_loop)
                self._tg.start_soon(self._guard, f"notifier '{key}' background", ch.notifier.run)
        if self.ticker:
            self._tg.start_soon(self._ticker)
        return self

    async def _guard(self, what: str, fn: Any) -> None:
        try:
            await fn()
        except Exception:
            log.exception("%s stopped", what)

    @property
    def timed(self) -> bool:
        """Whether :meth:`tick` can route anything: only an outbox channel has messages that
        come due on the clock (digests, daily summaries); an event channel's tick does
        nothing."""
        return any(isinstance(ch, OutboxChannel) for ch in self.channels.values())

    def tick(self) -> None:
        """Route every channel's due messages (rate limits, digests) at the clock's time."""
        for ch in self.channels.values():
            try:
                ch.tick()
            except Exception:
                log.exception("notifier '%s' failed routing due messages", ch.key)

    async def _ticker(self) -> None:
        while True:
            await anyio.sleep(TICK_S)
            self.tick()

    async def __aexit__(self, *exc: Any) -> None:
        assert self._tg is not None
        try:
            if exc[0] is None:
                for ch in self.channels.values():
                    ch.flush()
                await self.wait_idle()
        finally:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            for ch in self.channels.values():
                try:
                    ch.write_now()
                except Exception:
                    log.exception("notifier '%s': writing the outbox at shutdown failed", ch.key)
            self.release()
            for notifier in self.notifiers.values():
                try:
                    await notifier.close()
                except Exception:
                    log.exception("closing notifier %s failed", type(notifier).__name__)

    def release(self) -> None:
        """Close the channels' outbox connections, and the outbox given with
        ``close_outbox=True`` (idempotent; also for a run that ends before the host started)."""
        for ch in self.channels.values():
            ch.close_db()
        if self._close_outbox and self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued message is delivered or given up, at most ``timeout``
        seconds (default: each notifier's own ``close_timeout_s``). True when all are done."""
        start = anyio.current_time()

        def limit(ch: OutboxChannel | EventChannel) -> float:
            if timeout is not None:
                return timeout
            return float(getattr(getattr(ch.notifier, "config", None), "close_timeout_s", 5.0))

        while True:
            now = anyio.current_time() - start
            busy = [ch for ch in self.channels.values() if ch.outstanding > 0]
            if not busy:
                return True
            if all(now >= limit(ch) for ch in busy):
                break
            await anyio.sleep(0.01)
        log.warning(
            "notifier(s) %s still had messages at shutdown; they stay pending in the outbox",
            ", ".join(ch.key for ch in busy),
        )
        return False
