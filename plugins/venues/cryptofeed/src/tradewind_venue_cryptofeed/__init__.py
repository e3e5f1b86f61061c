"""tradewind venue plugin: market data from any exchange cryptofeed supports.

Trades arrive as :class:`~tradewind.model.TickBatch` through ``stream_trades``; best bid/offer,
depth books, funding and liquidations through ``subscribe()`` and the latest-value accessors;
connection drops, restorations, gaps and duplicates as events through the sink. See
docs/venues/cryptofeed.md.
"""

from tradewind_venue_cryptofeed.config import CryptofeedConfig
from tradewind_venue_cryptofeed.events import ConnectionRestored, FeedGap
from tradewind_venue_cryptofeed.market import FundingRate, L2Book, Liquidation
from tradewind_venue_cryptofeed.venue import CryptofeedVenue

__all__ = [
    "ConnectionRestored",
    "CryptofeedConfig",
    "CryptofeedVenue",
    "FeedGap",
    "FundingRate",
    "L2Book",
    "Liquidation",
]
