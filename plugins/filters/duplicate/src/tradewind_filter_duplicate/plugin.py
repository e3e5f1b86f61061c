"""The duplicate filter: no second entry while one is pending, no signal sent twice.

One of the seed's sanity checks ("Prevent duplicate orders"). Two ways an entry is a duplicate:

1. **A pending entry order.** An open (non-terminal) order for the same instrument and side that
   is not reduce-only is an entry still on its way; a second one would double the position.
   (``check_open_orders``, default on.) Exits are reduce-only and never count.
2. **The same signal again.** A signal identical to the last one this filter let through for
   the instrument and side — same entry, stop and quantity — less than ``window_s`` seconds
   later (by the signals' own timestamps, never the wall clock). This catches a strategy or a
   feed replaying the same decision. The seed gives no window; the default, 60 s, is one candle
   of the seed's 1-minute decision timeframe: the same idea twice from one candle is refused,
   a fresh decision on the next candle is not. ``window_s = 0`` turns this check off.

The window runs from the last signal that *passed* this filter; a refused duplicate does not
extend it. A signal that passed here and was then refused by a later filter still counts as
sent, so place this filter late in the chain (the seed's sanity checks come after exposure).
State is one entry per (instrument, side). Closing signals always pass.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_number, open_entry_orders
from tradewind.model import Side, Signal, Veto
from tradewind.protocols import RiskContext

_NS = 1_000_000_000


@attrs.frozen(kw_only=True)
class DuplicateConfig:
    """Options of the duplicate filter."""

    #: Seconds within which an identical signal is refused; 0 turns the check off.
    window_s: float = 60.0
    #: Refuse an entry while an entry order for the same instrument and side is open.
    check_open_orders: bool = True

    def __attrs_post_init__(self) -> None:
        if self.window_s < 0:
            raise ValueError(f"window_s must not be negative, got {self.window_s}")


class DuplicateFilter:
    """Vetoes an entry that duplicates a pending entry order or a recent identical signal."""

    name: ClassVar[str] = "duplicate"
    config_class: ClassVar[type] = DuplicateConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade"})
    essential: ClassVar[bool] = False

    def __init__(self, config: DuplicateConfig) -> None:
        self.config = config
        self._window_ns = round(config.window_s * _NS)
        # (instrument, side) -> ((entry, stop, quantity), ts_ns) of the last signal passed.
        self._last: dict[tuple[str, Side], tuple[tuple[object, ...], int]] = {}

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Veto a duplicate opening signal; remember the ones that pass."""
        if signal.intent != "open":
            return None
        side = signal.side.value
        if self.config.check_open_orders:
            for order in open_entry_orders(ctx, signal.instrument):
                if order.side is signal.side:
                    return self._veto(
                        signal,
                        f"entry order {order.client_order_id} ({side} "
                        f"{fmt_number(order.quantity)} {signal.instrument}) is still open",
                    )
        key = (signal.instrument, signal.side)
        fingerprint = (signal.entry, signal.stop, signal.quantity)
        if self._window_ns > 0:
            last = self._last.get(key)
            if last is not None and last[0] == fingerprint:
                age = signal.ts_ns - last[1]
                if 0 <= age < self._window_ns:
                    qty = "unsized" if signal.quantity is None else fmt_number(signal.quantity)
                    return self._veto(
                        signal,
                        f"identical {side} signal for {signal.instrument} (entry "
                        f"{fmt_number(signal.entry)}, stop {fmt_number(signal.stop)}, "
                        f"quantity {qty}) {age / _NS:g}s ago, within the "
                        f"{self.config.window_s:g}s window",
                    )
            self._last[key] = (fingerprint, signal.ts_ns)
        return None

    def reset(self) -> None:
        """Forget every signal seen."""
        self._last.clear()

    def _veto(self, signal: Signal, reason: str) -> Veto:
        return Veto(filter=self.name, reason=reason, signal=signal, ts_ns=signal.ts_ns)


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the duplicate filter."""
    registry.add(DuplicateFilter)
