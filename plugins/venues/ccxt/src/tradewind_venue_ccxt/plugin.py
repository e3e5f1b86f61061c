"""Entry point of the ``ccxt`` venue: registers :class:`CcxtVenue`."""

from __future__ import annotations

from typing import Any

from tradewind import hookimpl

from .venue import CcxtVenue


@hookimpl
def tradewind_register_venues(registry: Any) -> None:
    """Register the ccxt venue."""
    registry.add(CcxtVenue)
