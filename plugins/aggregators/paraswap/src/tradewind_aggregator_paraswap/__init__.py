"""tradewind aggregator: ParaSwap (Velora) API v6.2 (docs/aggregators/paraswap.md)."""

from tradewind_aggregator_paraswap.plugin import (
    ParaSwapAggregator,
    ParaSwapConfig,
    parse_price,
    parse_transaction,
)

__all__ = ["ParaSwapAggregator", "ParaSwapConfig", "parse_price", "parse_transaction"]
