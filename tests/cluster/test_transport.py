"""The wire formats, the [cluster] section's checks, and a full stream against a real
nats-server: the data host reports it and waits, it never drops a batch."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import anyio
import numpy as np
import pytest
from tradewind.cluster.wire import decode_batch, decode_decision, encode_batch, encode_decision
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.model import Side, Signal, TickBatch

from tests.cluster.conftest import NatsServer, count, write_config


def test_tick_batch_round_trips_through_arrow_ipc() -> None:
    batch = TickBatch.from_arrays(
        "sim:BTCUSDT",
        [1582329602111000000, 1582329602116000000],
        [9682.0, 9682.5],
        [0.132, 0.412],
        [1, -1],
        [42377944, 42377945],
    )
    data = encode_batch(batch)
    assert not data.startswith(b"{")  # columnar, not JSON
    back = decode_batch("sim:BTCUSDT", data)
    assert back.instrument == "sim:BTCUSDT"
    for name in ("ts_ns", "price", "size", "side", "trade_id"):
        assert np.array_equal(getattr(back, name), getattr(batch, name))
        assert getattr(back, name).dtype == getattr(batch, name).dtype


def test_decision_round_trips_with_nan_reasons() -> None:
    signal = Signal(
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        entry=Decimal("9682.01"),
        stop=Decimal("9650.5"),
        score=3.5,
        ts_ns=1582329660000000000,
        reasons={"orderflow.imbalance_1m": 0.61, "profile.poc": float("nan")},
    )
    ident, inst, ts, back = decode_decision(encode_decision("sim:BTCUSDT", signal.ts_ns, signal))
    assert (ident, inst, ts) == ("sim:BTCUSDT@1582329660000000000", "sim:BTCUSDT", signal.ts_ns)
    assert back is not None
    assert back.entry == signal.entry and back.stop == signal.stop and back.side is Side.BUY
    assert back.reasons["orderflow.imbalance_1m"] == 0.61
    assert np.isnan(back.reasons["profile.poc"])
    assert decode_decision(encode_decision("sim:BTCUSDT", 5, None))[3] is None


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ('{ a = ["sim:BTCUSDT"] }', "instruments sim2:BTCUSDT are in no shard"),
        (
            '{ a = ["sim:BTCUSDT", "sim2:BTCUSDT"], b = ["sim2:BTCUSDT"] }',
            "instrument 'sim2:BTCUSDT' is in shards 'a' and 'b'",
        ),
        ('{ a = ["sim:ETHUSDT"], b = ["sim2:BTCUSDT"] }', "names instrument 'sim:ETHUSDT'"),
        ('{ "a.b" = ["sim:BTCUSDT", "sim2:BTCUSDT"] }', "shard name may hold letters"),
    ],
)
def test_shards_are_checked_with_their_path(tmp_path: Path, shards: str, message: str) -> None:
    path = write_config(tmp_path, "nats://127.0.0.1:4222")
    text = path.read_text().replace(
        'shards = { a = ["sim:BTCUSDT"], b = ["sim2:BTCUSDT"] }', f"shards = {shards}"
    )
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"@ \$\.cluster\.shards") as info:
        load_config(path)
    assert message in str(info.value)


def test_warmup_longer_than_retention_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "nats://127.0.0.1:4222")
    path.write_text(path.read_text().replace('warmup = "6h"', 'warmup = "2d"'))
    with pytest.raises(ConfigError, match=r"warmup \(2d\) is longer .* @ \$.cluster.warmup"):
        load_config(path)


def test_full_ticks_stream_is_reported_and_nothing_is_dropped(
    tmp_path: Path, nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tradewind.cluster.hosts import serve_data

    path = write_config(tmp_path, nats_server.url)
    path.write_text(
        path.read_text().replace("ticks_max_bytes = 134217728", "ticks_max_bytes = 60000")
    )
    config = load_config(path)

    async def publish_for_a_while() -> None:
        with anyio.move_on_after(3):
            await serve_data(config)

    with caplog.at_level(logging.WARNING, logger="tradewind.cluster"):
        anyio.run(publish_for_a_while)
    full = [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]
    assert full and "waiting for retention to free space" in full[0]
    # The data host waits at the full stream: what is stored is a prefix of the feed, and the
    # batch that did not fit was never counted as published.
    stored = count(nats_server.url, "tw_ticks", "tw.ticks.>")
    assert 0 < stored < 285


def test_strategy_host_never_connects_an_execution_venue(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    from tradewind.cluster.hosts import StrategyHost, serve_data

    config = load_config(write_config(tmp_path, nats_server.url))
    anyio.run(serve_data, config)
    host = StrategyHost(config, "b", journal_path=str(tmp_path / "strategy-b.duckdb"))
    touched: list[str] = []

    for key, venue in host.venues.items():

        async def refuse(key: str = key) -> None:
            touched.append(key)
            raise AssertionError(f"the strategy host connected venue {key}")

        venue.connect = refuse
    result = anyio.run(host.run)
    assert touched == []
    # Its shard's decisions, one per 1m close of the sample, all published.
    assert host.published == count(nats_server.url, "tw_signals", "tw.signals.sim2:BTCUSDT")
    assert host.published > 100
    assert result.summary["decisions_published"] == host.published
    assert count(nats_server.url, "tw_signals", "tw.signals.sim:BTCUSDT") == 0


def test_a_restarted_data_host_stores_each_batch_once(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    from tradewind.cluster.hosts import serve_data

    config = load_config(write_config(tmp_path, nats_server.url))
    first = anyio.run(serve_data, config)
    stored = count(nats_server.url, "tw_ticks", "tw.ticks.>")
    again = anyio.run(serve_data, config)  # the whole feed published a second time
    assert first["duplicates"] == 0
    assert again["duplicates"] == again["batches"] == first["batches"]
    assert count(nats_server.url, "tw_ticks", "tw.ticks.>") == stored == first["batches"] + 2


def test_a_missing_strategy_host_is_reported_and_the_run_goes_on(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    import duckdb
    from tradewind.cluster.hosts import ExecutionHost, serve_data

    path = write_config(tmp_path, nats_server.url)
    path.write_text(path.read_text().replace("signal_wait_s = 60.0", "signal_wait_s = 0.02"))
    config = load_config(path)
    anyio.run(serve_data, config)
    journal = tmp_path / "exec.duckdb"
    host = ExecutionHost(config, journal_path=str(journal))
    anyio.run(host.run)  # no strategy host runs: no decision ever arrives
    assert host.late > 100
    con = duckdb.connect(str(journal), read_only=True)
    try:
        late = con.execute(
            "SELECT count(*) FROM events WHERE type = 'SystemError' "
            "AND payload::VARCHAR LIKE '%no decision from strategy shard%'"
        ).fetchone()
        orders = con.execute("SELECT count(*) FROM orders").fetchone()
    finally:
        con.close()
    assert late is not None and late[0] == host.late
    assert orders is not None and orders[0] == 0


def test_a_server_without_room_for_the_streams_is_a_clear_error(tmp_path: Path) -> None:
    """nats-server refuses to reserve a stream's max_bytes beyond its JetStream store: the
    host names the stream, the byte count and the config key instead of a bare code 10047."""
    from tradewind.cluster.hosts import serve_data

    store = tmp_path / "nats"
    store.mkdir()
    server = NatsServer(store, max_file_store=64 << 20)
    server.start()
    try:
        config = load_config(write_config(tmp_path, server.url))  # ticks reserve 128 MiB

        with pytest.raises(ConfigError) as err:
            anyio.run(serve_data, config)
        message = str(err.value)
        assert "cannot reserve 134,217,728 bytes for stream tw_ticks" in message
        assert "@ $.cluster.ticks_max_bytes" in message
    finally:
        server.stop()
