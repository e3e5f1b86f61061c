"""A data host, two strategy shards and an execution host over a real nats-server give the
same signals, orders and fills as the one-process run of the same config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.cluster.conftest import FILLS, ORDERS, SIGNALS, NatsServer, host, rows, write_config


def one_process(config: Path, journal: Path) -> None:
    engine = Engine(load_config(config), journal_path=str(journal))
    anyio.run(engine.run)


def wait_all(procs: dict[str, subprocess.Popen[bytes]], folder: Path, timeout: float) -> None:
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for p in procs.values():
                p.kill()
            logs = "\n".join(f.read_text()[-2000:] for f in folder.glob("*.log"))
            raise AssertionError(f"host {name} did not finish in {timeout}s:\n{logs}") from None
        if code != 0:
            logs = "\n".join(f.read_text()[-2000:] for f in folder.glob("*.log"))
            raise AssertionError(f"host {name} exited {code}:\n{logs}")


def test_three_hosts_equal_one_process(tmp_path: Path, nats_server: NatsServer) -> None:
    config = write_config(tmp_path, nats_server.url)
    single = tmp_path / "single.duckdb"
    one_process(config, single)

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
