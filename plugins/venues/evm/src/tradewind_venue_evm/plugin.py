"""The entry point of ``tradewind-venue-evm``: registers :class:`EvmVenue`."""

from __future__ import annotations

from tradewind import hookimpl
from tradewind.registry import KindRegistry

# A relative import: `tradewind plugins` follows it to read the capabilities without importing.
from .venue import EvmVenue


@hookimpl
def tradewind_register_venues(registry: KindRegistry) -> None:
    """Register the EVM DEX venue."""
    registry.add(EvmVenue)
