"""The existing-position filter: one position per instrument.

The first check of the seed's pre-trade chain (``ExistingPositionHandler``): an opening signal
for an instrument that already holds a position is refused ("Position already exists for
BTCUSDT"). By default only a position on the *same* side counts, so that a signal against an
open position reaches the next check in the chain, ``reversal``, which closes the position
first. The seed's handler refused either side, which made its own reversal handler
unreachable; ``side = "any"`` restores that behaviour (then no reversal ever happens).
Closing signals always pass.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_position
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext

_SIDES = ("same", "any")


@attrs.frozen(kw_only=True)
class ExistingConfig:
    """Options of the existing-position filter."""

    #: Which open position blocks an entry: "same" (a position on the signal's side) or "any".
    side: str = "same"

    def __attrs_post_init__(self) -> None:
        if self.side not in _SIDES:
            raise ValueError(f"side must be one of {', '.join(_SIDES)}, got {self.side!r}")


class ExistingPositionFilter:
    """Vetoes an opening signal when the instrument already holds a (same-side) position."""

    name: ClassVar[str] = "existing"
    config_class: ClassVar[type] = ExistingConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: ExistingConfig) -> None:
        self.config = config

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal for an instrument with an open position that counts."""
        if signal.intent != "open":
            return None
        pos = ctx.position(signal.instrument)
        if pos.is_flat:
            return None
        if self.config.side == "same" and pos.side is not signal.side:
            return None
        return Veto(
            filter=self.name,
            reason=f"position already exists for {signal.instrument}: {fmt_position(ctx, pos)}",
            signal=signal,
            ts_ns=signal.ts_ns,
        )


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the existing-position filter."""
    registry.add(ExistingPositionFilter)
