"""tradewind analyzer ``profile``: rolling market profile, supply/demand zones, fair value gaps.

The analyzer class is :class:`tradewind_analyzer_profile.plugin.ProfileAnalyzer`; the building
blocks (:class:`~tradewind_analyzer_profile.market_profile.VolumeProfile`,
:class:`~tradewind_analyzer_profile.zones.ZoneBook`,
:class:`~tradewind_analyzer_profile.fvg.GapBook`) are usable on their own.
"""

from tradewind_analyzer_profile.config import ProfileConfig
from tradewind_analyzer_profile.plugin import ProfileAnalyzer

__all__ = ["ProfileAnalyzer", "ProfileConfig"]
