"""Entry point ``tradewind.venues: cryptofeed``: registers :class:`CryptofeedVenue`."""

from __future__ import annotations

from tradewind.hookspecs import hookimpl
from tradewind.registry import KindRegistry

from .venue import CryptofeedVenue


@hookimpl
def tradewind_register_venues(registry: KindRegistry) -> None:
    """Register the cryptofeed data venue."""
    registry.add(CryptofeedVenue)
