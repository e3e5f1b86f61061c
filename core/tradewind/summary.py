"""The end-of-run summary table printed by the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def print_summary(summary: Mapping[str, Any], console: Console | None = None) -> None:
    """Print ``summary`` as a two-column table."""
    table = Table(title="run summary", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, float):
            text = f"{value:,.4f}"
        elif isinstance(value, dict | list):
            text = (
                ", ".join(f"{k}={v}" for k, v in value.items())
                if isinstance(value, dict)
                else ", ".join(map(str, value))
            )
        else:
            text = str(value)
        table.add_row(key, text or "-")
    (console or Console(width=120)).print(table)
