"""Several instruments replay interval by interval of the decision grid, without look-ahead."""

import anyio
import numpy as np
from tradewind.model import Instrument, TickBatch
from tradewind.venues.replay import ReplayConfig, ReplayVenue

MIN = 60_000_000_000


def venue_with(series: dict[str, TickBatch]) -> ReplayVenue:
    v = ReplayVenue(
        ReplayConfig(path="unused.csv"),
        instance="replay",
        instruments=[Instrument(venue="sim", symbol=s) for s in series],
    )
    v._data = dict(series)
    return v


def tape(symbol: str, seconds: list[float]) -> TickBatch:
    ts = [int(s * 1e9) for s in seconds]
    n = len(ts)
    return TickBatch.from_arrays(
        symbol, ts, np.full(n, 100.0), np.ones(n), np.ones(n), np.arange(n)
    )


def collect(v: ReplayVenue) -> list[TickBatch]:
    async def go() -> list[TickBatch]:
        insts = list(await v.instruments())
        return [b async for b in v.stream_trades(insts)]

    return anyio.run(go)


def test_instruments_are_interleaved_by_decision_interval():
    a = tape("A", [1, 2, 61, 62, 125])
    b = tape("B", [0.5, 59.9, 60, 130, 131])
    v = venue_with({"A": a, "B": b})
    v.set_decision_step(MIN)
    out = collect(v)
    got = [(x.instrument, [int(t // 1e9) for t in x.ts_ns]) for x in out]
    assert got == [
        ("sim:A", [1, 2]),
        ("sim:B", [0, 59]),
        ("sim:A", [61, 62]),
        ("sim:B", [60]),
        ("sim:A", [125]),
        ("sim:B", [130, 131]),
    ]
    # No batch ever reaches past the grid interval it starts in: no instrument sees another's
    # trades beyond a decision time before deciding at it.
    for x in out:
        assert x.last_ts < (x.first_ts // MIN + 1) * MIN
    assert sum(len(x) for x in out) == len(a) + len(b)


def test_one_instrument_keeps_large_batches():
    v = venue_with({"A": tape("A", [1, 2, 61, 62, 125])})
    v.set_decision_step(MIN)
    assert [len(x) for x in collect(v)] == [5]
