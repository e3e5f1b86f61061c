"""The balance filter: the margin an entry needs must fit in the equity not already in use.

One of the seed's sanity checks ("Check available balance before trading"), with the seed's
leverage rules ("Regular Trading: 3-5x", the position-sizing example at 5x; "Always maintain
50%+ margin buffer").

The margin model, per instrument kind (``ctx.instrument(key).kind``):

- **perp** — initial margin = notional / ``leverage``;
- **spot** — the full notional (a spot buy spends the quote currency).

Margin in use is the sum over open positions (notional at the last price, the average entry
price before the first trade) and, with ``count_open_orders`` (default on), over pending entry
orders (open, not reduce-only; notional at the limit price, else the stop price, else the last
price). Free equity is ``equity − margin in use``, equity being cash plus unrealised P&L.

An entry passes when its margin fits in the free equity. A perp entry must in addition leave
``margin_buffer_pct`` of equity free (the seed's 50 % buffer, against liquidation); spot
cannot be liquidated, so a spot entry may use all of the free equity. The boundary passes
(margin exactly equal to what is free). A signal with no quantity is refused (sizing runs
before the filters). Closing signals always pass.

``leverage`` is the leverage the venue account is set to for perps; it is what the venue
charges as initial margin, not a cap on exposure (the ``leverage`` filter caps total notional
over equity).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import (
    fmt_money,
    fmt_pct,
    open_entry_orders,
    order_notional,
    position_notional,
    signal_notional,
    to_decimal,
)
from tradewind.model import InstrumentKind, Signal, Veto
from tradewind.protocols import RiskContext


def initial_margin(kind: InstrumentKind, notional: Decimal, leverage: Decimal) -> Decimal:
    """Margin a position of ``notional`` ties up: notional / leverage for perps, all of it spot."""
    return notional / leverage if kind is InstrumentKind.PERP else notional


@attrs.frozen(kw_only=True)
class BalanceConfig:
    """Options of the balance filter."""

    #: Leverage of the perp account: initial margin = notional / leverage (seed: 5x).
    leverage: Decimal = attrs.field(default=Decimal("5"), converter=to_decimal)
    #: Fraction of equity a perp entry must leave free of margin (seed: 50 % buffer).
    margin_buffer_pct: Decimal = attrs.field(default=Decimal("0.5"), converter=to_decimal)
    #: Count pending entry orders (open, not reduce-only) as margin in use.
    count_open_orders: bool = True

    def __attrs_post_init__(self) -> None:
        if self.leverage < 1:
            raise ValueError(f"leverage must be at least 1, got {self.leverage}")
        if not 0 <= self.margin_buffer_pct < 1:
            raise ValueError(f"margin_buffer_pct must be in [0, 1), got {self.margin_buffer_pct}")


class BalanceFilter:
    """Vetoes an entry whose initial margin does not fit in the free equity."""

    name: ClassVar[str] = "balance"
    config_class: ClassVar[type] = BalanceConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: BalanceConfig) -> None:
        self.config = config

    def margin_used(self, ctx: RiskContext) -> Decimal:
        """Initial margin of the open positions and (optionally) the pending entry orders."""
        lev = self.config.leverage
        used = Decimal(0)
        for pos in ctx.positions():
            kind = ctx.instrument(pos.instrument).kind
            used += initial_margin(kind, position_notional(ctx, pos), lev)
        if self.config.count_open_orders:
            for order in open_entry_orders(ctx):
                kind = ctx.instrument(order.instrument).kind
                used += initial_margin(kind, order_notional(ctx, order), lev)
        return used

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal whose margin exceeds the free equity (less the buffer)."""
        if signal.intent != "open":
            return None
        if signal.quantity is None:
            return self._veto(signal, f"signal for {signal.instrument} has no quantity to check")
        kind = ctx.instrument(signal.instrument).kind
        notional = signal_notional(signal)
        need = initial_margin(kind, notional, self.config.leverage)
        equity = ctx.equity()
        used = self.margin_used(ctx)
        if kind is InstrumentKind.PERP:
            buffer = equity * self.config.margin_buffer_pct
            free = equity - used - buffer
            if need > free:
                return self._veto(
                    signal,
                    f"margin {fmt_money(need)} (notional {fmt_money(notional)} at "
                    f"{self.config.leverage.normalize():f}x) exceeds free equity {fmt_money(free)} "
                    f"(equity {fmt_money(equity)} − margin in use {fmt_money(used)} − "
                    f"{fmt_pct(self.config.margin_buffer_pct)} buffer {fmt_money(buffer)})",
                )
            return None
        free = equity - used
        if need > free:
            return self._veto(
                signal,
                f"cost {fmt_money(need)} exceeds free equity {fmt_money(free)} "
                f"(equity {fmt_money(equity)} − margin in use {fmt_money(used)})",
            )
        return None

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the balance filter."""
    registry.add(BalanceFilter)
