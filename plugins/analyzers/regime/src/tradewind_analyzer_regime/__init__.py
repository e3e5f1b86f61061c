"""tradewind-analyzer-regime: is the market trending up, trending down, or ranging?

The analyzer class is :class:`tradewind_analyzer_regime.plugin.RegimeAnalyzer`; its options
are :class:`tradewind_analyzer_regime.config.RegimeConfig`. The streaming indicators it is
built from (``Adx``, ``Atr``, ``Ema``, ``Rsi``, ``RollingHurst``, ``RollingMeanReversion``,
``Structure``) are usable on their own.
"""

from tradewind_analyzer_regime.adx import Adx
from tradewind_analyzer_regime.config import RegimeConfig
from tradewind_analyzer_regime.ema import Ema
from tradewind_analyzer_regime.hurst import RollingHurst
from tradewind_analyzer_regime.mean_reversion import RollingMeanReversion
from tradewind_analyzer_regime.plugin import RegimeAnalyzer
from tradewind_analyzer_regime.rsi import Rsi
from tradewind_analyzer_regime.structure import Structure
from tradewind_analyzer_regime.true_range import Atr

__all__ = [
    "Adx",
    "Atr",
    "Ema",
    "RegimeAnalyzer",
    "RegimeConfig",
    "RollingHurst",
    "RollingMeanReversion",
    "Rsi",
    "Structure",
]
