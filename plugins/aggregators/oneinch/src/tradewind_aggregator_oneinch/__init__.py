"""tradewind aggregator: 1inch Swap API v6 (docs/aggregators/oneinch.md)."""

from tradewind_aggregator_oneinch.plugin import OneInchAggregator, OneInchConfig, parse_swap

__all__ = ["OneInchAggregator", "OneInchConfig", "parse_swap"]
