"""One exit-code table for every command: usage, config, plugin, data, venue, runtime.

The table is documented in docs/index.md and in the CLI's docstring; each row is produced here
by a real mistake through the real command line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tradewind import cli

from tests.conftest import REPO, run_cli
from tests.test_config import BASE, write

TABLE = {
    "usage": cli.EXIT_USAGE,
    "config": cli.EXIT_CONFIG,
    "plugin": cli.EXIT_PLUGIN,
    "data": cli.EXIT_DATA,
    "venue": cli.EXIT_VENUE,
    "runtime": cli.EXIT_RUNTIME,
}

VENUE_SRC = """
import attrs
from tradewind import hookimpl
from tradewind.errors import VenueUnavailableError

@attrs.frozen(kw_only=True)
class Cfg:
    fail: str = "venue"

class Flaky:
    name = "flaky"
    config_class = Cfg
    capabilities = frozenset({"data"})
    def __init__(self, config, instance):
        self.config = config
    async def connect(self):
        if self.config.fail == "venue":
            raise VenueUnavailableError("flaky: connection refused by 127.0.0.1:9")
    async def close(self): pass
    async def instruments(self): return []
    def add_instruments(self, instruments): pass
    def set_sink(self, sink): pass
    async def stream_trades(self, instruments):
        raise RuntimeError("flaky: the feed thread died")
        yield

@hookimpl
def tradewind_register_venues(registry):
    registry.add(Flaky)
"""


def test_the_documented_table_is_the_cli_table():
    text = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| (\d+) \| (\w+) \|", text, re.M))
    table = {int(k): v for k, v in documented.items()}
    assert table.items() >= {v: k for k, v in TABLE.items()}.items()
    assert len(set(TABLE.values())) == len(TABLE)  # no two kinds share a code


@pytest.mark.parametrize(
    "argv",
    [
        ["frobnicate"],
        ["config", "check"],
        ["run", "x.toml", "--no-such-option"],
        ["new-plugin", "gizmos", "x"],
        ["backtest", "--jobs", "many"],
        ["data"],
        ["config"],
        [],
    ],
)
def test_usage_errors_exit_64_not_the_config_code(argv):
    proc = run_cli(*argv)
    assert proc.returncode == TABLE["usage"], proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_plugin_and_data_errors(tmp_path: Path):
    cfg = write(tmp_path, BASE.replace('symbol = "BTCUSDT"', 'symbol = "BTCUSDT"\nlot_size = "0"'))
    assert run_cli("run", str(cfg)).returncode == TABLE["config"]
    cfg = write(tmp_path, BASE + '\n[notifiers.x]\nplugin = "nope"\n')
    assert run_cli("run", str(cfg)).returncode == TABLE["plugin"]
    cfg = write(tmp_path, BASE)  # trades.csv does not exist
    proc = run_cli("run", str(cfg))
    assert proc.returncode == TABLE["data"], proc.stderr
    assert "trades.csv does not exist @ $.venues.replay.path" in proc.stderr


@pytest.mark.parametrize(("fail", "kind"), [("venue", "venue"), ("runtime", "runtime")])
def test_venue_and_runtime_errors(tmp_path: Path, fake_dists, fail, kind):
    fake_dists.add(
        "tradewind-venue-flaky",
        "1.0",
        {"tradewind.venues": {"flaky": "flaky_venue"}},
        {"flaky_venue": VENUE_SRC},
    )
    text = BASE.replace('data = "replay"', 'data = "feed"').replace(
        '[venues.replay]\nplugin = "replay"\npath = "trades.csv"\n', ""
    ) + (f'\n[venues.feed]\nplugin = "flaky"\nfail = "{fail}"\n')
    cfg = write(tmp_path, text)
    assert run_cli("config", "check", str(cfg), env=fake_dists.env()).returncode == 0
    proc = run_cli("run", str(cfg), env=fake_dists.env())
    assert proc.returncode == TABLE[kind], proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and lines[-1].startswith("error: "), proc.stderr
    assert "flaky:" in lines[-1]


EXEC_SRC = VENUE_SRC.replace('frozenset({"data"})', 'frozenset({"data", "execution"})')


def test_a_backtest_never_executes_on_a_real_venue(tmp_path: Path, fake_dists):
    fake_dists.add(
        "tradewind-venue-flaky",
        "1.0",
        {"tradewind.venues": {"flaky": "flaky_venue"}},
        {"flaky_venue": EXEC_SRC},
    )
    text = BASE.replace('venue = "sim"', 'venue = "exchange"') + (
        '\n[venues.exchange]\nplugin = "flaky"\n'
    )
    (tmp_path / "trades.csv").write_text("", encoding="utf-8")
    cfg = write(tmp_path, text)
    for command in (["config", "check"], ["run"]):
        proc = run_cli(*command, str(cfg), env=fake_dists.env())
        assert proc.returncode == TABLE["config"], proc.stderr
        assert "executes on 'exchange' (plugin flaky), a real venue" in proc.stderr
