"""Account-free filters run on the strategy host, account filters on the execution host, and
the run still equals the one-process run: a data host, two strategy shards and an execution
host over a real nats-server, with a chain where one instrument's signal is vetoed by an
account filter (exposure) and the other's by an account-free one (stop distance)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from tests.cluster.conftest import (
    FILLS,
    ORDERS,
    SIGNALS,
    NatsServer,
    host,
    rows,
    wait_all,
    write_config,
)

VETOES = (
    "SELECT ts_ns, filter, reason, action, instrument, side, quantity, signal_ts_ns FROM vetoes "
    "ORDER BY ALL"
)
VETO_EVENTS = "SELECT payload FROM events WHERE type = 'VetoEvent' ORDER BY seq"


def placement_config(folder: Path, url: str) -> Path:
    """The cluster test config with a chain of the kill switch, exposure (reads the account:
    sim's 2.065 BTC signal, about 20,000 USD, is over 10,000) and stop distance (needs none:
    the 0.5 % stops are over 0.4 %); sim2's size is capped at 5,000 USD, so its signal passes
    exposure and reaches stop distance."""
    path = write_config(folder, url)
    text = path.read_text()
    chain_start = text.index("[filters.killswitch]")
    chain_end = text.index("[exits.reversal]")
    chain = (
        '[filters.killswitch]\nmax_loss_pct = "0.10"\n\n'
        '[filters.exposure]\nmax_usd = "10000"\n\n'
        '[filters.stopdistance]\nmax_stop_pct = "0.004"\n\n'
    )
    text = text[:chain_start] + chain + text[chain_end:]
    text = text.replace(
        "risk_pct = 0.01\n", 'risk_pct = 0.01\ninstrument_caps = { "sim2:BTCUSDT" = "5000" }\n'
    )
    path.write_text(text)
    return path


def _single(folder: Path) -> Path:
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    config = placement_config(folder, "nats://127.0.0.1:1")
    journal = folder / "single.duckdb"
    anyio.run(Engine(load_config(config), journal_path=str(journal)).run)
    return journal


def test_account_free_vetoes_happen_on_the_strategy_host_and_the_run_equals_one_process(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single = _single(single_dir)
    config = placement_config(tmp_path, nats_server.url)
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

    # The one-process run vetoes sim's signal by exposure and sim2's by stop distance.
    vetoes = rows(single, VETOES)
    assert {(v[1], v[4]) for v in vetoes} == {
        ("exposure", "sim:BTCUSDT"), ("stopdistance", "sim2:BTCUSDT"),
    }  # fmt: skip
    # Three hosts: the same signals, vetoes (filter, reason, sized quantity), orders, fills.
    assert rows(split, SIGNALS) == rows(single, SIGNALS)
    assert rows(split, VETOES) == vetoes
    assert rows(split, ORDERS) == rows(single, ORDERS)
    assert rows(split, FILLS) == rows(single, FILLS)

    # Where each veto was decided: the account-free one on strategy host b, the account one
    # on the execution host (no host); in one process, no host.
    hosts = {
        (p["veto"]["filter"], p["veto"]["signal"]["instrument"]): p["veto"]["host"]
        for p in (json.loads(r[0]) for r in rows(split, VETO_EVENTS))
    }
    assert hosts == {
        ("exposure", "sim:BTCUSDT"): "",
        ("stopdistance", "sim2:BTCUSDT"): "strategy-b",
    }
    assert {json.loads(r[0])["veto"]["host"] for r in rows(single, VETO_EVENTS)} == {""}
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    # Each strategy host checked its signal against stop distance (the one account-free
    # filter); the execution host took both verdicts instead of running the filter (sim's
    # never mattered: exposure vetoed it first).
    assert "1 account-free filter checks" in logs["strategy-a"], logs["strategy-a"]
    assert "1 account-free filter checks" in logs["strategy-b"], logs["strategy-b"]
    assert "1 filter verdicts from strategy hosts" in logs["execution"], logs["execution"]
