"""The max-positions filter: at most ``max_open_positions`` instruments hold a position.

The third check of the seed's pre-trade chain (``PositionLimitHandler``): refuse when
``open positions >= max_open_positions``. The boundary is the seed's: its worked example shows a
signal passing at "4/5 positions", so with the default of 5 the fifth position opens and the
sixth is refused.

Two choices the seed leaves open, and what this filter does:

- A signal for an instrument that already holds a position does not open a new one (it adds to
  or reverses that position), so it never counts against the limit.
- With ``count_open_orders`` (default on), an instrument with a pending entry order (any open
  order that is not reduce-only) counts as holding a position: in live trading an order can rest
  for a while, and two signals in that gap must not both take the last slot.

Closing signals always pass.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import open_entry_orders
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext


@attrs.frozen(kw_only=True)
class MaxPositionsConfig:
    """Options of the max-positions filter."""

    #: Most instruments with an open position at once (the seed's example: 5).
    max_open_positions: int = 5
    #: Count an instrument with a pending entry order as holding a position.
    count_open_orders: bool = True

    def __attrs_post_init__(self) -> None:
        if self.max_open_positions < 1:
            raise ValueError(
                f"max_open_positions must be at least 1, got {self.max_open_positions}"
            )


class MaxPositionsFilter:
    """Vetoes an entry that would open one position more than ``max_open_positions``."""

    name: ClassVar[str] = "maxpositions"
    config_class: ClassVar[type] = MaxPositionsConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: MaxPositionsConfig) -> None:
        self.config = config

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal for a new instrument when every slot is taken."""
        if signal.intent != "open":
            return None
        held = {p.instrument for p in ctx.positions()}
        pending: set[str] = set()
        if self.config.count_open_orders:
            pending = {o.instrument for o in open_entry_orders(ctx)} - held
        if signal.instrument in held or signal.instrument in pending:
            return None  # adds to (or reverses) a position it already has: no new slot
        limit = self.config.max_open_positions
        if len(held) + len(pending) < limit:
            return None
        what = f"{len(held)} open positions"
        if pending:
            entries = "entry" if len(pending) == 1 else "entries"
            what += f" + {len(pending)} pending {entries}"
        return Veto(
            filter=self.name,
            reason=f"max open positions reached: {what}, max {limit}; no room for "
            f"{signal.instrument}",
            signal=signal,
            ts_ns=signal.ts_ns,
        )


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the max-positions filter."""
    registry.add(MaxPositionsFilter)
