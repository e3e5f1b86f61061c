"""The engine's control surface: pause and resume entries, force exits, stop, and read-outs.

A narrow interface for anything that steers a running engine — the Telegram notifier's
commands today, the HTTP API later. Every command is journaled with who sent it
(:meth:`EngineControl.record_command`, table ``control_commands`` in the journal file):

``ts_ns``, ``run_id``, ``source`` (``telegram:<instance>``), ``sender`` (chat and user),
``command`` (as sent), ``accepted`` (false: refused, e.g. a chat not on the allow-list),
``outcome`` (what the engine did, or why nothing).

- :meth:`pause` stops new entries; exits (monitors, filters' close actions, force exits)
  still run.
- :meth:`force_exit` queues a close of one or every position; the engine sends the close
  orders through its order manager at its next batch, exactly as an exit monitor's decision.
- :meth:`stop` ends the run after the current batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradewind.model import ExitDecision

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine
    from tradewind.trading.pnl import MoneyTotal

log = logging.getLogger("tradewind.trading.control")

SCHEMA = """
CREATE TABLE IF NOT EXISTS control_commands (
    ts_ns BIGINT,
    run_id VARCHAR,
    source VARCHAR,
    sender VARCHAR,
    command VARCHAR,
    accepted BOOLEAN,
    outcome VARCHAR
);
"""


class ControlError(Exception):
    """A command cannot be carried out (unknown instrument, nothing to close)."""


def _money(value: Decimal, currency: str = "") -> str:
    """``1,234.57``: 2 decimals, or the decimals of ``currency`` when given (8 for a coin)."""
    if not value.is_finite():
        return str(value)
    places = 2
    if currency:
        from tradewind.report.analysis import money_places

        places = money_places(currency)
    return f"{value.quantize(Decimal(1).scaleb(-places)):,}"


def _total_text(mt: MoneyTotal) -> str:
    """A total in the reporting currency, with each currency's amount when they differ;
    ``n/a`` with the amounts and the reason when one cannot be converted."""
    parts = ", ".join(f"{_money(v, c)} {c}" for c, v in sorted(mt.by_currency.items()))
    if mt.total is None:
        return f"n/a ({mt.error}): {parts}"
    if mt.mixed:
        return f"{_money(mt.total)} ({parts})"
    return _money(mt.total)


class EngineControl:
    """Steers one engine. Methods return text-ready mappings for read-outs."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.paused = False
        self.stop_requested = False
        self._exits: list[tuple[str, str]] = []  # (instrument key, who)
        self._con: Any = None

    # -- commands ---------------------------------------------------------------------------
    def pause(self) -> str:
        """No new entries from now on; exits still run."""
        self.paused = True
        return "paused: no new entries; exits still run"

    def resume(self) -> str:
        """Entries allowed again."""
        self.paused = False
        return "resumed: entries allowed"

    def stop(self) -> str:
        """End the run after the current batch."""
        self.stop_requested = True
        self._engine.stop("stop command")
        return "stopping after the current batch"

    def force_exit(self, target: str, who: str) -> list[str]:
        """Queue closes of ``target`` (an instrument key or symbol, or ``all``); returns the
        instruments that will be closed. Raises ControlError when nothing matches."""
        pf = self._engine.portfolio
        open_keys = [p.instrument for p in pf.positions()]
        if target.lower() == "all":
            keys = open_keys
        else:
            wanted = target.lower()
            known = [
                k
                for k, inst in self._engine.instruments.items()
                if wanted in (k.lower(), inst.symbol.lower())
            ]
            if not known:
                raise ControlError(
                    f"unknown instrument '{target}'; instruments: "
                    f"{', '.join(self._engine.instruments)}"
                )
            keys = [k for k in known if k in open_keys]
            if not keys:
                raise ControlError(f"no open position in {known[0]}")
        for key in keys:
            self._exits.append((key, who))
        return keys

    def has_pending(self) -> bool:
        """True when force exits wait for the engine."""
        return bool(self._exits)

    async def apply(self) -> None:
        """Send the queued force exits through the engine's order manager (engine-side)."""
        exits, self._exits = self._exits, []
        eng = self._engine
        for key, who in exits:
            st = eng.state[key]
            last = eng.portfolio.last_price(key)
            pos = eng.portfolio.position(key)
            price = last if not math.isnan(last) else float(pos.avg_price)
            decision = ExitDecision(
                monitor="control",
                reason=f"forceexit by {who}",
                # Market time (the last trade seen), like an exit monitor's decision: a paper
                # host replaying recorded data fills on the tape's clock, not the wall's.
                ts_ns=eng.portfolio.ts_ns or eng.clock.now_ns(),
                price=price,
            )
            log.warning("force exit of %s requested by %s", key, who)
            await eng._close_position(st, decision)

    # -- read-outs --------------------------------------------------------------------------
    def status(self) -> Mapping[str, str]:
        """Mode, run, paused or running, open positions, open orders."""
        eng = self._engine
        return {
            "run": eng.run_id,
            "mode": eng.config.mode.value,
            "state": "paused" if self.paused else "running",
            "decisions": str(eng.decision_points),
            "entries_sent": str(eng.entries_sent),
            "open_positions": str(len(eng.portfolio.positions())),
            "open_orders": str(len(eng.portfolio.open_orders())),
        }

    def balance(self) -> Mapping[str, str]:
        """Cash and equity, in the reporting currency."""
        pf = self._engine.portfolio
        return {
            "cash": _money(pf.cash),
            "equity": _money(pf.equity()),
            "currency": pf.accounts.reporting_currency,
        }

    def profit(self) -> Mapping[str, str]:
        """Realised P&L of the closed trades (in the reporting currency, each trade's
        converted from its instrument's P&L currency; per currency as well when they
        differ, and only per currency when one cannot be converted), fees (the same way),
        equity change."""
        eng = self._engine
        pf = eng.portfolio
        history = eng.orders.history
        # Each instrument's sum over its closed trades (the history keeps the sums, not
        # every trade): the same per-currency sums as the trades one by one.
        realized = eng.pnl_total(history.realized.items())
        out = {
            "realized_pnl": "n/a" if realized.total is None else _money(realized.total),
            "currency": realized.currency,
        }
        if realized.mixed:
            out["realized_pnl_by_currency"] = ", ".join(
                f"{_money(v, c)} {c}" for c, v in sorted(realized.by_currency.items())
            )
        if realized.error:
            out["not_converted"] = realized.error
        fees = pf.fees_total()
        out["fees"] = "n/a" if fees.total is None else _money(fees.total)
        if fees.mixed:
            out["fees_by_currency"] = ", ".join(
                f"{_money(v, c)} {c}" for c, v in sorted(fees.by_currency.items())
            )
        if fees.error:
            out["fees_not_converted"] = fees.error
        out.update(
            {
                "equity_change": _money(pf.equity() - pf.starting_equity()),
                "closed_trades": str(history.n_trades),
            }
        )
        return out

    def trades(self, limit: int = 10) -> list[dict[str, str]]:
        """The last ``limit`` closed trades, newest first, each P&L with its currency."""
        from tradewind.notify.templates import iso_utc

        eng = self._engine
        rep = eng.portfolio.accounts.reporting_currency
        out = []
        for ts, inst, pnl in reversed(eng.orders.history.recent_trades(limit)):
            cur = eng.pnl_currencies.get(inst, rep)
            out.append(
                {"time": iso_utc(ts), "instrument": inst, "pnl": _money(pnl, cur), "currency": cur}
            )
        return out

    def positions(self) -> list[dict[str, str]]:
        """Open positions with their unrealised P&L at the last price."""
        pf = self._engine.portfolio
        out = []
        for p in pf.positions():
            last = pf.last_price(p.instrument)
            upnl = p.unrealized_pnl(Decimal(repr(last))) if not math.isnan(last) else Decimal(0)
            cur = self._engine.pnl_currencies.get(p.instrument, pf.accounts.reporting_currency)
            out.append(
                {
                    "instrument": p.instrument,
                    "side": "long" if p.quantity > 0 else "short",
                    "quantity": str(abs(p.quantity)),
                    "entry": format(p.avg_price.quantize(Decimal("0.00000001")).normalize(), "f"),
                    "unrealized_pnl": _money(upnl, cur),
                    "currency": cur,
                }
            )
        return out

    def daily_figures(self, day_start_ns: int, now_ns: int) -> Mapping[str, str]:
        """The daily summary's figures for the UTC day starting at ``day_start_ns``."""
        eng = self._engine
        pf = eng.portfolio
        history = eng.orders.history
        trades = history.trades_between(day_start_ns, now_ns)
        fees = eng.fee_total(history.fills_between(day_start_ns, now_ns))
        # The day's points only (a paper or live run's older points are in a file).
        curve = [
            eq for ts, eq in eng.equity_curve.since(day_start_ns) if day_start_ns <= ts < now_ns
        ]
        drawdown = 0.0
        peak = -math.inf
        for eq in curve:
            peak = max(peak, eq)
            if peak > 0:
                drawdown = max(drawdown, (peak - eq) / peak)
        open_pos = ", ".join(f"{p.instrument} {p.quantity}" for p in pf.positions()) or "none"
        return {
            "pnl": _money(pf.equity() - pf.day_start_equity()),
            "trades": str(len(trades)),
            "fees": _total_text(fees),
            "open_positions": open_pos,
            "drawdown": f"{drawdown:.2%}",
        }

    # -- the journal ------------------------------------------------------------------------
    def record_command(
        self, *, source: str, sender: str, command: str, accepted: bool, outcome: str
    ) -> None:
        """Journal one command (accepted or refused) with who sent it."""
        eng = self._engine
        log.info(
            "command %r from %s via %s: %s (%s)",
            command,
            sender,
            source,
            outcome,
            "accepted" if accepted else "refused",
        )
        if eng.journal is None:
            return
        if self._con is None:
            self._con = eng.journal.cursor()
            self._con.execute(SCHEMA)
        self._con.execute(
            "INSERT INTO control_commands VALUES (?, ?, ?, ?, ?, ?, ?)",
            [eng.clock.now_ns(), eng.run_id, source, sender, command, accepted, outcome],
        )

    def close(self) -> None:
        """Release the journal cursor."""
        if self._con is not None:
            self._con.close()
            self._con = None
