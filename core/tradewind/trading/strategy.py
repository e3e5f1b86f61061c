"""The strategy: a gate chain and/or a confluence score over analyzer values.

Values are addressed as ``<analyzer instance>.<output>`` (``orderflow.imbalance_1m``) or
``close`` (the close of the candle being decided on). A rule over a NaN value never holds.

Gates run in order and short-circuit: the candidate sides start as {long, short}; each gate
removes the sides whose rules fail; when none is left, the candidate is rejected *at that
gate* and counted there (the funnel). Confluence (the alternative composition) requires every
primary gate to pass (each adds ``primary_points``), then sums each scorer's first matching
tier; below ``min_score`` the candidate is rejected at "score". Every rule's value and every
scorer's points go into the signal's reasons, so a journaled signal explains itself.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs

from tradewind.config import Gate, Rule, Scorer, StrategySection
from tradewind.model import Instrument, Side, Signal
from tradewind.model.frozen import builder

#: ``build_signal(instrument, side, entry, stop, score, ts_ns, reasons, quantity, intent)``:
#: ``Signal(...)`` of every field, positionally, its slots written directly (attrs' frozen
#: ``__init__`` sets nine fields through ``object.__setattr__``: ~2x the time; a decision
#: makes two signals, the strategy's and the sized one).
build_signal = builder(
    Signal,
    ("instrument", "side", "entry", "stop", "score", "ts_ns", "reasons", "quantity", "intent"),
)
#: Signal's defaults of the fields :meth:`Strategy.decide` leaves to them.
_QUANTITY = attrs.fields(Signal).quantity.default
_INTENT = attrs.fields(Signal).intent.default

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "abs>": lambda a, b: abs(a) > b,
    "abs<": lambda a, b: abs(a) < b,
}

_Check = Callable[[Mapping[str, float], float, dict[str, float]], bool]


def _compile(rule: Rule) -> _Check:
    """A fast closure for one rule, recording the value it read into ``reasons``."""
    op = _OPS[rule.op]
    name = rule.value
    if rule.ref is None:
        threshold = float(rule.threshold)  # type: ignore[arg-type]

        def check(values: Mapping[str, float], close: float, reasons: dict[str, float]) -> bool:
            v = close if name == "close" else values.get(name, math.nan)
            reasons[name] = v
            return op(v, threshold)  # NaN compares False

        return check
    ref, factor = rule.ref, rule.factor

    def check_ref(values: Mapping[str, float], close: float, reasons: dict[str, float]) -> bool:
        v = close if name == "close" else values.get(name, math.nan)
        r = close if ref == "close" else values.get(ref, math.nan)
        reasons[name] = v
        reasons[ref] = r
        return op(v, r * factor)

    return check_ref


def _all(checks: list[_Check]) -> _Check:
    def both(values: Mapping[str, float], close: float, reasons: dict[str, float]) -> bool:
        for c in checks:
            if not c(values, close, reasons):
                return False
        return True

    return both


def _never(values: Mapping[str, float], close: float, reasons: dict[str, float]) -> bool:
    return False


class _CompiledGate:
    """A gate; a side it gives no rules for cannot pass it (a gate says which sides it allows)."""

    def __init__(self, gate: Gate) -> None:
        self.name = gate.name
        self.long = _all([_compile(r) for r in gate.long]) if gate.long else _never
        self.short = _all([_compile(r) for r in gate.short]) if gate.short else _never


class _CompiledScorer:
    def __init__(self, scorer: Scorer) -> None:
        self.name = scorer.name
        self.long = [(t.points, _all([_compile(r) for r in t.when])) for t in scorer.long]
        self.short = [(t.points, _all([_compile(r) for r in t.when])) for t in scorer.short]


class Strategy:
    """Evaluates the ``[strategy]`` composition on the close of its timeframe's candles."""

    def __init__(self, section: StrategySection) -> None:
        self.section = section
        self.use_gates = section.composition in ("gates", "both")
        self.use_score = section.composition in ("confluence", "both")
        self.gates = [_CompiledGate(g) for g in section.all_gates()] if self.use_gates else []
        self.primary = [_CompiledGate(g) for g in section.primary] if self.use_score else []
        self.scorers = [_CompiledScorer(s) for s in section.scorers] if self.use_score else []
        self.stop_pct = Decimal(repr(section.stop_pct))
        #: Candidates evaluated, and rejections per level (the funnel).
        self.evaluated = 0
        self.rejected: dict[str, int] = {}
        self.signals = 0

    def _reject(self, level: str) -> None:
        self.rejected[level] = self.rejected.get(level, 0) + 1

    def rejected_at(self, level: str, n: int = 1) -> None:
        """Count ``n`` candidates that gate ``level`` rejects, found without :meth:`decide`
        (the backtest scheduler's array predicates, tradewind.trading.gate_arrays)."""
        self.evaluated += n
        self.rejected[level] = self.rejected.get(level, 0) + n

    def decide(
        self, instrument: Instrument, close: float, ts_ns: int, values: Mapping[str, float]
    ) -> Signal | None:
        """A signal at ``close``, or None (the rejecting level is counted)."""
        self.evaluated += 1
        reasons: dict[str, float] = {}
        long_ok = short_ok = True
        for gate in self.gates:
            if long_ok:
                long_ok = gate.long(values, close, reasons)
            if short_ok:
                short_ok = gate.short(values, close, reasons)
            if not (long_ok or short_ok):
                self._reject(gate.name)
                return None
        score = 0.0
        if self.use_score:
            long_score = short_score = 0.0
            for gate in self.primary:
                if long_ok:
                    long_ok = gate.long(values, close, reasons)
                    long_score += self.section.primary_points
                if short_ok:
                    short_ok = gate.short(values, close, reasons)
                    short_score += self.section.primary_points
                if not (long_ok or short_ok):
                    self._reject(gate.name)
                    return None
            for scorer in self.scorers:
                for side_ok, tiers, label in (
                    (long_ok, scorer.long, "long"),
                    (short_ok, scorer.short, "short"),
                ):
                    if not side_ok:
                        continue
                    pts = 0.0
                    for points, when in tiers:
                        if when(values, close, reasons):
                            pts = points
                            break
                    reasons[f"score.{label}.{scorer.name}"] = pts
                    if label == "long":
                        long_score += pts
                    else:
                        short_score += pts
            if long_ok and short_ok:
                if long_score == short_score:
                    self._reject("ambiguous")
                    return None
                long_ok, short_ok = long_score > short_score, short_score > long_score
            score = long_score if long_ok else short_score
            if score < self.section.min_score:
                self._reject("score")
                return None
        elif long_ok and short_ok:
            self._reject("ambiguous")  # gates that let both sides through decide nothing
            return None
        side = Side.BUY if long_ok else Side.SELL
        entry = instrument.round_price(close)
        dist = entry * self.stop_pct
        stop = instrument.round_price(entry - dist if side is Side.BUY else entry + dist)
        if self.use_score:
            reasons["score"] = score
            reasons["grade"] = float(
                3
                if score >= self.section.very_strong_score
                else 2
                if score >= self.section.strong_score
                else 1
            )
        else:
            score = float(len(self.gates))
        self.signals += 1
        return build_signal(  # type: ignore[no-any-return]
            instrument.key, side, entry, stop, score, ts_ns, reasons, _QUANTITY, _INTENT
        )
