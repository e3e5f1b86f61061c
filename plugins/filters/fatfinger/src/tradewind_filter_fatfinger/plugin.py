"""The fat-finger filter: the entry price must be near the last trade.

One of the seed's sanity checks ("Validate order prices (prevent fat-finger errors)"). The seed
gives no number; the default band is 1 %: a scalping entry is placed at or next to the market
(the seed's stops and trails are 0.5 %), so an entry further than twice the stop distance from
the last trade is a wrong price, not a trading idea. Widen it for instruments that move more
between decisions.

The deviation is ``|entry − last| / last`` with ``last`` the instrument's last traded price. It is
symmetric: a buy far above the market would fill at a bad price, a buy far below it says the
price the strategy used is stale or wrong. Exactly ``max_deviation_pct`` passes. An instrument
that has not traded yet has no reference price, and its entries are refused. Closing signals
always pass (an exit must never be blocked by a price check).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_number, last_price, to_decimal
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext


@attrs.frozen(kw_only=True)
class FatFingerConfig:
    """Options of the fat-finger filter."""

    #: Largest distance of the entry from the last trade, as a fraction (0.01 = 1 %).
    max_deviation_pct: Decimal = attrs.field(default=Decimal("0.01"), converter=to_decimal)

    def __attrs_post_init__(self) -> None:
        if not 0 < self.max_deviation_pct < 1:
            raise ValueError(f"max_deviation_pct must be in (0, 1), got {self.max_deviation_pct}")


class FatFingerFilter:
    """Vetoes an entry whose price is more than ``max_deviation_pct`` from the last trade."""

    name: ClassVar[str] = "fatfinger"
    config_class: ClassVar[type] = FatFingerConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False
    #: Reads the signal, the last trade and the instrument only: runs on a strategy host.
    reads_account: ClassVar[bool] = False

    def __init__(self, config: FatFingerConfig) -> None:
        self.config = config

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto an opening signal priced too far from the last trade."""
        if signal.intent != "open":
            return None
        last = last_price(ctx, signal.instrument)
        if last is None or last <= 0:
            return self._veto(
                signal, f"no last trade for {signal.instrument} to check the entry price against"
            )
        deviation = abs(signal.entry - last) / last
        if deviation > self.config.max_deviation_pct:
            return self._veto(
                signal,
                f"entry {fmt_number(signal.entry)} is {deviation:.2%} from the last trade "
                f"{fmt_number(last)} (max {self.config.max_deviation_pct:.2%})",
            )
        return None

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the fat-finger filter."""
    registry.add(FatFingerFilter)
