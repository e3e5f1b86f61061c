"""tradewind venue: a Solana wallet trading SPL tokens through a swap aggregator."""

from .config import MarketEntry, SolanaConfig, TokenEntry
from .swapsource import SolSwapQuote, SolSwapTx, SwapSource
from .txcheck import SwapExpectation, UnsafeSwap, check_swap
from .venue import SolanaError, SolanaVenue

__all__ = [
    "MarketEntry",
    "SolSwapQuote",
    "SolSwapTx",
    "SolanaConfig",
    "SolanaError",
    "SolanaVenue",
    "SwapExpectation",
    "SwapSource",
    "TokenEntry",
    "UnsafeSwap",
    "check_swap",
]
