"""The leverage filter: total notional over equity must stay within ``max_leverage``.

One of the seed's sanity checks ("leverage cap"), with the seed's number: "Never: >10x leverage
(our hard limit)" (and for forex "Max leverage: 10:1 (even if broker allows higher)").

Account leverage after the entry is::

    (Σ |quantity| × last price of open positions  +  pending entry orders  +  |quantity| × entry)
    ───────────────────────────────────────────────────────────────────────────────────────────
                                  equity (cash + unrealised P&L)

Positions count at the last price (the average entry price before the first trade), longs and
shorts alike (gross). With ``count_open_orders`` (default on) each pending entry order (open,
not reduce-only) counts at its limit price, else its stop price, else the last price. Exactly
``max_leverage`` passes. With equity at or below zero every entry is refused. A signal with no
quantity is refused (sizing runs before the filters). Closing signals always pass: they lower
leverage.

This caps the exposure the account takes on; the margin the venue charges for it is the
``balance`` filter's concern.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import (
    fmt_money,
    open_entry_orders,
    order_notional,
    position_notional,
    signal_notional,
    to_decimal,
)
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext


@attrs.frozen(kw_only=True)
class LeverageConfig:
    """Options of the leverage filter."""

    #: Most total notional per unit of equity, after the entry (seed: 10x, "our hard limit").
    max_leverage: Decimal = attrs.field(default=Decimal("10"), converter=to_decimal)
    #: Count pending entry orders (open, not reduce-only) as notional.
    count_open_orders: bool = True

    def __attrs_post_init__(self) -> None:
        if self.max_leverage <= 0:
            raise ValueError(f"max_leverage must be positive, got {self.max_leverage}")


class LeverageFilter:
    """Vetoes an entry that would lift total notional above ``max_leverage`` × equity."""

    name: ClassVar[str] = "leverage"
    config_class: ClassVar[type] = LeverageConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: LeverageConfig) -> None:
        self.config = config

    def notional(self, ctx: RiskContext) -> Decimal:
        """Gross notional of the open positions and (optionally) the pending entry orders."""
        total = Decimal(0)
        for pos in ctx.positions():
            total += position_notional(ctx, pos)
        if self.config.count_open_orders:
            for order in open_entry_orders(ctx):
                total += order_notional(ctx, order)
        return total

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal that would take leverage past the cap."""
        if signal.intent != "open":
            return None
        if signal.quantity is None:
            return self._veto(signal, f"signal for {signal.instrument} has no quantity to check")
        equity = ctx.equity()
        total = self.notional(ctx) + signal_notional(signal)
        cap = self.config.max_leverage
        if equity <= 0:
            return self._veto(signal, f"equity is {fmt_money(equity)}: no entry can be levered")
        leverage = total / equity
        if leverage > cap:
            return self._veto(
                signal,
                f"leverage {leverage:.2f}x would exceed max {cap.normalize():f}x "
                f"(notional {fmt_money(total)} / equity {fmt_money(equity)})",
            )
        return None

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the leverage filter."""
    registry.add(LeverageFilter)
