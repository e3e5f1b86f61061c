"""The plugin distributions this project ships, and how each is installed.

Error messages suggest ``pip install`` only for these: a suggestion built from whatever name a
config misspells (``tradewind-analyzer-momentun``) would send users to a name anyone could
register on an index (typosquatting). They are installed from a clone of the tradewind
repository (``pip install -e plugins/<kind>/<name>``); tests/test_shipped.py keeps this table
equal to the plugins/ tree.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Plugin names per kind, as shipped under plugins/<kind>/<name> in the tradewind repository.
SHIPPED: Mapping[str, tuple[str, ...]] = {
    "venues": ("ccxt", "cryptofeed", "evm", "hyperliquid", "solana"),
    "analyzers": ("microstructure", "orderflow", "profile", "regime"),
    "filters": (
        "balance",
        "drawdown",
        "duplicate",
        "existing",
        "exposure",
        "fatfinger",
        "leverage",
        "maxpositions",
        "reversal",
        "stopdistance",
    ),
    "exits": ("adverse", "guard", "liquidity", "maxhold", "reversal", "trailing"),
    "notifiers": ("discord", "email", "telegram", "webhook"),
    "aggregators": ("jupiter", "odos", "oneinch", "paraswap", "zeroex"),
}


def install_hint(kind: str, name: str) -> str | None:
    """How to install the shipped plugin ``name`` of ``kind``, or None if we ship none."""
    if name not in SHIPPED.get(kind, ()):
        return None
    return f"pip install -e plugins/{kind}/{name} (from a clone of the tradewind repository)"
