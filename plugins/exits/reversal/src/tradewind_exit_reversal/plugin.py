"""Order-flow cascade reversal: the seed's priority-1 exit ("smoking gun", section 2.6.1).

A long exits when selling accelerates towards the small timeframes: ``imb1m < 0.5`` and
``imb1m < imb5m < imb15m`` (the seed's example: 0.4 < 0.6 < 0.9). A short mirrors it:
``imb1m > 2.0`` and ``imb1m > imb5m > imb15m``. The imbalances and the test belong to the
order-flow analyzer (``tradewind-analyzer-orderflow``), which publishes the verdicts as
``cascade_reversal_long`` and ``cascade_reversal_short`` (1.0 / 0.0, NaN until every timeframe
has closed a candle); its options ``reversal_long_max`` (0.5) and ``reversal_short_min`` (2.0)
hold the thresholds. This monitor reads the verdict of one analyzer instance on every candle
close and exits at that candle's close.

The seed checks every 2 s over a 15 s window; here the check runs at candle closes because the
analyzer's imbalances are per closed candle (see docs/exits.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np
from tradewind import hookimpl
from tradewind.errors import ConfigError
from tradewind.model import Candle, ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.registry import KindRegistry
from tradewind.trading.exit_scan import HoldWindow


def _name(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    if not value or "." in value:
        raise ValueError(f"{attr.name} must be a non-empty name without dots, got {value!r}")


@attrs.frozen(kw_only=True)
class ReversalConfig:
    """Options of the cascade-reversal exit monitor."""

    #: The order-flow analyzer *instance* (its ``[analyzers.<key>]`` table key) to read.
    analyzer: str = attrs.field(default="orderflow", validator=_name)
    #: Its output that is positive when a long must exit.
    long_output: str = attrs.field(default="cascade_reversal_long", validator=_name)
    #: Its output that is positive when a short must exit.
    short_output: str = attrs.field(default="cascade_reversal_short", validator=_name)


class CascadeReversal:
    """Closes a position when the order-flow cascade turns against it, at a candle close."""

    name: ClassVar[str] = "reversal"
    config_class: ClassVar[type] = ReversalConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"candles", "scan"})

    def __init__(self, config: ReversalConfig) -> None:
        self.config = config
        self.long_key = f"{config.analyzer}.{config.long_output}"
        self.short_key = f"{config.analyzer}.{config.short_output}"
        self._imbalance_prefix = f"{config.analyzer}.imbalance_"

    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """The cascade is a candle measure: nothing to do on trades."""
        return None

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Exit at ``candle``'s close when the analyzer reports a reversal against ``position``.

        Raises ConfigError when analyzer values are present but the configured one is not: a
        misspelt instance or output would otherwise disable the exit silently.
        """
        if position.is_flat or not values:
            return None
        key = self.long_key if position.quantity > 0 else self.short_key
        try:
            verdict = values[key]
        except KeyError:
            raise ConfigError(self._missing(key, values)) from None
        if not verdict > 0:  # 0.0 = no reversal, NaN = not every timeframe has closed yet
            return None
        return ExitDecision(
            monitor=self.name,
            reason=self._reason(position, values),
            ts_ns=candle.close_ts_ns,
            price=candle.close,
        )

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The first close ahead whose verdict is positive (the same predicate as
        :meth:`on_candle`, over the analyzer's column); the first close when the column is
        not known ahead (the analyzer hands no table over, or the name is wrong: the engine
        steps, and :meth:`on_candle` reads the value or names the mistake)."""
        if position.is_flat or len(window) == 0:
            return None
        key = self.long_key if position.quantity > 0 else self.short_key
        column = window.columns.get(key)
        if column is None:
            return 0
        hits = np.flatnonzero(column > 0)  # NaN (not every timeframe closed yet) never holds
        return int(hits[0]) if len(hits) else None

    def forget(self, instrument: str) -> None:
        """No per-position state."""

    def _reason(self, position: Position, values: Mapping[str, float]) -> str:
        # The keys first, then only the imbalances' values: reading every value (items())
        # made analyzers with outputs computed on first read (the profile's value area,
        # zones and gaps) compute them all for a reason string that shows none of them.
        imbs = self._imbalances(values)
        op = " < " if position.quantity > 0 else " > "
        chain = op.join(f"{k} {v:.2f}" for k, v in imbs)
        side = "sellers" if position.quantity > 0 else "buyers"
        return f"order-flow cascade reversed, {side} accelerating" + (f": {chain}" if chain else "")

    def _imbalances(self, values: Mapping[str, float]) -> list[tuple[str, float]]:
        """``(output, value)`` of every value named ``"<analyzer>.imbalance_*"``, in the
        order ``values`` lists them.

        The engine's values (``instances()``, ``outputs(instance)``: one analyzer's mapping)
        give the analyzer's own outputs directly instead of every analyzer's names joined: the
        same names in the same order, as long as no other instance's name starts with
        ``"<analyzer>."`` (then the names are walked as any mapping's are)."""
        analyzer = self.config.analyzer
        outputs = getattr(values, "outputs", None)
        instances = getattr(values, "instances", None)
        if outputs is not None and instances is not None:
            dotted = analyzer + "."
            names = instances()
            if not any(i.startswith(dotted) for i in names):
                # Every instance's outputs read in order, as walking the names reads them (an
                # analyzer takes its pending candles on its first read), then the one's kept.
                own: Mapping[str, float] = {}
                for i in names:
                    got = outputs(i)
                    if i == analyzer:
                        own = got
                return [(k, own[k]) for k in own if k.startswith("imbalance_")]
        return [
            (k[len(analyzer) + 1 :], values[k])
            for k in values
            if k.startswith(self._imbalance_prefix)
        ]

    def _missing(self, key: str, values: Mapping[str, float]) -> str:
        prefix = f"{self.config.analyzer}."
        near = sorted(k for k in values if k.startswith(prefix))
        instances = sorted({k.split(".", 1)[0] for k in values})
        if near:
            found = f"that analyzer reports: {', '.join(near)}"
        else:
            found = f"no analyzer instance '{self.config.analyzer}'; instances: " + ", ".join(
                instances
            )
        return (
            f"exit monitor 'reversal' reads '{key}', which no analyzer provides ({found}). "
            f'Set analyzer = "<instance>" in the [exits.<key>] table to the key of an '
            f"[analyzers.<key>] table whose plugin is 'orderflow'"
        )


@hookimpl
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register :class:`CascadeReversal`."""
    registry.add(CascadeReversal)
