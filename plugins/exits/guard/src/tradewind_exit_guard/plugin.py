"""The portfolio guard: daily-drawdown circuit breaker and correlated exits on a leader's dump.

Two portfolio-level exits of the seed's Portfolio Risk Manager (section 2.2.5):

**Circuit breaker.** Once equity is ``daily_drawdown_pct`` (5 %) or more below the UTC day's
starting equity (``ctx.day_start_equity()``), every position closes: the guard trips at the
first trade where equity, with that trade's instrument re-marked, reaches the limit, and from
then until the next UTC midnight every call for any open position answers with an exit at that
position's first trade (at or after the trip). An exit monitor is asked about one instrument at
a time, so the other positions close at their own next trade or candle close. It does not stop
new entries: that is a pre-trade filter's job (see docs/exits.md).

**Correlated exits.** When the leader instrument (``binance:BTCUSDT``) is ``leader_drop_pct``
(1.5 %) or more below its highest mark of the last ``leader_window_minutes`` (5), longs in the
follower instruments close at their next trade (seed: "BTC: $50,000 → $49,250 (-1.5 % in 5 min)
→ ETH LONG, SOL LONG: exit immediately; BTC SHORT: keep"). The leader is observed through
``ctx.last_price`` at every call (:mod:`tradewind_exit_guard.leader`). The seed also gates on a
24 h correlation above 0.7; an exit monitor only sees instruments while they are held, so it
cannot keep that history: list the correlated instruments in ``followers`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.errors import ConfigError
from tradewind.model import Candle, ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.registry import KindRegistry
from tradewind.trading.exit_scan import HoldWindow, earliest
from tradewind.trading.portfolio import NS_PER_DAY

from tradewind_exit_guard.config import GuardConfig
from tradewind_exit_guard.drawdown import (
    breach_bound,
    clear_of,
    equity_at,
    equity_without,
    first_breach,
)
from tradewind_exit_guard.leader import LeaderWatch


@attrs.frozen
class _Trip:
    """The circuit breaker's state once tripped."""

    ts_ns: int
    day: int
    reason: str


class PortfolioGuard:
    """Closes everything on a daily drawdown, and follower longs when the leader dumps."""

    name: ClassVar[str] = "guard"
    config_class: ClassVar[type] = GuardConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"ticks", "candles", "portfolio", "scan", "fold"}
    )

    def __init__(self, config: GuardConfig) -> None:
        self.config = config
        self._keep = Decimal(1) - Decimal(repr(config.daily_drawdown_pct))
        self._leader = (
            LeaderWatch(config.leader_window_ns, config.leader_drop_pct) if config.leader else None
        )
        self._followers = frozenset(config.followers)
        self._leader_checked = False
        #: The circuit breaker's trip, if it tripped (cleared at the next UTC day).
        self.tripped: _Trip | None = None
        #: The last breach bound and what it was computed from (position, base, limit): the
        #: engine's pieces around a position repeat them until a fill or a new day.
        self._bound: tuple[Position, Decimal, Decimal, float] | None = None
        #: The last day start read and the limit made of it.
        self._limit_of: tuple[Decimal, Decimal | None] | None = None
        #: The last limit as a float, for the pre-check.
        self._limit_f: tuple[Decimal, float] | None = None

    # -- ExitMonitor ----------------------------------------------------------------------
    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """The first trade of ``batch`` at which the breaker or a leader dump closes it."""
        if position.is_flat or len(batch.ts_ns) == 0:
            return None
        now = batch.first_ts
        self._observe_leader(ctx, now, batch)
        i, reason = self._breaker_on_ticks(position, batch, ctx)
        if i != 0:
            dump = self._dump_reason(position, now)
            if dump is not None:
                i, reason = 0, dump
        if i is None:
            return None
        return ExitDecision(
            monitor=self.name,
            reason=reason,
            ts_ns=int(batch.ts_ns[i]),
            price=float(batch.price[i]),
        )

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Exit at ``candle``'s close when the breaker is (or now gets) tripped or the leader
        dumped; the marks are current to the close here."""
        if position.is_flat:
            return None
        now = candle.close_ts_ns
        self._observe_leader(ctx, now, None)
        reason = self._breaker_now(ctx, now - 1)  # the candle's trades are all before its close
        if reason is None:
            reason = self._dump_reason(position, now)
        if reason is None:
            return None
        return ExitDecision(monitor=self.name, reason=reason, ts_ns=now, price=candle.close)

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The close ahead at or before which the breaker may trip, for a run without a
        leader (with one, the first close: the leader's marks come from other instruments'
        tapes). The breach bound is :func:`first_breach`'s, taken a hair (1e-9 of the price)
        towards the position's side, so the candle check (the context's equity at a close,
        summed in Decimal) cannot trip where the trades' bound does not; the first trade of a
        new UTC day (the context's day start rolls there) is answered too. The stepped
        engine then decides at that close with :meth:`on_ticks` and :meth:`on_candle`."""
        if position.is_flat or len(window) == 0:
            return None
        if self._leader is not None or self.tripped is not None or not ctx.ts_ns:
            return 0
        limit = self._limit(ctx)
        day = ctx.ts_ns // NS_PER_DAY
        ts = window.ticks.ts_ns[: window.seen]
        roll = int(ts.searchsorted((day + 1) * NS_PER_DAY, side="left"))
        rolled = window.row_of_trade(roll) if roll < len(ts) else None
        if limit is None:
            return rolled  # no day start to measure against until the day rolls
        equity = ctx.equity()
        if equity <= limit:
            return 0
        base = equity_without(position.instrument, ctx, equity)  # the equity just read
        bound = float((limit - base + position.cost) / position.quantity)
        prices = window.ticks.price[:roll]
        if position.quantity > 0:
            hit = prices <= bound * (1 + 1e-9)
        else:
            hit = prices >= bound * (1 - 1e-9)
        return earliest(window.first_row(hit), rolled)

    def fold(self, position: Position, walked: TickBatch, ctx: RiskContext) -> None:
        """After a walk its scan cleared: without a leader, :meth:`on_ticks` that does not
        trigger changes nothing but caches of values it recomputes the same (the day's
        limit, the breach bound), so there is nothing to do; with a leader, ``on_ticks``
        (it records the leader's marks)."""
        if self._leader is not None:
            self.on_ticks(position, walked, ctx)

    def forget(self, instrument: str) -> None:
        """Nothing per position: the breaker and the leader's marks are portfolio-wide."""

    # -- circuit breaker ------------------------------------------------------------------
    def _limit(self, ctx: RiskContext) -> Decimal | None:
        start = ctx.day_start_equity()
        kept = self._limit_of
        if kept is not None and kept[0] is start:
            return kept[1]  # the same day's start (one Decimal until the day rolls)
        limit = start * self._keep if start > 0 else None
        self._limit_of = (start, limit)
        return limit

    def _limit_float(self, limit: Decimal) -> float:
        kept = self._limit_f
        if kept is not None and kept[0] is limit:
            return kept[1]
        f = float(limit)
        self._limit_f = (limit, f)
        return f

    def _active_trip(self, ts_ns: int) -> _Trip | None:
        trip = self.tripped
        if trip is not None and ts_ns // NS_PER_DAY != trip.day:
            self.tripped = trip = None  # a new UTC day re-arms the breaker
        return trip

    def _trip(self, ts_ns: int, equity: Decimal, ctx: RiskContext) -> str:
        start = ctx.day_start_equity()
        reason = (
            f"daily drawdown circuit breaker: equity {equity:,.2f} is "
            f"{(start - equity) / start:.2%} below the day's start {start:,.2f} "
            f"(limit {self.config.daily_drawdown_pct:.2%}); closing every position until "
            f"00:00 UTC"
        )
        self.tripped = _Trip(ts_ns=ts_ns, day=ts_ns // NS_PER_DAY, reason=reason)
        return reason

    def _breaker_now(self, ctx: RiskContext, ts_ns: int) -> str | None:
        """The breaker's verdict on the context's current equity at ``ts_ns``."""
        trip = self._active_trip(ts_ns)
        if trip is not None:
            return trip.reason
        limit = self._limit(ctx)
        equity = ctx.equity()
        if limit is not None and equity <= limit:
            return self._trip(ts_ns, equity, ctx)
        return None

    def _breaker_on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> tuple[int | None, str]:
        """The first trade of ``batch`` the breaker closes, with the reason."""
        first = batch.first_ts
        trip = self._active_trip(first)
        if trip is None and ctx.ts_ns and first // NS_PER_DAY != ctx.ts_ns // NS_PER_DAY:
            # The context's day start rolls at the first mark of the new day, after this call:
            # measured against yesterday's start, the new day would inherit its drawdown.
            return None, ""
        if trip is None:
            # _breaker_now's check with the equity and limit read once for the whole call.
            limit = self._limit(ctx)
            equity = ctx.equity()
            if limit is not None and equity <= limit:
                return 0, self._trip(first, equity, ctx)
            if limit is None:
                return None, ""
            # The float pre-check first: when it clears the batch, the exact path would
            # find no breach either (drawdown.clear_of), and it changes no state.
            key = position.instrument
            if ctx.position(key) is position:
                mark = ctx.last_price(key)
                if clear_of(position, batch.price, mark, equity, self._limit_float(limit)):
                    return None, ""
            base = equity_without(position.instrument, ctx, equity)
            kept = self._bound
            if (
                kept is not None
                and (kept[0] is position or kept[0] == position)
                and kept[1] == base
                and kept[2] == limit
            ):
                bound = kept[3]
            else:
                bound = breach_bound(position, base, limit)
                self._bound = (position, base, limit, bound)
            i = first_breach(position, batch.price, base, limit, bound)
            if i is None:
                return None, ""
            at = int(batch.ts_ns[i])
            return i, self._trip(at, equity_at(position, base, float(batch.price[i])), ctx)
        i = int(batch.ts_ns.searchsorted(trip.ts_ns, side="left"))
        day_end = (trip.day + 1) * NS_PER_DAY
        if i >= len(batch) or int(batch.ts_ns[i]) >= day_end:
            return None, ""
        return i, trip.reason

    # -- correlated exits -----------------------------------------------------------------
    def _observe_leader(self, ctx: RiskContext, now: int, batch: TickBatch | None) -> None:
        watch = self._leader
        if watch is None:
            return
        leader = self.config.leader
        if not self._leader_checked:
            try:
                ctx.instrument(leader)
            except KeyError:
                raise ConfigError(
                    f"exit monitor 'guard': leader = '{leader}' is not an instrument of this "
                    f"run. Add it to the run's instruments (the guard needs its trades), or "
                    f'set leader = "" in the [exits.<key>] table to disable correlated exits'
                ) from None
            self._leader_checked = True
        if batch is not None and batch.instrument == leader:
            top = int(batch.price.argmax())
            watch.observe(int(batch.ts_ns[top]), float(batch.price[top]))
            watch.observe(batch.last_ts, batch.last_price)
        else:
            watch.observe(now, ctx.last_price(leader))

    def _dump_reason(self, position: Position, now: int) -> str | None:
        watch = self._leader
        if watch is None or position.quantity <= 0 or not self._follows(position.instrument):
            return None
        dump = watch.dumped(now)
        if dump is None:
            return None
        peak, last = dump
        return (
            f"leader {self.config.leader} fell {1 - last / peak:.2%} within "
            f"{self.config.leader_window_minutes:g} min ({peak:,.2f} → {last:,.2f}); "
            f"closing the correlated long"
        )

    def _follows(self, instrument: str) -> bool:
        if self._followers:
            return instrument in self._followers
        return instrument != self.config.leader


@hookimpl
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register :class:`PortfolioGuard`."""
    registry.add(PortfolioGuard)
