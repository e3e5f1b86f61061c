"""tradewind-exit-liquidity: close a position when its DEX pool's liquidity drains (rug warning)."""

from tradewind_exit_liquidity.plugin import LiquidityConfig, LiquidityWatch

__all__ = ["LiquidityConfig", "LiquidityWatch"]
