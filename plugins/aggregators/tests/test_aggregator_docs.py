"""The TOML examples of docs/aggregators.md (and each aggregator's page) structure into the
plugins' config classes and the routing config: a key the code does not know fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from agg_setup import plugin_classes
from tradewind._serde import structure
from tradewind.execution.config import RoutingConfig

DOCS = Path(__file__).resolve().parents[3] / "docs"
PAGES = ["aggregators.md", *(f"aggregators/{n}.md" for n in plugin_classes())]


def _toml_blocks(page: str) -> list[dict]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [tomllib.loads(b) for b in re.findall(r"```toml\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_toml_examples_are_valid_config(page):
    blocks = _toml_blocks(page)
    assert blocks, f"docs/{page} has no TOML example"
    classes = plugin_classes()
    seen = 0
    for block in blocks:
        for instance, options in block.get("aggregators", {}).items():
            opts = dict(options)
            cls = classes[opts.pop("plugin")]
            assert cls.name == instance
            structure(opts, cls.config_class)
            seen += 1
        if "routing" in block:
            cfg = structure(block["routing"], RoutingConfig)
            assert cfg.order_for(8453) == ["zeroex", "odos", "oneinch"]
            seen += 1
    assert seen
