"""The daily-drawdown circuit breaker: close everything and stop entries for the UTC day.

The seed's portfolio circuit breaker ("5%+: CIRCUIT BREAKER - Close all + STOP TRADING ...
Block new position entries for rest of day. Reset at midnight UTC"; ``max_daily_drawdown_pct:
5.0``). The daily drawdown is ``(day-start equity − equity) / day-start equity``, with the
day-start equity from ``ctx.day_start_equity()`` (equity at the first mark of the UTC day).

- When it reaches ``max_daily_drawdown_pct`` (default 5 %; exactly 5 % trips) the breaker trips.
  The first Veto after tripping carries ``action="close_all"``: the engine closes every open
  position. Every later opening signal is refused with no action.
- It re-arms by itself on the next UTC day, the day being ``ctx.ts_ns // 1 day`` (the
  portfolio's clock, never the wall clock), or by hand with :meth:`reset`. After a manual reset
  the equity at the next check becomes the reference for the rest of that day, so the operator
  who resumes trading gets a fresh ``max_daily_drawdown_pct`` budget instead of an immediate
  second trip; from the next UTC day the day-start equity is the reference again.
- Closing signals always pass, tripped or not.

A filter runs only when a signal arrives, so the breaker trips at the first signal after the
drawdown is reached, not at the tick that reached it. The seed's softer levels (alert at 2 %,
close the worst half at 3 %, close all at 4 %) are portfolio monitoring, not pre-trade checks,
and are not part of this filter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

import attrs
from tradewind import hookimpl
from tradewind.filtering.helpers import fmt_money, fmt_pct, to_decimal
from tradewind.model import Signal, Veto
from tradewind.protocols import RiskContext
from tradewind.trading.portfolio import NS_PER_DAY

#: The Veto action that asks the engine to close every open position.
CLOSE_ALL = "close_all"


def _midnight(day: int) -> str:
    """The UTC midnight that starts ``day`` (days since the epoch), e.g. 2020-09-14 00:00 UTC."""
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@attrs.frozen(kw_only=True)
class DrawdownConfig:
    """Options of the daily-drawdown circuit breaker."""

    #: Fall of equity below the day-start equity that trips the breaker, as a fraction
    #: (0.05 = the seed's 5 %).
    max_daily_drawdown_pct: Decimal = attrs.field(default=Decimal("0.05"), converter=to_decimal)

    def __attrs_post_init__(self) -> None:
        if not 0 < self.max_daily_drawdown_pct < 1:
            raise ValueError(
                f"max_daily_drawdown_pct must be in (0, 1), got {self.max_daily_drawdown_pct}"
            )


class DrawdownCircuitBreaker:
    """Closes all positions and refuses entries for the rest of the UTC day after a drawdown."""

    name: ClassVar[str] = "drawdown"
    config_class: ClassVar[type] = DrawdownConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"pre-trade", "veto:close_all"})
    essential: ClassVar[bool] = False

    def __init__(self, config: DrawdownConfig) -> None:
        self.config = config
        self._tripped_day: int | None = None
        self._why = ""
        self._close_all_due = False
        self._rebase_due = False
        self._reference: tuple[int, Decimal] | None = None  # (day, equity) after a manual reset

    @property
    def tripped(self) -> bool:
        """True while the breaker refuses entries."""
        return self._tripped_day is not None

    def reset(self) -> None:
        """Re-arm by hand; the equity at the next check is the reference for the rest of the day."""
        self._tripped_day = None
        self._close_all_due = False
        self._rebase_due = True

    def check(self, signal: Signal, ctx: RiskContext) -> Veto | None:
        """Trip on the daily drawdown; refuse opening signals while tripped."""
        day = ctx.ts_ns // NS_PER_DAY
        if self._tripped_day is not None and day > self._tripped_day:
            self._tripped_day = None  # a new UTC day: re-arm
            self._close_all_due = False
        if self._rebase_due:
            self._reference = (day, ctx.equity())
            self._rebase_due = False
        if self._reference is not None and self._reference[0] != day:
            self._reference = None
        if self._tripped_day is None:
            self._measure(day, ctx)
        if signal.intent != "open" or self._tripped_day is None:
            return None
        until = _midnight(self._tripped_day + 1)
        if self._close_all_due:
            self._close_all_due = False
            return Veto(
                filter=self.name,
                reason=(
                    f"circuit breaker: {self._why}; closing all positions, no new entries "
                    f"until {until}"
                ),
                signal=signal,
                ts_ns=signal.ts_ns,
                action=CLOSE_ALL,
            )
        return Veto(
            filter=self.name,
            reason=f"circuit breaker: {self._why}; no new entries until {until}",
            signal=signal,
            ts_ns=signal.ts_ns,
        )

    def _measure(self, day: int, ctx: RiskContext) -> None:
        """Trip when equity is ``max_daily_drawdown_pct`` or more below the reference."""
        if self._reference is not None:
            start, label = self._reference[1], "equity at reset"
        else:
            start, label = ctx.day_start_equity(), "day start"
        if start <= 0:
            return
        equity = ctx.equity()
        drawdown = (start - equity) / start
        limit = self.config.max_daily_drawdown_pct
        if drawdown >= limit:
            self._tripped_day = day
            self._close_all_due = True
            self._why = (
                f"daily drawdown {drawdown:.2%} (equity {fmt_money(equity)}, "
                f"{label} {fmt_money(start)}) reached the {fmt_pct(limit)} limit"
            )


@hookimpl
def tradewind_register_filters(registry):  # type: ignore[no-untyped-def]
    """Register the daily-drawdown circuit breaker."""
    registry.add(DrawdownCircuitBreaker)
