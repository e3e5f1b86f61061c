"""The configuration examples of docs/venues/solana.md and docs/aggregators/jupiter.md are
valid configs of the venue (and of Jupiter's aggregator_config)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tradewind._serde import structure
from tradewind_aggregator_jupiter import JupiterConfig
from tradewind_venue_solana import SolanaConfig

DOCS = Path(__file__).resolve().parents[4] / "docs"


def test_every_toml_example_structures_into_the_venue_config():
    tables = 0
    for page in (DOCS / "venues" / "solana.md", DOCS / "aggregators" / "jupiter.md"):
        for block in re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            for key, table in tomllib.loads(block).get("venues", {}).items():
                table = {k: v for k, v in table.items() if k != "plugin"}
                cfg = structure(table, SolanaConfig, path=f"$.venues.{key}")
                structure(dict(cfg.aggregator_config), JupiterConfig)
                tables += 1
    assert tables == 3
