"""Readable message templates, one per kind of event, that a user can override.

Each event becomes a *kind* (``trade``, ``position_closed``, ``risk``, ``error``,
``watchlist``, ``run``, ``warning``, ``signal``, ``other``) and a flat mapping of text
*fields*. A template is a :meth:`str.format` string over those fields; the title and the body
of a kind have their own templates (``<kind>.title`` and ``<kind>``). Override any of them per
notifier instance::

    [notifiers.telegram.templates]
    trade = "{side} {quantity} {instrument} @ {price} (P&L {pnl})"
    "trade.title" = "Fill on {instrument}"
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tradewind.errors import ConfigError
from tradewind.model import (
    CircuitBreaker,
    ConnectionLost,
    DataQuality,
    Event,
    FillEvent,
    OrderFailed,
    PositionClosed,
    ReconciliationDiscrepancy,
    ReconciliationFailed,
    RunFinished,
    RunStarted,
    SignalEvent,
    SystemError,
    VetoEvent,
)
from tradewind.notify.events import WatchlistExpiring

#: The default templates. Keys: ``<kind>`` (the body) and ``<kind>.title``.
DEFAULT_TEMPLATES: Mapping[str, str] = {
    "trade.title": "{side} {quantity} {instrument} @ {price}",
    "trade": (
        "Trade executed: {side} {quantity} {instrument} at {price}\n"
        "P&L (realised by this fill): {pnl} {currency}\nFee: {fee} {fee_currency}\n"
        "Order: {order_id}"
    ),
    "position_closed.title": "Closed {instrument}: P&L {pnl} {currency}",
    "position_closed": (
        "Position in {instrument} closed.\nRealised P&L: {pnl} {currency}\n"
        "Fees: {fees} {currency}\nReason: {reason}"
    ),
    "risk.title": "Risk: {rule} on {instrument}",
    "risk": "Risk breach — {rule}: {reason}\nInstrument: {instrument}\nAction: {action}",
    "error.title": "Error in {source}",
    "error": "System error in {source}: {error}",
    "watchlist.title": "Watchlist: {instrument} expiring",
    "watchlist": "{instrument} leaves the watchlist at {expires}. {reason}",
    "run.title": "Run {state}: {run_id}",
    "run": "Run {run_id} {state} ({mode}). {details}",
    "warning.title": "Warning: {subject}",
    "warning": "{subject}: {details}",
    "signal.title": "Signal: {side} {instrument}",
    "signal": "Signal {side} {instrument} at {entry}, stop {stop}, score {score} ({reasons})",
    "daily_summary.title": "Daily summary {date}",
    "daily_summary": (
        "Daily summary for {date} (UTC)\n"
        "P&L: {pnl}\nTrades: {trades}\nFees: {fees}\n"
        "Open positions: {open_positions}\nDrawdown: {drawdown}"
    ),
    "digest.title": "{count} notifications",
    "digest": "{lines}",
    "other.title": "{event}",
    "other": "{event}: {details}",
}


def _fmt(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


def describe(event: Event) -> tuple[str, dict[str, str]]:
    """The kind of ``event`` and its fields as text."""
    f: dict[str, str]
    if isinstance(event, FillEvent):
        fill = event.fill
        pnl = getattr(event, "realized_pnl", None)
        f = {
            "instrument": fill.instrument,
            "side": fill.side.value,
            "price": _fmt(fill.price),
            "quantity": _fmt(fill.quantity),
            "fee": _fmt(fill.fee),
            "pnl": _fmt(pnl) if pnl is not None else "0",
            "currency": event.pnl_currency,
            # an empty fee currency is the instrument's quote (the simulated venue's
            # convention), which is the P&L currency of spot and linear instruments
            "fee_currency": fill.fee_currency
            or (event.pnl_currency if fill.fee_asset == "quote" else ""),
            "order_id": fill.client_order_id,
        }
        return "trade", f
    if isinstance(event, PositionClosed):
        p = event.position
        return "position_closed", {
            "instrument": p.instrument,
            "pnl": _fmt(p.realized_pnl),
            "currency": event.pnl_currency,
            "fees": _fmt(p.fees),
            "reason": event.reason or "-",
        }
    if isinstance(event, VetoEvent):
        v = event.veto
        return "risk", {
            "rule": v.filter,
            "reason": v.reason,
            "instrument": v.signal.instrument,
            "action": v.action or "signal refused",
        }
    if isinstance(event, CircuitBreaker):
        return "risk", {
            "rule": event.name,
            "reason": event.reason,
            "instrument": "portfolio",
            "action": "tripped" if event.tripped else "reset",
        }
    if isinstance(event, SystemError):
        return "error", {"source": event.source, "error": event.error}
    if isinstance(event, OrderFailed):
        return "error", {"source": f"order {event.client_order_id}", "error": event.reason}
    if isinstance(event, ConnectionLost):
        return "error", {"source": f"venue {event.venue}", "error": event.reason}
    if isinstance(event, ReconciliationFailed):
        return "error", {"source": f"reconciliation of {event.venue}", "error": event.reason}
    if isinstance(event, WatchlistExpiring):
        return "watchlist", {
            "instrument": event.instrument,
            "expires": iso_utc(event.expires_ts_ns),
            "reason": event.reason,
        }
    if isinstance(event, RunStarted):
        return "run", {
            "state": "started",
            "run_id": event.run_id,
            "mode": event.mode,
            "details": "",
        }
    if isinstance(event, RunFinished):
        figures = event.summary
        head = (
            f"P&L {figures['pnl']} {figures.get('currency', '')}".rstrip()
            if "pnl" in figures
            else ""
        )
        rest = (
            f"{k} {v:g}" if isinstance(v, int | float | Decimal) else f"{k} {v}"
            for k, v in sorted(figures.items())
            if k not in ("pnl", "currency")
        )
        details = ", ".join([head, *rest] if head else rest)
        return "run", {"state": "finished", "run_id": event.run_id, "mode": "",
                       "details": details}  # fmt: skip
    if isinstance(event, DataQuality):
        return "warning", {
            "subject": f"data quality on {event.instrument}",
            "details": ", ".join(f"{k}: {v}" for k, v in sorted(event.rejected.items())),
        }
    if isinstance(event, ReconciliationDiscrepancy):
        return "warning", {
            "subject": f"reconciliation of {event.venue}",
            "details": f"{event.kind} {event.subject}: journal {event.journal_state}, "
            f"venue {event.venue_state} → {event.action}",
        }
    if isinstance(event, SignalEvent):
        s = event.signal
        return "signal", {
            "instrument": s.instrument,
            "side": s.side.value,
            "entry": _fmt(s.entry),
            "stop": _fmt(s.stop),
            "score": f"{s.score:g}",
            "reasons": ", ".join(
                f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in s.reasons.items()
            )
            or "-",
        }
    return "other", {"event": type(event).__name__, "details": _details(event)}


def _details(event: Event) -> str:
    import attrs

    return ", ".join(
        f"{a.name}={getattr(event, a.name)}" for a in attrs.fields(type(event)) if a.name != "ts_ns"
    )


def iso_utc(ts_ns: int) -> str:
    """``2026-12-02 11:41:53 UTC``."""
    import datetime as dt

    t = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


class Templates:
    """The defaults with a notifier instance's overrides on top; checked when built."""

    def __init__(self, overrides: Mapping[str, str] | None = None, *, where: str = "$") -> None:
        at = f" @ {where}.templates" if where else ""
        self._t = dict(DEFAULT_TEMPLATES)
        for key, text in (overrides or {}).items():
            kind = key.removesuffix(".title")
            if f"{kind}.title" not in DEFAULT_TEMPLATES:
                known = sorted({k.removesuffix(".title") for k in DEFAULT_TEMPLATES})
                raise ConfigError(
                    f"unknown template '{key}'{at}; templates exist for: "
                    f"{', '.join(known)} (and '<kind>.title')"
                )
            try:
                names = {n for _, n, _, _ in string.Formatter().parse(text) if n}
            except ValueError as exc:
                raise ConfigError(f"template '{key}' is malformed: {exc}{at}") from None
            bad = {n.split(".")[0].split("[")[0] for n in names} - _known_fields(kind)
            if bad:
                raise ConfigError(
                    f"template '{key}' uses unknown field(s) {', '.join(sorted(bad))}"
                    f"{at}; fields of '{kind}': "
                    f"{', '.join(sorted(_known_fields(kind)))}"
                )
            self._t[key] = text

    def render(self, kind: str, fields: Mapping[str, str]) -> tuple[str, str]:
        """``(title, text)`` of a message of ``kind`` with ``fields``."""
        safe = _Missing(fields)
        # a field left empty (a currency the publisher did not say) leaves no trailing space
        return (
            self._t[f"{kind}.title"].format_map(safe).rstrip(),
            "\n".join(line.rstrip() for line in self._t[kind].format_map(safe).split("\n")),
        )


def _known_fields(kind: str) -> set[str]:
    names: set[str] = set()
    for key in (kind, f"{kind}.title"):
        names |= {n for _, n, _, _ in string.Formatter().parse(DEFAULT_TEMPLATES[key]) if n}
    return names


class _Missing(dict[str, str]):
    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(fields)

    def __missing__(self, key: str) -> str:
        return "-"
