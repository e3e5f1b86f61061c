"""Options of the regime analyzer (``[analyzers.regime]`` in tradewind.toml)."""

from __future__ import annotations

from typing import Any

import attrs
from tradewind.timeframes import parse_timeframe


def _timeframe(_inst: Any, attr: attrs.Attribute[Any], value: str) -> None:
    try:
        parse_timeframe(value)
    except ValueError as exc:
        raise ValueError(f"{attr.name}: {exc}") from None


def _at_least(low: float) -> Any:
    def check(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attr.name} must be at least {low}, got {value!r}")

    return check


def _fraction(_inst: Any, attr: attrs.Attribute[Any], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attr.name} must be between 0 and 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RegimeConfig:
    """Options of :class:`~tradewind_analyzer_regime.plugin.RegimeAnalyzer`.

    Thresholds default to the seed's level-1 numbers (shared design §5): trending only if
    ADX > 25, Hurst > 0.55, mean-reversion strength < 0.6, EMAs aligned, ATR sufficient and
    higher highs / higher lows (or the mirror) over the last 3 candles; ADX < 20 is ranging.
    """

    #: The one timeframe the analyzer reads (the strategy's longest); other candles are ignored.
    timeframe: str = attrs.field(default="15m", validator=_timeframe)
    #: Wilder period of ADX and of the +DI / -DI it is built from.
    adx_period: int = attrs.field(default=14, validator=_at_least(2))
    #: Wilder period of the average true range.
    atr_period: int = attrs.field(default=14, validator=_at_least(2))
    #: Wilder period of the RSI (reported; not part of the verdict).
    rsi_period: int = attrs.field(default=14, validator=_at_least(2))
    #: Period of the fast EMA of closes.
    ema_fast: int = attrs.field(default=20, validator=_at_least(2))
    #: Period of the slow EMA of closes; must be longer than ``ema_fast``.
    ema_slow: int = attrs.field(default=50, validator=_at_least(2))
    #: Closes in the rolling window of the Hurst exponent (the seed says 50 to 100).
    hurst_window: int = attrs.field(default=100, validator=_at_least(8))
    #: Smallest lag (in candles) of the Hurst regression of log mean-square moves on log lag.
    hurst_min_lag: int = attrs.field(default=1, validator=_at_least(1))
    #: Largest lag; at most half of ``hurst_window`` so every lag keeps enough differences.
    hurst_max_lag: int = attrs.field(default=10, validator=_at_least(2))
    #: Log-return pairs in the rolling regression behind mean-reversion strength.
    mean_reversion_window: int = attrs.field(default=100, validator=_at_least(8))
    #: Candles over which mean-reversion strength measures how much of a displacement from
    #: the mean is undone: strength = 1 - (1 + b) ** horizon.
    mean_reversion_horizon: int = attrs.field(default=10, validator=_at_least(1))
    #: Candles in the higher-high / higher-low check (the last 3 in the seed).
    structure_candles: int = attrs.field(default=3, validator=_at_least(2))
    #: Trending needs ADX strictly above this.
    adx_trending: float = attrs.field(default=25.0, validator=_at_least(0.0))
    #: ADX strictly below this is ranging, whatever the other measures say.
    adx_ranging: float = attrs.field(default=20.0, validator=_at_least(0.0))
    #: Trending needs the Hurst exponent strictly above this (directional persistence).
    hurst_min: float = attrs.field(default=0.55, validator=_fraction)
    #: Trending needs mean-reversion strength strictly below this.
    mean_reversion_max: float = attrs.field(default=0.6, validator=_fraction)
    #: Trending needs ATR / close * 100 at least this (percent of price): enough volatility.
    min_atr_pct: float = attrs.field(default=0.1, validator=_at_least(0.0))

    def __attrs_post_init__(self) -> None:
        if self.ema_fast >= self.ema_slow:
            raise ValueError(
                f"ema_fast ({self.ema_fast}) must be shorter than ema_slow ({self.ema_slow})"
            )
        if not self.hurst_min_lag < self.hurst_max_lag <= self.hurst_window // 2:
            raise ValueError(
                f"Hurst lags must satisfy hurst_min_lag < hurst_max_lag <= hurst_window / 2; "
                f"got {self.hurst_min_lag}, {self.hurst_max_lag}, window {self.hurst_window}"
            )
        if self.adx_ranging > self.adx_trending:
            raise ValueError(
                f"adx_ranging ({self.adx_ranging}) must not be above adx_trending "
                f"({self.adx_trending})"
            )
