"""A config given by a relative path from another folder: its relative paths resolve against
the config file's folder once (a replay venue's data path used to be joined with that folder
twice: ``cannot read sub/sub/data/...``)."""

from __future__ import annotations

import shutil

from tests.conftest import REPO, run_cli

DEFAULTS = REPO / "core" / "tradewind" / "defaults"
SAMPLE = "tardis_binance-futures_BTCUSDT_trades.csv"


def test_a_backtest_of_a_config_in_another_folder_reads_its_data(tmp_path):
    sub = tmp_path / "sub"
    (sub / "data").mkdir(parents=True)
    shutil.copy(DEFAULTS / "backtest.toml", sub / "demo.toml")
    shutil.copy(DEFAULTS / "data" / SAMPLE, sub / "data" / SAMPLE)
    proc = run_cli("backtest", "sub/demo.toml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "cannot read" not in proc.stderr
