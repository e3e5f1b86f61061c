"""tradewind-filter-stopdistance: the stop must be on the right side and within 0.5 %."""

from tradewind_filter_stopdistance.plugin import StopDistanceConfig, StopDistanceFilter

__all__ = ["StopDistanceConfig", "StopDistanceFilter"]
