"""The trade tape on scripted trades: batching, de-duplication, gaps — exact outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from tradewind.model import DataQuality, Event

from tradewind_venue_cryptofeed import FeedGap
from tradewind_venue_cryptofeed.schemas import trade_id_to_int, ts_to_ns
from tradewind_venue_cryptofeed.tape import TradeTape

S = 1_000_000_000
T0 = 1_700_000_000 * S
NOW = 42


def tape(events: list[Event], **options: object) -> TradeTape:
    settings: dict[str, object] = {
        "venue": "v",
        "batch_max": 3,
        "batch_ms": 100.0,
        "gap_mode": "trade_id",
        "time_gap_ns": 10 * S,
        "id_window": 100,
    }
    settings.update(options)
    return TradeTape(emit=events.append, now_ns=lambda: NOW, **settings)  # type: ignore[arg-type]


def add(
    t: TradeTape,
    ids: list[int | None],
    *,
    mono: float = 0.0,
    key: str = "v:X",
    ts: list[int] | None = None,
) -> list[bool]:
    stamps = ts or [T0 + i * S for i in range(len(ids))]
    return [
        t.add(key, stamp, 100.0 + i, 1.0 + i, 1 if i % 2 == 0 else -1, tid, mono)
        for i, (tid, stamp) in enumerate(zip(ids, stamps, strict=True))
    ]


def test_batch_cut_at_batch_max_then_at_deadline() -> None:
    events: list[Event] = []
    t = tape(events)
    wakes = add(t, [1, 2, 3, 4], mono=10.0)
    assert wakes == [True, False, True, False]  # first trade (deadline) and the full batch
    full = t.take_ready(10.0)
    assert full is not None and full.trade_id.tolist() == [1, 2, 3]
    assert full.price.tolist() == [100.0, 101.0, 102.0] and full.side.tolist() == [1, -1, 1]
    assert t.take_ready(10.05) is None  # the 4th waits for its deadline ...
    assert t.next_deadline() == pytest.approx(10.1)
    rest = t.take_ready(10.1)  # ... which is its first trade's arrival + batch_ms
    assert rest is not None and rest.trade_id.tolist() == [4]
    assert t.take_ready(99.0) is None and t.next_deadline() is None
    assert t.accepted == 4 and events == []


def test_most_overdue_lane_first() -> None:
    t = tape([])
    add(t, [1], mono=5.0, key="v:B")
    add(t, [1], mono=4.0, key="v:A")
    first, second = t.take_ready(6.0), t.take_ready(6.0)
    assert (first.instrument, second.instrument) == ("v:A", "v:B")  # type: ignore[union-attr]


def test_duplicates_dropped_and_reported_with_their_batch() -> None:
    events: list[Event] = []
    t = tape(events)
    add(t, [1, 2])
    assert t.add("v:X", T0, 1.0, 1.0, 1, 2, 0.0) is False  # a resend of trade 2
    assert t.add("v:X", T0, 1.0, 1.0, 1, 1, 0.0) is False
    assert events == []  # reported when the batch is cut, with the count
    batch = t.take_ready(1.0)
    assert batch is not None and batch.trade_id.tolist() == [1, 2]
    assert events == [DataQuality(ts_ns=NOW, instrument="v:X", rejected={"duplicate_id": 2})]
    assert t.duplicates == 2


def test_id_window_bounds_memory() -> None:
    t = tape([], id_window=2, gap_mode="off")
    add(t, [1, 2, 3])
    # id 1 left the window of 2: a resend this late is taken as new (documented trade-off).
    assert t.add("v:X", T0, 1.0, 1.0, 1, 1, 0.0) is False  # not a wake, but accepted
    assert t.duplicates == 0 and t.pending() == 4


def test_trade_id_gap_reported_once_with_its_range() -> None:
    events: list[Event] = []
    t = tape(events)
    add(t, [7, 8, 11, 12], ts=[T0, T0 + 1, T0 + 5, T0 + 6])
    assert events == [
        FeedGap(
            ts_ns=NOW,
            instrument="v:X",
            rejected={"missing_trade_ids": 2},
            venue="v",
            kind="trade_id",
            gap_start_ns=T0 + 1,
            gap_end_ns=T0 + 5,
            first_missing_id=9,
            last_missing_id=10,
        )
    ]
    # A late arrival of a missing id is accepted, and opens no new gap.
    t.add("v:X", T0 + 2, 1.0, 1.0, 1, 9, 0.0)
    assert len(events) == 1 and t.gaps == 1


def test_time_gap_and_reconnect_gap_in_time_mode() -> None:
    events: list[Event] = []
    t = tape(events, gap_mode="time")
    add(t, [1, 5], ts=[T0, T0 + 3 * S])  # ids jump, but time mode ignores ids
    assert events == []
    t.add("v:X", T0 + 14 * S, 1.0, 1.0, 1, 6, 0.0)  # 11 s of silence > 10 s
    t.mark_outage()
    t.add("v:X", T0 + 15 * S, 1.0, 1.0, 1, 9, 0.0)  # the first trade after a reconnect
    t.add("v:X", T0 + 16 * S, 1.0, 1.0, 1, 10, 0.0)
    assert [(e.kind, e.rejected, e.gap_start_ns, e.gap_end_ns) for e in events] == [  # type: ignore[attr-defined]
        ("time", {"time_gap": 1}, T0 + 3 * S, T0 + 14 * S),
        ("reconnect", {"reconnect_gap": 1}, T0 + 14 * S, T0 + 15 * S),
    ]


def test_trades_without_ids_are_numbered_and_never_deduplicated() -> None:
    t = tape([], gap_mode="time")
    add(t, [None, None, None])
    batch = t.take_ready(1.0)
    assert batch is not None and batch.trade_id.tolist() == [1, 2, 3]


def test_out_of_order_stamps_sorted_within_a_batch() -> None:
    t = tape([], batch_max=10)
    add(t, [1, 2, 3], ts=[T0 + 5, T0 + 2, T0 + 5])
    batch = t.take_ready(1.0)
    assert batch is not None
    assert batch.ts_ns.tolist() == [T0 + 2, T0 + 5, T0 + 5]
    assert batch.trade_id.tolist() == [2, 1, 3]  # stable: equal stamps keep arrival order


def test_drain_returns_everything_in_max_size_batches() -> None:
    events: list[Event] = []
    t = tape(events)
    add(t, [1, 2, 3, 4, 5, 5])
    sizes = [len(b) for b in t.drain()]
    assert sizes == [3, 2] and t.pending() == 0
    assert [e.rejected for e in events] == [{"duplicate_id": 1}]  # type: ignore[attr-defined]


def test_id_and_time_conversions() -> None:
    assert ts_to_ns(1626992741.421) == 1_626_992_741_421_000_000  # ms exact
    assert ts_to_ns("1633998523.957215") == 1_633_998_523_957_215_000  # playback passes text
    assert trade_id_to_int("16599292") == 16_599_292
    assert trade_id_to_int(None) is None
    uuid = "f5b6f4a2-5b3c-5d0e-9c9f-0b6a8a3e2d11"
    h = trade_id_to_int(uuid)
    assert h == trade_id_to_int(uuid) and h is not None and 0 <= h < 2**63
    assert trade_id_to_int(str(2**70)) is not None and trade_id_to_int(str(2**70)) < 2**63  # type: ignore[operator]
    assert np.int64(h) == h


def test_unconvertible_update_is_reported_not_fatal() -> None:
    from types import SimpleNamespace

    import anyio

    from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue

    venue = CryptofeedVenue(config=CryptofeedConfig(exchange="BINANCE"), instance="b")
    session = venue.open_session({"BTC-USDT": ["b:BTC-USDT"]})

    def trade(side: str, tid: str) -> SimpleNamespace:
        return SimpleNamespace(
            symbol="BTC-USDT", timestamp=1.5, price="100.5", amount="2", side=side, id=tid
        )

    async def go() -> None:
        await session.on_trade(trade("buy", "1"), 1.6)
        await session.on_trade(trade("sideways", "2"), 1.6)  # cannot be converted
        await session.on_trade(trade("sell", "3"), 1.6)
        await session.on_trade(SimpleNamespace(symbol="ETH-USDT"), 1.6)  # nobody asked for it

    anyio.run(go)
    (batch,) = session.tape.drain()
    assert batch.trade_id.tolist() == [1, 3] and batch.side.tolist() == [1, -1]
    assert batch.ts_ns.tolist() == [1_500_000_000, 1_500_000_000]
    assert (session.trades_in, session.rejected, session.unrouted) == (3, 1, 1)
    # Reported, and — Binance ids being contiguous — the trade it lost shows as a gap too.
    assert [e.rejected for e in venue.events] == [  # type: ignore[attr-defined]
        {"trades_unconvertible": 1},
        {"missing_trade_ids": 1},
    ]
