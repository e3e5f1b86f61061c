"""The trade tape: normalised trades in, de-duplicated, gap-checked tick batches out.

One lane per instrument. Each trade is checked on arrival (duplicate id? id or time gap?) and
appended to the lane's column buffers; a lane is cut into a :class:`TickBatch` when it holds
``batch_max`` trades or its oldest trade has waited ``batch_ms``, whichever comes first. When
the consumer falls behind, lanes simply hold more; a batch never exceeds ``batch_max``.

Nothing is dropped silently: duplicates are counted and reported as a
:class:`~tradewind.model.DataQuality` (``{"duplicate_id": n}``) with the batch they were
removed from, and gaps as :class:`~tradewind_venue_cryptofeed.events.FeedGap` when detected.

The time-gap check compares live trades with live trades only. The first message of a lane
after subscribing (or reconnecting) is the exchange's snapshot of recent trades (BitMEX's
``partial``, Bitfinex's trade snapshot, which can reach back days): those trades go into the
batches but never into the gap check, so neither the hours a snapshot spans nor the time
between its last trade and the first live one is taken for a loss. The exchange's timestamps
are used monotonically: a trade stamped earlier than one already seen never moves the lane's
last-seen time back.
The tape does no I/O and reads no clock: callers pass monotonic seconds for batching, and event
times come from the injected ``now_ns``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
from tradewind.model import DataQuality, Event, TickBatch

from tradewind_venue_cryptofeed.events import FeedGap


class _Lane:
    """One instrument's buffers and feed state."""

    __slots__ = (
        "dup_pending",
        "first_mono",
        "first_receipt",
        "ids",
        "key",
        "last_id",
        "last_ts",
        "outage",
        "price",
        "recent",
        "recent_fifo",
        "seq",
        "side",
        "size",
        "ts",
        "unsorted",
    )

    def __init__(self, key: str, id_window: int) -> None:
        self.key = key
        self.ts: list[int] = []
        self.price: list[float] = []
        self.size: list[float] = []
        self.side: list[int] = []
        self.ids: list[int] = []
        self.first_mono: float | None = None
        #: Receipt time of the lane's first message since (re)subscribing: its snapshot.
        self.first_receipt: float | None = None
        self.unsorted = False
        self.last_id: int | None = None
        self.last_ts: int | None = None
        self.recent: set[int] = set()
        self.recent_fifo: deque[int] = deque(maxlen=id_window)
        self.dup_pending = 0
        self.seq = 0
        self.outage = False


class TradeTape:
    """Per-instrument trade buffers with de-duplication, gap detection and batching.

    :param venue: the venue instance name (for events).
    :param gap_mode: "trade_id" (ids are contiguous: a jump is a loss), "time" (a silence
        longer than ``time_gap_ns``, and any reconnect, is reported) or "off".
    :param emit: where events go (the venue forwards them to ``sink.on_event``).
    :param now_ns: the clock for event timestamps.
    """

    def __init__(
        self,
        *,
        venue: str,
        batch_max: int,
        batch_ms: float,
        gap_mode: str,
        time_gap_ns: int,
        id_window: int,
        emit: Callable[[Event], None],
        now_ns: Callable[[], int],
    ) -> None:
        if gap_mode not in ("trade_id", "time", "off"):
            raise ValueError(f"gap_mode must be 'trade_id', 'time' or 'off', got {gap_mode!r}")
        self.venue = venue
        self.batch_max = batch_max
        self.batch_s = batch_ms / 1000.0
        self.gap_mode = gap_mode
        self.time_gap_ns = time_gap_ns
        self.id_window = id_window
        self._emit = emit
        self._now_ns = now_ns
        self.lanes: dict[str, _Lane] = {}
        #: Trades accepted into batches, duplicates dropped, gaps reported (cumulative).
        self.accepted = 0
        self.duplicates = 0
        self.gaps = 0

    def lane(self, key: str) -> _Lane:
        """The lane of ``key``, created on first use."""
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = _Lane(key, self.id_window)
        return lane

    # -- in ---------------------------------------------------------------------------------
    def add(
        self,
        key: str,
        ts_ns: int,
        price: float,
        size: float,
        side: int,
        trade_id: int | None,
        mono: float,
        receipt: float | None = None,
    ) -> bool:
        """Take one trade; True when the consumer should look again (a new deadline or a full
        lane), False when the trade only joined a pending batch or was a duplicate.

        ``receipt`` identifies the message the trade came in (its receipt time): trades of the
        lane's first message since (re)subscribing are its snapshot, not live.
        """
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lane(key)
        live = True
        if receipt is not None:
            if lane.first_receipt is None:
                lane.first_receipt = receipt
            live = receipt != lane.first_receipt
        if trade_id is None:
            # No exchange id (Kraken, ...): number trades in arrival order; no de-dup possible.
            lane.seq += 1
            trade_id = lane.seq
        else:
            if trade_id in lane.recent:
                lane.dup_pending += 1
                self.duplicates += 1
                return False
            fifo = lane.recent_fifo
            if len(fifo) == fifo.maxlen:
                lane.recent.discard(fifo[0])
            fifo.append(trade_id)
            lane.recent.add(trade_id)
            if self.gap_mode == "trade_id":
                last = lane.last_id
                if last is not None and trade_id > last + 1:
                    self._gap_ids(lane, last, trade_id, ts_ns)
                if last is None or trade_id > last:
                    lane.last_id = trade_id
        time_mode = self.gap_mode == "time"
        if time_mode and lane.last_ts is not None:
            if lane.outage:
                self._gap_time(lane, ts_ns, "reconnect")
            elif live and self.time_gap_ns and ts_ns - lane.last_ts > self.time_gap_ns:
                self._gap_time(lane, ts_ns, "time")
        lane.outage = False
        if (live or not time_mode) and (lane.last_ts is None or ts_ns > lane.last_ts):
            lane.last_ts = ts_ns
        buf_ts = lane.ts
        if buf_ts and ts_ns < buf_ts[-1]:
            lane.unsorted = True
        buf_ts.append(ts_ns)
        lane.price.append(price)
        lane.size.append(size)
        lane.side.append(side)
        lane.ids.append(trade_id)
        n = len(buf_ts)
        if n == 1:
            lane.first_mono = mono
            return True
        return n == self.batch_max

    def mark_outage(self) -> None:
        """A connection dropped: the next trade of every lane is checked for a reconnect gap
        (and the first message after it is a snapshot again)."""
        for lane in self.lanes.values():
            lane.outage = True
            lane.first_receipt = None

    def _gap_ids(self, lane: _Lane, last: int, trade_id: int, ts_ns: int) -> None:
        missing = trade_id - last - 1
        self.gaps += 1
        self._emit(
            FeedGap(
                ts_ns=self._now_ns(),
                instrument=lane.key,
                rejected={"missing_trade_ids": missing},
                venue=self.venue,
                kind="trade_id",
                gap_start_ns=lane.last_ts if lane.last_ts is not None else ts_ns,
                gap_end_ns=ts_ns,
                first_missing_id=last + 1,
                last_missing_id=trade_id - 1,
            )
        )

    def _gap_time(self, lane: _Lane, ts_ns: int, kind: str) -> None:
        assert lane.last_ts is not None
        self.gaps += 1
        self._emit(
            FeedGap(
                ts_ns=self._now_ns(),
                instrument=lane.key,
                rejected={f"{kind}_gap": 1},
                venue=self.venue,
                kind=kind,
                gap_start_ns=lane.last_ts,
                gap_end_ns=ts_ns,
            )
        )

    # -- out --------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """The monotonic time at which the oldest pending batch is due, or None if all empty."""
        firsts = [ln.first_mono for ln in self.lanes.values() if ln.first_mono is not None]
        return min(firsts) + self.batch_s if firsts else None

    def take_ready(self, mono: float) -> TickBatch | None:
        """The most overdue batch that is full or due at ``mono``, or None."""
        best: _Lane | None = None
        for lane in self.lanes.values():
            first = lane.first_mono
            if first is None:
                continue
            if len(lane.ts) >= self.batch_max or first + self.batch_s <= mono:
                if best is None or first < best.first_mono:  # type: ignore[operator]
                    best = lane
        return None if best is None else self._cut(best)

    def drain(self) -> list[TickBatch]:
        """Everything pending, as batches (used when the feed ends)."""
        out: list[TickBatch] = []
        for lane in self.lanes.values():
            while lane.ts:
                out.append(self._cut(lane))
            self._report_duplicates(lane)
        return out

    def _cut(self, lane: _Lane) -> TickBatch:
        n = min(len(lane.ts), self.batch_max)
        ts = np.array(lane.ts[:n], dtype=np.int64)
        price = np.array(lane.price[:n], dtype=np.float64)
        size = np.array(lane.size[:n], dtype=np.float64)
        side = np.array(lane.side[:n], dtype=np.int8)
        ids = np.array(lane.ids[:n], dtype=np.int64)
        if n == len(lane.ts):
            lane.ts.clear()
            lane.price.clear()
            lane.size.clear()
            lane.side.clear()
            lane.ids.clear()
            lane.first_mono = None
            unsorted, lane.unsorted = lane.unsorted, False
        else:
            # The rest waited as long as the part cut: it stays due (first_mono unchanged).
            del lane.ts[:n], lane.price[:n], lane.size[:n], lane.side[:n], lane.ids[:n]
            unsorted = lane.unsorted
        if unsorted and n > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            # An exchange stamped a trade earlier than the one before it: order the batch by
            # time (stable, so equal times keep their arrival order).
            order = np.argsort(ts, kind="stable")
            ts, price, size, side, ids = (
                ts[order],
                price[order],
                size[order],
                side[order],
                ids[order],
            )
        self.accepted += n
        self._report_duplicates(lane)
        return TickBatch(
            instrument=lane.key, ts_ns=ts, price=price, size=size, side=side, trade_id=ids
        )

    def _report_duplicates(self, lane: _Lane) -> None:
        if lane.dup_pending:
            count, lane.dup_pending = lane.dup_pending, 0
            self._emit(
                DataQuality(
                    ts_ns=self._now_ns(), instrument=lane.key, rejected={"duplicate_id": count}
                )
            )

    def pending(self) -> int:
        """Trades buffered and not yet in a batch."""
        return sum(len(lane.ts) for lane in self.lanes.values())
