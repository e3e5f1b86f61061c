"""Exit monitors over a stretch of tape: where the first one would trigger.

While a backtest holds a position with no order in flight, the only thing that can act on it
before the next signal is an exit monitor (or funding, or the end of the data). An exit
monitor declaring the capability ``"scan"`` (:class:`tradewind.protocols.ScanningExit`)
answers, for the trades and decision closes ahead (a :class:`HoldWindow`), the first close at
or before which its per-trade ``on_ticks`` or per-close ``on_candle`` would decide to exit. The
event scheduler (:mod:`tradewind.trading.scheduler`) walks the closes before the earliest
answer of all monitors without stepping the engine, and hands back to stepping at the unit of
tape (the trades before a close, then the close) that holds it: there the monitors' own
``on_ticks`` and ``on_candle`` decide, as ever, and the engine cuts at the earliest trigger.

A scan never changes the monitor's state. After the walk the engine calls ``on_ticks`` once
over the walked trades (which must not trigger: the scan said so), which leaves a monitor in
the state that feeding them piece by piece leaves it in (a monitor declaring ``"fold"`` gets
``fold`` instead: that state without the trigger checks); ``on_candle`` is not called at the
walked closes, so a scanning monitor's ``on_candle`` must change nothing at a close where it
does not trigger (or its scan must answer that close).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from tradewind.model import ExitDecision, Position, TickBatch


@attrs.frozen(kw_only=True, eq=False)
class HoldWindow:
    """The tape ahead of an open position, as a block holds it.

    ``ticks``: the trades from where the engine stands (all after the position opened);
    ``row_ticks[r]``: how many of them come before the ``r``-th decision close ahead (that
    close is processed after ``ticks[: row_ticks[r]]``; non-decreasing); ``close_ns[r]``: its
    time; ``columns``: outputs of the analyzers that hand their block over as a table
    (:class:`tradewind.blocks.BlockTable`), one float64 entry per close ahead, named
    ``"<analyzer instance>.<output>"`` (an output not listed is not known ahead).
    """

    ticks: TickBatch
    row_ticks: npt.NDArray[np.intp]
    close_ns: npt.NDArray[np.int64]
    columns: Mapping[str, npt.NDArray[np.float64]] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self.row_ticks)

    @property
    def seen(self) -> int:
        """Trades before the last close ahead: the ones a scan looks at."""
        return int(self.row_ticks[-1]) if len(self.row_ticks) else 0

    def row_of_trade(self, j: int) -> int | None:
        """The close whose preceding trades include trade ``j`` (None: after the last)."""
        r = int(self.row_ticks.searchsorted(j, side="right"))
        return r if r < len(self.row_ticks) else None

    def first_row(self, hits: npt.NDArray[np.bool_]) -> int | None:
        """The close of the first trade flagged in ``hits`` (over ``ticks[: seen]``)."""
        idx = np.flatnonzero(hits)
        return None if len(idx) == 0 else self.row_of_trade(int(idx[0]))


class RowSpan(Mapping[str, "npt.NDArray[np.float64]"]):
    """Columns ``rows[r0:r1]`` of a block's tabled outputs, each sliced when read (a window
    names every tabled output; a scan reads one or two of them)."""

    __slots__ = ("_columns", "_r0", "_r1")

    def __init__(self, columns: Mapping[str, npt.NDArray[np.float64]], r0: int, r1: int) -> None:
        self._columns = columns
        self._r0 = r0
        self._r1 = r1

    def __getitem__(self, name: str) -> npt.NDArray[np.float64]:
        return self._columns[name][self._r0 : self._r1]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def earliest(*rows: int | None) -> int | None:
    """The smallest of ``rows`` that is not None."""
    known = [r for r in rows if r is not None]
    return min(known) if known else None


def first_trigger(
    monitors: Sequence[Any], position: Position, window: HoldWindow, ctx: Any
) -> int | None:
    """The first close ahead at or before which any of ``monitors`` would trigger."""
    found: int | None = None
    for mon in monitors:
        r = mon.scan(position, window, ctx)
        if r is not None and not 0 <= r < len(window):
            raise RuntimeError(
                f"exit monitor '{mon.name}': scan answered close {r} of a window of "
                f"{len(window)}; it must be a close of the window or None"
            )
        if r is not None and (found is None or r < found):
            found = r
            if r == 0:
                break
    return found


def fold_walked(monitors: Sequence[Any], position: Position, walked: TickBatch, ctx: Any) -> None:
    """Bring every monitor's state over ``walked`` (trades no scan found a trigger in): its
    ``fold`` when it declares the capability ``"fold"`` (:class:`tradewind.protocols.
    FoldingExit`: the state ``on_ticks`` leaves, without the trigger checks), else its
    ``on_ticks`` (which must not trigger there)."""
    for mon in monitors:
        if "fold" in mon.capabilities:
            mon.fold(position, walked, ctx)
            continue
        decision: ExitDecision | None = mon.on_ticks(position, walked, ctx)
        if decision is not None:
            raise RuntimeError(
                f"exit monitor '{mon.name}': its scan found no trigger before "
                f"{walked.last_ts} ns but on_ticks exits at {decision.ts_ns} ns "
                f"({decision.reason}); scan must give the decision on_ticks gives"
            )
