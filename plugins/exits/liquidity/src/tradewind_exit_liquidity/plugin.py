"""DEX liquidity watch: exit when pool liquidity drops more than 30 % (the seed's rug warning).

The seed (2.7.2, meme coins; 2.2.5, portfolio risk manager) says "exit if DEX liquidity drops
>30 %", and its config pins the window: ``liquidity_drop: threshold_pct 30, window_minutes 10``,
a drop of more than 30 % *within 10 minutes*. So the reference is the highest liquidity observed in
the last ``window_minutes`` (both ends included) since the position opened, and the position
exits at the close of the first candle whose value is strictly below
``reference × (1 − drop_pct)``. ``window_minutes = 0`` measures from the highest value since
entry instead (a slow bleed counts too).

The liquidity comes from an analyzer value, named ``"<analyzer instance>.<output>"`` (e.g. a
pool analyzer's ``liquidity_usd``), read at each candle close; a NaN value is "not known yet"
and neither triggers nor becomes the reference. The first observation is the first candle close
after the position opened. The window's maximum is kept in a monotonic queue: O(1) amortised
per candle.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

import attrs
import numpy as np
from tradewind import hookimpl
from tradewind.errors import ConfigError
from tradewind.model import Candle, ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.registry import KindRegistry
from tradewind.trading.exit_scan import HoldWindow

NS_PER_MINUTE = 60_000_000_000


def _value_name(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    head, dot, tail = value.partition(".")
    if not (head and dot and tail):
        raise ValueError(
            f'{attr.name} must name an analyzer value as "<analyzer instance>.<output>", '
            f'e.g. "pool.liquidity_usd"; got {value!r}'
        )


def _fraction(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{attr.name} must be in (0, 1), got {value!r}")


def _not_negative(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attr.name} must be 0 (since entry) or positive, got {value!r}")


@attrs.frozen(kw_only=True)
class LiquidityConfig:
    """Options of the liquidity-watch exit monitor."""

    #: The analyzer value holding the pool's liquidity, ``"<instance>.<output>"``.
    liquidity_value: str = attrs.field(default="pool.liquidity_usd", validator=_value_name)
    #: Exit when liquidity is more than this fraction below the reference (seed: 30 %).
    drop_pct: float = attrs.field(default=0.30, validator=_fraction)
    #: The reference is the highest value of the last this-many minutes (seed: 10);
    #: 0 = the highest value since entry.
    window_minutes: float = attrs.field(default=10.0, validator=_not_negative)


@attrs.define
class _Watch:
    """The liquidity observed for one open position."""

    opened_ts_ns: int
    #: (close time, value), values strictly decreasing: the front is the window's maximum.
    peaks: deque[tuple[int, float]] = attrs.field(factory=deque)
    last_ts_ns: int = -1


class LiquidityWatch:
    """Closes a position when its pool's liquidity falls ``drop_pct`` below its recent peak."""

    name: ClassVar[str] = "liquidity"
    config_class: ClassVar[type] = LiquidityConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"candles", "scan"})

    def __init__(self, config: LiquidityConfig) -> None:
        self.config = config
        self.window_ns = round(config.window_minutes * NS_PER_MINUTE)
        self._keep = Decimal(1) - Decimal(repr(config.drop_pct))
        self._watch: dict[str, _Watch] = {}

    def reference(self, instrument: str) -> float | None:
        """The current reference (peak) liquidity of ``instrument``'s position, if observed."""
        w = self._watch.get(instrument)
        return w.peaks[0][1] if w is not None and w.peaks else None

    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """Liquidity is an analyzer value, read at candle closes: nothing to do on trades."""
        return None

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Fold the liquidity at ``candle``'s close in; exit there on a drop beyond the limit.

        Raises ConfigError when analyzer values are present but the configured one is not.
        """
        if position.is_flat or not values:
            return None
        key = self.config.liquidity_value
        try:
            value = values[key]
        except KeyError:
            raise ConfigError(self._missing(values)) from None
        if math.isnan(value):
            return None
        w = self._watch.get(position.instrument)
        if w is None or w.opened_ts_ns != position.opened_ts_ns:
            w = self._watch[position.instrument] = _Watch(opened_ts_ns=position.opened_ts_ns)
        now = candle.close_ts_ns
        if now <= w.last_ts_ns:
            return None  # another timeframe's candle closing at the same boundary: same values
        w.last_ts_ns = now
        peaks = w.peaks
        while peaks and peaks[-1][1] <= value:
            peaks.pop()
        peaks.append((now, value))
        if self.window_ns:
            while peaks[0][0] < now - self.window_ns:
                peaks.popleft()
        peak = peaks[0][1]
        if not Decimal(value) < Decimal(peak) * self._keep:
            return None
        span = f"the last {self.config.window_minutes:g} min" if self.window_ns else "since entry"
        return ExitDecision(
            monitor=self.name,
            reason=(
                f"{key} fell {1 - value / peak:.2%} to {value:,.2f} from {peak:,.2f} "
                f"(the highest of {span}; limit {self.config.drop_pct:.0%})"
            ),
            ts_ns=now,
            price=candle.close,
        )

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The first close ahead with a known (non-NaN) liquidity value: :meth:`on_candle`
        folds every such value into its window, which the walk does not do, so the engine
        steps from there (exact, and no faster while the pool reports). Closes whose value
        is NaN change nothing and are walked. The first close when the value is not known
        ahead (its analyzer hands no table over, or the name is wrong: :meth:`on_candle`
        then reads it or names the mistake)."""
        if position.is_flat or len(window) == 0:
            return None
        column = window.columns.get(self.config.liquidity_value)
        if column is None:
            return 0
        known = np.flatnonzero(~np.isnan(column))
        return int(known[0]) if len(known) else None

    def forget(self, instrument: str) -> None:
        """Drop the observations of a position that closed."""
        self._watch.pop(instrument, None)

    def _missing(self, values: Mapping[str, float]) -> str:
        key = self.config.liquidity_value
        instance = key.partition(".")[0]
        near = sorted(k for k in values if k.startswith(instance + "."))
        if near:
            found = f"analyzer instance '{instance}' reports: {', '.join(near)}"
        else:
            found = "analyzer instances: " + ", ".join(sorted({k.split(".")[0] for k in values}))
        return (
            f"exit monitor 'liquidity' reads liquidity_value = '{key}', which no analyzer "
            f"provides ({found}). Set liquidity_value in the [exits.<key>] table to "
            f'"<analyzer instance>.<output>" of an analyzer that reports pool liquidity'
        )


@hookimpl
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register :class:`LiquidityWatch`."""
    registry.add(LiquidityWatch)
