"""Max hold time: close a position at the first trade at or after ``opened + max_hold_minutes``.

The seed's portfolio risk config (section 2.2.5, ``max_hold_times``; 2.2.3 "time-based position
exits, max hold time per config") caps scalping positions at 30 minutes (meme coins 24 h,
arbitrage 4 h: set ``max_hold_minutes`` per run). Elsewhere the seed says crypto and meme
positions have no time limit; leave this monitor out of such a config. The clock is trade time:
the deadline is checked against the timestamps of the trades the engine hands in, so a backtest
and a live run exit on the same trade. The scan is one binary search per batch (and per block
ahead of an open position in a backtest, :meth:`MaxHold.scan`).

A position whose open time is unknown (``opened_ts_ns == 0``, e.g. adopted at reconciliation)
is timed from the first trade this monitor sees for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.model import Candle, ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.registry import KindRegistry
from tradewind.trading.exit_scan import HoldWindow

NS_PER_MINUTE = 60_000_000_000


def _positive(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class MaxHoldConfig:
    """Options of the max-hold exit monitor."""

    #: Longest time a position may stay open, in minutes (seed: scalping 30 minutes).
    max_hold_minutes: float = attrs.field(default=30.0, validator=_positive)


class MaxHold:
    """Closes a position once it has been open ``max_hold_minutes``."""

    name: ClassVar[str] = "maxhold"
    config_class: ClassVar[type] = MaxHoldConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"ticks", "scan", "fold"})

    def __init__(self, config: MaxHoldConfig) -> None:
        self.config = config
        #: The holding limit in nanoseconds.
        self.limit_ns = round(config.max_hold_minutes * NS_PER_MINUTE)
        # Open time per instrument for positions that arrived without one.
        self._first_seen: dict[str, int] = {}

    def deadline(self, position: Position) -> int | None:
        """The time at or after which ``position`` must close; None until its start is known."""
        start = position.opened_ts_ns or self._first_seen.get(position.instrument)
        return None if start is None else start + self.limit_ns

    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """The first trade of ``batch`` at or after the deadline, if any."""
        ts = batch.ts_ns
        if position.is_flat or len(ts) == 0:
            return None
        if position.opened_ts_ns == 0:
            self._first_seen.setdefault(position.instrument, batch.first_ts)
        due = self.deadline(position)
        assert due is not None
        if int(ts[-1]) < due:
            # The deadline is after the batch's last trade (the times are sorted): the search
            # below would find no trade at or after it.
            return None
        i = int(ts.searchsorted(due, side="left"))
        held_min = (int(batch.ts_ns[i]) - (due - self.limit_ns)) / NS_PER_MINUTE
        return ExitDecision(
            monitor=self.name,
            reason=(
                f"max hold time {self.config.max_hold_minutes:g} min reached "
                f"(held {held_min:.2f} min)"
            ),
            ts_ns=int(batch.ts_ns[i]),
            price=float(batch.price[i]),
        )

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The close ahead whose trades first reach the deadline: one binary search on time
        (a position of unknown open time is timed from the window's first trade, as
        :meth:`on_ticks` would time it)."""
        if position.is_flat or len(window) == 0:
            return None
        ts = window.ticks.ts_ns[: window.seen]
        if len(ts) == 0:
            return None
        due = self.deadline(position)
        if due is None:
            due = int(ts[0]) + self.limit_ns
        i = int(ts.searchsorted(due, side="left"))
        return window.row_of_trade(i) if i < len(ts) else None

    def fold(self, position: Position, walked: TickBatch, ctx: RiskContext) -> None:
        """After a walk its scan cleared: a position of unknown open time is timed from the
        first trade seen, as :meth:`on_ticks` times it; nothing else changes."""
        if not position.is_flat and len(walked) and position.opened_ts_ns == 0:
            self._first_seen.setdefault(position.instrument, walked.first_ts)

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Time is checked on trades only: the exit is the first trade past the deadline."""
        return None

    def forget(self, instrument: str) -> None:
        """Drop the first-seen time of a position that closed."""
        self._first_seen.pop(instrument, None)


@hookimpl
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register :class:`MaxHold`."""
    registry.add(MaxHold)
