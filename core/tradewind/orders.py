"""The order manager: client order ids, order state, fills into the portfolio.

It is the venues' :class:`~tradewind.protocols.EventSink`. Venue callbacks are synchronous;
the events they cause are queued and published by the engine after each step, so delivery
order is deterministic.
"""

from __future__ import annotations

from decimal import Decimal

from tradewind.model import (
    Event,
    Fill,
    FillEvent,
    Order,
    OrderFailed,
    OrderReport,
    OrderSubmitted,
    OrderUpdated,
    PositionChanged,
    PositionClosed,
)
from tradewind.portfolio import Portfolio


class OrderManager:
    """Sends orders, tracks their state, books fills."""

    def __init__(self, portfolio: Portfolio, run_id: str) -> None:
        self.portfolio = portfolio
        self.run_id = run_id
        self._seq = 0
        self.orders: dict[str, Order] = {}
        self.reports: dict[str, OrderReport] = {}
        self.fills: list[Fill] = []
        self.pending: list[Event] = []
        self.exit_reasons: dict[str, str] = {}
        self.closed_trades: list[tuple[int, str, Decimal]] = []  # (ts, instrument, realised)
        self._realized_at_open: dict[str, Decimal] = {}

    def next_client_order_id(self) -> str:
        """A client order id unique within this run (and across runs by the run id prefix)."""
        self._seq += 1
        return f"tw-{self.run_id[:12]}-{self._seq}"

    async def submit(
        self, venue: object, order: Order, ts_ns: int, exit_reason: str = ""
    ) -> OrderReport:
        """Send ``order`` through ``venue``; a venue error becomes an OrderFailed event."""
        self.orders[order.client_order_id] = order
        if exit_reason:
            self.exit_reasons[order.instrument] = exit_reason
        self.portfolio.order_opened(order)
        self.pending.append(OrderSubmitted(ts_ns=ts_ns, order=order))
        try:
            report = await venue.submit_order(order)  # type: ignore[attr-defined]
        except Exception as exc:
            self.portfolio.order_closed(order.client_order_id)
            self.pending.append(
                OrderFailed(
                    ts_ns=ts_ns,
                    client_order_id=order.client_order_id,
                    reason=f"{type(exc).__name__}: {exc}",
                )
            )
            raise
        return report

    # -- EventSink ------------------------------------------------------------------------
    def on_report(self, report: OrderReport) -> None:
        """Take an order state change from a venue."""
        self.reports[report.client_order_id] = report
        if report.status.is_terminal:
            self.portfolio.order_closed(report.client_order_id)
        self.pending.append(OrderUpdated(ts_ns=report.ts_ns, report=report))

    def on_fill(self, fill: Fill) -> None:
        """Book a fill into the portfolio."""
        before = self.portfolio.position(fill.instrument)
        if before.is_flat:
            self._realized_at_open[fill.instrument] = before.realized_pnl
        after = self.portfolio.apply_fill(fill)
        self.fills.append(fill)
        self.pending.append(FillEvent(ts_ns=fill.ts_ns, fill=fill))
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
