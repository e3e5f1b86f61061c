"""A real ``nats-server -js`` per test on 127.0.0.1 (Debian's package; the cluster tox env
installs it), and the shipped sample as a two-instrument paper config with two shards."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import tradewind

SAMPLE = Path(tradewind.__file__).parent / "defaults"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """``nats-server -js`` on a free loopback port with its store in a temp folder."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store / "nats.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.proc = subprocess.Popen(
            [
                exe,
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-sd",
                str(self.store),
                "-l",
                str(self.log),
            ],
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on port {self.port}: {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    store = tmp_path / "nats"
    store.mkdir()
    server = NatsServer(store)
    server.start()
    yield server
    server.stop()


CONFIG = """
mode = "paper"
timeframes = ["1m", "5m", "15m"]

[run]
journal = "journal.duckdb"
report_dir = "reports"
reconcile_interval_s = 3600.0

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.01"
lot_size = "0.001"
min_notional = "5"
maker_fee = "0.0002"
taker_fee = "0.0004"

[[instruments]]
symbol = "BTCUSDT"
venue = "sim2"
data = "replay2"
kind = "perp"
tick_size = "0.01"
lot_size = "0.001"
min_notional = "5"
maker_fee = "0.0002"
taker_fee = "0.0004"

[venues.sim]
plugin = "sim"
starting_balance = "10000"
latency_ms = 25

[venues.sim2]
plugin = "sim"
starting_balance = "10000"
latency_ms = 25

[venues.replay]
plugin = "replay"
path = "data/tardis_binance-futures_BTCUSDT_trades.csv"
chunk_ticks = 500

[venues.replay2]
plugin = "replay"
path = "data/tardis_binance-futures_BTCUSDT_trades.csv"
chunk_ticks = 700

[analyzers.regime]
plugin = "regime"
timeframe = "1m"
hurst_window = 30
mean_reversion_window = 30

[analyzers.profile]
plugin = "profile"
zone_timeframe = "1m"

[analyzers.orderflow]
plugin = "orderflow"

[analyzers.micro]
plugin = "microstructure"

[strategy]
preset = "orderflow-scalper"
composition = "confluence"
risk_pct = 0.01

[filters.killswitch]
max_loss_pct = "0.10"

[filters.existing]
side = "same"

[filters.reversal]

[filters.maxpositions]
max_open_positions = 5

[filters.exposure]
max_usd = "40000"

[filters.fatfinger]
max_deviation_pct = "0.01"

[filters.duplicate]

[filters.stopdistance]
max_stop_pct = "0.005"

[exits.reversal]
analyzer = "orderflow"

[exits.adverse]

[exits.trailing]
trail_pct = 0.005

[exits.maxhold]
max_hold_minutes = 30.0

[notifiers.log]
plugin = "log"
min_severity = "critical"

[cluster]
url = "{url}"
shards = {{ a = ["sim:BTCUSDT"], b = ["sim2:BTCUSDT"] }}
warmup = "6h"
signal_wait_s = 60.0
"""


def write_config(folder: Path, url: str) -> Path:
    """The shipped sample as a paper config of two instruments in two shards."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "data" / "tardis_binance-futures_BTCUSDT_trades.csv", folder / "data")
    path = folder / "cluster.toml"
    path.write_text(CONFIG.format(url=url))
    return path


def host(name: str, role: str, config: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``tradewind serve ROLE CONFIG`` as its own process, its output in ``<name>.log``."""
    log = open(config.parent / f"{name}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tradewind", "serve", role, str(config), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=config.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def rows(journal: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(journal), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


SIGNALS = (
    "SELECT ts_ns, instrument, side, intent, entry, stop, quantity, score FROM signals ORDER BY ALL"
)
ORDERS = (
    "SELECT instrument, side, type, quantity, created_ts_ns, tag, status, filled_quantity, "
    "intent FROM orders ORDER BY ALL"
)
FILLS = "SELECT instrument, side, quantity, price, fee, ts_ns FROM fills ORDER BY ALL"
