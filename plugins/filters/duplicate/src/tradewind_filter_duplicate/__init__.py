"""tradewind-filter-duplicate: veto a pending entry's twin or the same signal twice."""

from tradewind_filter_duplicate.plugin import DuplicateConfig, DuplicateFilter

__all__ = ["DuplicateConfig", "DuplicateFilter"]
