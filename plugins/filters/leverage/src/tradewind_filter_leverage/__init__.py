"""tradewind-filter-leverage: cap total notional over equity."""

from tradewind_filter_leverage.plugin import LeverageConfig, LeverageFilter

__all__ = ["LeverageConfig", "LeverageFilter"]
