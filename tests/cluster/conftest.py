"""A real ``nats-server -js`` per test on 127.0.0.1 (Debian's package; the cluster tox env
installs it), and the shipped sample as a two-instrument paper config with two shards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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

    def __init__(self, store: Path, max_file_store: int = 2 << 30) -> None:
        self.store = store
        #: The server's JetStream file limit, set rather than left to nats-server's default
        #: (three quarters of the disk's free space), so a test does not depend on the disk.
        self.max_file_store = max_file_store
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store / "nats.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        conf = self.store / "nats.conf"
        conf.write_text(
            f"jetstream {{\n  store_dir: {json.dumps(str(self.store))}\n"
            f"  max_file_store: {self.max_file_store}\n}}\n"
        )
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf), "-a", "127.0.0.1", "-p", str(self.port), "-l", str(self.log)],
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
ticks_max_bytes = 134217728
signals_max_bytes = 16777216
events_max_bytes = 33554432
"""


def write_config(folder: Path, url: str, speed: float | None = None) -> Path:
    """The shipped sample as a paper config of two instruments in two shards; ``speed``
    paces the replay (market time per real time) so a test can stop a host mid-run."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "data" / "tardis_binance-futures_BTCUSDT_trades.csv", folder / "data")
    path = folder / "cluster.toml"
    text = CONFIG.format(url=url)
    if speed is not None:
        text = text.replace("\nchunk_ticks =", f"\nspeed = {speed}\nchunk_ticks =")
    path.write_text(text)
    return path


def count(url: str, stream: str, subject: str) -> int:
    """Messages of ``subject`` stored in ``stream`` (0 before the stream exists)."""
    import asyncio

    import nats
    from nats.js.errors import NotFoundError

    async def go() -> int:
        nc = await nats.connect(url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
            return sum((info.state.subjects or {}).values())
        except NotFoundError:
            return 0
        finally:
            await nc.close()

    return asyncio.run(go())


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_all(procs: dict[str, subprocess.Popen[bytes]], folder: Path, timeout: float) -> None:
    """Every host exits 0 within ``timeout`` (their logs in the failure message otherwise)."""
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for p in procs.values():
                p.kill()
            raise AssertionError(
                f"host {name} did not finish in {timeout}s:\n{logs(folder)}"
            ) from None
        if code != 0:
            raise AssertionError(f"host {name} exited {code}:\n{logs(folder)}")


def logs(folder: Path) -> str:
    return "\n".join(f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(folder.glob("*.log")))


@pytest.fixture(scope="session")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-process paper run of the config (unpaced: pacing changes no result)."""
    import anyio
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    folder = tmp_path_factory.mktemp("single")
    config = write_config(folder, "nats://127.0.0.1:1")
    journal = folder / "single.duckdb"
    anyio.run(Engine(load_config(config), journal_path=str(journal)).run)
    return journal


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
