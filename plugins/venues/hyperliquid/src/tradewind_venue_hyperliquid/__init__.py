"""tradewind venue plugin for Hyperliquid perpetuals (market data and execution).

See docs/venues/hyperliquid.md for the options, the order mapping and the rules it enforces.
"""

from tradewind_venue_hyperliquid.config import HyperliquidConfig
from tradewind_venue_hyperliquid.schemas import FundingRate, OrderBook
from tradewind_venue_hyperliquid.venue import HyperliquidVenue, cloid_for

__all__ = ["FundingRate", "HyperliquidConfig", "HyperliquidVenue", "OrderBook", "cloid_for"]
