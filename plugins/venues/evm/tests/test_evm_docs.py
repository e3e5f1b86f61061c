"""The configuration examples of docs/venues/evm.md are valid configs of this venue."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tradewind._serde import structure
from tradewind_venue_evm import EvmConfig
from tradewind_venue_evm.registry import resolve_chain

DOC = Path(__file__).resolve().parents[4] / "docs" / "venues" / "evm.md"


def test_every_toml_example_structures_into_the_venue_config():
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    tables = 0
    for block in blocks:
        data = tomllib.loads(block)
        for key, table in data.get("venues", {}).items():
            table = {k: v for k, v in table.items() if k != "plugin"}
            cfg = structure(table, EvmConfig, path=f"$.venues.{key}")
            chain_name = cfg.chain if "chain" in table else next(iter(cfg.chains), cfg.chain)
            chain = resolve_chain(chain_name, cfg.chains, cfg.dexes, f"$.venues.{key}")
            for p in cfg.pools:
                assert p.dex in chain.dexes, (p.dex, sorted(chain.dexes))
            tables += 1
    assert tables >= 2
