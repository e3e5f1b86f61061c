"""The parquet market store on disk: round trip, layout, windows, retention, info."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tradewind.market.store import DEFAULT_TICKS_KEEP_NS, MarketStore
from tradewind.model.ticks import TickBatch

S = 1_000_000_000
MIN = 60 * S
DAY = 86_400 * S
T0 = 1_582_329_600 * S  # 2020-02-22 00:00:00 UTC


def same(a: TickBatch, b: TickBatch) -> bool:
    return all(
        np.array_equal(getattr(a, c), getattr(b, c))
        for c in ("ts_ns", "price", "size", "side", "trade_id")
    )


def synthetic(start: int, n: int, step: int, inst: str = "ETHUSDT", first_id: int = 0) -> TickBatch:
    ts = start + np.arange(n, dtype=np.int64) * step
    return TickBatch.from_arrays(
        inst,
        ts,
        100.0 + np.arange(n) * 0.01,
        np.full(n, 0.5),
        np.where(np.arange(n) % 3 == 0, -1, 1),
        first_id + np.arange(n),
    )


def test_round_trip_of_the_real_sample_is_identical(
    tmp_path: Path, tardis_batch: TickBatch
) -> None:
    store = MarketStore(tmp_path)
    for lo in range(0, len(tardis_batch), 4000):  # three appends, two flushes
        store.append("binance", "usdm", "BTCUSDT", tardis_batch.slice(lo, lo + 4000))
        if lo == 4000:
            assert store.buffered_rows == 8000
            assert store.flush() == 8000
    store.flush()
    assert store.buffered_rows == 0
    assert same(store.read_ticks("binance", "usdm", "BTCUSDT"), tardis_batch)
    # Window reads: [start, end).
    mid = int(tardis_batch.ts_ns[5000])
    part = store.read_ticks("binance", "usdm", "BTCUSDT", start_ns=mid, end_ns=mid + MIN)
    sel = (tardis_batch.ts_ns >= mid) & (tardis_batch.ts_ns < mid + MIN)
    assert len(part) == int(sel.sum()) > 0
    assert np.array_equal(part.trade_id, tardis_batch.trade_id[sel])
    store.close()


def test_partition_layout(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    # Crosses midnight: one part file per UTC date.
    store.append("binance", "spot", "BTC/USDT", synthetic(T0 + DAY - 2 * S, 4, S))
    store.append("kraken", "spot", "XBT=EUR", synthetic(T0, 2, S))
    store.flush()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert files == [
        "exchange=binance/market=spot/symbol=BTC%2FUSDT/date=2020-02-22/"
        f"part-{T0 + DAY - 2 * S}-{T0 + DAY - S}-000.parquet",
        "exchange=binance/market=spot/symbol=BTC%2FUSDT/date=2020-02-23/"
        f"part-{T0 + DAY}-{T0 + DAY + S}-000.parquet",
        "exchange=kraken/market=spot/symbol=XBT%3DEUR/date=2020-02-22/"
        f"part-{T0}-{T0 + S}-000.parquet",
    ]
    assert store.symbols() == [("binance", "spot", "BTC/USDT"), ("kraken", "spot", "XBT=EUR")]
    # DuckDB sees the hive columns, decoded.
    rows = store.query(
        "SELECT exchange, symbol, CAST(date AS VARCHAR), count(*) FROM ticks "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("binance", "BTC/USDT", "2020-02-22", 2),
        ("binance", "BTC/USDT", "2020-02-23", 2),
        ("kraken", "XBT=EUR", "2020-02-22", 2),
    ]
    with pytest.raises(ValueError, match="symbol"):
        store.append("binance", "spot", "", synthetic(T0, 1, S))


def test_last_minutes_of_one_symbol_among_many(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    for k in range(5):
        for flush in range(4):  # 4 part files of 10 minutes each
            store.append(
                "binance",
                "usdm",
                f"SYM{k}",
                synthetic(T0 + flush * 10 * MIN, 600, S, first_id=flush * 600),
            )
            store.flush()
    got = store.last("binance", "usdm", "SYM3", 15 * MIN)
    newest = T0 + 40 * MIN - S
    assert got.last_ts == newest and got.first_ts == newest - 15 * MIN
    assert len(got) == 15 * 60 + 1
    assert len(store.last("binance", "usdm", "NOPE", 15 * MIN)) == 0
    assert len(store.read_ticks("binance", "usdm", "SYM1", start_ns=T0 + DAY)) == 0


def test_equal_timestamps_keep_their_arrival_order(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    ts = [T0, T0, T0 + 1]
    store.append(
        "x",
        "spot",
        "A",
        TickBatch.from_arrays("A", ts, [1.0, 2.0, 3.0], [1.0] * 3, [1] * 3, [9, 3, 4]),
    )
    store.flush()
    store.append("x", "spot", "A", TickBatch.from_arrays("A", [T0 + 1], [4.0], [1.0], [1], [1]))
    store.flush()
    assert store.read_ticks("x", "spot", "A").trade_id.tolist() == [9, 3, 4, 1]


def test_retention_drops_whole_files_older_than_the_window(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    assert store.ticks_keep_ns == DEFAULT_TICKS_KEEP_NS == 15 * MIN
    for minute in range(0, 30, 5):  # files covering [m, m + 5 min)
        store.append("binance", "usdm", "ETHUSDT", synthetic(T0 + minute * MIN, 300, S))
        store.flush()
    now = T0 + 30 * MIN
    # Files whose newest tick is before now - 15 min: those ending at 4:59, 9:59, 14:59.
    assert store.apply_retention(now) == 3
    left = store.read_ticks("binance", "usdm", "ETHUSDT")
    assert left.first_ts == T0 + 15 * MIN and left.last_ts == T0 + 30 * MIN - S
    assert store.apply_retention(now) == 0
    # Configurable; and empty date folders go too.
    assert store.apply_retention(now + DAY, ticks_keep_ns=MIN) == 3
    assert store.symbols() == [] and not list(tmp_path.rglob("date=*"))


def test_info_reports_rows_span_and_gaps(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    store.append("binance", "usdm", "ETHUSDT", synthetic(T0, 10, S))
    store.append("binance", "usdm", "ETHUSDT", synthetic(T0 + 5 * MIN, 10, S, first_id=10))
    store.append("binance", "usdm", "BTCUSDT", synthetic(T0, 3, S, inst="BTCUSDT"))
    store.flush()
    info = {i.symbol: i for i in store.info(gap_ns=MIN)}
    eth = info["ETHUSDT"]
    assert (eth.rows, eth.first_ts_ns, eth.last_ts_ns) == (20, T0, T0 + 5 * MIN + 9 * S)
    assert eth.span_ns == 5 * MIN + 9 * S
    assert eth.gaps == ((T0 + 9 * S, T0 + 5 * MIN),)
    assert info["BTCUSDT"].rows == 3 and info["BTCUSDT"].gaps == ()


def test_a_stray_temporary_file_is_ignored(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    store.append("x", "spot", "A", synthetic(T0, 5, S, inst="A"))
    store.flush()
    folder = next(tmp_path.rglob("date=*"))
    (folder / "part-1-2-000.parquet.tmp").write_bytes(b"half a file")
    assert len(store.read_ticks("x", "spot", "A")) == 5
    assert store.info()[0].rows == 5


def test_overlapping_parts_are_merged_in_time_order(tmp_path: Path) -> None:
    store = MarketStore(tmp_path)
    store.append("x", "spot", "A", synthetic(T0 + 10 * S, 5, S, inst="A", first_id=10))
    store.flush()
    store.append("x", "spot", "A", synthetic(T0, 20, S, inst="A", first_id=0))  # a backfill
    store.flush()
    got = store.read_ticks("x", "spot", "A")
    assert np.all(np.diff(got.ts_ns) >= 0) and len(got) == 25
    assert got.trade_id[:12].tolist() == [*range(10), 10, 10]


def test_many_small_flushes_are_merged_and_compact_merges_the_rest(tmp_path: Path) -> None:
    store = MarketStore(tmp_path, max_parts=3)
    src = synthetic(T0, 100, S)
    for lo in range(0, 100, 10):  # ten flushes
        store.append("binance", "usdm", "ETHUSDT", src.slice(lo, lo + 10))
        store.flush()
    folder = next(tmp_path.rglob("date=*"))
    assert len(list(folder.glob("*.parquet"))) <= 4
    assert same(store.read_ticks("binance", "usdm", "ETHUSDT"), src)
    store.compact("binance", "usdm", "ETHUSDT")
    assert [p.name for p in folder.glob("*.parquet")] == [f"part-{T0}-{T0 + 99 * S}-000.parquet"]
    assert same(store.read_ticks("binance", "usdm", "ETHUSDT"), src)
    with pytest.raises(ValueError, match="max_parts"):
        MarketStore(tmp_path, max_parts=0)
