"""The report's "Execution quality" section: per aggregator, from the journal's ``quotes``
table (tradewind.execution.quality), how many quotes it gave, how many it won (executed),
its failures and refusals, and the mean shortfall between its quoted and realised output."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from tradewind.execution.quality import AggregatorQuality, execution_quality

#: What the section's columns mean (shown under the table in both reports).
LEGEND = (
    "quotes: answers with a price; won: swaps executed on its quote; failed: errors, "
    "timeouts and sends that failed; refused: transactions that failed the safety check; "
    "shortfall: mean of (quoted - realised) / quoted over the swaps won, in basis points "
    "(> 0: got less than quoted)."
)


def quality_of(journal_path: str | Path | None, run_id: str) -> list[AggregatorQuality]:
    """The run's per-aggregator record; empty without a journal or routed orders. Read
    through the journal: a file left by a killed host is read with the rows still only in
    its step log, and is not changed."""
    if not journal_path or not Path(journal_path).exists():
        return []
    import duckdb

    from tradewind.report.journal_reader import reading

    with reading(journal_path) as journal:
        try:
            return execution_quality(journal, run_id)
        except duckdb.CatalogException:  # a journal written before the quotes table existed
            return []


def _short(r: AggregatorQuality) -> str:
    return "-" if r.mean_shortfall_bps is None else f"{r.mean_shortfall_bps:.2f}"


def quality_table(rows: Sequence[AggregatorQuality]) -> Table:
    """The text report's table."""
    t = Table(
        title="Execution quality (per aggregator)",
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
    )
    for col in ("Aggregator", "Quotes", "Won", "Failed", "Refused", "Shortfall (bps)"):
        t.add_column(col, justify="left" if col == "Aggregator" else "right")
    for r in rows:
        t.add_row(
            r.aggregator,
            f"{r.quotes:,}",
            f"{r.won:,}",
            f"{r.failed:,}",
            f"{r.refused:,}",
            _short(r),
        )
    return t


def quality_html(rows: Sequence[AggregatorQuality]) -> str:
    """The HTML report's section (empty when no order was routed)."""
    if not rows:
        return ""
    esc = html.escape
    head = "".join(
        f"<th>{c}</th>"
        for c in ("Aggregator", "Quotes", "Won", "Failed", "Refused", "Shortfall (bps)")
    )
    body = "".join(
        f"<tr data-aggregator='{esc(r.aggregator)}'><td>{esc(r.aggregator)}</td>"
        f"<td class='num'>{r.quotes:,}</td><td class='num'>{r.won:,}</td>"
        f"<td class='num'>{r.failed:,}</td><td class='num'>{r.refused:,}</td>"
        f"<td class='num'>{esc(_short(r))}</td></tr>"
        for r in rows
    )
    return (
        "<section id='execution-quality'><h2>Execution quality</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p class='legend'>{esc(LEGEND)}</p></section>"
    )
