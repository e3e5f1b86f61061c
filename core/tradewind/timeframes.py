"""Timeframe strings ("1s", "1m", "15m", "4h", "1d") ↔ integer nanoseconds."""

from __future__ import annotations

import re

from tradewind.model.market import NS_PER_SECOND

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RE = re.compile(r"^(\d+)([smhd])$")

MIN_NS = NS_PER_SECOND
MAX_NS = 86400 * NS_PER_SECOND


def parse_timeframe(text: str) -> int:
    """Nanoseconds in ``text`` (between 1s and 1d, dividing a day evenly)."""
    m = _RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"'{text}' is not a timeframe (use e.g. 1s, 1m, 5m, 15m, 1h, 1d)")
    ns = int(m.group(1)) * _UNITS[m.group(2)] * NS_PER_SECOND
    if not MIN_NS <= ns <= MAX_NS or MAX_NS % ns:
        raise ValueError(f"timeframe '{text}' must be between 1s and 1d and divide a day evenly")
    return ns


def format_timeframe(ns: int) -> str:
    """The shortest string for ``ns`` ("60000000000" → "1m")."""
    seconds = ns // NS_PER_SECOND
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
