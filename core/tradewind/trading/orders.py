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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

import anyio
import attrs

from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueNotSentError,
    VenueRateLimitedError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.journal.store import Journal, OrderRecord, fill_key
from tradewind.model import (
    CircuitBreaker,
    Event,
    Fill,
    FillEvent,
    Order,
    OrderFailed,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderUpdated,
    PositionChanged,
    PositionClosed,
    SystemError,
)
from tradewind.trading.portfolio import Portfolio

log = logging.getLogger("tradewind.trading.orders")

T = TypeVar("T")

_S = OrderStatus

#: Legal moves of the order state machine. A repeat of the current state is never a move.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset(
            {_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        # Some venues acknowledge first and run risk checks after: accepted → rejected.
        _S.ACCEPTED: frozenset(
            {_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}
        ),
        _S.PARTIALLY_FILLED: frozenset({_S.FILLED, _S.CANCELLED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
    }
)


def is_legal(src: OrderStatus, dst: OrderStatus) -> bool:
    """True when the state machine allows ``src`` → ``dst``."""
    return dst in TRANSITIONS[src]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff for calls that found the venue unavailable
    (or timed out). The wait after failed attempt *n* is
    ``min(max_delay_s, base_delay_s * multiplier ** (n - 1))``."""

    max_attempts: int = 5
    base_delay_s: float = 0.25
    multiplier: float = 2.0
    max_delay_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * self.multiplier ** (attempt - 1))


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """A venue's circuit opens after ``failure_threshold`` consecutive failed calls and stays
    open ``cooldown_s``; then one trial call decides (success closes it, failure reopens it)."""

    failure_threshold: int = 5
    cooldown_s: float = 30.0

    def __attrs_post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {self.cooldown_s}")


@attrs.frozen(kw_only=True)
class OrderSettings:
    """Retries, circuit breaker and the timeout of each venue call."""

    retry: RetryPolicy = attrs.Factory(RetryPolicy)
    breaker: BreakerPolicy = attrs.Factory(BreakerPolicy)
    #: Seconds a venue call may take before it counts as a timeout; None waits forever.
    call_timeout_s: float | None = 10.0
    #: Seconds an order whose create outcome is unknown may stay unknown before a critical
    #: event says so (it stays in doubt, its instrument paused, after that too).
    unknown_deadline_s: float = 60.0
    #: Seconds an order in doubt must be "not found" (by id, among the venue's recent orders
    #: and the account's trades) before it is concluded that it never reached the venue.
    #: Exchanges answer "does not exist" for seconds after accepting an order under load.
    not_found_settle_s: float = 120.0
    #: Least seconds between two attempts to resolve the orders in doubt (:meth:`poll`).
    resolve_interval_s: float = 1.0


class CircuitOpenError(VenueUnavailableError):
    """A venue's circuit breaker is open: the call was not made."""


@attrs.define
class _Breaker:
    name: str
    policy: BreakerPolicy
    failures: int = 0
    opened_at: float | None = None
    half_open_announced: bool = False

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.policy.cooldown_s


def venue_key(venue: object) -> str:
    """The name a venue goes by in ids, breakers and the journal (its config instance)."""
    return str(
        getattr(venue, "instance", None) or getattr(venue, "name", None) or type(venue).__name__
    )


class OrderManager:
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
        self.records: dict[str, OrderRecord] = {}
        self.orders: dict[str, Order] = {}
        self.reports: dict[str, OrderReport] = {}
        self.fills: list[Fill] = []
        self.pending: list[Event] = []
        self.exit_reasons: dict[str, str] = {}
        self.closed_trades: list[tuple[int, str, Decimal]] = []  # (ts, instrument, realised)
        self._realized_at_open: dict[str, Decimal] = {}
        self._fill_keys: set[tuple[str, str]] = set()
        self._booked: dict[str, Decimal] = {}
        self._venues: dict[str, Any] = {}
        self._breakers: dict[str, _Breaker] = {}
        self._unresolved: dict[str, str] = {}  # client order id -> venue key
        self._doubt_since: dict[str, float] = {}  # client order id -> clock when in doubt
        self._not_found_since: dict[str, float] = {}  # ... since the venue says "not found"
        self._alerted: set[str] = set()
        self._last_resolve: float | None = None
        self.duplicate_fills = 0
        self.journal: Journal | None = None
        self.journal_error: str | None = None
        self._ts = 0
        if journal is not None:
            self.attach_journal(journal)

    # -- ids and persistence --------------------------------------------------------------
    def next_client_order_id(self) -> str:
        """The next id: ``<prefix>-<n>``, deterministic within a session and never repeated
        (a restarted session continues after the journal's last ``n``)."""
        self._seq += 1
        return f"{self.id_prefix}-{self._seq}"

    def _id_seq(self, client_order_id: str) -> int | None:
        head, _, tail = client_order_id.rpartition("-")
        if head == self.id_prefix and tail.isdigit():
            return int(tail)
        return None

    def attach_journal(self, journal: Journal) -> None:
        """Journal orders before they are sent and fills before they are booked."""
        self.journal = journal
        journal.write_ahead = True

    def restore(self, journal: Journal) -> None:
        """Take the journal's session state: id sequence, open orders, positions, cash and the
        keys of every booked fill. Call after reconciliation, before trading."""
        self.attach_journal(journal)
        self.id_prefix = f"tw-{journal.session_id[:12]}"
        self._seq = max(self._seq, journal.last_client_order_seq())
        self._fill_keys |= journal.fill_keys()
        for rec in journal.open_orders():
            self.records[rec.client_order_id] = rec
            self.reports[rec.client_order_id] = rec.report()
            self._booked[rec.client_order_id] = rec.filled_quantity
            if rec.status is _S.NEW and rec.venue:
                # Sent, never acknowledged: ask the venue (poll) before trusting it either way.
                self._mark_in_doubt(rec.client_order_id, rec.venue)
            if rec.order is not None:
                self.orders[rec.client_order_id] = rec.order
                self.portfolio.order_opened(rec.order)
        for pos in journal.positions().values():
            self.portfolio.restore_position(pos)
            self._realized_at_open[pos.instrument] = pos.realized_pnl
        cash = journal.cash()
        if cash is not None:
            self.portfolio.cash = cash

    def register_venue(self, venue: object) -> None:
        """Know ``venue`` by its key (for resolving orders whose outcome is unknown)."""
        self._venues[venue_key(venue)] = venue

    # -- journal writes (never raise into the trading path) -------------------------------
    def _journal(self, what: str, fn: Callable[[Journal], None]) -> None:
        if self.journal is None:
            return
        try:
            fn(self.journal)
        except Exception as exc:
            # A journal that cannot write must stop new orders: their fate could not be known
            # after a crash. Fills are still booked (they happened at the venue).
            self.journal_error = f"journal write failed ({what}): {type(exc).__name__}: {exc}"
            log.error("%s", self.journal_error)
            self.pending.append(
                SystemError(ts_ns=self._ts, source="orders:journal", error=self.journal_error)
            )

    def _store(
        self, rec: OrderRecord, kind: str, from_status: OrderStatus | None, detail: str = ""
    ) -> None:
        self.records[rec.client_order_id] = rec
        self.reports[rec.client_order_id] = rec.report()
        self._journal(
            f"order {rec.client_order_id}",
            lambda j: j.record_order(
                rec, ts_ns=rec.updated_ts_ns, kind=kind, from_status=from_status, detail=detail
            ),
        )

    def _system_error(self, error: str, client_order_id: str, report: OrderReport | None) -> None:
        log.error("%s", error)
        self.pending.append(SystemError(ts_ns=self._ts, source="orders", error=error))
        self._journal(
            f"order event {client_order_id}",
            lambda j: j.record_order_event(
                client_order_id,
                ts_ns=self._ts,
                kind="illegal" if report is None or client_order_id in self.records else "unknown",
                from_status=(
                    self.records[client_order_id].status
                    if client_order_id in self.records
                    else None
                ),
                to_status=None if report is None else report.status,
                filled=None if report is None else report.filled_quantity,
                detail=error,
            ),
        )

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
        known = self.records.get(cid)
        if known is not None:
            return known.report()
        key = venue_key(venue)
        self._venues[key] = venue
        rec = OrderRecord(
            client_order_id=cid,
            instrument=order.instrument,
            venue=key,
            order=order,
            updated_ts_ns=ts_ns,
            id_seq=self._id_seq(cid),
            run_id=self.run_id,
        )
        self.orders[cid] = order
        if exit_reason:
            self.exit_reasons[order.instrument] = exit_reason
        self.portfolio.order_opened(order)
        self._store(rec, "submitted", None)
        self.pending.append(OrderSubmitted(ts_ns=ts_ns, order=order))
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
        breaker = self._breaker(key)
        # An open breaker pauses entries; an exit is still tried (it closes risk, and its
        # answer is the breaker's trial).
        is_exit = order.reduce_only or bool(exit_reason) or order.intent == "close"
        if not is_exit and not breaker.allows(self._clock()):
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

    def _finish(self, rec: OrderRecord, status: OrderStatus, reason: str, kind: str) -> None:
        new = attrs.evolve(rec, status=status, reason=reason, updated_ts_ns=self._ts)
        self._store(new, kind, rec.status, reason)
        self._settled(rec.client_order_id)
        if status.is_terminal:
            self.portfolio.order_closed(rec.client_order_id)
        self.pending.append(OrderUpdated(ts_ns=self._ts, report=new.report()))

    def _settled(self, cid: str) -> None:
        self._unresolved.pop(cid, None)
        self._doubt_since.pop(cid, None)
        self._not_found_since.pop(cid, None)
        self._alerted.discard(cid)

    def _mark_in_doubt(self, cid: str, key: str) -> None:
        self._unresolved[cid] = key
        self._doubt_since.setdefault(cid, self._clock())

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
        for attempt in range(1, policy.max_attempts + 1):
            try:
                report: OrderReport = await self._call(
                    venue, key, lambda: venue.submit_order(order), create=True, trial=is_exit
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

    async def cancel(self, venue: object, client_order_id: str, ts_ns: int) -> OrderReport:
        """Cancel an order by its client order id; the venue's answer goes through the state
        machine like any report."""
        self._ts = max(self._ts, ts_ns)
        rec = self.records[client_order_id]
        key = venue_key(venue)
        report: OrderReport = await self._call(
            venue,
            key,
            lambda: venue.cancel_order(rec.instrument, client_order_id),  # type: ignore[attr-defined]
        )
        if client_order_id in self._unresolved and report.status is _S.REJECTED:
            # "Unknown order" from a cancel is no more conclusive than a lookup's "not
            # found": the order stays in doubt until the venue says what became of it.
            log.warning(
                "cancel of order %s (outcome unknown) refused by venue '%s': %s; still in doubt",
                client_order_id,
                key,
                report.reason,
            )
            return report
        self._apply(report, "cancel")
        return report

    # -- the circuit breaker --------------------------------------------------------------
    def _breaker(self, key: str) -> _Breaker:
        br = self._breakers.get(key)
        if br is None:
            br = self._breakers[key] = _Breaker(name=f"venue:{key}", policy=self.settings.breaker)
        return br

    def breaker_open(self, venue: object) -> bool:
        """True while ``venue``'s circuit is open (calls fail fast)."""
        return not self._breaker(venue_key(venue)).allows(self._clock())

    async def _call(
        self,
        venue: Any,
        key: str,
        fn: Callable[[], Awaitable[T]],
        *,
        create: bool = False,
        trial: bool = False,
    ) -> T:
        """Call the venue with the timeout. Only creates go through the circuit breaker and
        count for it (lookups that succeed while creates fail must not reset it); ``trial``
        (an exit) is sent even while the circuit is open."""
        br = self._breaker(key)
        if create:
            now = self._clock()
            if not br.allows(now) and not trial:
                raise CircuitOpenError(
                    f"circuit breaker of venue '{key}' is open ({br.failures} consecutive "
                    f"failed creates)"
                )
            if br.opened_at is not None and not br.half_open_announced and br.allows(now):
                br.half_open_announced = True
                self.pending.append(
                    CircuitBreaker(
                        ts_ns=self._ts,
                        name=br.name,
                        tripped=True,
                        reason="half-open: the cooldown is over, one trial create decides",
                    )
                )
        timeout = self.settings.call_timeout_s
        try:
            if timeout is None:
                result = await fn()
            else:
                with anyio.fail_after(timeout):
                    result = await fn()
        except TimeoutError as exc:
            err = VenueTimeoutError(f"venue '{key}' did not answer within {timeout} s")
            if create:
                self._failure(br, err)
            raise err from exc
        except OrderRejectedError:
            if create:
                self._success(br)  # the venue answered
            raise
        except Exception as exc:
            if create:
                self._failure(br, exc)
            raise
        if create:
            self._success(br)
        return result

    def _failure(self, br: _Breaker, exc: BaseException) -> None:
        br.failures += 1
        now = self._clock()
        half_open = br.opened_at is not None
        if half_open or br.failures >= br.policy.failure_threshold:
            br.opened_at = now
            br.half_open_announced = False
            why = "the trial call failed" if half_open else f"{br.failures} consecutive failures"
            self.pending.append(
                CircuitBreaker(
                    ts_ns=self._ts,
                    name=br.name,
                    tripped=True,
                    reason=f"{why} (last: {type(exc).__name__}: {exc}); calls fail fast for "
                    f"{br.policy.cooldown_s} s",
                )
            )

    def _success(self, br: _Breaker) -> None:
        if br.opened_at is not None:
            self.pending.append(
                CircuitBreaker(
                    ts_ns=self._ts,
                    name=br.name,
                    tripped=False,
                    reason="the venue answered the trial call; circuit closed",
                )
            )
        br.opened_at = None
        br.half_open_announced = False
        br.failures = 0

    # -- the state machine ----------------------------------------------------------------
    def _apply(self, report: OrderReport, kind: str) -> None:
        """Move an order's state by a venue report (or refuse the move)."""
        self._ts = max(self._ts, report.ts_ns)
        cid = report.client_order_id
        rec = self.records.get(cid)
        if rec is None:
            self._system_error(
                f"report for unknown order {cid} ({report.status.value}) from the venue; ignored",
                cid,
                report,
            )
            return
        cur, new = rec.status, report.status
        filled = max(rec.filled_quantity, report.filled_quantity)
        vid = report.venue_order_id or rec.venue_order_id
        if new is cur:
            if filled == rec.filled_quantity and vid == rec.venue_order_id:
                return  # a repeat
            changed = attrs.evolve(
                rec, filled_quantity=filled, venue_order_id=vid, updated_ts_ns=report.ts_ns
            )
            self._store(changed, kind, cur)
            self.pending.append(OrderUpdated(ts_ns=report.ts_ns, report=report))
            return
        if (
            new is _S.ACCEPTED
            and cur in (_S.PARTIALLY_FILLED, _S.FILLED)
            and report.filled_quantity <= rec.filled_quantity
        ):
            # The acknowledgement arrived after the fill that moved the order on: stale.
            self._journal(
                f"order event {cid}",
                lambda j: j.record_order_event(
                    cid, ts_ns=report.ts_ns, kind="stale", from_status=cur, to_status=new
                ),
            )
            return
        if not is_legal(cur, new):
            self._system_error(
                f"illegal order transition {cur.value} -> {new.value} for {cid} reported by "
                f"the venue; state kept at {cur.value}",
                cid,
                report,
            )
            return
        changed = attrs.evolve(
            rec,
            status=new,
            filled_quantity=filled,
            venue_order_id=vid,
            reason=report.reason or rec.reason,
            updated_ts_ns=report.ts_ns,
        )
        self._store(changed, kind, cur)
        self._settled(cid)
        if new.is_terminal:
            self.portfolio.order_closed(cid)
        self.pending.append(OrderUpdated(ts_ns=report.ts_ns, report=report))

    # -- EventSink ------------------------------------------------------------------------
    def on_report(self, report: OrderReport) -> None:
        """Take an order state change from a venue."""
        self._apply(report, "report")

    def on_fill(self, fill: Fill) -> None:
        """Book a fill: once per (client order id, trade id), journaled before the portfolio."""
        self._ts = max(self._ts, fill.ts_ns)
        cid = fill.client_order_id
        key = (cid, fill_key(fill))
        if key in self._fill_keys:
            self.duplicate_fills += 1
            log.info("duplicate fill %s of order %s ignored", key[1], cid)
            return
        self._fill_keys.add(key)
        rec = self.records.get(cid)
        before = self.portfolio.position(fill.instrument)
        after = before.apply(fill)
        changed: OrderRecord | None = None
        problem = ""
        kind = "fill"
        if rec is not None:
            booked = self._booked.get(cid, Decimal(0)) + fill.quantity
            self._booked[cid] = booked
            status = rec.status
            qty = rec.order.quantity if rec.order is not None else None
            if status.is_terminal:
                kind = "late_fill"
                if qty is not None and booked > qty:
                    problem = f"overfill of order {cid}: {booked} booked for {qty} ordered"
            else:
                status = _S.FILLED if qty is not None and booked >= qty else _S.PARTIALLY_FILLED
            changed = attrs.evolve(
                rec,
                status=status,
                filled_quantity=max(rec.filled_quantity, booked),
                updated_ts_ns=fill.ts_ns,
            )
        else:
            problem = f"fill {key[1]} for unknown order {cid} booked (the venue's position moved)"
        self._journal(
            f"fill {key[1]} of {cid}",
            lambda j: j.record_fill(
                fill, after, changed, from_status=None if rec is None else rec.status, kind=kind
            ),
        )
        # Only now, with the fill on disk, does the portfolio see it.
        if before.is_flat:
            self._realized_at_open[fill.instrument] = before.realized_pnl
        after = self.portfolio.apply_fill(fill)
        self.fills.append(fill)
        self.pending.append(
            FillEvent(
                ts_ns=fill.ts_ns, fill=fill, realized_pnl=after.realized_pnl - before.realized_pnl
            )
        )
        if changed is not None and rec is not None:
            self.records[cid] = changed
            self.reports[cid] = changed.report()
            if changed.status is not rec.status:
                self._settled(cid)
                if changed.status.is_terminal:
                    self.portfolio.order_closed(cid)
                self.pending.append(OrderUpdated(ts_ns=fill.ts_ns, report=changed.report()))
        if problem:
            log.error("%s", problem)
            self.pending.append(SystemError(ts_ns=fill.ts_ns, source="orders", error=problem))
        self.pending.append(PositionChanged(ts_ns=fill.ts_ns, position=after))
        if after.is_flat and not before.is_flat:
            start = self._realized_at_open.get(fill.instrument, Decimal(0))
            self.closed_trades.append((fill.ts_ns, fill.instrument, after.realized_pnl - start))
            reason = self.exit_reasons.pop(fill.instrument, "")
            self.pending.append(PositionClosed(ts_ns=fill.ts_ns, position=after, reason=reason))

    def on_event(self, event: Event) -> None:
        """Take a venue-level event; it is published with the others."""
        self.pending.append(event)

    def take_events(self) -> list[Event]:
        """Events caused since the last call, in order."""
        out, self.pending = self.pending, []
        return out
