"""What a filter sees when it checks a signal: the portfolio, read only, and analyzer values.

The engine hands every filter one :class:`FilterContext` (a
:class:`~tradewind.protocols.RiskContext`): the portfolio's read-only view, plus
:meth:`FilterContext.analyzer_values`, the analyzer outputs of an instrument at the decision
being checked — the same values the strategy just read, so a filter can veto on them (an ATR
floor, a regime it refuses to trade) without running an analyzer of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from tradewind.model import Instrument, Order, Position
from tradewind.trading.intents import is_dust
from tradewind.trading.portfolio import Portfolio

_EMPTY: Mapping[str, float] = MappingProxyType({})


class FilterContext:
    """A read-only :class:`~tradewind.protocols.RiskContext` over ``portfolio`` with each
    instrument's analyzer values (``{"orderflow.imbalance_1m": 2.4, ...}``), keyed by
    instrument key."""

    __slots__ = ("_portfolio", "_values")

    def __init__(self, portfolio: Portfolio, values: Mapping[str, Mapping[str, float]]) -> None:
        self._portfolio = portfolio
        self._values = values

    @property
    def ts_ns(self) -> int:
        """The time of the decision being checked."""
        return self._portfolio.ts_ns

    def position(self, instrument: str) -> Position:
        """The position in ``instrument``: flat if none, or if what is held is dust (below one
        lot, or a spot holding below the minimum notional: it cannot be traded, so it is no
        position to a filter; :mod:`tradewind.trading.intents`)."""
        pos = self._portfolio.position(instrument)
        if type(pos.quantity) is Decimal and not pos.quantity:
            return pos  # flat: no dust (``is_dust`` of a zero quantity), no lookups
        if self._is_dust(pos):
            return Position(instrument=instrument)
        return pos

    def positions(self) -> Sequence[Position]:
        """All open positions, dust left out."""
        return [p for p in self._portfolio.positions() if not self._is_dust(p)]

    def _is_dust(self, pos: Position) -> bool:
        try:
            inst: Instrument | None = self._portfolio.instrument(pos.instrument)
        except KeyError:
            inst = None
        return is_dust(inst, pos.quantity, self._portfolio.last_price(pos.instrument))

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument``."""
        return self._portfolio.last_price(instrument)

    def equity(self) -> Decimal:
        """Cash plus unrealised P&L at last prices."""
        return self._portfolio.equity()

    def starting_equity(self) -> Decimal:
        """Equity when the run started."""
        return self._portfolio.starting_equity()

    def day_start_equity(self) -> Decimal:
        """Equity at the start of the current UTC day."""
        return self._portfolio.day_start_equity()

    def open_orders(self) -> Sequence[Order]:
        """Orders sent and not yet terminal."""
        return self._portfolio.open_orders()

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""
        return self._portfolio.instrument(key)

    def analyzer_values(self, instrument: str) -> Mapping[str, float]:
        """The analyzer outputs of ``instrument`` (its key, ``signal.instrument``) as the
        strategy read them at this decision: ``"<analyzer instance>.<output>"`` → value, NaN
        where not yet defined; empty for an instrument the run does not trade. Read only."""
        return self._values.get(instrument, _EMPTY)
