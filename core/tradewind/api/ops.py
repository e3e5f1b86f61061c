"""What the API asks of the engine by name: control calls and the reads that need the engine
or its journal, each taking and returning plain values.

A thread-mode API runs these on the engine's loop through its bridge; a process-mode API sends
``("call", id, name, args)`` over its socket and the host runs the same method on the engine's
loop (tradewind.api.procserver). Either way they run between two of the engine's steps, and
state-changing ones are journaled with their caller by the operator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradewind.model import Side

if TYPE_CHECKING:
    from tradewind.api.views import HostView
    from tradewind.trading.operator import Operator


class OpError(Exception):
    """An operation refused with an HTTP status (the API answers ``status`` and ``detail``)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class HostOps:
    """The named operations of one host (:data:`NAMES`); run on the engine's loop."""

    def __init__(self, view: HostView, operator: Operator) -> None:
        self.view = view
        self.operator = operator

    # -- reads that need the engine or the journal ----------------------------------------
    def show_config(self) -> dict[str, Any]:
        """The running config, secrets as their env:NAME references."""
        return self.view.show_config()

    def pair_candles(self, pair: str, timeframe_ns: int, limit: int) -> dict[str, Any] | None:
        """Candles of ``pair`` with signals and analyzer values (None: unknown pair)."""
        return self.view.pair_candles(pair, timeframe_ns, limit)

    def signals(self, limit: int, offset: int) -> dict[str, Any]:
        """A page of signals."""
        return self.view.signals(limit, offset)

    def vetoes(self, limit: int, offset: int) -> dict[str, Any]:
        """A page of vetoes."""
        return self.view.vetoes(limit, offset)

    def fills(self, limit: int) -> list[dict[str, Any]]:
        """The latest fills."""
        return self.view.fills(limit)

    def trades_page(self, limit: int, offset: int) -> dict[str, Any]:
        """A page of ``/trades`` (an API process asks for those its mirror no longer keeps:
        the host reads them back from the journal)."""
        return self.view.trades_page(limit, offset)

    def trade(self, trade_id: int) -> dict[str, Any] | None:
        """One trade's JSON (None: no such trade), as :meth:`trades_page`."""
        snap = self.view.snap
        t = self.view.trade_by_id(trade_id, snap)
        return None if t is None else self.view.trade_json(t, snap)

    def plugins(self) -> dict[str, Any]:
        """The plugin instances."""
        return self.view.plugins()

    def top_liquid(self, n: int) -> list[dict[str, Any]]:
        """Instruments by 24 h quote volume."""
        return self.view.top_liquid(n)

    def logs(self, limit: int | None) -> dict[str, Any]:
        """The host's recent log lines."""
        return self.view.logs.page(limit)

    def whitelist(self) -> dict[str, Any]:
        """Instruments that may take entries now."""
        pairs = self.operator.tradable()
        drives = self.view.settings.drives_instruments
        method = ["WatchlistPairList"] if drives else ["StaticPairList"]
        return {"whitelist": pairs, "length": len(pairs), "method": method}

    def blacklist(self) -> dict[str, Any]:
        """Instruments refused entries by the operator."""
        bl = sorted(self.operator.blacklist)
        return {
            "blacklist": bl,
            "blacklist_expanded": bl,
            "errors": {},
            "length": len(bl),
            "method": ["StaticBlacklist"],
        }

    # -- control --------------------------------------------------------------------------
    async def resume(self, caller: str) -> str:
        """Resume trading."""
        return await self.operator.resume(caller)

    async def pause(self, caller: str) -> str:
        """No new entries; exits still run."""
        return await self.operator.pause(caller)

    async def stop(self, caller: str) -> str:
        """End the run."""
        return await self.operator.stop(caller)

    async def force_enter(self, pair: str, side: str, caller: str, quantity: str | None) -> str:
        """Open a position at market; returns the order's client id."""
        qty = None if quantity is None else Decimal(quantity)
        return await self.operator.force_enter(pair, Side(side), caller, quantity=qty)

    async def force_exit(self, target: str, caller: str) -> list[str]:
        """Close an instrument's position or ``all``; returns the instruments."""
        return await self.operator.force_exit(target, caller)

    async def blacklist_add(self, pairs: list[str], caller: str) -> dict[str, Any]:
        """Refuse entries for ``pairs``."""
        await self.operator.blacklist_add(pairs, caller)
        return self.blacklist()

    async def blacklist_remove(self, pairs: list[str], caller: str) -> dict[str, Any]:
        """Allow entries again for ``pairs``."""
        await self.operator.blacklist_remove(pairs, caller)
        return self.blacklist()

    # -- the watchlist --------------------------------------------------------------------
    def _wl(self) -> Any:
        wl = self.operator.watchlist
        if wl is None:
            raise OpError(503, "the watchlist is not open yet")
        return wl

    def _entry(self, e: Any) -> dict[str, Any]:
        from tradewind.api.views import watchlist_entry_json

        return watchlist_entry_json(e, self.view.engine.clock.now_ns())

    def watchlist(self, include_inactive: bool) -> dict[str, Any]:
        """Active entries by priority (all with ``include_inactive``)."""
        from tradewind.api.views import watchlist_listing

        return watchlist_listing(
            self._wl().entries(include_inactive=True),
            include_inactive,
            self.view.engine.clock.now_ns(),
            self.view.settings.drives_instruments,
        )

    async def watchlist_add(
        self,
        exchange: str,
        market_type: str,
        symbol: str,
        duration_hours: float,
        priority: int,
        caller: str,
    ) -> dict[str, Any]:
        """Watch an instrument; journaled with the caller."""
        e = self._wl().add(
            exchange=exchange,
            market_type=market_type,
            symbol=symbol,
            duration_hours=duration_hours,
            priority=priority,
            caller=caller,
        )
        await self.operator.watchlist_changed("add", e.instrument, caller, e.expires_ts_ns)
        return self._entry(e)

    async def watchlist_renew(
        self, key: str, caller: str, duration_hours: float | None
    ) -> dict[str, Any]:
        """Extend an entry; journaled with the caller."""
        e = self._wl().renew(key, caller=caller, duration_hours=duration_hours)
        await self.operator.watchlist_changed("renew", e.instrument, caller, e.expires_ts_ns)
        return self._entry(e)

    async def watchlist_remove(self, key: str, caller: str) -> dict[str, Any]:
        """Take an instrument off the watchlist; journaled with the caller."""
        e = self._wl().remove(key, caller=caller)
        await self.operator.watchlist_changed("remove", e.instrument, caller, e.expires_ts_ns)
        return self._entry(e)


#: The operations an API process may ask for (anything else is refused).
NAMES = frozenset(
    name for name in vars(HostOps) if not name.startswith("_") and callable(vars(HostOps)[name])
)
