"""The strategy's gate cascade as array predicates over a table of analyzer outputs.

:class:`~tradewind.trading.strategy.Strategy` decides one close at a time. A backtest knows
the analyzers' outputs of a whole block ahead when the analyzers hand them over as a table
(:class:`tradewind.blocks.BlockTable`), so the leading gates of the cascade can be evaluated
for every row at once: each rule is one numpy comparison over its columns (NaN never holds,
as ``float`` comparisons in the scalar path), a side survives a gate when all its rules hold
and it survived the gates before, and a row is rejected at the first gate where no side
survives: the gate the funnel counts. Rows that get through the evaluated gates go to
:meth:`Strategy.decide`, which reads the same floats.

Only a *prefix* of the cascade is compiled: the gates whose rules read nothing but tabled
columns (and ``close``). A gate that reads an analyzer without a table ends the prefix;
the gates after it run in the scalar path, in order, exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from tradewind.config import Gate, Rule, StrategySection

Column = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_OPS: Mapping[str, Callable[[Column, Column | float], Mask]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "abs>": lambda a, b: np.greater(np.abs(a), b),
    "abs<": lambda a, b: np.less(np.abs(a), b),
}


def cascade_gates(section: StrategySection) -> list[Gate]:
    """The gates :meth:`Strategy.decide` applies before any score, in its order: the gate
    chain (composition "gates" or "both"), then the primary gates (confluence or both)."""
    gates: list[Gate] = []
    if section.composition in ("gates", "both"):
        gates.extend(section.all_gates())
    if section.composition in ("confluence", "both"):
        gates.extend(section.primary)
    return gates


def _reads(rule: Rule) -> set[str]:
    names = {rule.value}
    if rule.ref is not None:
        names.add(rule.ref)
    return names - {"close"}


class GateArrays:
    """The leading gates of a strategy's cascade that read only ``available`` columns,
    compiled to array predicates."""

    def __init__(self, section: StrategySection, available: Collection[str]) -> None:
        self.gates: list[Gate] = []
        for gate in cascade_gates(section):
            reads: set[str] = set()
            for rule in (*gate.long, *gate.short):
                reads |= _reads(rule)
            if not reads <= set(available):
                break
            self.gates.append(gate)
        #: The funnel names of the compiled gates, by index.
        self.names: list[str] = [g.name for g in self.gates]

    def __len__(self) -> int:
        return len(self.gates)

    def first_failing(self, columns: Mapping[str, Column], close: Column) -> npt.NDArray[np.int64]:
        """Per row, the index of the compiled gate where no side is left (the funnel's
        rejecting gate), or -1 when a side gets through every compiled gate."""
        n = len(close)
        failing = np.full(n, -1, dtype=np.int64)
        long_ok = np.ones(n, dtype=np.bool_)
        short_ok = np.ones(n, dtype=np.bool_)
        for index, gate in enumerate(self.gates):
            long_ok &= _side(gate.long, columns, close)
            short_ok &= _side(gate.short, columns, close)
            failing[(failing < 0) & ~(long_ok | short_ok)] = index
        return failing


def _column(name: str, columns: Mapping[str, Column], close: Column) -> Column:
    return close if name == "close" else columns[name]


def _side(rules: Sequence[Rule], columns: Mapping[str, Column], close: Column) -> Mask:
    """Rows where every rule of a side holds (no rules: the side cannot pass)."""
    if not rules:
        return np.zeros(len(close), dtype=np.bool_)
    ok = np.ones(len(close), dtype=np.bool_)
    for rule in rules:
        v = _column(rule.value, columns, close)
        op = _OPS[rule.op]
        if rule.ref is None:
            ok &= op(v, float(rule.threshold))  # type: ignore[arg-type]
        else:
            ok &= op(v, _column(rule.ref, columns, close) * rule.factor)
    return ok
