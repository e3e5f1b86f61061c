"""The portfolio: cash, positions and marks, with exact Decimal accounting.

It is the :class:`~tradewind.protocols.RiskContext` that filters and exit monitors read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from tradewind.model import Fill, Instrument, Order, Position

NS_PER_DAY = 86_400 * 1_000_000_000


class Portfolio:
    """Cash and positions of one account, marked at the last traded prices."""

    def __init__(self, instruments: Mapping[str, Instrument], cash: Decimal) -> None:
        self._instruments = dict(instruments)
        self.cash = Decimal(cash)
        self._start = Decimal(cash)
        self._positions: dict[str, Position] = {}
        self._last: dict[str, float] = {}
        self._orders: dict[str, Order] = {}
        self._day = -1
        self._day_start = Decimal(cash)
        self.fees_paid = Decimal(0)
        self.funding_paid = Decimal(0)
        self.ts_ns = 0

    # -- RiskContext ----------------------------------------------------------------------
    def position(self, instrument: str) -> Position:
        """The position in ``instrument`` (flat if none)."""
        pos = self._positions.get(instrument)
        return pos if pos is not None else Position(instrument=instrument)

    def positions(self) -> Sequence[Position]:
        """All non-flat positions."""
        return [p for p in self._positions.values() if not p.is_flat]

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument`` (NaN before the first trade)."""
        return self._last.get(instrument, float("nan"))

    def equity(self) -> Decimal:
        """Cash plus unrealised P&L of open positions at last prices."""
        eq = self.cash
        for key, pos in self._positions.items():
            if not pos.is_flat and key in self._last:
                eq += pos.unrealized_pnl(Decimal(repr(self._last[key])))
        return eq

    def starting_equity(self) -> Decimal:
        """Equity when the run started."""
        return self._start

    def day_start_equity(self) -> Decimal:
        """Equity at the first mark of the current UTC day."""
        return self._day_start

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""
        return list(self._orders.values())

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""
        return self._instruments[key]

    # -- updates --------------------------------------------------------------------------
    def mark(self, instrument: str, price: float, ts_ns: int) -> None:
        """Record the last trade price; rolls the day-start equity at UTC midnight."""
        self._last[instrument] = price
        self.ts_ns = ts_ns
        day = ts_ns // NS_PER_DAY
        if day != self._day:
            self._day = day
            self._day_start = self.equity()

    def apply_fill(self, fill: Fill) -> Position:
        """Book ``fill``: position, realised P&L into cash, fee out of cash."""
        before = self.position(fill.instrument)
        after = before.apply(fill)
        self.cash += after.realized_pnl - before.realized_pnl - fill.fee
        self.fees_paid += fill.fee
        self._positions[fill.instrument] = after
        return after

    def apply_funding(self, instrument: str, amount: Decimal) -> None:
        """Book a funding payment (positive = paid by us)."""
        self.cash -= amount
        self.funding_paid += amount

    def order_opened(self, order: Order) -> None:
        """Track an order as open."""
        self._orders[order.client_order_id] = order

    def order_closed(self, client_order_id: str) -> None:
        """Forget an order that reached a terminal state."""
        self._orders.pop(client_order_id, None)

    def restore_position(self, position: Position) -> None:
        """Set a position as found at reconciliation."""
        self._positions[position.instrument] = position
