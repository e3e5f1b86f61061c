"""What an operator can do to a running host beyond
:class:`tradewind.trading.control.EngineControl`.

:class:`EngineControl` pauses, resumes, stops and force-exits (shared with the chat
commands). The :class:`Operator` adds what the HTTP API needs on top: force enter, a
blacklist, the watchlist as an entry guard, and one way to journal every call with its
caller — in ``control_commands`` (through :meth:`EngineControl.record_command`) and as a
:class:`ControlAction` bus event (the ``events`` journal table, the notifiers, the websocket).

Entry guards: the engine asks each of ``engine.entry_guards`` before an entry signal reaches
the filters; a guard that gives a reason vetoes it (filter ``operator``).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from tradewind.errors import ConfigError
from tradewind.model import Event, Severity, Side, Signal
from tradewind.trading.control import ControlError

if TYPE_CHECKING:
    from tradewind.config import Config
    from tradewind.trading.engine import Engine

_OPERATORS: weakref.WeakKeyDictionary[Any, Operator] = weakref.WeakKeyDictionary()


@attrs.frozen(kw_only=True)
class ControlAction(Event):
    """An operator changed something: who, what, and the outcome."""

    action: str
    caller: str
    detail: str = ""
    severity = Severity.WARNING


class Operator:
    """Force enter, blacklist and watchlist guard of one engine; every call journaled."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.control = engine.control
        #: Instruments refused entries by the operator.
        self.blacklist: set[str] = set()
        #: The run's watchlist (tradewind.trading.watchlist), once its service opened it.
        self.watchlist: Any = None
        engine.entry_guards.append(self.entry_guard)

    @classmethod
    def of(cls, engine: Engine) -> Operator:
        """The operator of ``engine`` (one per engine)."""
        op = _OPERATORS.get(engine)
        if op is None:
            op = _OPERATORS[engine] = cls(engine)
        return op

    # -- reading --------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``running``, ``paused`` (no new entries) or ``stopping`` (the run ends)."""
        if self.control.stop_requested or self.engine.stopper.requested:
            return "stopping"
        return "paused" if self.control.paused else "running"

    def entry_guard(self, instrument: str) -> str | None:
        """Why ``instrument`` may not take entries (blacklisted, off the watchlist), or None."""
        if instrument in self.blacklist:
            return f"{instrument} is blacklisted by the operator"
        wl = self.watchlist
        if wl is not None and self.engine.config.watchlist.drives_instruments:
            return wl.entry_guard(instrument)
        return None

    def tradable(self) -> list[str]:
        """Instruments whose entries no guard refuses (pausing aside)."""
        return [k for k in self.engine.instruments if self.entry_guard(k) is None]

    def now_ns(self) -> int:
        """Market time: the last trade the engine saw, or its clock before the first."""
        return self.engine.portfolio.ts_ns or self.engine.clock.now_ns()

    # -- journaling -----------------------------------------------------------------------
    async def record(
        self, caller: str, command: str, outcome: str, *, accepted: bool = True
    ) -> None:
        """Journal a call: ``control_commands`` (source ``api``) and a ControlAction event."""
        self.control.record_command(
            source="api", sender=caller, command=command, accepted=accepted, outcome=outcome
        )
        await self.engine.bus.publish(
            ControlAction(
                ts_ns=self.engine.clock.now_ns(), action=command, caller=caller, detail=outcome
            )
        )

    # -- acting ---------------------------------------------------------------------------
    async def pause(self, caller: str) -> str:
        """No new entries; exits still run."""
        out = self.control.pause()
        await self.record(caller, "pause", out)
        return out

    async def resume(self, caller: str) -> str:
        """Entries allowed again."""
        out = self.control.resume()
        await self.record(caller, "start", out)
        return out

    async def stop(self, caller: str) -> str:
        """End the run after the current batch (the API goes down with the host)."""
        out = self.control.stop()
        self.engine.stop(f"stopped by {caller}")
        await self.record(caller, "stop", out)
        return out

    async def force_exit(self, target: str, caller: str) -> list[str]:
        """Queue closes of ``target`` (instrument key, symbol or ``all``) through the order
        manager; the engine sends them at its next batch."""
        try:
            keys = self.control.force_exit(target, caller)
        except ControlError as exc:
            await self.record(caller, f"forceexit {target}", str(exc), accepted=False)
            raise
        await self.record(
            caller, f"forceexit {target}", "closing " + (", ".join(keys) or "nothing")
        )
        return keys

    async def force_enter(
        self, instrument: str, side: Side, caller: str, quantity: Decimal | None = None
    ) -> str:
        """Open a position at market through the order manager, bypassing the strategy and
        the filters. ``quantity`` defaults to the size the risk settings give for a stop at
        the strategy's ``stop_pct``. Returns the client order id sent."""
        from tradewind.trading.sizing import size_for

        engine = self.engine
        st = engine.state.get(instrument)
        try:
            if st is None:
                raise ControlError(
                    f"unknown instrument '{instrument}'; instruments: "
                    f"{', '.join(engine.instruments)}"
                )
            inst = st.instrument
            last = engine.portfolio.last_price(instrument)
            if math.isnan(last):
                raise ControlError(f"no trade seen yet in {instrument}: no price to enter at")
            ts = self.now_ns()
            sec = engine.config.strategy
            stop = last * (1 - sec.stop_pct) if side is Side.BUY else last * (1 + sec.stop_pct)
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
                raise ControlError(f"force enter of {instrument}: the quantity rounds to 0")
        except ControlError as exc:
            await self.record(caller, f"forceenter {instrument}", str(exc), accepted=False)
            raise
        await engine._send(st, attrs.evolve(signal, quantity=quantity), quantity, ts)
        await engine._publish_pending()
        cid = next(reversed(engine.orders.orders))
        await self.record(
            caller, f"forceenter {instrument} {side.value} {quantity}", f"order {cid} sent"
        )
        return cid

    async def blacklist_add(self, instruments: list[str], caller: str) -> None:
        """Refuse entries for ``instruments`` (exits still run)."""
        self.blacklist.update(instruments)
        await self.record(caller, "blacklist " + " ".join(instruments), "entries refused")

    async def blacklist_remove(self, instruments: list[str], caller: str) -> None:
        """Allow entries for ``instruments`` again."""
        self.blacklist.difference_update(instruments)
        await self.record(caller, "unblacklist " + " ".join(instruments), "entries allowed")

    async def watchlist_changed(
        self, action: str, instrument: str, caller: str, expires_ts_ns: int
    ) -> None:
        """Journal a watchlist change made by an operator."""
        await self.record(caller, f"watchlist {action} {instrument}", f"expires {expires_ts_ns}")


def host_services(config: Config) -> list[Callable[[Engine], AbstractAsyncContextManager[Any]]]:
    """The services a config asks to run beside the feed: the watchlist's expiry job (with
    ``[watchlist] drives_instruments`` or the API), the HTTP API (``[api] enabled``) and the
    best-execution routers of DEX venues (``[aggregators.*]``)."""
    services: list[Callable[[Engine], AbstractAsyncContextManager[Any]]] = []
    if config.watchlist.drives_instruments or config.api.enabled:
        from tradewind.trading.watchlist import watchlist_service

        services.append(watchlist_service)
    if config.api.enabled:
        try:
            from tradewind.api.server import api_service
        except ImportError as exc:
            raise ConfigError(
                f"[api] enabled = true needs the API's libraries ({exc.name} is missing): "
                f"pip install 'tradewind[api]' @ $.api.enabled"
            ) from exc
        services.append(api_service)
    if config.instances("aggregators"):
        from tradewind.execution.host import routing_service

        services.append(routing_service)
    return services
