"""The engine end to end on the real sample shipped in the package."""

import json
from importlib import resources
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.cli import default_config_path
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.conftest import run_cli

SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)


def demo_config_text(tmp_path: Path) -> str:
    """The embedded default config, pointed at the shipped sample, writing into tmp_path."""
    text = default_config_path().read_text(encoding="utf-8")
    text = text.replace(
        'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"', f'path = "{SAMPLE.as_posix()}"'
    )
    return text.replace(
        'journal = "reports/journal.duckdb"',
        f'journal = "{(tmp_path / "journal.duckdb").as_posix()}"',
    )


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    p = tmp_path / "demo.toml"
    p.write_text(demo_config_text(tmp_path), encoding="utf-8")
    return p


def test_the_default_backtest_runs_on_the_real_sample(demo_config, tmp_path):
    cfg = load_config(demo_config)
    result = anyio.run(Engine(cfg, run_id="t1").run)
    s = result.summary
    assert s["ticks"] == 9_999
    # 2 h 06 m of trades → 125 full 1m candles closed (the last, partial minute is flushed).
    assert s["decisions"] == 125
    assert s["candles"] == 125 + 25 + 8
    for fill in result.fills:  # fills happen only at prices the tape printed (or limits)
        assert fill.quantity > 0 and fill.fee > 0
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    types = dict(con.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    assert types["RunStarted"] == 1 and types["RunFinished"] == 1
    assert types.get("FillEvent", 0) == len(result.fills)
    assert con.execute("SELECT finished_ts_ns IS NOT NULL FROM runs").fetchone() == (True,)


def test_the_main_command_on_the_embedded_default_writes_a_report(tmp_path):
    proc = run_cli("backtest", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Summary" in proc.stdout
    assert "journal: reports/journal.duckdb" in proc.stdout
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["summary"]["ticks"] == 9_999
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "<svg" in html and "http" not in html.split("<body>")[1]  # opens offline
    assert (tmp_path / "reports" / "journal.duckdb").exists()


def test_backtest_refuses_a_paper_config(tmp_path, demo_config):
    paper = tmp_path / "paper.toml"
    paper.write_text(demo_config.read_text().replace('mode = "backtest"', 'mode = "paper"'))
    proc = run_cli("backtest", str(paper))
    assert proc.returncode == 2 and 'needs mode = "backtest"' in proc.stderr


LIFECYCLE_SRC = """
import attrs
from tradewind import hookimpl

CALLS = []

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class Watcher:
    name = "watcher"
    config_class = Cfg
    capabilities = frozenset()
    def __init__(self, config): pass
    async def start(self): CALLS.append("notifier.start")
    async def notify(self, event): pass
    async def close(self): CALLS.append("notifier.close")

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Watcher)

@hookimpl
def tradewind_run_start(run):
    CALLS.append(("start", run.run_id, run.mode, run.instruments))

@hookimpl
def tradewind_run_end(run, summary):
    CALLS.append(("end", run.run_id, summary["ticks"]))
"""


@pytest.mark.hook("tradewind_run_start")
@pytest.mark.hook("tradewind_run_end")
def test_lifecycle_hooks_are_called_once_around_the_run(demo_config, fake_dists):
    import sys

    fake_dists.add(
        "tradewind-notifier-watcher",
        "1.0",
        {"tradewind.notifiers": {"watcher": "tw_watcher"}},
        {"tw_watcher": LIFECYCLE_SRC},
    )
    demo_config.write_text(demo_config.read_text() + "\n[notifiers.watcher]\n")
    cfg = load_config(demo_config)
    anyio.run(Engine(cfg, run_id="life").run)
    calls = sys.modules["tw_watcher"].CALLS
    assert calls[0] == "notifier.start"
    assert calls[1] == ("start", "life", "backtest", ("sim:BTCUSDT",))
    assert calls[-2:] == ["notifier.close", ("end", "life", 9_999)]
    sys.modules.pop("tw_watcher")


def test_trace_env_logs_hook_calls(demo_config, monkeypatch, caplog):
    import logging

    monkeypatch.setenv("TRADEWIND_TRACE_HOOKS", "1")
    with caplog.at_level(logging.INFO, logger="tradewind.hooks"):
        load_config(demo_config)
    traced = " ".join(r.getMessage() for r in caplog.records if r.name == "tradewind.hooks")
    assert "tradewind_register_venues" in traced and "tradewind_register_exits" in traced


def test_live_mode_refuses_to_send_real_orders_to_the_simulated_venue(tmp_path, demo_config):
    live = tmp_path / "live.toml"
    live.write_text(demo_config.read_text().replace('mode = "backtest"', 'mode = "live"'))
    # A config error (2), the same from `config check` as from `run`.
    for command in (["config", "check"], ["run"]):
        proc = run_cli(*command, str(live))
        assert proc.returncode == 2, proc.stderr
        assert "BTCUSDT executes on the simulated venue 'sim'" in proc.stderr


def test_paper_mode_runs_a_replay_paced_in_real_time(tmp_path, demo_config):
    paper = tmp_path / "paper.toml"
    text = demo_config.read_text().replace('mode = "backtest"', 'mode = "paper"')
    # 2 h of market time at 3,000x is about 2.5 s of wall time.
    text = text.replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 3000.0\nchunk_ticks = 200\n'
    )
    paper.write_text(text)
    proc = run_cli("run", str(paper), "--report-dir", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["summary"]["mode"] == "paper" and report["summary"]["ticks"] == 9_999


CAPTURE_SRC = """
import attrs
from tradewind import hookimpl

SEEN = []

@attrs.frozen(kw_only=True)
class Cfg:
    min_severity: str = "info"

class Capture:
    name = "capture"
    config_class = Cfg
    capabilities = frozenset()
    def __init__(self, config): self.config = config
    async def start(self): pass
    async def notify(self, event): SEEN.append(event)
    async def close(self): pass

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Capture)
"""


def test_notifiers_get_events_by_severity(tmp_path, fake_dists):
    import sys

    from tradewind.model import Severity

    for name in ("ops", "desk"):
        fake_dists.add(
            f"tradewind-notifier-{name}",
            "1.0",
            {"tradewind.notifiers": {name: f"tw_{name}"}},
            {f"tw_{name}": CAPTURE_SRC.replace('"capture"', f'"{name}"')},
        )
    text = demo_config_text(tmp_path).replace('max_usd = "20000"', 'max_usd = "1"')
    text += '\n[notifiers.ops]\nmin_severity = "warning"\n[notifiers.desk]\nmin_severity = "info"\n'
    cfg = tmp_path / "sev.toml"
    cfg.write_text(text)
    anyio.run(Engine(load_config(cfg), run_id="sev").run)
    ops = sys.modules.pop("tw_ops").SEEN
    desk = sys.modules.pop("tw_desk").SEEN
    assert {"RunStarted", "SignalEvent", "VetoEvent", "RunFinished"} <= {
        type(e).__name__ for e in desk
    }
    assert all(e.severity >= Severity.INFO for e in desk)  # debug events reach no one
    assert ops and all(e.severity >= Severity.WARNING for e in ops)
    assert ops == [e for e in desk if e.severity >= Severity.WARNING]  # same events, same order
