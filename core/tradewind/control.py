"""The control surface of a running host: what an operator may change while it trades.

Operators (the HTTP API, a chat bot) never touch the engine's internals: they call a
:class:`Control`. Every call names its caller and is published as a :class:`ControlAction`
event, so the journal keeps it (``events`` and ``system_events``) and the notifiers hear it.

Trading states, as Freqtrade's operators know them:

``running``
    entries and exits as configured.
``paused``
    no new entries; exit monitors, force exits and reconciliation still run.
``stopped``
    no new entries and no automatic exits (the operator has taken over; force exits still
    work). ``start`` (or ``resume``) returns to ``running``.

Entries can also be refused per instrument by an *entry guard* (the watchlist, when it
drives the instrument set): :meth:`Control.entry_block` combines the state and the guards,
and the engine asks it before any entry signal reaches the filters.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from tradewind.errors import ConfigError, TradewindError
from tradewind.model import Event, ExitDecision, Severity, Side, Signal

if TYPE_CHECKING:
    from tradewind.config import Config
    from tradewind.engine import Engine


class TradingState(enum.Enum):
    """What the host is allowed to do on its own."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class ControlError(TradewindError):
    """An operator's request cannot be carried out (unknown instrument, nothing to close)."""


@attrs.frozen(kw_only=True)
class ControlAction(Event):
    """An operator changed something: who, what, and the outcome."""

    action: str
    caller: str
    detail: str = ""
    severity = Severity.WARNING


#: An entry guard: the reason entries of an instrument are refused now, or None.
EntryGuard = Callable[[str], str | None]


class Control:
    """Pause, resume, stop, force exit and force enter a running engine, each journaled."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = TradingState.RUNNING
        self._guards: list[EntryGuard] = []
        #: The run's watchlist (tradewind.watchlist), once its service has opened it.
        self.watchlist: Any = None
        #: Instruments the operator refused entries for.
        self.blacklist: set[str] = set()

    # -- reading --------------------------------------------------------------------------
    def add_entry_guard(self, guard: EntryGuard) -> None:
        """Refuse entries of an instrument whenever ``guard`` gives a reason."""
        self._guards.append(guard)

    def entry_block(self, instrument: str) -> str | None:
        """Why an entry in ``instrument`` is refused now, or None when it may go ahead."""
        if self.state is TradingState.PAUSED:
            return "entries paused by the operator"
        if self.state is TradingState.STOPPED:
            return "trading stopped by the operator"
        return self.instrument_block(instrument)

    def instrument_block(self, instrument: str) -> str | None:
        """Why ``instrument`` itself may not take entries (blacklist, guards), or None."""
        if instrument in self.blacklist:
            return f"{instrument} is blacklisted by the operator"
        for guard in self._guards:
            reason = guard(instrument)
            if reason is not None:
                return reason
        return None

    @property
    def exits_enabled(self) -> bool:
        """False while stopped: exit monitors do not act (force exits still do)."""
        return self.state is not TradingState.STOPPED

    def now_ns(self) -> int:
        """Market time: the last trade the engine saw, or the clock before the first."""
        return self.engine.portfolio.ts_ns or self.engine.clock.now_ns()

    # -- acting ---------------------------------------------------------------------------
    async def _journal(self, action: str, caller: str, detail: str = "") -> None:
        await self.engine.bus.publish(
            ControlAction(
                ts_ns=self.engine.clock.now_ns(), action=action, caller=caller, detail=detail
            )
        )

    async def pause(self, caller: str) -> TradingState:
        """Stop opening positions; exits still run."""
        self.state = TradingState.PAUSED
        await self._journal("pause", caller)
        return self.state

    async def resume(self, caller: str) -> TradingState:
        """Back to running (Freqtrade's ``start``)."""
        self.state = TradingState.RUNNING
        await self._journal("resume", caller)
        return self.state

    async def stop(self, caller: str) -> TradingState:
        """No entries and no automatic exits until resumed."""
        self.state = TradingState.STOPPED
        await self._journal("stop", caller)
        return self.state

    async def blacklist_add(self, instruments: list[str], caller: str) -> None:
        """Refuse entries for ``instruments`` (exits still run)."""
        self.blacklist.update(instruments)
        await self._journal("blacklist", caller, ", ".join(instruments))

    async def blacklist_remove(self, instruments: list[str], caller: str) -> None:
        """Allow entries for ``instruments`` again."""
        self.blacklist.difference_update(instruments)
        await self._journal("unblacklist", caller, ", ".join(instruments))

    async def journal_watchlist(
        self, action: str, instrument: str, caller: str, expires_ts_ns: int
    ) -> None:
        """Journal a watchlist change made by an operator."""
        from tradewind.watchlist import WatchlistChanged

        await self.engine.bus.publish(
            WatchlistChanged(
                ts_ns=self.engine.clock.now_ns(),
                action=action,
                instrument=instrument,
                caller=caller,
                expires_ts_ns=expires_ts_ns,
            )
        )

    def _instrument_state(self, instrument: str) -> Any:
        st = self.engine.state.get(instrument)
        if st is None:
            have = ", ".join(self.engine.state) or "none"
            raise ControlError(f"unknown instrument '{instrument}' (this host trades: {have})")
        return st

    async def force_exit(self, instrument: str | None, caller: str) -> list[str]:
        """Close one instrument's position (or every position with None) through the order
        manager, at market. Returns the instruments a close order was sent for."""
        engine = self.engine
        if instrument is None:
            targets = [p.instrument for p in engine.portfolio.positions()]
        else:
            self._instrument_state(instrument)
            if engine.portfolio.position(instrument).is_flat:
                raise ControlError(f"no open position in '{instrument}' to exit")
            targets = [instrument]
        await self._journal("forceexit", caller, ", ".join(targets) or "no open positions")
        for key in targets:
            st = self._instrument_state(key)
            last = engine.portfolio.last_price(key)
            if math.isnan(last):
                raise ControlError(f"no trade seen yet in '{key}': no price to exit at")
            decision = ExitDecision(
                monitor="forceexit", reason=f"by {caller}", ts_ns=self.now_ns(), price=last
            )
            await engine._close_position(st, decision)
        await engine._publish_pending()
        return targets

    async def force_enter(
        self, instrument: str, side: Side, caller: str, quantity: Decimal | None = None
    ) -> str:
        """Open a position at market, bypassing the strategy (not the order manager).

        ``quantity`` defaults to the size the engine's risk settings give for a stop at the
        strategy's ``stop_pct``. Returns the client order id sent.
        """
        from tradewind.sizing import size_for

        engine = self.engine
        st = self._instrument_state(instrument)
        inst = st.instrument
        last = engine.portfolio.last_price(instrument)
        if math.isnan(last):
            raise ControlError(f"no trade seen yet in '{instrument}': no price to enter at")
        ts = self.now_ns()
        stop_pct = engine.config.strategy.stop_pct
        stop = last * (1 - stop_pct) if side is Side.BUY else last * (1 + stop_pct)
        signal = Signal(
            instrument=instrument,
            side=side,
            entry=inst.round_price(last),
            stop=inst.round_price(stop),
            score=0.0,
            ts_ns=ts,
            reasons={},
        )
        if quantity is None:
            sec = engine.config.strategy
            quantity = size_for(
                signal,
                inst,
                engine.portfolio.equity(),
                Decimal(repr(sec.risk_pct)),
                sec.max_notional,
                max_leverage=Decimal(repr(sec.max_leverage)),
                instrument_cap=sec.instrument_caps.get(instrument),
            )
        quantity = inst.round_size(quantity)
        if quantity <= 0:
            raise ControlError(f"force enter of '{instrument}': the quantity rounds to 0")
        await self._journal("forceenter", caller, f"{instrument} {side.value} {quantity}")
        await engine._send(st, attrs.evolve(signal, quantity=quantity), quantity, ts)
        await engine._publish_pending()
        return next(reversed(engine.orders.orders))


def host_services(config: Config) -> list[Callable[[Engine], AbstractAsyncContextManager[Any]]]:
    """The services a config asks to run beside the feed: the watchlist's expiry job (with
    ``[watchlist] drives_instruments`` or the API) and the HTTP API (``[api] enabled``)."""
    services: list[Callable[[Engine], AbstractAsyncContextManager[Any]]] = []
    if config.watchlist.drives_instruments or config.api.enabled:
        from tradewind.watchlist import watchlist_service

        services.append(watchlist_service)
    if config.api.enabled:
        try:
            from tradewind.api.server import api_service
        except ImportError as exc:
            raise ConfigError(
                f"[api] enabled = true needs the API's libraries ({exc.name} is missing): "
                f"pip install 'tradewind[api]'"
            ) from exc
        services.append(api_service)
    return services
