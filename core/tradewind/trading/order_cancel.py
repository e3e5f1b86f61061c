"""Cancels whose outcome is settled, not guessed.

A cancel answered late (a timeout), with an HTTP 5xx or a dropped connection may or may not
have been done by the venue. Like a create in doubt, its outcome is settled by asking: the
order is looked up; done (cancelled, or filled before the cancel arrived), that state is
taken; still open, the cancel is sent again after a backoff. A cancel that certainly did not
reach the venue (connection refused, HTTP 429/418) is sent again after the backoff, at least
the venue's ``Retry-After``. A venue's "unknown order" answer (Binance -2011) is settled by
the same lookup: only a lookup that answers "not found" makes it definite; a lookup that
fails (late, 5xx, dropped) leaves the cancel in doubt, sent again after the backoff. All of
it is bounded by :attr:`OrderSettings.cancel_deadline_s`: an order still open at the
deadline is a critical :class:`~tradewind.model.SystemError` naming it, and
:class:`CancelUnsettledError` is raised.

The engine cancels at stop (:func:`tradewind.trading.lifecycle.stop_orders`), after the feed
has ended: the retries never hold a step of the engine loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueNotSentError,
    VenueRateLimitedError,
)
from tradewind.journal.store import OrderRecord
from tradewind.model import OrderReport, SystemError
from tradewind.trading.order_retry import VenueCalls, venue_key
from tradewind.trading.order_state import _S

log = logging.getLogger("tradewind.trading.orders")


class CancelUnsettledError(VenueError):
    """A cancel's outcome was still unknown, or the order still open, at the cancel
    deadline."""


class _LookupFailedError(VenueError):
    """A cancel answered "unknown order" whose lookup failed: not settled either way."""


class CancelSettling(VenueCalls):
    """The order manager's cancel (a mixin of :class:`~tradewind.trading.orders.OrderManager`)."""

    records: dict[str, OrderRecord]
    _unresolved: dict[str, str]
    _sleep: Callable[[float], Awaitable[None]]

    if TYPE_CHECKING:  # provided by the order manager and its other mixins

        def _apply(self, report: OrderReport, kind: str = "report") -> None: ...
        def _known(self, cid: str, seq: int | bool | None = False) -> OrderRecord | None: ...

    async def cancel(self, venue: object, client_order_id: str, ts_ns: int) -> OrderReport:
        """Cancel an order by client order id and settle the outcome (see the module
        docstring); the answer goes through the state machine. Raises
        :class:`CancelUnsettledError` when the order is still open, or its state unknown, at
        the deadline; a definite "no such order" (the venue and its lookup agree) is raised
        as the venue's :class:`OrderRejectedError`."""
        self._ts = max(self._ts, ts_ns)
        instrument = self.records[client_order_id].instrument
        return await self._settled_cancel(venue, instrument, client_order_id, tracked=True)

    async def cancel_foreign(
        self, venue: object, instrument: str, client_order_id: str, ts_ns: int
    ) -> OrderReport:
        """Cancel an order this host did not place (reconciliation's ``[run] unknown_orders
        = "cancel"``), settled as :meth:`cancel` settles it, with the same errors; the
        venue's answer is returned, not applied (the order manager holds no record of it)."""
        self._ts = max(self._ts, ts_ns)
        return await self._settled_cancel(venue, instrument, client_order_id, tracked=False)

    async def _settled_cancel(
        self, venue: object, instrument: str, cid: str, *, tracked: bool
    ) -> OrderReport:
        key = venue_key(venue)
        policy = self.settings.retry
        deadline = self._clock() + self.settings.cancel_deadline_s
        attempt = 0
        last: BaseException | None = None
        while True:
            attempt += 1
            wait = policy.delay(attempt)
            try:
                report: OrderReport = await self._call(
                    venue,
                    key,
                    lambda: venue.cancel_order(instrument, cid),  # type: ignore[attr-defined]
                )
            except VenueRateLimitedError as exc:  # not sent: no lookup needed
                last = exc
                wait = max(wait, exc.retry_after_s or 0.0)
            except VenueNotSentError as exc:
                last = exc
            except OrderRejectedError as exc:
                # "Unknown order": cancelled or filled already, or never there. Ask.
                last = exc
                try:
                    found = await self._fetch(venue, key, cid, instrument)
                except Exception as failed:
                    # The lookup itself failed (late, 5xx, dropped): it said nothing, so the
                    # "unknown order" is not confirmed. Ask again after the backoff.
                    self._lookup_failed(cid, key, failed)
                    last = _LookupFailedError(f"{exc}; its lookup failed: {failed}")
                else:
                    if found is None:
                        raise  # the venue and its lookup agree: no such order
                    if found.status.is_terminal:
                        return self._settle(found, tracked)
            except Exception as exc:  # late, 5xx, dropped, a plugin's bug: done or not?
                last = exc
                found = await self._look_up(venue, key, cid, instrument)
                if found is not None and found.status.is_terminal:
                    return self._settle(found, tracked)
            else:
                if cid in self._unresolved and report.status is _S.REJECTED:
                    # "Unknown order" from a cancel is no more conclusive than a lookup's "not
                    # found": the order stays in doubt until the venue says what became of it.
                    log.warning(
                        "cancel of order %s (outcome unknown) refused by venue '%s': %s; "
                        "still in doubt",
                        cid,
                        key,
                        report.reason,
                    )
                    return report
                return self._settle(report, tracked)
            done = self._settled_meanwhile(cid) if tracked else None
            if done is not None:
                return done  # the venue's own report (its stream) settled it
            if self._clock() + wait > deadline:
                break
            log.warning(
                "cancel of order %s at venue '%s' not settled (%s: %s); retrying in %.3g s",
                cid,
                key,
                type(last).__name__,
                last,
                wait,
            )
            await self._sleep(wait)
            done = self._settled_meanwhile(cid) if tracked else None
            if done is not None:
                return done  # ... while the cancel waited
        error = (
            f"cancel of order {cid} ({instrument}) at venue '{key}' not settled after "
            f"{attempt} attempt(s) in {self.settings.cancel_deadline_s:g} s "
            f"(last: {type(last).__name__}: {last}); the order may still rest at the venue "
            f"(check the exchange)"
        )
        log.critical("%s", error)
        self.pending.append(SystemError(ts_ns=self._ts, source="orders", error=error))
        raise CancelUnsettledError(error) from last

    def _settled_meanwhile(self, cid: str) -> OrderReport | None:
        """The order's report if it is no longer open here (the record is replaced as the
        order moves on, and may be released once finished: read it again)."""
        rec = self._known(cid)
        return None if rec is None or rec.is_open else rec.report()

    def _settle(self, report: OrderReport, tracked: bool) -> OrderReport:
        if tracked:
            self._apply(report, "cancel")
        return report

    async def _fetch(self, venue: Any, key: str, cid: str, instrument: str) -> OrderReport | None:
        """The venue's report of ``cid``, None when the venue says it has none; raises when
        the lookup fails."""
        found: OrderReport | None = await self._call(
            venue, key, lambda: venue.fetch_order(instrument, cid)
        )
        return found

    async def _look_up(self, venue: Any, key: str, cid: str, instrument: str) -> OrderReport | None:
        """The venue's report of ``cid``, or None (not found, or the lookup failed)."""
        try:
            return await self._fetch(venue, key, cid, instrument)
        except Exception as exc:
            self._lookup_failed(cid, key, exc)
            return None

    @staticmethod
    def _lookup_failed(cid: str, key: str, exc: BaseException) -> None:
        log.warning("lookup of order %s at venue '%s' failed: %s", cid, key, exc)
