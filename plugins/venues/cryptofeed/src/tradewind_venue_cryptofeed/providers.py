"""Instruments: the exchange's symbol table as cryptofeed loads it, and symbol resolution.

cryptofeed downloads an exchange's symbol list with a *blocking* HTTP request the first time a
feed class is used and caches it per exchange for the process. :func:`load_symbol_table` is
that call; the venue runs it in a worker thread so the host's event loop never blocks on it.
"""

from __future__ import annotations

import dataclasses
import difflib
import ssl
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
from cryptofeed.defines import FUTURES, OPTION, PERPETUAL, SPOT
from tradewind.errors import VenueError
from tradewind.model import Instrument, InstrumentKind


@attrs.frozen(kw_only=True)
class SymbolTable:
    """An exchange's symbols: cryptofeed's normalised names and the exchange's own."""

    exchange: str
    #: normalised ("BTC-USDT-PERP") -> exchange symbol ("BTCUSDT")
    to_exchange: Mapping[str, str]
    #: cryptofeed's per-symbol info: {"tick_size": {...}, "instrument_type": {...}}
    info: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    from_exchange: Mapping[str, str] = attrs.field(init=False)

    @from_exchange.default
    def _invert(self) -> Mapping[str, str]:
        return {native: norm for norm, native in self.to_exchange.items()}

    def resolve(self, symbol: str, *, where: str = "") -> str:
        """The normalised symbol for ``symbol`` given in either form; a VenueError if unknown."""
        if symbol in self.to_exchange:
            return symbol
        norm = self.from_exchange.get(symbol)
        if norm is not None:
            return norm
        close = difflib.get_close_matches(symbol, [*self.to_exchange, *self.from_exchange], n=5)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise VenueError(
            f"{where}symbol {symbol!r} is not listed on {self.exchange} "
            f"({len(self.to_exchange)} symbols known to cryptofeed){hint}"
        )

    def tick_size(self, norm: str) -> Decimal | None:
        """The price tick where cryptofeed knows it."""
        raw = self.info.get("tick_size", {}).get(norm)
        if raw is None:
            return None
        try:
            tick = Decimal(str(raw))
        except InvalidOperation:
            return None
        return tick if tick > 0 else None

    def kind(self, norm: str) -> InstrumentKind:
        """SPOT for spot pairs; PERP for perpetuals and other derivatives (the core has two)."""
        stype = self.info.get("instrument_type", {}).get(norm)
        if stype in (PERPETUAL, FUTURES, OPTION):
            return InstrumentKind.PERP
        if stype == SPOT or stype is None:
            return InstrumentKind.PERP if norm.endswith("-PERP") else InstrumentKind.SPOT
        return InstrumentKind.SPOT

    def instrument(self, venue: str, symbol: str) -> Instrument:
        """An Instrument on ``venue`` named ``symbol`` (as configured), with the tick size."""
        norm = self.resolve(symbol)
        tick = self.tick_size(norm)
        extra: dict[str, Any] = {} if tick is None else {"tick_size": tick}
        return Instrument(venue=venue, symbol=symbol, kind=self.kind(norm), **extra)


def load_symbol_table(feed_cls: Any) -> SymbolTable:
    """Load (or take from cryptofeed's process cache) the symbol table of ``feed_cls``.

    Blocking: call it in a worker thread.
    """
    from cryptofeed.symbols import Symbols

    mapping = feed_cls.symbol_mapping()
    _, info = Symbols.get(feed_cls.id)
    return SymbolTable(exchange=feed_cls.id, to_exchange=dict(mapping), info=dict(info))


def _rehost(address: str, host: str) -> str:
    parts = urlsplit(address)
    query = f"?{parts.query}" if parts.query else ""
    return host.rstrip("/") + parts.path + query


def redirected_feed_class(
    base: type,
    *,
    ws_host: str | None = None,
    rest_host: str | None = None,
    ca_file: Path | None = None,
) -> type:
    """A subclass of the cryptofeed feed ``base`` whose endpoints use other hosts.

    Every websocket endpoint keeps its path on ``ws_host`` (and trusts ``ca_file`` when given);
    every REST endpoint keeps its routes on ``rest_host``. The exchange id, parsing and symbol
    cache are the base class's.
    """
    namespace: dict[str, Any] = {}
    if ws_host is not None:
        extra: dict[str, Any] = {}
        if ca_file is not None:
            extra["ssl"] = ssl.create_default_context(cafile=str(ca_file))
        namespace["websocket_endpoints"] = [
            dataclasses.replace(
                ep,
                address=_rehost(ep.address, ws_host),
                sandbox=_rehost(ep.sandbox, ws_host) if ep.sandbox else None,
                options={**(ep.options or {}), **extra},
            )
            for ep in base.websocket_endpoints  # type: ignore[attr-defined]
        ]
    if rest_host is not None:
        namespace["rest_endpoints"] = [
            dataclasses.replace(
                ep,
                address=_rehost(ep.address, rest_host),
                sandbox=_rehost(ep.sandbox, rest_host) if ep.sandbox else None,
            )
            for ep in base.rest_endpoints  # type: ignore[attr-defined]
        ]
    if not namespace:
        return base
    return type(f"Redirected{base.__name__}", (base,), namespace)
