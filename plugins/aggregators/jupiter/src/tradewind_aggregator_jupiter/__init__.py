"""tradewind aggregator: Jupiter (Solana)."""

from .plugin import JupiterAggregator, JupiterConfig, parse_quote, parse_swap

__all__ = ["JupiterAggregator", "JupiterConfig", "parse_quote", "parse_swap"]
