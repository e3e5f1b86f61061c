"""Events the notifiers know that the trading core does not publish itself."""

from __future__ import annotations

import attrs

from tradewind.model import Event, Severity


@attrs.frozen(kw_only=True)
class WatchlistExpiring(Event):
    """An instrument on a watchlist is about to drop off it (the seed's "watchlist expiring").

    Published by whatever maintains a watchlist (a screener, a DEX-pair scanner).
    """

    instrument: str
    expires_ts_ns: int
    reason: str = ""
    severity = Severity.INFO
