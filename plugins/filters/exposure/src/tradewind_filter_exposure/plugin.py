"""The exposure filter: total exposure after the entry must stay within ``max_usd``.

The fourth check of the seed's pre-trade chain (``ExposureCheckHandler``)::

    new_exposure = total_exposure + signal notional
    new_exposure > max_exposure_usd  →  REJECT "Exposure limit would be exceeded: $1,050 > $1,000"

Exposure is gross notional in quote currency (USDT for the seed's pairs; the option keeps the
seed's name ``max_usd``):

- each open position counts ``|quantity| × last price`` (its average entry price until the
  instrument has traded), so exposure follows the market, not the entry;
- with ``count_open_orders`` (default on), each pending entry order (open, not reduce-only)
  counts ``quantity × its limit price`` (its stop price, else the last price, for a stop or
  market order): a resting entry is exposure the moment it fills;
- the signal counts ``|quantity| × entry``.

Longs and shorts add up (gross, not net): a short is exposure too. The boundary is the seed's:
exactly ``max_usd`` passes. ``max_instrument_usd`` (off by default; the seed has no per-symbol
cap) applies the same sum to the signal's instrument alone. A signal with no quantity has no
notional to check and is refused: sizing runs before the filter chain. Closing signals always
pass.
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
class ExposureConfig:
    """Options of the exposure filter."""

    #: Most gross exposure in quote currency, open positions plus the new entry (seed: 1,000).
    max_usd: Decimal = attrs.field(default=Decimal("1000"), converter=to_decimal)
    #: Most exposure in any one instrument; None (default) for no per-instrument cap.
    max_instrument_usd: Decimal | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_decimal)
    )
    #: Count pending entry orders (open, not reduce-only) as exposure.
    count_open_orders: bool = True

    def __attrs_post_init__(self) -> None:
        if self.max_usd <= 0:
            raise ValueError(f"max_usd must be positive, got {self.max_usd}")
        if self.max_instrument_usd is not None and self.max_instrument_usd <= 0:
            raise ValueError(f"max_instrument_usd must be positive, got {self.max_instrument_usd}")


class ExposureFilter:
    """Vetoes an entry that would lift gross exposure above ``max_usd``."""

    name: ClassVar[str] = "exposure"
    config_class: ClassVar[type] = ExposureConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: ExposureConfig) -> None:
        self.config = config

    def exposure(self, ctx: RiskContext, instrument: str | None = None) -> Decimal:
        """Gross exposure of the open positions (and pending entries), of one instrument or all."""
        positions = ctx.positions()
        # Nothing to sum (flat, no entry pending: every decision of a one-position strategy)
        # makes no generator: ``sum((), Decimal(0))`` is its start, and ``0 + 0`` is ``0``.
        total = (
            sum(
                (
                    position_notional(ctx, p)
                    for p in positions
                    if instrument is None or p.instrument == instrument
                ),
                Decimal(0),
            )
            if positions
            else Decimal(0)
        )
        if self.config.count_open_orders:
            orders = open_entry_orders(ctx, instrument)
            if orders or positions:
                total += sum((order_notional(ctx, o) for o in orders), Decimal(0))
            else:
                total = Decimal(0)
        return total

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal whose notional would take exposure past a cap."""
        if signal.intent != "open":
            return None
        if signal.quantity is None:
            return self._veto(signal, f"signal for {signal.instrument} has no quantity to check")
        new = signal_notional(signal)
        current = self.exposure(ctx)
        if current + new > self.config.max_usd:
            return self._veto(
                signal,
                f"exposure {fmt_money(current + new)} would exceed max "
                f"{fmt_money(self.config.max_usd)} (open {fmt_money(current)} + new "
                f"{fmt_money(new)})",
            )
        cap = self.config.max_instrument_usd
        if cap is not None:
            here = self.exposure(ctx, signal.instrument)
            if here + new > cap:
                return self._veto(
                    signal,
                    f"{signal.instrument} exposure {fmt_money(here + new)} would exceed max "
                    f"{fmt_money(cap)} per instrument (open {fmt_money(here)} + new "
                    f"{fmt_money(new)})",
                )
        return None

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the exposure filter."""
    registry.add(ExposureFilter)
