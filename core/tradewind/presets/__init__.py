"""Strategy presets: named ``[strategy]`` tables shipped with the core.

A config selects one with ``preset = "<name>"``; every key the config's ``[strategy]`` sets
replaces the preset's key of the same name (lists are replaced whole, not merged).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from tradewind.errors import ConfigError


def available() -> list[str]:
    """Names of the shipped presets."""
    root = resources.files("tradewind") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    """The preset's ``[strategy]`` table."""
    if name not in available():
        raise ConfigError(
            f"unknown strategy preset '{name}'; presets: {', '.join(available())} "
            f"@ $.strategy.preset"
        )
    text = (resources.files("tradewind") / "presets" / f"{name}.toml").read_text("utf-8")
    return dict(tomllib.loads(text)["strategy"])


def apply_preset(strategy: dict[str, Any]) -> dict[str, Any]:
    """The preset named by ``strategy["preset"]`` with the config's own keys on top."""
    merged = load_preset(strategy["preset"])
    merged.update(strategy)
    return merged
