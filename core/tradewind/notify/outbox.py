"""The outbox: every routed message is written to the journal before it is sent.

Table ``outbox`` in the journal's DuckDB file (created here, not by the journal, so the
journal's own schema stays what it was):

``id``            the message id (unique, stable across restarts)
``seq``           insertion order
``notifier``      the notifier instance (``[notifiers.<instance>]``)
``kind``, ``severity``
``message``       the rendered :class:`~tradewind.notify.message.Message` as JSON
``status``        ``pending``, ``sent`` or ``undelivered``
``attempts``      delivery attempts made
``reason``        the last failure (for ``undelivered``: why it was given up)
``created_ts_ns``, ``updated_ts_ns``   engine time

A message is ``pending`` from the moment it is routed until a delivery succeeds or fails for
good. A host that crashes leaves its pending rows; the next host of the same journal sends
them for the notifier instances it has (the restart delivery). Writes are committed
transactions; the notifier host batches them (see :mod:`tradewind.notify.host`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from tradewind.notify.message import Message

PENDING = "pending"
SENT = "sent"
UNDELIVERED = "undelivered"

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id VARCHAR PRIMARY KEY,
    seq BIGINT,
    notifier VARCHAR,
    kind VARCHAR,
    severity INTEGER,
    message JSON,
    status VARCHAR,
    attempts INTEGER,
    reason VARCHAR,
    created_ts_ns BIGINT,
    updated_ts_ns BIGINT
);
"""


class Outbox:
    """Pending, sent and undelivered messages in a DuckDB database (normally the journal's)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._closed = False
        con.execute(SCHEMA)
        # fetchall, not fetchone: a result left unread keeps its transaction (and snapshot) open.
        ((seq,),) = con.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchall()
        self._seq = int(seq)

    @classmethod
    def open(cls, path: str) -> Outbox:
        """An outbox in its own DuckDB file (for a notifier used outside the engine)."""
        return cls(duckdb.connect(path))

    def fork(self) -> Outbox:
        """Another connection to the same outbox, for use from another thread."""
        return Outbox(self._con.cursor())

    def add(self, message: Message) -> None:
        """Write ``message`` as pending (committed before this returns)."""
        self.add_many([message])

    def add_many(self, messages: Sequence[Message]) -> None:
        """Write ``messages`` as pending, in one committed statement."""
        if not messages:
            return
        seqs = list(range(self._seq + 1, self._seq + 1 + len(messages)))
        self._seq += len(messages)
        batch = pa.table(
            {
                "id": [m.id for m in messages],
                "seq": pa.array(seqs, pa.int64()),
                "notifier": [m.notifier for m in messages],
                "kind": [m.kind for m in messages],
                "severity": pa.array([m.severity for m in messages], pa.int32()),
                "message": [m.to_json() for m in messages],
                "ts": pa.array([m.ts_ns for m in messages], pa.int64()),
            }
        )
        # Registered by name on this cursor (not found by DuckDB's scan of the caller's frame,
        # which is not safe while another thread writes through another cursor).
        self._con.register("outbox_batch", batch)
        try:
            self._con.execute(
                "INSERT INTO outbox SELECT id, seq, notifier, kind, severity, message, 'pending', "
                "0, '', ts, ts FROM outbox_batch"
            )
        finally:
            self._con.unregister("outbox_batch")

    def mark_sent(self, message_id: str, attempts: int, ts_ns: int) -> None:
        """The message was delivered."""
        self.mark_sent_many([(message_id, attempts, ts_ns)])

    def mark_sent_many(self, sent: Sequence[tuple[str, int, int]]) -> None:
        """``(id, attempts, ts_ns)`` of delivered messages, in one committed statement."""
        if not sent:
            return
        done = pa.table(
            {
                "id": [i for i, _, _ in sent],
                "attempts": pa.array([a for _, a, _ in sent], pa.int32()),
                "ts": pa.array([t for _, _, t in sent], pa.int64()),
            }
        )
        self._con.register("outbox_done", done)
        try:
            self._con.execute(
                "UPDATE outbox SET status = 'sent', attempts = done.attempts, reason = '', "
                "updated_ts_ns = done.ts FROM outbox_done AS done WHERE outbox.id = done.id"
            )
        finally:
            self._con.unregister("outbox_done")

    def mark_undelivered(self, message_id: str, attempts: int, reason: str, ts_ns: int) -> None:
        """The message failed for good; ``reason`` says why."""
        self._set(message_id, UNDELIVERED, attempts, reason, ts_ns)

    def note_attempt(self, message_id: str, attempts: int, reason: str, ts_ns: int) -> None:
        """A delivery attempt failed and will be retried."""
        self._set(message_id, PENDING, attempts, reason, ts_ns)

    def _set(self, message_id: str, status: str, attempts: int, reason: str, ts_ns: int) -> None:
        self._con.execute(
            "UPDATE outbox SET status = ?, attempts = ?, reason = ?, updated_ts_ns = ? "
            "WHERE id = ?",
            [status, attempts, reason, ts_ns, message_id],
        )

    def pending(self, notifier: str) -> list[tuple[Message, int]]:
        """The pending messages of ``notifier`` in the order they were routed, with the
        attempts already made."""
        rows = self._con.execute(
            "SELECT message, attempts FROM outbox WHERE notifier = ? AND status = 'pending' "
            "ORDER BY seq",
            [notifier],
        ).fetchall()
        return [(Message.from_json(m), int(a)) for m, a in rows]

    def status(self, message_id: str) -> str | None:
        """The status of a message, or None when the outbox never saw it."""
        rows = self._con.execute("SELECT status FROM outbox WHERE id = ?", [message_id]).fetchall()
        return str(rows[0][0]) if rows else None

    def rows(self, notifier: str | None = None) -> Sequence[tuple[Any, ...]]:
        """``(id, notifier, kind, status, attempts, reason)`` of every message, oldest first."""
        sql = "SELECT id, notifier, kind, status, attempts, reason FROM outbox"
        params: list[Any] = []
        if notifier is not None:
            sql += " WHERE notifier = ?"
            params.append(notifier)
        return self._con.execute(sql + " ORDER BY seq", params).fetchall()

    def close(self) -> None:
        """Close the connection (the journal's own connection is not affected); idempotent."""
        if not self._closed:
            self._closed = True
            self._con.close()
