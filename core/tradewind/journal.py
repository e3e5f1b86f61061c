"""The journal: every event of every run in DuckDB on disk.

Tables: ``runs`` (one row per run) and ``events`` (every bus event, in publish order, with its
fields as JSON). Rows are buffered and written in a transaction every ``flush_every`` events
and when the run ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import duckdb

from tradewind._serde import unstructure
from tradewind.model import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, mode VARCHAR, config_path VARCHAR,
    started_ts_ns BIGINT, finished_ts_ns BIGINT, summary JSON
);
CREATE TABLE IF NOT EXISTS events (
    run_id VARCHAR, seq BIGINT, ts_ns BIGINT, type VARCHAR, severity INTEGER, payload JSON
);
"""


def _payload(event: Event) -> str:
    data = {
        f.name: unstructure(getattr(event, f.name))
        for f in attrs.fields(type(event))
        if f.name != "ts_ns"
    }
    return json.dumps(data, default=str, allow_nan=True)


class Journal:
    """Writes events of one run to a DuckDB file."""

    def __init__(self, path: Path, run_id: str, *, flush_every: int = 512) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.flush_every = flush_every
        self._con = duckdb.connect(str(self.path))
        self._con.execute(SCHEMA)
        self._rows: list[tuple[Any, ...]] = []
        self._seq = 0

    def start(self, mode: str, config_path: str, ts_ns: int) -> None:
        """Record the run."""
        self._con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, NULL, NULL)",
            [self.run_id, mode, config_path, ts_ns],
        )

    def record(self, event: Event) -> None:
        """Buffer one event (a bus subscriber)."""
        self._seq += 1
        self._rows.append(
            (
                self.run_id,
                self._seq,
                event.ts_ns,
                type(event).__name__,
                int(event.severity),
                _payload(event),
            )
        )
        if len(self._rows) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write buffered events in one transaction."""
        if not self._rows:
            return
        self._con.execute("BEGIN")
        self._con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", self._rows)
        self._con.execute("COMMIT")
        self._rows.clear()

    def finish(self, ts_ns: int, summary: dict[str, Any]) -> None:
        """Flush and record the run's end and summary."""
        self.flush()
        self._con.execute(
            "UPDATE runs SET finished_ts_ns = ?, summary = ? WHERE run_id = ?",
            [ts_ns, json.dumps(summary, default=str), self.run_id],
        )
        self._con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the database."""
        self._con.close()
