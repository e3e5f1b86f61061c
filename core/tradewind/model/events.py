"""Typed events carried by the bus and written to the journal."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

import attrs

from tradewind.model.market import Candle
from tradewind.model.orders import Fill, Order, OrderReport
from tradewind.model.portfolio import Position
from tradewind.model.signals import Signal, Veto


class Severity(enum.IntEnum):
    """How urgently a human should hear about an event."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    CRITICAL = 50


@attrs.frozen(kw_only=True)
class Event:
    """Base of every bus event. ``ts_ns`` is engine time, never the wall clock."""

    ts_ns: int

    severity = Severity.INFO


@attrs.frozen(kw_only=True)
class CandleClosed(Event):
    """A candle of some timeframe closed."""

    candle: Candle
    severity = Severity.DEBUG


@attrs.frozen(kw_only=True)
class SignalEvent(Event):
    """The strategy produced a signal."""

    signal: Signal


@attrs.frozen(kw_only=True)
class VetoEvent(Event):
    """A filter vetoed a signal."""

    veto: Veto
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class OrderSubmitted(Event):
    """The order manager sent an order to a venue."""

    order: Order
    severity = Severity.DEBUG


@attrs.frozen(kw_only=True)
class OrderUpdated(Event):
    """A venue reported an order's new state."""

    report: OrderReport
    severity = Severity.DEBUG


@attrs.frozen(kw_only=True)
class OrderFailed(Event):
    """An order could not be placed."""

    client_order_id: str
    reason: str
    severity = Severity.CRITICAL


@attrs.frozen(kw_only=True)
class FillEvent(Event):
    """A fill arrived. ``realized_pnl``: the P&L this fill realised (0 for an opening fill;
    None when the publisher did not say), in ``pnl_currency`` (the instrument's settlement
    currency; empty when the publisher did not say)."""

    fill: Fill
    realized_pnl: Decimal | None = None
    pnl_currency: str = ""


@attrs.frozen(kw_only=True)
class PositionChanged(Event):
    """A position changed after a fill."""

    position: Position
    severity = Severity.DEBUG


@attrs.frozen(kw_only=True)
class PositionClosed(Event):
    """A position went flat. Its P&L is in ``pnl_currency`` (empty: not said)."""

    position: Position
    reason: str = ""
    pnl_currency: str = ""


@attrs.frozen(kw_only=True)
class DataQuality(Event):
    """Ticks were rejected by validation (counts per reason)."""

    instrument: str
    rejected: Mapping[str, int]
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class DataGap(DataQuality):
    """An instrument's tape has a hole longer than ``[run] max_gap``.

    ``start_ns``/``end_ns`` are the trades either side of the hole; ``policy`` is the
    ``[run] gap_policy`` applied and ``action`` what it did (``none`` when flat, ``held``,
    ``flattened``, ``halted``, ``exit at first trade``).
    """

    start_ns: int
    end_ns: int
    max_gap_ns: int
    policy: str
    action: str

    @property
    def duration_ns(self) -> int:
        """Length of the hole."""
        return self.end_ns - self.start_ns


@attrs.frozen(kw_only=True)
class BadRows(DataQuality):
    """Rows of a data file that could not be used (``rejected``: counts per file).

    ``instrument`` is the data venue instance; ``rows`` lists the first :attr:`LISTED` as
    ``file:line: reason`` (the report and ``tradewind data import`` list them all).
    """

    count: int
    rows: Sequence[str] = ()

    LISTED: ClassVar[int] = 200


@attrs.frozen(kw_only=True)
class ConnectionLost(Event):
    """A venue connection dropped."""

    venue: str
    reason: str
    severity = Severity.CRITICAL


@attrs.frozen(kw_only=True)
class CircuitBreaker(Event):
    """A circuit breaker tripped or reset."""

    name: str
    tripped: bool
    reason: str
    severity = Severity.CRITICAL


@attrs.frozen(kw_only=True)
class SystemError(Event):
    """Something in the host failed: a subscriber raised, a plugin misbehaved."""

    source: str
    error: str
    severity = Severity.CRITICAL


@attrs.frozen(kw_only=True)
class EventsDropped(Event):
    """The bus dropped events for one subscriber whose queue was full (it was slower than the
    publisher, or hung); the other subscribers got them. ``count`` events stamped between
    ``first_ts_ns`` and ``last_ts_ns`` were not delivered to ``subscriber``."""

    subscriber: str
    count: int
    first_ts_ns: int
    last_ts_ns: int
    reason: str
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class RunStarted(Event):
    """A run began."""

    run_id: str
    mode: str


@attrs.frozen(kw_only=True)
class RunFinished(Event):
    """A run ended."""

    run_id: str
    #: The run's numeric figures (counts, ratios as floats), its money as exact Decimals
    #: (``starting_equity``, ``final_equity``, ``pnl``, ``realized_pnl``, ``fees_paid``,
    #: ``funding_paid``, ``total_return``) and ``currency``, the quote currency they are in.
    summary: Mapping[str, float | Decimal | str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ReconciliationDiscrepancy(Event):
    """Startup reconciliation found the venue and the journal disagreeing, and what it did.

    ``kind`` is one of ``order_state``, ``order_closed_at_venue``, ``order_not_at_venue``,
    ``order_unknown_to_journal``, ``order_reopened``, ``fills_missing``, ``position``,
    ``untracked_position``, ``balance``; ``action`` says what the host did (``recorded``,
    ``adopted``, ``cancelled``, ``fills booked``, ``booked as fills``, ``corrected``,
    ``ignored``).
    """

    venue: str
    kind: str
    subject: str
    journal_state: str
    venue_state: str
    action: str
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class ReconciliationFailed(Event):
    """Startup reconciliation could not complete; the host refuses to trade."""

    venue: str
    reason: str
    severity = Severity.CRITICAL


@attrs.frozen(kw_only=True)
class FundingPayment(Event):
    """A perpetual's funding settled on a position. ``amount`` > 0 was paid, < 0 received."""

    instrument: str
    rate: Decimal
    mark_price: Decimal
    quantity: Decimal
    amount: Decimal
