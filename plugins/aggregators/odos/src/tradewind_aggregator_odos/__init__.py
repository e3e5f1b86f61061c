"""tradewind aggregator: Odos SOR quote v2 + assemble (docs/aggregators/odos.md)."""

from tradewind_aggregator_odos.plugin import OdosAggregator, OdosConfig, parse_assemble, parse_quote

__all__ = ["OdosAggregator", "OdosConfig", "parse_assemble", "parse_quote"]
