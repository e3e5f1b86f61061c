"""Venue calls off the engine loop: order creates, the lookups of orders in doubt and the
reads of periodic re-reconciliation run in tasks of their own, so a slow venue, a rate-limit
backoff or a create whose outcome is unknown never holds the loop (exits keep being
evaluated meanwhile).

The order itself is opened on the loop (:meth:`OrderManager.open`: recorded, journaled,
its instrument blocked for entries) before its task starts; what the task learns reaches the
order manager's pending events, published by the engine's next step.

**Hand-over.** An order that the journal holds written ahead (:meth:`Journal.written_ahead`:
its record ``fdatasync``'d in the intent log) is durable already, so its create need not wait
for the step's DuckDB commit. But a task only runs when the engine yields, and the rest of the
step — its decisions, then its group commit (a synchronous DuckDB transaction: milliseconds,
tens under load) — runs on the loop before the engine yields again. :meth:`VenueCalls.hand_over`
therefore lets the create's task run first: the engine gives it up to :data:`HAND_OVER_TURNS`
turns of the event loop, in which it builds, signs and writes its request, before the step
goes on. Without the intent log the order is committed before it is sent (:meth:`submit`), as
before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from tradewind.model import Order
from tradewind.trading.orders import OrderManager

log = logging.getLogger("tradewind.trading.venue_calls")

T = TypeVar("T")

#: Turns of the event loop a handed-over create gets before the engine goes on with its step
#: (:meth:`VenueCalls.hand_over`). A create is a chain of awaits (the venue's rate limiter, the
#: HTTP client's connection pool, its write task); each that is ready at once costs one turn,
#: and ccxt's ``create_order`` on a kept-alive aiohttp connection writes its request in
#: 2 turns (``bench/bench_hand_over.py``). Once it waits on the network or on its rate
#: limiter, further turns buy nothing — they cost microseconds each while nothing else is
#: ready. The bound is what a handed-over order can delay its own step's DuckDB commit (and
#: every event of the step, published after that commit): a create that waits for its rate
#: limiter or a slow connection must not hold the step, so the step goes on after these turns
#: whether or not the request has left, and the order's rows are committed with it.
HAND_OVER_TURNS = 8


class VenueCalls:
    """A task group for the order manager's venue calls (paper and live runs).

    Leaving the block waits for the calls in flight (each is bounded by the order settings'
    call timeout, retries and backoff), so an order in flight when the feed ends is resolved
    or reported in doubt before the run stops."""

    def __init__(
        self,
        orders: OrderManager,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        *,
        hand_over_turns: int = HAND_OVER_TURNS,
    ) -> None:
        self.orders = orders
        #: Turns of the loop :meth:`hand_over` gives a create written ahead (0: none, the
        #: create's task runs only when the engine next yields, after its step's commit —
        #: the order of things before hand-over).
        self.hand_over_turns = hand_over_turns
        #: Client order ids whose create task has not ended.
        self.sending: set[str] = set()
        self._sleep = sleep or anyio.sleep
        self._tg: TaskGroup | None = None
        self._resolving = False
        self._resolver = anyio.CancelScope()
        self._drained = anyio.Event()
        #: Creates in flight (sent from a task, not answered yet).
        self.in_flight = 0
        self._reading = False
        self._reader = anyio.CancelScope()

    async def __aenter__(self) -> VenueCalls:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        # The creates in flight are waited for, whatever ended the block (a feed that failed
        # must not cancel a create half-way: its outcome would be unknown); the resolver's
        # lookups are not (an order still in doubt is the stop sequence's to report).
        with anyio.CancelScope(shield=True):
            while self.in_flight:
                await self._drained.wait()
        tg, self._tg = self._tg, None
        self._resolver.cancel()
        self._reader.cancel()  # a read in flight is of no use once the run stops
        try:
            return await tg.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # The block's own error, not a group of one (the tasks never raise).
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    def submit(self, venue: object, order: Order, ts_ns: int, exit_reason: str = "") -> bool:
        """Open ``order`` now (journaled: written ahead or committed) and send it in a task
        that starts when the engine next yields; False when its id was opened already."""
        if self.orders.open(venue, order, ts_ns, exit_reason) is not None:
            return False  # that id was opened already
        assert self._tg is not None, "VenueCalls used outside its block"
        if not self.in_flight:
            self._drained = anyio.Event()
        self.in_flight += 1
        self.sending.add(order.client_order_id)
        self._tg.start_soon(self._send, venue, order, exit_reason)
        return True

    async def hand_over(
        self, venue: object, order: Order, ts_ns: int, exit_reason: str = ""
    ) -> bool:
        """Open ``order`` and send it; when the journal holds it written ahead, let its create
        run before the caller's step goes on (up to :attr:`hand_over_turns` turns of the
        loop, fewer when the create ends sooner), so the request leaves before the step's
        DuckDB commit. True when the order was handed over that way; False when it was
        committed before sending (no intent log), not sent (its id was opened already), or
        :attr:`hand_over_turns` is 0 — then the task starts at the engine's next yield, as
        :meth:`submit`'s does."""
        if not self.submit(venue, order, ts_ns, exit_reason):
            return False
        cid = order.client_order_id
        journal = self.orders.journal
        if journal is None or cid not in journal.written_ahead():
            # Committed already (or not journaled at all): nothing to hand over early.
            await anyio.lowlevel.checkpoint()
            return False
        if self.hand_over_turns <= 0:
            return False  # commit first: the task runs at the engine's next yield
        turns = 0
        while True:
            await anyio.lowlevel.checkpoint()
            turns += 1
            if turns >= self.hand_over_turns or cid not in self.sending:
                return True

    async def _send(self, venue: object, order: Order, exit_reason: str) -> None:
        try:
            await self.orders.send(venue, order, exit_reason)
        except Exception as exc:
            # Already an OrderFailed event, or an order in doubt that poll() keeps asking
            # about: what remains is the log line, as for an order sent on the loop.
            log.error("order %s failed: %s", order.client_order_id, exc)
        finally:
            self.sending.discard(order.client_order_id)
            self.in_flight -= 1
            if not self.in_flight:
                self._drained.set()
            if self._tg is not None:
                self.poll()  # in doubt: resolve it now, whether or not the feed moves

    def read(self, fetch: Callable[[], Awaitable[T]], done: Callable[[T], None]) -> bool:
        """Run ``fetch`` (venue reads, e.g. a re-reconciliation round) in a task and hand its
        result to ``done``; False (nothing started) while an earlier read is still running.
        ``done`` should only keep the result: the engine applies it at its next step, on the
        loop. A read that fails is logged and dropped (the next round asks again)."""
        if self._reading or self._reader.cancel_called:
            return False
        assert self._tg is not None, "VenueCalls used outside its block"
        self._reading = True
        self._tg.start_soon(self._read, fetch, done)
        return True

    async def _read(self, fetch: Callable[[], Awaitable[T]], done: Callable[[T], None]) -> None:
        try:
            with self._reader:
                done(await fetch())
        except Exception:
            log.exception("reading from the venues failed")
        finally:
            self._reading = False

    def poll(self) -> None:
        """Resolve the orders in doubt in a task that asks every ``resolve_interval_s`` while
        any is (so a quiet feed does not stall it); a no-op when none is or it runs."""
        if self._resolving or not self.orders.unresolved() or self._resolver.cancel_called:
            return
        assert self._tg is not None, "VenueCalls used outside its block"
        self._resolving = True
        self._tg.start_soon(self._poll)

    async def _poll(self) -> None:
        try:
            with self._resolver:
                while self.orders.unresolved():
                    await self.orders.poll()
                    await self._sleep(self.orders.settings.resolve_interval_s)
                    # Always let the loop run, even with a sleep that does not wait.
                    await anyio.lowlevel.checkpoint()
        except Exception:
            log.exception("resolving the orders in doubt failed")
        finally:
            self._resolving = False
