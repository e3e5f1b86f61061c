"""The order manager: client order ids, the order state machine, retries, circuit breakers,
timeouts that never duplicate an order, and fills booked once.

It is the venues' :class:`~tradewind.protocols.EventSink`. Venue callbacks are synchronous;
the events they cause are queued and published by the engine after each step
(:meth:`OrderManager.take_events`), so delivery order is deterministic.

The state machine (:data:`TRANSITIONS`)::

    new ──▶ accepted ──▶ partially_filled ──▶ filled
     │         │               │
     └─────────┴───────────────┴──▶ cancelled / expired   (rejected: from new or accepted)

A report that repeats the current state is a no-op; a report that asks for a move the table
does not allow, or names an order this host does not know, becomes a
:class:`~tradewind.model.SystemError` event and an ``order_events`` row, never an exception.
A fill moves its order to partially filled or filled by itself (venues often send the fill
before the order update); the update that follows is then a repeat.

With a journal attached (:meth:`OrderManager.attach_journal`), every order is journaled before
it is sent and every fill before it reaches the portfolio.

This module holds the sending and the resolving of orders whose outcome is unknown; the other
jobs live next to it, one module each: the state machine (:mod:`tradewind.trading.order_state`),
retry and circuit-breaker policy (:mod:`tradewind.trading.order_retry`), settled cancels
(:mod:`tradewind.trading.order_cancel`), fill booking
(:mod:`tradewind.trading.fill_booking`) and journaling (:mod:`tradewind.trading.order_journal`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import anyio

from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueNotSentError,
    VenueRateLimitedError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.journal.store import Journal, OrderRecord, opened_record
from tradewind.model import (
    Event,
    Order,
    OrderFailed,
    OrderReport,
    OrderSubmitted,
    SystemError,
)
from tradewind.model.frozen import builder
from tradewind.trading.fill_booking import FillBooking
from tradewind.trading.history import TradeHistory
from tradewind.trading.order_cancel import CancelSettling, CancelUnsettledError
from tradewind.trading.order_retry import (
    BreakerPolicy,
    CircuitOpenError,
    OrderSettings,
    RetryPolicy,
    VenueCalls,
    _Breaker,
    venue_key,
)
from tradewind.trading.order_state import _S, TRANSITIONS, OrderStateMachine, is_legal
from tradewind.trading.portfolio import Portfolio

__all__ = [
    "TRANSITIONS",
    "BreakerPolicy",
    "CancelUnsettledError",
    "CircuitOpenError",
    "OrderManager",
    "OrderSettings",
    "RetryPolicy",
    "is_legal",
    "venue_key",
]

log = logging.getLogger("tradewind.trading.orders")

#: A new order's event, built through its slots (:mod:`tradewind.model.frozen`).
_order_submitted = builder(OrderSubmitted, ("ts_ns", "order"))


class OrderManager(CancelSettling, FillBooking, VenueCalls):
    """Sends orders, runs their state machine, books fills (once each) into the portfolio.

    ``sleep`` and ``clock`` (monotonic seconds) are injected so retries and breaker cooldowns
    are deterministic in tests; ``id_prefix`` defaults to ``tw-<run id[:12]>``.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        run_id: str,
        *,
        settings: OrderSettings | None = None,
        journal: Journal | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        id_prefix: str | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.run_id = run_id
        self.settings = settings or OrderSettings()
        self._sleep = sleep or anyio.sleep
        self._clock = clock or time.monotonic
        self.id_prefix = id_prefix or f"tw-{run_id[:12]}"
        self._seq = 0
        #: The last id made (:meth:`next_client_order_id`), its prefix and number.
        self._made: tuple[str, str, int] = ("", "", 0)
        #: Open orders and the recent finished ones (:data:`KEEP_FINISHED`; older finished
        #: orders are released once journaled and read back from the journal when asked).
        self.records: dict[str, OrderRecord] = {}
        self.orders: dict[str, Order] = {}
        self.order_tags: dict[str, str] = {}
        self._keys_of: dict[str, list[tuple[str, str]]] = {}
        self._finished: deque[str] = deque()
        self.released = 0
        self._released_seq = -1
        self.history = TradeHistory()  # every fill and trade; the engine may bound it
        self.pending: list[Event] = []
        self.exit_reasons: dict[str, str] = {}
        self._realized_at_open: dict[str, Decimal] = {}
        self._fill_keys: set[tuple[str, str]] = set()
        self._booked: dict[str, Decimal] = {}
        self._venues: dict[str, Any] = {}
        #: Per venue key, what sends an order instead of the venue's ``submit_order`` (the
        #: best-execution router of a venue declaring ``swap:evm``; tradewind.execution.host).
        self.submitters: dict[str, Callable[[Order], Awaitable[OrderReport]]] = {}
        self._breakers: dict[str, _Breaker] = {}
        self._unresolved: dict[str, str] = {}  # client order id -> venue key
        self._doubt_since: dict[str, float] = {}  # client order id -> clock when in doubt
        self._not_found_since: dict[str, float] = {}  # ... since the venue says "not found"
        self._alerted: set[str] = set()
        self._last_resolve: float | None = None
        self.duplicate_fills = 0
        #: Each instrument's P&L currency, carried by fill events (the engine sets it).
        self.pnl_currencies: Mapping[str, str] = {}
        self.journal: Journal | None = None
        self.journal_error: str | None = None
        self._ts = 0
        if journal is not None:
            self.attach_journal(journal)

    @property
    def reports(self) -> dict[str, OrderReport]:
        """Each order's state as an OrderReport, by client order id (built when asked: a
        report per order kept for the whole run cost CPU and memory per fill)."""
        return {cid: rec.report() for cid, rec in self.records.items()}

    # -- ids and persistence --------------------------------------------------------------
    def next_client_order_id(self) -> str:
        """The next id: ``<prefix>-<n>``, deterministic within a session and never repeated
        (a restarted session continues after the journal's last ``n``)."""
        self._seq += 1
        cid = f"{self.id_prefix}-{self._seq}"
        self._made = (cid, self.id_prefix, self._seq)
        return cid

    def _id_seq(self, client_order_id: str) -> int | None:
        made, prefix, seq = self._made
        if client_order_id is made and prefix is self.id_prefix:
            return seq  # what the parse below gives for the id just made (n >= 1)
        head, _, tail = client_order_id.rpartition("-")
        if head == self.id_prefix and tail.isdigit():
            return int(tail)
        return None

    def restore(self, journal: Journal) -> None:
        """Take the journal's session state: id sequence, open orders, positions, cash and the
        keys of every booked fill. Call after reconciliation, before trading."""
        self.attach_journal(journal)
        self.id_prefix = f"tw-{journal.session_id[:12]}"
        self._seq = max(self._seq, journal.last_client_order_seq())
        self._fill_keys |= journal.fill_keys()
        for rec in journal.open_orders():
            self.records[rec.client_order_id] = rec
            self._booked[rec.client_order_id] = rec.filled_quantity
            if rec.status is _S.NEW and rec.venue:
                # Sent, never acknowledged: ask the venue (poll) before trusting it either way.
                self._mark_in_doubt(rec.client_order_id, rec.venue)
            if rec.order is not None:
                self.orders[rec.client_order_id] = rec.order
                self.order_tags[rec.client_order_id] = rec.order.tag
                self.portfolio.order_opened(rec.order)
        for pos in journal.positions().values():
            self.portfolio.restore_position(pos)
            self._realized_at_open[pos.instrument] = pos.realized_pnl
        cash = journal.cash()
        if cash is not None:
            self.portfolio.cash = cash
        self.history.begin(self.portfolio.every_position(), self._realized_at_open, self.order_tags)

    def register_venue(self, venue: object) -> None:
        """Know ``venue`` by its key (for resolving orders whose outcome is unknown)."""
        self._venues[venue_key(venue)] = venue

    # -- sending --------------------------------------------------------------------------
    async def submit(
        self, venue: object, order: Order, ts_ns: int, exit_reason: str = ""
    ) -> OrderReport:
        """Send ``order`` through ``venue``.

        The order is journaled (state new) before the venue sees it. A create that certainly
        did not reach the venue (:class:`VenueNotSentError`, rate limits) is retried with
        backoff, bounded; a definite refusal ends it; a create whose outcome is unknown is
        never sent again: the order is looked up (by id, then among the venue's recent orders
        and trades) and stays open, its instrument paused, until :meth:`poll` learns its fate.
        A failure becomes an OrderFailed event and the error is raised.
        """
        known = self.open(venue, order, ts_ns, exit_reason)
        if known is not None:
            return known  # idempotent: the id was sent already
        return await self.send(venue, order, exit_reason)

    def open(
        self, venue: object, order: Order, ts_ns: int, exit_reason: str = ""
    ) -> OrderReport | None:
        """The synchronous half of :meth:`submit`: the order is recorded, journaled (state
        new) and open in the portfolio (its instrument takes no other entry), ready for
        :meth:`send`. Returns the order's report when its id was opened already, else None.

        The engine opens an order on its loop and sends it in a task of its own, so no venue
        call (backoff, a create in doubt, a slow venue) holds the loop."""
        cid = order.client_order_id
        self._ts = max(self._ts, ts_ns)
        seq = self._id_seq(cid)
        # :meth:`_known`, without its call for an id neither in memory nor released.
        known = self.records.get(cid)
        if known is None and self.released:
            known = self._known(cid, seq)
        if known is not None:
            return known.report()
        key = venue_key(venue)
        self._venues[key] = venue
        rec = opened_record(cid, order.instrument, key, order, ts_ns, seq, self.run_id)
        self.orders[cid] = order
        self.order_tags[cid] = order.tag
        if exit_reason:
            self.exit_reasons[order.instrument] = exit_reason
        self.portfolio.order_opened(order)
        self._store(rec, "submitted", None)
        self.pending.append(_order_submitted(ts_ns, order))
        return None

    async def send(self, venue: object, order: Order, exit_reason: str = "") -> OrderReport:
        """The asynchronous half of :meth:`submit`: create ``order`` (recorded by
        :meth:`open`) at ``venue``."""
        cid = order.client_order_id
        key = venue_key(venue)
        if self.journal_error is not None:
            exc: VenueError = VenueError(
                f"order {cid} not sent: the journal cannot record it ({self.journal_error})"
            )
            self._fail_locally(cid, str(exc))
            raise exc
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breaker(key)
        # An open breaker pauses entries; an exit is still tried (it closes risk, and its
        # answer is the breaker's trial).
        is_exit = order.reduce_only or bool(exit_reason) or order.intent == "close"
        # (A closed breaker allows every call: the clock is read only for an open one.)
        if not is_exit and breaker.opened_at is not None and not breaker.allows(self._clock()):
            exc = CircuitOpenError(
                f"order {cid} not sent: the circuit breaker of venue '{key}' is open after "
                f"{breaker.failures} consecutive failures"
            )
            self._fail_locally(cid, str(exc))
            raise exc
        return await self._place(venue, key, cid, is_exit)

    def _fail_locally(self, cid: str, reason: str) -> None:
        """The order never reached the venue: it ends rejected, here."""
        rec = self.records[cid]
        self._finish(rec, _S.REJECTED, reason, kind="failed")
        self.pending.append(OrderFailed(ts_ns=self._ts, client_order_id=cid, reason=reason))

    async def _place(self, venue: Any, key: str, cid: str, is_exit: bool) -> OrderReport:
        """Create ``cid`` at the venue. The outcome of each answer is one of three:

        - a definite refusal (:class:`OrderRejectedError` or another :class:`VenueError`):
          the order ends rejected, the create is never retried;
        - not sent (:class:`VenueNotSentError`, e.g. connection refused, HTTP 429/418): the
          same create is retried after a backoff (at least the venue's ``Retry-After``);
        - outcome unknown (a timeout, a dropped connection, an answer that cannot be parsed,
          a plugin's bug): the create is never sent again, under any id, until the venue
          says what became of it (:meth:`_in_doubt`).
        """
        order = self.records[cid].order
        assert order is not None
        policy = self.settings.retry
        last: BaseException | None = None
        attempt = 0
        submit = self.submitters.get(key, venue.submit_order)
        for attempt in range(1, policy.max_attempts + 1):
            try:
                report: OrderReport = await self._call(
                    venue, key, lambda: submit(order), create=True, trial=is_exit
                )
            except CircuitOpenError as exc:
                # Not called: the order never left this host.
                self._fail_locally(cid, f"order {cid} not sent: {exc}")
                raise
            except OrderRejectedError as exc:
                self._fail_venue(cid, f"rejected by venue '{key}': {exc}")
                raise
            except VenueRateLimitedError as exc:
                last = exc
                wait = max(policy.delay(attempt), exc.retry_after_s or 0.0)
            except VenueNotSentError as exc:
                last = exc
                wait = policy.delay(attempt)
            except (VenueTimeoutError, VenueUnavailableError) as exc:
                return await self._in_doubt(venue, key, cid, exc)
            except VenueError as exc:
                self._fail_venue(cid, f"venue '{key}' refused the order: {exc}")
                raise
            except Exception as exc:  # a venue plugin's bug: the outcome is unknown
                self.pending.append(
                    SystemError(
                        ts_ns=self._ts,
                        source=f"venue:{key}",
                        error=f"submit_order raised {type(exc).__name__}: {exc}",
                    )
                )
                return await self._in_doubt(venue, key, cid, exc)
            else:
                # Not when it is the report the venue has just reported and the record is the
                # one it left: a repeat, which changes nothing (:attr:`_applied`).
                applied, left = self._applied
                if report is not applied or self.records.get(cid) is not left:
                    self._apply(report, "submit")
                return report
            if attempt < policy.max_attempts:
                log.warning(
                    "order %s not sent to venue '%s' (%s); retrying in %.3g s", cid, key, last, wait
                )
                await self._sleep(wait)
        assert last is not None
        reason = (
            f"not sent after {attempt} attempt(s) at venue '{key}' ({type(last).__name__}: {last})"
        )
        self._fail_locally(cid, reason)
        raise type(last)(reason) from last

    async def _in_doubt(self, venue: Any, key: str, cid: str, cause: BaseException) -> OrderReport:
        """The create of ``cid`` may or may not have reached the venue: ask (by id, then among
        its recent orders and the account's trades); when nobody knows, the order stays open
        (its instrument paused) and :meth:`poll` keeps asking. Never resent."""
        self._mark_in_doubt(cid, key)
        found = await self._find(venue, key, cid)
        if found is not None:
            self._settled(cid)
            self._apply(found, "adopted")
            return found
        reason = (
            f"outcome unknown at venue '{key}' ({type(cause).__name__}: {cause}); the order "
            f"is not sent again and stays open (its instrument paused) until the venue says "
            f"what became of it"
        )
        log.warning("order %s: %s", cid, reason)
        self._journal(
            f"order event {cid}",
            lambda j: j.record_order_event(
                cid, ts_ns=self._ts, kind="unresolved", from_status=_S.NEW, detail=reason
            ),
        )
        if isinstance(cause, VenueTimeoutError):
            raise VenueTimeoutError(reason) from cause
        raise VenueUnavailableError(reason) from cause

    async def _find(self, venue: Any, key: str, cid: str) -> OrderReport | None:
        """The venue's report of ``cid``: by id, else by searching its recent orders and the
        account's trades over the create's window (venues with ``"orders:search"``). None
        when not found, or when the venue could not be asked (then the time "not found" is
        reset: only answers count towards concluding that the order never arrived)."""
        rec = self.records[cid]
        try:
            found: OrderReport | None = await self._call(
                venue, key, lambda: venue.fetch_order(rec.instrument, cid)
            )
        except Exception as exc:
            log.warning("lookup of order %s at venue '%s' failed: %s", cid, key, exc)
            self._not_found_since.pop(cid, None)
            return None
        if found is not None:
            return found
        if "orders:search" not in getattr(venue, "capabilities", ()):
            self._not_found_since.setdefault(cid, self._clock())
            return None
        since = rec.order.created_ts_ns if rec.order is not None else 0
        since = since or rec.updated_ts_ns
        try:
            searched: OrderReport | None = await self._call(
                venue, key, lambda: venue.search_order(rec.instrument, cid, since)
            )
        except Exception as exc:
            log.warning("search for order %s at venue '%s' failed: %s", cid, key, exc)
            self._not_found_since.pop(cid, None)
            return None
        if searched is None:
            self._not_found_since.setdefault(cid, self._clock())
        return searched

    def _fail_venue(self, cid: str, reason: str) -> None:
        rec = self.records[cid]
        if rec.is_open:
            self._finish(rec, _S.REJECTED, reason, kind="failed")
        self.pending.append(OrderFailed(ts_ns=self._ts, client_order_id=cid, reason=reason))

    async def _resolve_unresolved(self, key: str | None = None) -> None:
        now = self._clock()
        if (
            self._last_resolve is not None
            and now - self._last_resolve < self.settings.resolve_interval_s
        ):
            return
        self._last_resolve = now
        for cid, vkey in list(self._unresolved.items()):
            if key is not None and vkey != key:
                continue
            venue = self._venues.get(vkey)
            if venue is None:
                continue
            rec = self.records[cid]
            found = await self._find(venue, vkey, cid)
            if found is not None:
                self._settled(cid)
                self._apply(found, "resolved")
                continue
            if not rec.is_open:
                self._settled(cid)
                continue
            since = self._doubt_since.setdefault(cid, now)
            waited = self._clock() - since
            missing = self._clock() - self._not_found_since.get(cid, self._clock())
            if missing >= self.settings.not_found_settle_s:
                self._finish(
                    rec,
                    _S.REJECTED,
                    f"not found at venue '{vkey}' for {missing:.0f} s (by id, among its recent "
                    f"orders and trades): the order never reached it",
                    kind="resolved",
                )
            elif waited >= self.settings.unknown_deadline_s and cid not in self._alerted:
                self._alerted.add(cid)
                error = (
                    f"order {cid} ({rec.instrument}) at venue '{vkey}': outcome still unknown "
                    f"after {waited:.0f} s; {rec.instrument} stays paused until the venue "
                    f"says what became of it (check the exchange)"
                )
                log.critical("%s", error)
                self.pending.append(SystemError(ts_ns=self._ts, source="orders", error=error))

    async def poll(self) -> None:
        """Resolve orders whose outcome is unknown (call periodically, e.g. each decision)."""
        await self._resolve_unresolved(None)

    def unresolved(self) -> list[str]:
        """Client order ids whose outcome at the venue is not known yet."""
        return list(self._unresolved)

    def in_doubt(self) -> bool:
        """``bool(unresolved())`` without the list."""
        return bool(self._unresolved)

    # -- EventSink ------------------------------------------------------------------------
    #: Take an order state change from a venue: :meth:`_apply` of a ``"report"`` itself
    #: (twice per paper order: its acknowledgement and its last state), without a call
    #: between the venue and the state machine.
    on_report = OrderStateMachine._apply

    def on_event(self, event: Event) -> None:
        """Take a venue-level event; it is published with the others."""
        self.pending.append(event)

    def take_events(self) -> list[Event]:
        """Events caused since the last call, in order."""
        out, self.pending = self.pending, []
        return out
