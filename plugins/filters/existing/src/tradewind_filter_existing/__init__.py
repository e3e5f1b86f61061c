"""tradewind-filter-existing: veto an entry in an instrument that already holds a position."""

from tradewind_filter_existing.plugin import ExistingConfig, ExistingPositionFilter

__all__ = ["ExistingConfig", "ExistingPositionFilter"]
