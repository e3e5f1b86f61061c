"""tradewind-venue-ccxt: one execution venue for any exchange ccxt speaks."""

from .config import CcxtVenueConfig
from .schemas import FundingRate
from .venue import CcxtVenue

__all__ = ["CcxtVenue", "CcxtVenueConfig", "FundingRate"]
