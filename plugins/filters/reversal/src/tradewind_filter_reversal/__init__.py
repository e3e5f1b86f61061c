"""tradewind-filter-reversal: an entry against an open position closes that position first."""

from tradewind_filter_reversal.plugin import ReversalConfig, ReversalFilter

__all__ = ["ReversalConfig", "ReversalFilter"]
