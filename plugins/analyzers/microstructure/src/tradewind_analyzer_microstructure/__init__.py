"""tradewind analyzer ``microstructure``: candle shape, volume spike, z-score, autocorrelation.

The analyzer class is :class:`tradewind_analyzer_microstructure.plugin.MicrostructureAnalyzer`;
the rolling statistics in :mod:`tradewind_analyzer_microstructure.rolling` are usable on their
own.
"""

from tradewind_analyzer_microstructure.config import MicrostructureConfig
from tradewind_analyzer_microstructure.plugin import MicrostructureAnalyzer

__all__ = ["MicrostructureAnalyzer", "MicrostructureConfig"]
