"""Execution quality from the journal's ``quotes`` table: per aggregator, quotes given,
quotes won (executed), failures (errors, timeouts, failed sends) and refusals, and the mean
shortfall between the quoted and the realised output of the swaps it won (in basis points of
the quote; > 0: got less)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs


@attrs.frozen
class AggregatorQuality:
    """One aggregator's record."""

    aggregator: str
    quotes: int
    won: int
    failed: int
    refused: int
    #: Mean of (quoted - realised) / quoted over the swaps won, in basis points; None: none.
    mean_shortfall_bps: Decimal | None


def execution_quality(journal: Any, run_id: str | None = None) -> list[AggregatorQuality]:
    """Per aggregator (sorted by name), from ``journal.query`` over the ``quotes`` table."""
    where = "" if run_id is None else " WHERE run_id = ?"
    params = [] if run_id is None else [run_id]
    rows = journal.query(
        "SELECT aggregator, status, buy_amount, realised_out FROM quotes" + where, params
    )
    acc: dict[str, dict[str, Any]] = {}
    for name, status, quoted, realised in rows:
        a = acc.setdefault(name, {"quotes": 0, "won": 0, "failed": 0, "refused": 0, "short": []})
        if quoted is not None:
            a["quotes"] += 1
        if status in ("failed", "send_failed"):
            a["failed"] += 1
        elif status == "refused":
            a["refused"] += 1
        elif status == "filled":
            a["won"] += 1
            if realised is not None and quoted and Decimal(quoted) > 0:
                q = Decimal(quoted)
                a["short"].append((q - Decimal(realised)) / q * 10_000)
    out = []
    for name in sorted(acc):
        a = acc[name]
        mean = sum(a["short"], Decimal(0)) / len(a["short"]) if a["short"] else None
        out.append(AggregatorQuality(name, a["quotes"], a["won"], a["failed"], a["refused"], mean))
    return out


def quality_table(rows: list[AggregatorQuality]) -> str:
    """A plain-text table of :func:`execution_quality` for the report."""
    lines = [
        f"{'aggregator':<12} {'quotes':>6} {'won':>4} {'failed':>6} {'refused':>7} "
        f"{'shortfall bps':>13}"
    ]
    for r in rows:
        short = "-" if r.mean_shortfall_bps is None else f"{r.mean_shortfall_bps:.2f}"
        lines.append(
            f"{r.aggregator:<12} {r.quotes:>6} {r.won:>4} {r.failed:>6} {r.refused:>7} {short:>13}"
        )
    return "\n".join(lines)
