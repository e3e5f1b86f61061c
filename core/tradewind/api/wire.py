"""The wire between a host and its API process: length-prefixed frames of pickled plain values.

Every frame is a 4-byte big-endian length and a pickle (protocol 5) of a tuple whose first item
names the message. Payloads are plain containers (tuple, list, dict) of str, int, float, bool,
None and :class:`~decimal.Decimal`; domain values (positions, orders, fills, instruments) cross
as tuples of their fields (the ``*_tuple`` / ``*_from`` pairs below), never as objects.

Why pickle and not JSON lines: money crosses exactly (``Decimal`` round-trips, where JSON would
need every amount as a string and a second pass to parse it back), and encoding the engine's
side of an update is one C call on plain tuples, the cheapest thing the engine's thread can do
per update. Why it is safe here: the socket is a private socket pair between the host and the
child it spawned (no address anyone else can connect to), and frames are read with an
unpickler that resolves no global but ``decimal.Decimal`` — a frame naming any other class or
function is refused (:class:`WireError`), so a frame cannot make the reader run code.

Messages (``kind`` first):

- host → API: ``("init", dict)`` once (token, settings, what the views need), then
  ``("update", dict)`` (a snapshot and what grew since the last one), ``("reply", id, ok,
  value)`` answering a request, ``("bye",)`` before the host closes the socket.
- API → host: ``("ready", port)`` or ``("failed", message)`` once, then ``("ack", version)``
  after each update is applied, and ``("call", id, op, args)`` requests (control calls and the
  reads that need the engine or the journal; :mod:`tradewind.api.ops` names them).
"""

from __future__ import annotations

import decimal
import io
import pickle
import struct
from collections.abc import Sequence
from typing import Any

from tradewind.model import Fill, Instrument, InstrumentKind, Order, Position, Side
from tradewind.model.orders import OrderType, TimeInForce

HEADER = struct.Struct(">I")
#: The largest frame either side accepts (a reply with a page of candles or a large update).
MAX_FRAME = 256 * 1024 * 1024


class WireError(Exception):
    """A frame that is not a message of this protocol."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "decimal" and name == "Decimal":
            return decimal.Decimal
        raise WireError(f"a frame names {module}.{name}: only plain values cross the wire")


def encode(message: tuple[Any, ...]) -> bytes:
    """One frame: the length, then the pickled message."""
    body = pickle.dumps(message, protocol=5)
    return HEADER.pack(len(body)) + body


def decode(body: bytes | memoryview) -> tuple[Any, ...]:
    """A message from a frame's body (after its length)."""
    try:
        out = _Unpickler(io.BytesIO(body)).load()
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"an unreadable frame ({len(body)} bytes): {exc}") from exc
    if not isinstance(out, tuple) or not out or not isinstance(out[0], str):
        raise WireError(f"a frame holds {type(out).__name__}, not a message tuple")
    return out


class FrameReader:
    """Splits a byte stream into messages (fed whatever the socket gave)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        """The messages completed by ``data``."""
        buf = self._buf
        buf += data
        out = []
        pos = 0
        while len(buf) - pos >= HEADER.size:
            (n,) = HEADER.unpack_from(buf, pos)
            if n > MAX_FRAME:
                raise WireError(f"a frame of {n} bytes is larger than {MAX_FRAME}")
            end = pos + HEADER.size + n
            if len(buf) < end:
                break
            out.append(decode(memoryview(buf)[pos + HEADER.size : end]))
            pos = end
        if pos:
            del buf[:pos]
        return out


def read_message(sock: Any, reader: FrameReader, pending: list[tuple[Any, ...]]) -> Any:
    """The next message from a blocking socket (None at EOF); ``pending`` keeps messages a
    read completed beyond the first."""
    while not pending:
        data = sock.recv(1 << 20)
        if not data:
            return None
        pending.extend(reader.feed(data))
    return pending.pop(0)


# -- domain values as tuples -----------------------------------------------------------------
def fill_tuple(f: Fill) -> tuple[Any, ...]:
    """A fill as the journal's ``fills`` row (see :func:`tradewind.api.snapshot.fill_from_row`)."""
    return (
        f.client_order_id,
        f.trade_id,
        f.instrument,
        f.side.value,
        f.quantity,
        f.price,
        f.fee,
        f.ts_ns,
        f.liquidity,
        f.fee_currency,
        f.fee_asset,
        f.fee_rate,
    )


def position_tuple(p: Position) -> tuple[Any, ...]:
    """A position's fields."""
    return (p.instrument, p.quantity, p.avg_price, p.realized_pnl, p.fees, p.opened_ts_ns, p.lots)


def position_from(t: Sequence[Any]) -> Position:
    """The position :func:`position_tuple` made."""
    inst, qty, avg, realized, fees, opened, lots = t
    return Position(
        instrument=inst,
        quantity=qty,
        avg_price=avg,
        realized_pnl=realized,
        fees=fees,
        opened_ts_ns=opened,
        lots=tuple((q, p) for q, p in lots),
    )


def order_tuple(o: Order) -> tuple[Any, ...]:
    """An order's fields."""
    return (
        o.client_order_id,
        o.instrument,
        o.side.value,
        o.type.value,
        o.quantity,
        o.price,
        o.stop_price,
        o.time_in_force.value,
        o.reduce_only,
        o.created_ts_ns,
        o.tag,
        o.intent,
    )


def order_from(t: Sequence[Any]) -> Order:
    """The order :func:`order_tuple` made."""
    cid, inst, side, typ, qty, price, stop, tif, reduce_only, created, tag, intent = t
    return Order(
        client_order_id=cid,
        instrument=inst,
        side=Side(side),
        type=OrderType(typ),
        quantity=qty,
        price=price,
        stop_price=stop,
        time_in_force=TimeInForce(tif),
        reduce_only=reduce_only,
        created_ts_ns=created,
        tag=tag,
        intent=intent,
    )


def instrument_tuple(i: Instrument) -> tuple[Any, ...]:
    """An instrument's fields."""
    return (
        i.venue,
        i.symbol,
        i.kind.value,
        i.tick_size,
        i.lot_size,
        i.min_notional,
        i.maker_fee,
        i.taker_fee,
        i.base,
        i.quote,
    )


def instrument_from(t: Sequence[Any]) -> Instrument:
    """The instrument :func:`instrument_tuple` made."""
    venue, symbol, kind, tick, lot, notional, maker, taker, base, quote = t
    return Instrument(
        venue=venue,
        symbol=symbol,
        kind=InstrumentKind(kind),
        tick_size=tick,
        lot_size=lot,
        min_notional=notional,
        maker_fee=maker,
        taker_fee=taker,
        base=base,
        quote=quote,
    )
