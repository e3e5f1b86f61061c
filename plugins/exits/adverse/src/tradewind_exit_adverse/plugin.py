"""Consecutive adverse price moves with a profit-based threshold (the seed's priority-2 exit).

The seed (section 2.6.2) watches *price direction*, not trade sides: every 2 s it counts how
many consecutive price changes went against the position within a 15 s window, and exits when
the count reaches a threshold that shrinks as profit grows (below 0.3 %: 5, below 1 %: 3,
below 2 %: 2, else 1). Its worked example: a long from 50,000 rises to 50,200, then prints
50,195, 50,190, 50,185 at +12, +14, +16 s: three drops at +0.37 % (threshold 3) → exit at
50,185.

Here the samples are taken on trade time (:mod:`tradewind_exit_adverse.sampling`): every
``interval_seconds`` from the position's open, the first trade of each interval is a sample,
and the check runs at that trade. The exit is that trade: its time and price. Moves count only
within ``window_seconds`` (15 s at 2 s: at most 7). The profit for the threshold is the sample
price against the position's average entry price (:mod:`tradewind_exit_adverse.tiers`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from tradewind import hookimpl
from tradewind.model import Candle, ExitDecision, Position, TickBatch
from tradewind.protocols import RiskContext
from tradewind.registry import KindRegistry
from tradewind.trading.exit_scan import HoldWindow

from tradewind_exit_adverse.config import AdverseConfig
from tradewind_exit_adverse.sampling import Samples, SampleState, advance, scan
from tradewind_exit_adverse.tiers import ProfitTiers

try:
    from tradewind_exit_adverse import _kernel
except ImportError:  # pragma: no cover - not built: the Python loop below does the same
    _kernel = None  # type: ignore[assignment]

#: Pieces of at most this many trades go through :meth:`AdverseMoves._on_few` (plain Python
#: over the trades); longer ones through the numpy scan.
FEW = 256

_INT64 = 2**63


class AdverseMoves:
    """Closes a position after N consecutive adverse price samples, N set by its profit."""

    name: ClassVar[str] = "adverse"
    config_class: ClassVar[type] = AdverseConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"ticks", "scan", "fold"})

    def __init__(self, config: AdverseConfig) -> None:
        self.config = config
        self.interval_ns = config.interval_ns
        self.max_moves = config.max_moves
        self.tiers = ProfitTiers(config.profit_tiers, config.moves)
        # Per instrument: the position's open time (to notice a new position) and its sampling.
        self._state: dict[str, tuple[int, SampleState]] = {}
        #: The last scan: the sampling state it started from (the object and its fields),
        #: the side, the trades it sampled and its samples (see :meth:`fold`).
        self._scanned: (
            tuple[SampleState, tuple[int, int, float, int], bool, TickBatch, Samples] | None
        ) = None
        #: The tiers' arrays last read by the compiled loop: (entry price, side, bounds,
        #: moves); the engine's steps around a position repeat the same entry object.
        self._tiers_of: (
            tuple[Decimal, bool, npt.NDArray[np.float64], npt.NDArray[np.int64]] | None
        ) = None

    # -- introspection, for tests and reports ---------------------------------------------
    def threshold(self, position: Position, price: float) -> int:
        """Adverse moves that would end ``position`` at ``price``."""
        long = position.quantity > 0
        prices = np.asarray([price], dtype=np.float64)
        return int(self.tiers.required(prices, position.avg_price, long)[0])

    def run(self, instrument: str) -> int:
        """Adverse moves ending at the last sample, as the window counts them (0 if none)."""
        entry = self._state.get(instrument)
        return 0 if entry is None else min(entry[1].run, self.max_moves)

    # -- ExitMonitor ----------------------------------------------------------------------
    def on_ticks(
        self, position: Position, batch: TickBatch, ctx: RiskContext
    ) -> ExitDecision | None:
        """The first sample trade of ``batch`` at which the adverse run reaches the threshold."""
        n = len(batch.ts_ns)  # ``len(batch)``, read once without the Python-level call
        if position.is_flat or n == 0:
            return None
        long = position.quantity > 0
        state = self._sampling(position, batch)
        got = self._first(position, batch.ts_ns, batch.price, state, long, True)
        if got is not None:
            hit, run, need, state.bucket, state.price, state.run = got
            if hit < 0:
                return None
            return self._decision(position, batch, hit, run, need, long)
        if n <= FEW:
            return self._on_few(position, batch, state, long)
        samples = scan(batch.ts_ns, batch.price, state, self.interval_ns, 1 if long else -1)
        if len(samples) == 0:
            return None
        counted = np.minimum(samples.run, self.max_moves)
        required = self.tiers.required(samples.price, position.avg_price, long)
        hits = np.flatnonzero(counted >= required)
        if len(hits) == 0:
            advance(state, samples)
            return None
        i = int(hits[0])
        advance(state, samples, upto=i)
        row = int(samples.row[i])
        return self._decision(position, batch, row, int(counted[i]), int(required[i]), long)

    def _decision(
        self,
        position: Position,
        batch: TickBatch,
        row: int,
        counted: int,
        required: int,
        long: bool,
    ) -> ExitDecision:
        price = float(batch.price[row])
        profit = self.tiers.profit(price, position.avg_price, long)
        return ExitDecision(
            monitor=self.name,
            reason=(
                f"{counted} consecutive price {'drops' if long else 'rises'} "
                f"(threshold={required} at profit {float(profit):+.2%})"
            ),
            ts_ns=int(batch.ts_ns[row]),
            price=price,
        )

    def _first(
        self,
        position: Position,
        ts_ns: npt.NDArray[np.int64],
        prices: npt.NDArray[np.float64],
        state: SampleState,
        long: bool,
        check: bool,
    ) -> tuple[int, int, int, int, float, int] | None:
        """The compiled loop (``_kernel.c``) over ``ts_ns``/``prices`` from ``state`` (left
        alone): the trade of the first sample that reaches its threshold (-1: none, or not
        looked for unless ``check``), its capped run and threshold, and the sampling state
        there (or after the last sample). The same samples, runs and comparisons as
        :meth:`_on_few`, in one pass over the trades whatever their number. None when the
        kernel is not built or cannot take the arguments (the Python paths do)."""
        if _kernel is None or state.anchor_ns < 0 or not 0 < self.interval_ns < _INT64:
            return None
        entry = position.avg_price
        kept = self._tiers_of
        if kept is not None and kept[0] is entry and kept[1] is long:
            bounds, moves = kept[2], kept[3]  # the same position's (no Decimal hashed)
        else:
            bounds, moves = self.tiers.arrays(entry, long)
            self._tiers_of = (entry, long, bounds, moves)
        return _kernel.first(
            ts_ns,
            prices,
            state.anchor_ns,
            self.interval_ns,
            state.bucket,
            state.price,
            state.run,
            long,
            self.max_moves,
            self.tiers.least,
            bounds,
            moves,
            check,
        )

    def _on_few(
        self, position: Position, batch: TickBatch, state: SampleState, long: bool
    ) -> ExitDecision | None:
        """:meth:`on_ticks` over a few trades (the engine's pieces between two closes around
        a position): :func:`~tradewind_exit_adverse.sampling.scan`'s samples and runs and
        the tiers' thresholds one sample at a time in Python, the same integers and float
        comparisons, without the fixed cost of a dozen numpy calls per piece."""
        ts_list = batch.ts_ns.tolist()
        anchor, interval = state.anchor_ns, self.interval_ns
        start = bisect_left(ts_list, anchor)
        if start >= len(ts_list) or (ts_list[-1] - anchor) // interval <= state.bucket:
            return None
        prices = batch.price.tolist()
        # Each trade's bucket on the grid, ``(ts - anchor) // interval``: from ``start`` on
        # the trades are at or after the anchor (sorted), so for an anchor and interval in
        # int64 numpy's floor division of the differences (in [0, 2**63)) is Python's, and
        # the loop below compares small ints instead of dividing nanosecond stamps (below
        # a dozen and a half trades numpy's fixed cost is the larger).
        if len(ts_list) - start > 16 and 0 <= anchor and interval < _INT64:
            buckets = ((batch.ts_ns[start:] - anchor) // interval).tolist()
        else:
            buckets = [(t - anchor) // interval for t in ts_list[start:]]
        bounds, moves = self.tiers.lookup(position.avg_price, long)
        n_bounds = len(bounds)
        max_moves = self.max_moves
        # No tier asks fewer moves than the least of them: a sample whose run is shorter
        # cannot reach its threshold (``counted <= run``), whatever its price's tier.
        least = self.tiers.least
        prev_bucket, prev_price, carry = state.bucket, state.price, state.run
        last = prev_bucket  # the bucket of the trade before (sampling.scan's ``previous``)
        k = 0
        top = None  # the running maximum of the resets
        run = carry
        for j, bucket in enumerate(buckets, start):
            if bucket <= last:
                last = bucket
                continue
            last = bucket
            price = prices[j]
            change = price - prev_price
            if not (change < 0 if long else change > 0):
                reset = k
            elif bucket - prev_bucket > 1:
                reset = k - 1
            else:
                reset = -1 - carry
            top = reset if top is None or reset > top else top
            run = k - top
            if run >= least:
                counted = run if run < max_moves else max_moves
                if price != price:  # NaN: numpy's searchsorted places it after every bound
                    required = moves[n_bounds if long else 0]
                elif long:
                    required = moves[bisect_right(bounds, price)]
                else:
                    required = moves[n_bounds - bisect_left(bounds, price)]
                if counted >= required:
                    state.bucket, state.price, state.run = bucket, price, run
                    return self._decision(position, batch, j, counted, required, long)
            prev_bucket, prev_price = bucket, price
            k += 1
        # The sampling state is the last sample's (written once, not at every sample).
        state.bucket, state.price, state.run = prev_bucket, prev_price, run
        return None

    def scan(self, position: Position, window: HoldWindow, ctx: RiskContext) -> int | None:
        """The close ahead whose trades hold the first sample that reaches the threshold:
        the samples of the window's trades after the sampling so far (a copy; the state is
        left alone), as :meth:`on_ticks` takes them however the tape is cut."""
        if position.is_flat or len(window) == 0:
            return None
        ticks = window.ticks
        seen = window.seen
        if seen == 0:
            return None
        key = position.instrument
        entry = self._state.get(key)
        if entry is None or entry[0] != position.opened_ts_ns:
            anchor = position.opened_ts_ns or int(ticks.ts_ns[0])
            state = SampleState(anchor_ns=anchor, bucket=0, price=float(position.avg_price))
        else:
            state = entry[1]
        long = position.quantity > 0
        got = self._first(position, ticks.ts_ns[:seen], ticks.price[:seen], state, long, True)
        if got is not None:
            # fold runs the kernel over the walked trades itself: nothing to keep.
            self._scanned = None
            return None if got[0] < 0 else window.row_of_trade(got[0])
        samples = scan(
            ticks.ts_ns[:seen], ticks.price[:seen], state, self.interval_ns, 1 if long else -1
        )
        fields = (state.anchor_ns, state.bucket, state.price, state.run)
        self._scanned = (state, fields, long, ticks, samples)
        if len(samples) == 0:
            return None
        counted = np.minimum(samples.run, self.max_moves)
        required = self.tiers.required(samples.price, position.avg_price, long)
        hits = np.flatnonzero(counted >= required)
        return window.row_of_trade(int(samples.row[int(hits[0])])) if len(hits) else None

    def fold(self, position: Position, walked: TickBatch, ctx: RiskContext) -> None:
        """After a walk its scan cleared: the sampling state :meth:`on_ticks` leaves when no
        sample reaches the threshold (the samples' last bucket, price and run), without the
        tiers' thresholds (a few trades: :meth:`on_ticks` itself, which is a Python loop).

        When the walked trades are the first ones the last scan sampled, from the state it
        started from (unchanged since), the state moves to the last of that scan's samples
        among them: a batch's samples do not depend on the trades after them (the tape cut
        anywhere gives the same samples), so they are the ones a scan of the walked trades
        alone would give."""
        if position.is_flat or len(walked) == 0:
            return
        scanned = self._scanned
        if scanned is not None:
            self._scanned = None
            state0, fields, long0, ticks, samples = scanned
            entry = self._state.get(position.instrument)
            n = len(walked)
            if (
                entry is not None
                and entry[1] is state0
                and entry[0] == position.opened_ts_ns
                and long0 == (position.quantity > 0)
                and (state0.anchor_ns, state0.bucket, state0.price, state0.run) == fields
                and n <= len(ticks)
                and np.array_equal(walked.ts_ns, ticks.ts_ns[:n])
                and np.array_equal(walked.price, ticks.price[:n])
            ):
                m = int(samples.row.searchsorted(n, side="left"))
                if m:
                    advance(state0, samples, upto=m - 1)
                return
        state = self._sampling(position, walked)
        long = position.quantity > 0
        got = self._first(position, walked.ts_ns, walked.price, state, long, False)
        if got is not None:
            _, _, _, state.bucket, state.price, state.run = got
            return
        if len(walked) <= FEW:
            self.on_ticks(position, walked, ctx)
            return
        samples = scan(walked.ts_ns, walked.price, state, self.interval_ns, 1 if long else -1)
        if len(samples):
            advance(state, samples)

    def on_candle(
        self, position: Position, candle: Candle, values: Mapping[str, float], ctx: RiskContext
    ) -> ExitDecision | None:
        """Moves are sampled from trades only."""
        return None

    def forget(self, instrument: str) -> None:
        """Drop the samples of a position that closed."""
        self._state.pop(instrument, None)
        self._scanned = None

    def _sampling(self, position: Position, batch: TickBatch) -> SampleState:
        """The sampling state of ``position``, started afresh for a position not seen before.

        A position with an unknown open time (``opened_ts_ns == 0``) is sampled from the first
        trade seen, with its average price as sample 0.
        """
        key = position.instrument
        entry = self._state.get(key)
        if entry is None or entry[0] != position.opened_ts_ns:
            anchor = position.opened_ts_ns or batch.first_ts
            state = SampleState(anchor_ns=anchor, bucket=0, price=float(position.avg_price))
            self._state[key] = entry = (position.opened_ts_ns, state)
        return entry[1]


@hookimpl
def tradewind_register_exits(registry: KindRegistry) -> None:
    """Register :class:`AdverseMoves`."""
    registry.add(AdverseMoves)
