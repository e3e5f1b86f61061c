"""What travels between the hosts: subjects, TickBatches as Arrow IPC, decisions as JSON.

Subjects (``<p>`` is ``[cluster] prefix``)::

    <p>.ticks.<shard>.<instrument>   one TickBatch (Arrow IPC stream, one record batch)
    <p>.ticks.<shard>.end            the feed ended (payload: the last trade's ts_ns)
    <p>.signals.<instrument>         the strategy's decision at one candle close
    <p>.events.<EventType>           the execution host's events (fills, orders, vetoes ...)

An instrument key (``venue:SYMBOL``) becomes a subject token with ``.``, ``*``, ``>`` and
whitespace percent-encoded (NATS splits subjects at dots).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import attrs
import pyarrow as pa

from tradewind._serde import unstructure
from tradewind.filtering.placement import Verdict
from tradewind.model import Side, Signal, TickBatch

_SCHEMA = pa.schema(
    [
        ("ts_ns", pa.int64()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("side", pa.int8()),
        ("trade_id", pa.int64()),
    ]
)

#: Message headers.
INSTRUMENT = "Tw-Instrument"
FIRST_TS = "Tw-Ts"
MSG_ID = "Nats-Msg-Id"  # JetStream's de-duplication header


def token(key: str) -> str:
    """An instrument key as one subject token."""
    return quote(key, safe=":_-+@#$%^&()[]{}|~!=,;'\"")


def untoken(tok: str) -> str:
    """The instrument key of a subject token."""
    return unquote(tok)


@attrs.frozen
class Subjects:
    """The subjects and stream names of one ``[cluster] prefix``."""

    prefix: str

    @property
    def ticks_stream(self) -> str:
        return f"{self.prefix}_ticks"

    @property
    def signals_stream(self) -> str:
        return f"{self.prefix}_signals"

    @property
    def events_stream(self) -> str:
        return f"{self.prefix}_events"

    def ticks(self, shard: str, instrument: str) -> str:
        return f"{self.prefix}.ticks.{shard}.{token(instrument)}"

    def ticks_end(self, shard: str) -> str:
        return f"{self.prefix}.ticks.{shard}.end"

    def ticks_of(self, shard: str | None = None) -> str:
        """Every tick subject, or one shard's."""
        return f"{self.prefix}.ticks.{shard}.>" if shard else f"{self.prefix}.ticks.>"

    def signals(self, instrument: str) -> str:
        return f"{self.prefix}.signals.{token(instrument)}"

    def signals_all(self) -> str:
        return f"{self.prefix}.signals.>"

    def events(self, kind: str) -> str:
        return f"{self.prefix}.events.{kind}"

    def events_all(self) -> str:
        return f"{self.prefix}.events.>"


def encode_batch(batch: TickBatch) -> bytes:
    """One TickBatch as an Arrow IPC stream (columnar, no per-trade encoding)."""
    rb = pa.RecordBatch.from_arrays(
        [
            pa.array(batch.ts_ns),
            pa.array(batch.price),
            pa.array(batch.size),
            pa.array(batch.side),
            pa.array(batch.trade_id),
        ],
        schema=_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, _SCHEMA) as writer:
        writer.write_batch(rb)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def decode_batch(instrument: str, data: bytes) -> TickBatch:
    """The TickBatch of :func:`encode_batch`'s bytes."""
    reader = pa.ipc.open_stream(pa.py_buffer(data))
    table = reader.read_all()
    if table.schema != _SCHEMA:
        raise ValueError(
            f"tick batch of {instrument} has schema {table.schema}, expected {_SCHEMA}"
        )
    cols = [table.column(i).to_numpy() for i in range(len(_SCHEMA))]
    return TickBatch.from_arrays(instrument, *cols)


def batch_id(batch: TickBatch) -> str:
    """A batch's identity: a data host publishing it again publishes the same id."""
    return f"{batch.instrument}|{int(batch.ts_ns[0])}|{int(batch.trade_id[0])}|{len(batch)}"


def decision_id(instrument: str, ts_ns: int) -> str:
    """A decision's identity: one per instrument and candle close, whoever derives it."""
    return f"{instrument}@{ts_ns}"


def encode_decision(
    instrument: str, ts_ns: int, signal: Signal | None, verdict: Verdict | None = None
) -> bytes:
    """A strategy decision at ``ts_ns`` (None: no signal) as JSON, with the account-free
    filters' verdict on the signal (:mod:`tradewind.filtering.placement`)."""
    body: dict[str, Any] = {
        "id": decision_id(instrument, ts_ns),
        "instrument": instrument,
        "ts_ns": ts_ns,
        "signal": None if signal is None else unstructure(signal),
    }
    if verdict is not None:
        body["verdict"] = verdict.to_json()
    return json.dumps(body, separators=(",", ":")).encode()


def decode_decision(data: bytes) -> tuple[str, str, int, Signal | None]:
    """``(id, instrument, ts_ns, signal)`` of :func:`encode_decision`'s bytes."""
    ident, inst, ts, signal, _ = decode_decision_verdict(data)
    return ident, inst, ts, signal


def decode_decision_verdict(data: bytes) -> tuple[str, str, int, Signal | None, Verdict | None]:
    """``(id, instrument, ts_ns, signal, verdict)`` of :func:`encode_decision`'s bytes (no
    verdict when there is no signal, or the strategy host sent none)."""
    body = json.loads(data)
    raw = body["signal"]
    signal = None if raw is None else _signal(raw)
    verdict = None
    if signal is not None and body.get("verdict") is not None:
        verdict = Verdict.from_json(body["verdict"], signal)
    return str(body["id"]), str(body["instrument"]), int(body["ts_ns"]), signal, verdict


def _signal(raw: dict[str, Any]) -> Signal:
    # By hand, not through the config converter: reasons may hold NaN (a value not known yet)
    # and the signal must come back exactly as the strategy made it.
    qty = raw.get("quantity")
    return Signal(
        instrument=str(raw["instrument"]),
        side=Side(raw["side"]),
        entry=Decimal(raw["entry"]),
        stop=Decimal(raw["stop"]),
        score=float(raw["score"]),
        ts_ns=int(raw["ts_ns"]),
        reasons={str(k): float(v) for k, v in raw.get("reasons", {}).items()},
        quantity=None if qty is None else Decimal(qty),
        intent=str(raw.get("intent", "open")),
    )


def encode_event(event: Any) -> bytes:
    """An engine event as JSON (Decimals as strings, enums as values)."""
    body = unstructure(event)
    if isinstance(body, dict):
        body = {"type": type(event).__name__, **body}
    return json.dumps(body, separators=(",", ":"), default=str).encode()
