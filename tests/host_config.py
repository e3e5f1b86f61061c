"""A small host config for operator, watchlist and API tests: the shipped BTCUSDT sample, a
strategy that wants to be long at every 1m close, and a 2-minute max hold, so entries and
exits keep coming and a test can see them stop."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)
#: The sample's first trade: 2020-02-22 00:00:02.111 UTC.
SAMPLE_START_NS = 1_582_329_602_111_000_000
INSTRUMENT = "sim:BTCUSDT"


def host_toml(
    tmp_path: Path,
    *,
    mode: str = "backtest",
    speed: float | None = None,
    chunk_ticks: int = 1_000_000,
    api: str = "",
    watchlist: str = "",
    max_hold_minutes: float = 2.0,
    run: str = "",
) -> Path:
    """Write the config into ``tmp_path`` and return its path."""
    pacing = f"speed = {speed}\n" if speed else ""
    text = f"""
mode = "{mode}"
timeframes = ["1m"]

[run]
journal = "{(tmp_path / "journal.duckdb").as_posix()}"
report_dir = "{(tmp_path / "reports").as_posix()}"
{run}

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.01"
lot_size = "0.001"
min_notional = "5"
taker_fee = "0.0004"

[venues.sim]
plugin = "sim"
starting_balance = "10000"
latency_ms = 25

[venues.replay]
plugin = "replay"
path = "{SAMPLE.as_posix()}"
chunk_ticks = {chunk_ticks}
{pacing}
[strategy]
composition = "gates"
timeframe = "1m"
stop_pct = 0.004
risk_pct = 0.002
long = [{{ value = "close", op = ">", threshold = 0 }}]

[filters.existing]
side = "any"

[exits.maxhold]
max_hold_minutes = {max_hold_minutes}

[notifiers.log]
plugin = "log"
min_severity = "critical"
{api}
{watchlist}
"""
    path = tmp_path / "host.toml"
    path.write_text(text, encoding="utf-8")
    return path
