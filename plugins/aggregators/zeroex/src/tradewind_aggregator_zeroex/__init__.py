"""tradewind aggregator: 0x Swap API v2, AllowanceHolder (docs/aggregators/zeroex.md)."""

from tradewind_aggregator_zeroex.plugin import ZeroExAggregator, ZeroExConfig, parse_quote

__all__ = ["ZeroExAggregator", "ZeroExConfig", "parse_quote"]
