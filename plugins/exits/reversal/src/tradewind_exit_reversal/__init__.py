"""tradewind-exit-reversal: close a position when the order-flow cascade reverses."""

from tradewind_exit_reversal.plugin import CascadeReversal, ReversalConfig

__all__ = ["CascadeReversal", "ReversalConfig"]
