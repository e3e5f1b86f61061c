"""The distribution installs on its own: a fresh virtualenv with the core and this plugin only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PLUGIN_DIR.parents[2]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900
    )


def _table_rows(text: str) -> set[tuple[str, str]]:
    """(kind, name) of each row of the ``tradewind plugins`` table."""
    rows = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and cells[1] and cells[2]:
            rows.add((cells[1], cells[2]))
    return rows


@pytest.mark.slow
def test_fresh_virtualenv_lists_core_builtins_plus_ccxt(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    # Build tools first (from the pip cache or the package index), then both distributions
    # without build isolation, in one call so the plugin's `tradewind` is the local core.
    tools = _run(python, "-m", "pip", "install", "-q", "setuptools>=68", "wheel")
    assert tools.returncode == 0, tools.stderr[-2000:]
    installed = _run(
        python, "-m", "pip", "install", "-q", "--no-build-isolation", REPO_ROOT, PLUGIN_DIR
    )
    assert installed.returncode == 0, installed.stderr[-4000:]

    listed = _run(bindir / "tradewind", "plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert _table_rows(listed.stdout) == {
        ("venues", "ccxt"),
        ("venues", "replay"),
        ("venues", "sim"),
        ("filters", "killswitch"),
        ("notifiers", "log"),
    }, listed.stdout

    config = tmp_path / "tradewind.toml"
    config.write_text('mode = "backtest"\n\n[venues.x]\nplugin = "bybit_native"\n')
    checked = _run(bindir / "tradewind", "config", "check", config, cwd=tmp_path)
    assert checked.returncode != 0
    lines = [ln for ln in (checked.stdout + checked.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "venue 'bybit_native' ([venues.x] in tradewind.toml) is not installed" in lines[0]
    # No pip command built from the config's spelling (anyone could register that name).
    assert "pip install" not in lines[0]
