"""A data host, two strategy shards and an execution host over a real nats-server give the
same signals, orders and fills as the one-process run of the same config."""

from __future__ import annotations

from pathlib import Path

from tests.cluster.conftest import (
    FILLS,
    ORDERS,
    SIGNALS,
    NatsServer,
    count,
    host,
    rows,
    wait_all,
    write_config,
)


def test_three_hosts_equal_one_process(
    tmp_path: Path, nats_server: NatsServer, single_run: Path
) -> None:
    config = write_config(tmp_path, nats_server.url)
    single = single_run

    procs = {
        "execution": host(
            "execution", "execution", config, "--journal", str(tmp_path / "exec.duckdb")
        ),
        "strategy-a": host("strategy-a", "strategy", config, "--shard", "a"),
        "strategy-b": host("strategy-b", "strategy", config, "--shard", "b"),
        "data": host("data", "data", config),
    }
    wait_all(procs, tmp_path, 240)

    split = tmp_path / "exec.duckdb"
    fills = rows(single, FILLS)
    assert len({f[0] for f in fills}) == 2, "the sample trades both instruments"
    signals, orders = rows(single, SIGNALS), rows(single, ORDERS)
    assert signals and orders
    assert rows(split, SIGNALS) == signals
    assert rows(split, ORDERS) == orders
    assert rows(split, FILLS) == fills
    # The execution host publishes its events: one FillEvent per journaled fill.
    assert count(nats_server.url, "tw_events", "tw.events.FillEvent") == len(fills)
