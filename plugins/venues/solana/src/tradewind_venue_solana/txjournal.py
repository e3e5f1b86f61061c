"""The write-ahead signature journal: a signature is on disk before its transaction is sent.

One JSON object per line, appended and fsynced. ``signed`` lines carry the client order id,
the signature, the blockhash and its last valid block height, and the signed transaction
(public once sent, no secret in it); ``outcome`` lines close a client order id (``filled``,
``rejected``, ``expired``). After a crash the venue finds every signature it may have sent and
asks the cluster about it instead of signing a second swap for the same order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs


@attrs.define
class SigRecord:
    """What is journaled about one client order id."""

    client_order_id: str
    #: Signed attempts, oldest first: {"signature", "blockhash", "last_valid", "tx"}.
    attempts: list[dict[str, Any]] = attrs.Factory(list)
    meta: dict[str, Any] = attrs.Factory(dict)
    outcome: str = ""
    outcome_signature: str = ""
    reason: str = ""

    @property
    def signatures(self) -> list[str]:
        """Every signature signed for this order."""
        return [a["signature"] for a in self.attempts]


class SigJournal:
    """Append-only, fsynced JSON-lines journal, read back when opened."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, SigRecord] = {}
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        self._apply(json.loads(line))
                    except (ValueError, KeyError) as exc:
                        raise ValueError(f"{self.path}:{n}: not a journal entry: {exc}") from exc
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def _apply(self, entry: dict[str, Any]) -> None:
        cid = entry["cid"]
        rec = self.records.setdefault(cid, SigRecord(cid))
        if entry["type"] == "signed":
            rec.attempts.append(
                {k: entry[k] for k in ("signature", "blockhash", "last_valid", "tx")}
            )
            rec.meta.update(entry.get("meta", {}))
        elif entry["type"] == "outcome":
            rec.outcome = entry["outcome"]
            rec.outcome_signature = entry.get("signature", "")
            rec.reason = entry.get("reason", "")
            rec.meta.update(entry.get("meta", {}))

    def _write(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._apply(entry)

    def signed(
        self,
        cid: str,
        signature: str,
        blockhash: str,
        last_valid: int,
        tx: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Record a signed transaction (call before sending it)."""
        self._write(
            {
                "type": "signed",
                "cid": cid,
                "signature": signature,
                "blockhash": blockhash,
                "last_valid": last_valid,
                "tx": tx,
                "meta": meta or {},
            }
        )

    def outcome(
        self,
        cid: str,
        outcome: str,
        signature: str = "",
        reason: str = "",
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Close ``cid``."""
        self._write(
            {
                "type": "outcome",
                "cid": cid,
                "outcome": outcome,
                "signature": signature,
                "reason": reason,
                "meta": meta or {},
            }
        )
