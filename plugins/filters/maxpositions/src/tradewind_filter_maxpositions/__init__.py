"""tradewind-filter-maxpositions: cap the number of open positions."""

from tradewind_filter_maxpositions.plugin import MaxPositionsConfig, MaxPositionsFilter

__all__ = ["MaxPositionsConfig", "MaxPositionsFilter"]
