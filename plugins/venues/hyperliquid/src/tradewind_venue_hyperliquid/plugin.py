"""The entry point of ``tradewind-venue-hyperliquid``: registers :class:`HyperliquidVenue`."""

from __future__ import annotations

from tradewind import hookimpl
from tradewind.registry import KindRegistry

# A relative import: `tradewind plugins` follows it to read the capabilities without importing.
from .venue import HyperliquidVenue


@hookimpl
def tradewind_register_venues(registry: KindRegistry) -> None:
    """Register the Hyperliquid venue."""
    registry.add(HyperliquidVenue)
