"""A `tradewind run` executing on ccxt (a local Binance USDⓈ-M server) whose journal fails:
one error line, exit code 6, and the venue closed — no "Unclosed connector" from aiohttp.
Corrupt, truncated, locked and full journals are each covered."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb
import pytest
from ccxt_testkit import API_KEY, KEY_ENV, SECRET, SECRET_ENV
from ccxt_testserver_binance import BinanceFuturesServer
from tradewind.journal.store import Journal
from tradewind.model import RunStarted

SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)

# Sets a real file-size limit on its own process (writes past it fail with EFBIG, as a full
# disk fails them with ENOSPC), then runs the CLI.
LIMITED = """
import resource, signal, sys
limit = int(sys.argv[1])
# Past the limit a .pyc is written short and still renamed into place (CPython does not check
# the count written): every later import of that module fails. Compile nothing here.
sys.dont_write_bytecode = True
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from tradewind.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def server() -> Iterator[BinanceFuturesServer]:
    srv = BinanceFuturesServer(API_KEY, SECRET).start()
    yield srv
    srv.stop()


def write_config(folder: Path, server: BinanceFuturesServer, run_extra: str = "") -> Path:
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"

[run]
journal = "journal.duckdb"
{run_extra}

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"

[venues.replay]
plugin = "replay"
path = "{SAMPLE.as_posix()}"
speed = 100000.0

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{server.url}"
order_updates = "poll"
timeout_ms = 5000
""",
        encoding="utf-8",
    )
    return path


def run_cli(cfg: Path, *, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **{KEY_ENV: API_KEY, SECRET_ENV: SECRET}, PYTHONWARNINGS="default")
    cmd = [sys.executable, "-m", "tradewind", "run", str(cfg)]
    if limit is not None:
        cmd = [sys.executable, "-c", LIMITED, str(limit), "run", str(cfg)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cfg.parent, timeout=300)


def assert_one_line(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 6, proc.stderr
    # The run's own warnings may precede it (here: reconciliation adopting the exchange's
    # position); the failure itself is one line.
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("error: journal ")
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
    # aiohttp warns "Unclosed connector" / "Unclosed client session" at exit for a ccxt
    # exchange that was never closed (PYTHONWARNINGS=default shows it).
    assert "Unclosed connector" not in proc.stderr + proc.stdout
    assert "Unclosed client session" not in proc.stderr + proc.stdout


def test_a_full_disk_after_the_venue_connected_is_one_line_and_the_venue_is_closed(
    tmp_path: Path, server: BinanceFuturesServer
) -> None:
    # The server's account holds a position the fresh journal does not know: take it over.
    cfg = write_config(tmp_path, server, 'unknown_positions = "adopt"')
    proc = run_cli(cfg, limit=14_000)
    assert_one_line(proc, "out of disk space")
    # The venue was reached (it was connected when the journal failed) and closed after.
    assert ("GET", "/fapi/v1/exchangeInfo") in server.requests


def test_a_second_host_is_refused_before_touching_the_venue(
    tmp_path: Path, server: BinanceFuturesServer
) -> None:
    cfg = write_config(tmp_path, server)
    holder = duckdb.connect(str(tmp_path / "journal.duckdb"))
    try:
        proc = run_cli(cfg)
    finally:
        holder.close()
    assert_one_line(proc, "is in use by another process", "one host per journal")
    assert server.requests == []  # refused before any call to the exchange


def test_an_unknown_exchange_position_makes_the_host_refuse_to_start_by_default(
    tmp_path: Path, server: BinanceFuturesServer
) -> None:
    cfg = write_config(tmp_path, server)
    proc = run_cli(cfg)
    assert proc.returncode == 5, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "position usdm:BTCUSDT of 0.001" in errors[0] and "does not start" in errors[0]
    assert "Traceback" not in proc.stderr
    assert ("POST", "/fapi/v1/order") not in server.requests  # nothing traded


def test_a_corrupt_journal_is_one_line_and_the_venue_is_never_left_open(
    tmp_path: Path, server: BinanceFuturesServer
) -> None:
    cfg = write_config(tmp_path, server)
    (tmp_path / "journal.duckdb").write_bytes(random.Random(19).randbytes(64 * 1024))
    proc = run_cli(cfg)
    assert_one_line(proc, "is corrupt or truncated")
    assert server.requests == []  # found at open, before any call to the exchange


def test_a_truncated_journal_is_one_line_and_the_venue_is_never_left_open(
    tmp_path: Path, server: BinanceFuturesServer
) -> None:
    """A journal with history, cut by 256 KB: detected when it is opened, not at the first
    checkpoint mid-run."""
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "old")
    j.start("paper", "other.toml", 0)
    for i in range(60_000):  # about 1 MB
        j.record(RunStarted(ts_ns=i, run_id="x" * 40, mode="paper"))
    j.finish(1, {})
    j.close()
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 256 * 1024)
    cfg = write_config(tmp_path, server)
    proc = run_cli(cfg)
    assert_one_line(proc, "is corrupt or truncated", "Could not read")
    assert server.requests == []
