"""The entry point of ``tradewind-venue-solana``: registers :class:`SolanaVenue`."""

from __future__ import annotations

from tradewind import hookimpl
from tradewind.registry import KindRegistry

# A relative import: `tradewind plugins` follows it to read the capabilities without importing.
from .venue import SolanaVenue


@hookimpl
def tradewind_register_venues(registry: KindRegistry) -> None:
    """Register the Solana venue."""
    registry.add(SolanaVenue)
