"""tradewind-filter-fatfinger: veto an entry price too far from the last trade."""

from tradewind_filter_fatfinger.plugin import FatFingerConfig, FatFingerFilter

__all__ = ["FatFingerConfig", "FatFingerFilter"]
