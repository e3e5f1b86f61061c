"""``tradewind plugins`` lists the four aggregators without importing them, and
``tradewind plugins --check`` imports and validates them against the Aggregator protocol."""

from __future__ import annotations

import subprocess
import sys

NAMES = ("oneinch", "zeroex", "paraswap", "odos")

_LIST_WITHOUT_IMPORT = """
import sys
from tradewind.cli import main
code = main(["plugins"])
loaded = [m for m in sys.modules if m.startswith("tradewind_aggregator_")]
print("LOADED", loaded)
sys.exit(code)
"""


def test_tradewind_plugins_lists_the_aggregators_without_importing_them():
    out = subprocess.run(
        [sys.executable, "-c", _LIST_WITHOUT_IMPORT], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "aggregators" in line]
    for name in NAMES:
        assert any(f" {name} " in r and f"tradewind-aggregator-{name}" in r for r in rows), (
            name,
            out.stdout,
        )
    assert "LOADED []" in out.stdout


def test_tradewind_plugins_check_validates_the_aggregators():
    out = subprocess.run(
        [sys.executable, "-m", "tradewind", "plugins", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for name in NAMES:
        assert name in out.stdout
