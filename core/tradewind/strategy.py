"""The rule strategy: comparisons of analyzer values that produce long and short signals.

Values are addressed as ``<analyzer instance>.<output>`` (``orderflow.imbalance_1m``). A side
fires when every one of its rules holds; a rule over a NaN value does not hold. Every rule's
value is carried in the signal's reasons, so a journaled signal explains itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal

from tradewind.config import Rule, StrategySection
from tradewind.model import Instrument, Side, Signal

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class RuleStrategy:
    """Evaluates the ``[strategy]`` rules on the close of its timeframe's candles."""

    def __init__(self, section: StrategySection) -> None:
        self.section = section
        self._long = [(r, _OPS[r.op]) for r in section.long]
        self._short = [(r, _OPS[r.op]) for r in section.short]
        self.evaluated = 0
        self.rejected: dict[str, int] = {"long": 0, "short": 0}

    @staticmethod
    def _holds(
        rules: list[tuple[Rule, Callable[[float, float], bool]]],
        values: Mapping[str, float],
        reasons: dict[str, float],
    ) -> bool:
        if not rules:
            return False
        for rule, op in rules:
            v = values.get(rule.value, float("nan"))
            reasons[rule.value] = v
            if not op(v, rule.threshold):  # NaN compares False: an undefined value never fires
                return False
        return True

    def decide(
        self, instrument: Instrument, close: float, ts_ns: int, values: Mapping[str, float]
    ) -> Signal | None:
        """A signal at ``close`` if the long (or else the short) rules all hold."""
        self.evaluated += 1
        for side, rules in ((Side.BUY, self._long), (Side.SELL, self._short)):
            reasons: dict[str, float] = {}
            if self._holds(rules, values, reasons):
                entry = instrument.round_price(close)
                dist = entry * Decimal(repr(self.section.stop_pct))
                raw_stop = entry - dist if side is Side.BUY else entry + dist
                stop = instrument.round_price(raw_stop)
                return Signal(
                    instrument=instrument.key,
                    side=side,
                    entry=entry,
                    stop=stop,
                    score=float(len(rules)),
                    ts_ns=ts_ns,
                    reasons=reasons,
                )
            self.rejected["long" if side is Side.BUY else "short"] += 1
        return None
