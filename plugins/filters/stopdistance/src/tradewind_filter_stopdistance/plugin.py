"""The stop-distance filter: the protective stop is never worse than 0.5 % from the entry.

The last of the seed's sanity checks ("Verify stop-loss is never worse than 0.5% from entry"),
the seed's universal 0.5 % risk per position. For a buy the stop must lie below the entry, for
a sell above it, and ``|entry − stop| / entry`` must not exceed ``max_stop_pct`` (exactly
0.5 % passes: "never worse than").

Stops are quantised to the instrument's tick (rounded to the nearest tick), so a stop computed
at exactly ``max_stop_pct`` can land up to half a tick further out. With ``tick_tolerance``
(default on) that half tick is allowed; turn it off to hold the limit exactly. A stop on the
entry itself, or on the wrong side of it, protects nothing and is refused. Closing signals
always pass.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_number, to_decimal
from tradewind.model import Side, Signal, Veto
from tradewind.protocols import RiskContext


@attrs.frozen(kw_only=True)
class StopDistanceConfig:
    """Options of the stop-distance filter."""

    #: Largest distance of the stop from the entry, as a fraction (0.005 = the seed's 0.5 %).
    max_stop_pct: Decimal = attrs.field(default=Decimal("0.005"), converter=to_decimal)
    #: Allow half a tick beyond the limit: what rounding the stop to the tick can add.
    tick_tolerance: bool = True

    def __attrs_post_init__(self) -> None:
        if not 0 < self.max_stop_pct < 1:
            raise ValueError(f"max_stop_pct must be in (0, 1), got {self.max_stop_pct}")


class StopDistanceFilter:
    """Vetoes an entry whose stop is on the wrong side or further than ``max_stop_pct``."""

    name: ClassVar[str] = "stopdistance"
    config_class: ClassVar[type] = StopDistanceConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False
    #: Reads the signal, the last trade and the instrument only: runs on a strategy host.
    reads_account: ClassVar[bool] = False

    def __init__(self, config: StopDistanceConfig) -> None:
        self.config = config

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal whose stop is missing, misplaced or too far."""
        if signal.intent != "open":
            return None
        entry, stop = signal.entry, signal.stop
        if signal.side is Side.BUY and not stop < entry:
            return self._veto(
                signal,
                f"stop {fmt_number(stop)} of a buy must be below the entry {fmt_number(entry)}",
            )
        if signal.side is Side.SELL and not stop > entry:
            return self._veto(
                signal,
                f"stop {fmt_number(stop)} of a sell must be above the entry {fmt_number(entry)}",
            )
        distance = abs(entry - stop)
        allowed = entry * self.config.max_stop_pct
        if self.config.tick_tolerance:
            allowed += ctx.instrument(signal.instrument).tick_size / 2
        if distance > allowed:
            return self._veto(
                signal,
                f"stop {fmt_number(stop)} is {distance / entry:.3%} from the entry "
                f"{fmt_number(entry)} (max {self.config.max_stop_pct:.3%})",
            )
        return None

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the stop-distance filter."""
    registry.add(StopDistanceFilter)
