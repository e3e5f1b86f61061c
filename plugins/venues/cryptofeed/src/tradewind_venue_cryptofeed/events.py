"""Feed events of this venue, delivered through ``sink.on_event`` like the core's own.

:class:`FeedGap` is a :class:`~tradewind.model.DataQuality`, so everything that handles data
quality (journal, notifiers) handles it; it adds where the gap is. :class:`ConnectionRestored`
pairs with the core's :class:`~tradewind.model.ConnectionLost`.
"""

from __future__ import annotations

import attrs
from tradewind.model import DataQuality, Event, Severity


@attrs.frozen(kw_only=True)
class FeedGap(DataQuality):
    """Trades are, or may be, missing from an instrument's feed.

    ``kind``:

    ``trade_id``   the exchange numbers trades contiguously and ids ``first_missing_id`` ..
                   ``last_missing_id`` never arrived (``rejected = {"missing_trade_ids": n}``);
    ``time``       no trade for longer than ``time_gap_s`` (``{"time_gap": 1}``);
    ``reconnect``  the connection dropped between two trades, on an exchange whose ids cannot
                   prove nothing was lost (``{"reconnect_gap": 1}``).

    ``gap_start_ns`` / ``gap_end_ns`` are the exchange times of the trades either side.
    """

    venue: str
    kind: str
    gap_start_ns: int
    gap_end_ns: int
    first_missing_id: int | None = None
    last_missing_id: int | None = None
    severity = Severity.WARNING


@attrs.frozen(kw_only=True)
class ConnectionRestored(Event):
    """A venue connection that had dropped is up and subscribed again."""

    venue: str
    connection: str
    down_ns: int
    attempts: int
    severity = Severity.INFO
