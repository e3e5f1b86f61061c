"""The write-ahead transaction journal: what was signed is on disk before it is sent.

One JSON object per line, appended and fsynced. A ``signed`` line carries the client order id,
the nonce, the transaction hash and the raw signed transaction; it is written *before* the
transaction is broadcast, so after a crash at any point the venue finds every transaction it may
have sent by its hash (and its nonce), and re-broadcasts the identical bytes rather than signing
a new swap. An ``outcome`` line closes a client order id. Replacements of a stuck transaction are
further ``signed`` lines with the same nonce and a new hash.

The raw transactions hold no secret: they are public once broadcast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs


@attrs.define
class TxRecord:
    """Everything journaled about one client order id (a swap or an approval)."""

    client_order_id: str
    kind: str
    nonce: int
    #: (hash, raw signed transaction hex), oldest first; later ones replace earlier ones.
    sent: list[tuple[str, str]] = attrs.Factory(list)
    meta: dict[str, Any] = attrs.Factory(dict)
    #: "filled", "rejected", "dropped" or "" while open.
    outcome: str = ""
    outcome_hash: str = ""
    reason: str = ""

    @property
    def hashes(self) -> list[str]:
        """Every hash signed for this record's nonce."""
        return [h for h, _ in self.sent]

    @property
    def is_open(self) -> bool:
        """True until an outcome is journaled."""
        return not self.outcome


class TxJournal:
    """Append-only, fsynced JSON-lines journal of signed transactions, read back at start."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, TxRecord] = {}
        if self.path.exists():
            for line_no, entry in self._lines():
                self._apply(entry, line_no)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError:
                    # Only the last line can be torn (a crash mid-write); it was never sent,
                    # because sending happens after the write returns.
                    continue

    def _apply(self, e: dict[str, Any], line_no: int = 0) -> None:
        cid = e["cid"]
        if e["op"] == "signed":
            rec = self.records.get(cid)
            if rec is None:
                rec = self.records[cid] = TxRecord(
                    client_order_id=cid, kind=e["kind"], nonce=e["nonce"], meta=e.get("meta", {})
                )
            rec.sent.append((e["hash"], e["raw"]))
        elif e["op"] == "outcome":
            rec = self.records[cid]
            rec.outcome, rec.outcome_hash, rec.reason = (
                e["status"],
                e.get("hash", ""),
                e.get("reason", ""),
            )

    def _write(self, entry: dict[str, Any]) -> None:
        self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._apply(entry)

    def signed(
        self, cid: str, kind: str, nonce: int, tx_hash: str, raw: str, meta: dict[str, Any]
    ) -> None:
        """Journal a signed transaction (call before broadcasting it)."""
        self._write(
            {
                "op": "signed",
                "cid": cid,
                "kind": kind,
                "nonce": nonce,
                "hash": tx_hash,
                "raw": raw,
                "meta": meta,
            }
        )

    def outcome(self, cid: str, status: str, tx_hash: str = "", reason: str = "") -> None:
        """Journal how a client order id ended."""
        self._write(
            {"op": "outcome", "cid": cid, "status": status, "hash": tx_hash, "reason": reason}
        )

    def open_records(self) -> list[TxRecord]:
        """Records without an outcome, in nonce order."""
        return sorted((r for r in self.records.values() if r.is_open), key=lambda r: r.nonce)

    def max_nonce(self) -> int:
        """The highest nonce ever signed (-1 if none)."""
        return max((r.nonce for r in self.records.values()), default=-1)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._fh.closed:
            self._fh.close()
