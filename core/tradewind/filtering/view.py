"""The portfolio as one instrument may see it between two decision times of a multi-instrument
replay: its own position and marks live, every other instrument as of the last decision time.

Replay processes a decision interval instrument by instrument (that keeps batches large), so
when instrument B's trades of an interval are processed, instrument A's trades of the same
interval — some later than B's current trade — are already in the portfolio. An exit monitor
of B that reads the portfolio (equity, the leader's price, other positions) would see them.
:class:`AsOf` hides them: other instruments' positions, marks and cash effects stay as they
were at the interval's start, which is never later than B's current trade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from tradewind.model import Instrument, Order, Position
from tradewind.trading.portfolio import Portfolio


class Snapshot:
    """Cash, positions and marks of a portfolio at one decision time."""

    __slots__ = ("cash", "marks", "positions")

    def __init__(self, portfolio: Portfolio, keys: Sequence[str]) -> None:
        self.cash = portfolio.cash
        self.positions: dict[str, Position] = {p.instrument: p for p in portfolio.positions()}
        self.marks: dict[str, float] = {k: portfolio.last_price(k) for k in keys}


class AsOf:
    """A :class:`~tradewind.protocols.RiskContext` for ``own``: live for ``own``, the
    ``snapshot`` for every other instrument.

    ``own_cash_start`` is the portfolio's cash when ``own``'s trades of this interval started:
    cash changes since then are ``own``'s and are shown; earlier ones of this interval (other
    instruments' fills) are not.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        own: str,
        snapshot: Snapshot,
        own_cash_start: Decimal,
        ts_ns: int,
        analyzer_values: Callable[[str], Mapping[str, float]] | None = None,
    ) -> None:
        self._pf = portfolio
        self._own = own
        self._snap = snapshot
        self._cash = snapshot.cash + (portfolio.cash - own_cash_start)
        #: ``own``'s current time (the portfolio's own ``ts_ns`` may be another's later trade).
        self.ts_ns = ts_ns
        self._values = analyzer_values

    def position(self, instrument: str) -> Position:
        """The position in ``instrument`` (flat if none)."""
        if instrument == self._own:
            return self._pf.position(instrument)
        pos = self._snap.positions.get(instrument)
        return pos if pos is not None else Position(instrument=instrument)

    def positions(self) -> Sequence[Position]:
        """All non-flat positions."""
        out = [p for k, p in self._snap.positions.items() if k != self._own and not p.is_flat]
        own = self._pf.position(self._own)
        return out if own.is_flat else [*out, own]

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument`` that ``own`` may know."""
        if instrument == self._own:
            return self._pf.last_price(instrument)
        return self._snap.marks.get(instrument, float("nan"))

    def equity(self) -> Decimal:
        """Cash plus unrealised P&L at the prices ``own`` may know."""
        eq = self._cash
        for pos in self.positions():
            mark = self.last_price(pos.instrument)
            if mark == mark:  # not NaN
                eq += pos.unrealized_pnl(Decimal(repr(mark)))
        return eq

    def starting_equity(self) -> Decimal:
        """Equity when the run started."""
        return self._pf.starting_equity()

    def day_start_equity(self) -> Decimal:
        """Equity at the start of the current UTC day."""
        return self._pf.day_start_equity()

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""
        return self._pf.open_orders()

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""
        return self._pf.instrument(key)

    def analyzer_values(self, instrument: str) -> Mapping[str, float]:
        """The analyzer outputs of ``instrument`` at its last decision (as the engine's
        :class:`~tradewind.filtering.context.FilterContext` gives them)."""
        if self._values is None:
            return MappingProxyType({})
        return self._values(instrument)

    @property
    def marks(self) -> Mapping[str, float]:
        """The other instruments' marks as of the snapshot."""
        return self._snap.marks
