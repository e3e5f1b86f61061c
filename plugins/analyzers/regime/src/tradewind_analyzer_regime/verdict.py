"""The regime verdict: trending up (+1), trending down (-1) or ranging (0).

The seed's level-1 rule (shared design §5), with every threshold from :class:`RegimeConfig`:

* ADX below ``adx_ranging`` (20): ranging, 0, whatever else holds;
* trending up, +1: ADX above ``adx_trending`` (25), Hurst above ``hurst_min`` (0.55),
  mean-reversion strength below ``mean_reversion_max`` (0.6), ATR at least ``min_atr_pct``
  percent of the close, close > fast EMA > slow EMA, and higher highs with higher lows;
* trending down, -1: the same strength conditions, close < fast EMA < slow EMA, and lower lows
  with lower highs;
* anything else (ADX between the two thresholds included): 0.

NaN while ADX is undefined, or while ADX is at least ``adx_ranging`` and some other input is
undefined (warm-up, or a window too flat for a Hurst exponent).
"""

from __future__ import annotations

import math

from tradewind_analyzer_regime.config import RegimeConfig


def alignment(close: float, ema_fast: float, ema_slow: float) -> float:
    """+1.0 if close > fast > slow, -1.0 if close < fast < slow, else 0.0; NaN if undefined."""
    if math.isnan(ema_fast) or math.isnan(ema_slow):
        return math.nan
    if close > ema_fast > ema_slow:
        return 1.0
    if close < ema_fast < ema_slow:
        return -1.0
    return 0.0


def regime(
    cfg: RegimeConfig,
    *,
    adx: float,
    hurst: float,
    mean_reversion: float,
    ema_alignment: float,
    atr_pct: float,
    structure: float,
) -> float:
    """The verdict for one set of indicator values (see the module doc)."""
    if math.isnan(adx):
        return math.nan
    if adx < cfg.adx_ranging:
        return 0.0
    others = (hurst, mean_reversion, ema_alignment, atr_pct, structure)
    if any(math.isnan(v) for v in others):
        return math.nan
    strong = (
        adx > cfg.adx_trending
        and hurst > cfg.hurst_min
        and mean_reversion < cfg.mean_reversion_max
        and atr_pct >= cfg.min_atr_pct
    )
    if not strong:
        return 0.0
    if ema_alignment == 1.0 and structure == 1.0:
        return 1.0
    if ema_alignment == -1.0 and structure == -1.0:
        return -1.0
    return 0.0
