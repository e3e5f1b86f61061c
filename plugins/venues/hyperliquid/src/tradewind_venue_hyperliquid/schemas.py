"""Hyperliquid payloads, parsed, with ``to_domain()`` into tradewind's model.

The names of the wire (``px``, ``sz``, ``szi``, ``oid``, ``cloid``, side ``"A"``/``"B"``) stop
here: nothing outside this module reads a Hyperliquid JSON key. Prices and sizes are Decimal
(parsed from the exchange's strings, exact); tick batches are float64 columns as the core
wants them. Times on the wire are epoch milliseconds; the model's are nanoseconds.

Two values the core's model does not have yet live at the end of the module:
:class:`OrderBook` (depth snapshot) and :class:`FundingRate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
from tradewind.errors import VenueError
from tradewind.model import (
    BUY,
    SELL,
    BookTop,
    Fill,
    OrderReport,
    OrderStatus,
    Position,
    Side,
    TickBatch,
)

from tradewind_venue_hyperliquid.constants import (
    IOC_UNMATCHED_ERROR_PREFIX,
    ORDER_STATUS_CANCELED,
    ORDER_STATUS_FILLED,
    ORDER_STATUS_IOC_UNMATCHED,
    ORDER_STATUS_OPEN,
    ORDER_STATUS_REJECTED,
    QUOTE_CURRENCY,
    SIDE_BUY,
    SIDE_SELL,
)

NS_PER_MS = 1_000_000
ZERO = Decimal(0)
_LIVE_OR_FILLED = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)


def ms_to_ns(ms: int) -> int:
    """Epoch milliseconds to epoch nanoseconds."""
    return int(ms) * NS_PER_MS


def _side(code: str) -> Side:
    if code == SIDE_BUY:
        return Side.BUY
    if code == SIDE_SELL:
        return Side.SELL
    raise VenueError(f"hyperliquid: unknown side code {code!r} (expected 'B' or 'A')")


def _dec(text: Any) -> Decimal:
    return Decimal(str(text))


# -- meta -----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AssetMeta:
    """One entry of ``meta.universe``; its position in the list is the asset index."""

    name: str
    sz_decimals: int
    max_leverage: int
    only_isolated: bool = False
    is_delisted: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AssetMeta:
        """Parse ``{"name", "szDecimals", "maxLeverage", "onlyIsolated"?, "isDelisted"?}``."""
        return cls(
            name=raw["name"],
            sz_decimals=int(raw["szDecimals"]),
            max_leverage=int(raw.get("maxLeverage") or 1),
            only_isolated=bool(raw.get("onlyIsolated") or False),
            is_delisted=bool(raw.get("isDelisted") or False),
        )


@attrs.frozen(kw_only=True)
class PerpMeta:
    """The ``meta`` answer: the perp universe of the main dex."""

    universe: tuple[AssetMeta, ...]
    raw: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PerpMeta:
        """Parse ``{"universe": [...]}`` (other keys, such as marginTables, are kept in raw)."""
        if not isinstance(raw, Mapping) or "universe" not in raw:
            raise VenueError(f"hyperliquid: meta answer has no universe: {str(raw)[:200]}")
        return cls(universe=tuple(AssetMeta.from_json(a) for a in raw["universe"]), raw=raw)


# -- market data ----------------------------------------------------------------------------
def trades_to_batch(instrument: str, trades: Sequence[Mapping[str, Any]]) -> TickBatch:
    """A ``trades`` message's rows as a TickBatch, in time order (stable for equal times).

    ``side`` on a Hyperliquid trade is the aggressor's: "B" a buyer lifted the offer (+1),
    "A" a seller hit the bid (-1). ``tid`` is the trade id.
    """
    n = len(trades)
    ts = np.fromiter((int(t["time"]) * NS_PER_MS for t in trades), dtype=np.int64, count=n)
    price = np.fromiter((float(t["px"]) for t in trades), dtype=np.float64, count=n)
    size = np.fromiter((float(t["sz"]) for t in trades), dtype=np.float64, count=n)
    side = np.fromiter(
        (BUY if t["side"] == SIDE_BUY else SELL for t in trades), dtype=np.int8, count=n
    )
    tid = np.fromiter((int(t["tid"]) for t in trades), dtype=np.int64, count=n)
    bad = [t["side"] for t in trades if t["side"] not in (SIDE_BUY, SIDE_SELL)]
    if bad:
        raise VenueError(f"hyperliquid: unknown trade side {bad[0]!r} in {instrument}")
    if n > 1 and (ts[1:] < ts[:-1]).any():
        order = np.argsort(ts, kind="stable")
        ts, price, size, side, tid = ts[order], price[order], size[order], side[order], tid[order]
    return TickBatch.from_arrays(instrument, ts, price, size, side, tid)


@attrs.frozen(kw_only=True)
class L2BookPayload:
    """An ``l2Book`` answer or websocket message: bids best first, then asks best first."""

    coin: str
    time_ms: int
    bids: tuple[tuple[Decimal, Decimal, int], ...]
    asks: tuple[tuple[Decimal, Decimal, int], ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> L2BookPayload:
        """Parse ``{"coin", "time", "levels": [[{"px","sz","n"}...], [...]]}``."""
        bids_raw, asks_raw = raw["levels"]
        return cls(
            coin=raw["coin"],
            time_ms=int(raw.get("time") or 0),
            bids=tuple((_dec(lv["px"]), _dec(lv["sz"]), int(lv.get("n", 0))) for lv in bids_raw),
            asks=tuple((_dec(lv["px"]), _dec(lv["sz"]), int(lv.get("n", 0))) for lv in asks_raw),
        )

    def to_domain(self, instrument: str) -> OrderBook:
        """The depth snapshot."""
        return OrderBook(
            instrument=instrument,
            ts_ns=ms_to_ns(self.time_ms),
            bids=tuple((p, s) for p, s, _ in self.bids),
            asks=tuple((p, s) for p, s, _ in self.asks),
        )


def mids_from_json(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """``allMids`` (REST) or the ``mids`` of its websocket message: coin -> mid price."""
    mids = raw.get("mids", raw) if isinstance(raw, Mapping) else raw
    return {coin: _dec(px) for coin, px in mids.items()}


@attrs.frozen(kw_only=True)
class FundingPayload:
    """One ``fundingHistory`` row: the hourly funding rate applied at ``time``."""

    coin: str
    funding_rate: Decimal
    premium: Decimal | None
    time_ms: int

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FundingPayload:
        """Parse ``{"coin", "fundingRate", "premium"?, "time"}``."""
        premium = raw.get("premium")
        return cls(
            coin=raw["coin"],
            funding_rate=_dec(raw["fundingRate"]),
            premium=None if premium is None else _dec(premium),
            time_ms=int(raw["time"]),
        )

    def to_domain(self, instrument: str) -> FundingRate:
        """The funding rate value."""
        return FundingRate(
            instrument=instrument,
            ts_ns=ms_to_ns(self.time_ms),
            rate=self.funding_rate,
            premium=self.premium,
        )


# -- execution ------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class PlacementStatus:
    """One entry of an order action's ``statuses``: resting, filled (totally or not) or error."""

    kind: str  # "resting" | "filled" | "error"
    oid: int | None = None
    total_size: Decimal = ZERO
    avg_price: Decimal | None = None
    error: str = ""

    @classmethod
    def from_json(cls, raw: Any) -> PlacementStatus:
        """Parse ``{"resting": {"oid"}}``, ``{"filled": {"totalSz","avgPx","oid"}}`` or
        ``{"error": "..."}``."""
        if isinstance(raw, Mapping):
            if "resting" in raw:
                return cls(kind="resting", oid=int(raw["resting"]["oid"]))
            if "filled" in raw:
                f = raw["filled"]
                return cls(
                    kind="filled",
                    oid=int(f["oid"]),
                    total_size=_dec(f["totalSz"]),
                    avg_price=_dec(f["avgPx"]),
                )
            if "error" in raw:
                return cls(kind="error", error=str(raw["error"]))
        raise VenueError(f"hyperliquid: unknown order status entry {str(raw)[:200]}")

    def to_domain(
        self,
        client_order_id: str,
        instrument: str,
        quantity: Decimal,
        resting_tif: bool,
        ts_ns: int,
    ) -> OrderReport:
        """The order's state right after placement.

        A partial fill of a resting (Gtc/Alo) order is PARTIALLY_FILLED; of an IoC order it is
        CANCELLED (the rest was cancelled), like the simulated venue. An IoC that matched
        nothing is EXPIRED; every other error is REJECTED with the exchange's words.
        """
        vid = "" if self.oid is None else str(self.oid)
        if self.kind == "resting":
            status, filled = OrderStatus.ACCEPTED, ZERO
        elif self.kind == "filled":
            filled = self.total_size
            if filled >= quantity:
                status = OrderStatus.FILLED
            else:
                status = OrderStatus.PARTIALLY_FILLED if resting_tif else OrderStatus.CANCELLED
        else:
            filled = ZERO
            status = (
                OrderStatus.EXPIRED
                if self.error.startswith(IOC_UNMATCHED_ERROR_PREFIX)
                else OrderStatus.REJECTED
            )
        return OrderReport(
            client_order_id=client_order_id,
            instrument=instrument,
            status=status,
            ts_ns=ts_ns,
            filled_quantity=filled,
            venue_order_id=vid,
            reason=self.error,
        )


@attrs.frozen(kw_only=True)
class ExchangeResponse:
    """The envelope of every ``/exchange`` answer."""

    ok: bool
    kind: str
    statuses: tuple[Any, ...]
    error: str = ""

    @classmethod
    def from_json(cls, raw: Any) -> ExchangeResponse:
        """Parse ``{"status": "ok", "response": {"type", "data": {"statuses"}}}`` or
        ``{"status": "err", "response": "..."}``."""
        if not isinstance(raw, Mapping) or "status" not in raw:
            return cls(ok=False, kind="", statuses=(), error=f"unreadable answer: {raw!r:.200}")
        if raw["status"] != "ok":
            return cls(ok=False, kind="", statuses=(), error=str(raw.get("response")))
        resp = raw.get("response") or {}
        data = (resp.get("data") or {}) if isinstance(resp, Mapping) else {}
        return cls(
            ok=True,
            kind=str(resp.get("type", "")) if isinstance(resp, Mapping) else "",
            statuses=tuple(data.get("statuses") or ()) if isinstance(data, Mapping) else (),
        )


@attrs.frozen(kw_only=True)
class OrderPayload:
    """An order as ``orderStatus``, ``frontendOpenOrders`` and ``orderUpdates`` describe it."""

    coin: str
    side: Side
    limit_price: Decimal
    remaining: Decimal
    original: Decimal
    oid: int
    timestamp_ms: int
    cloid: str | None
    reduce_only: bool = False
    tif: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OrderPayload:
        """Parse ``{"coin","side","limitPx","sz","oid","timestamp","origSz"?,"cloid"?,...}``."""
        remaining = _dec(raw["sz"])
        return cls(
            coin=raw["coin"],
            side=_side(raw["side"]),
            limit_price=_dec(raw["limitPx"]),
            remaining=remaining,
            original=_dec(raw["origSz"]) if raw.get("origSz") is not None else remaining,
            oid=int(raw["oid"]),
            timestamp_ms=int(raw.get("timestamp") or 0),
            cloid=raw.get("cloid"),
            reduce_only=bool(raw.get("reduceOnly") or False),
            tif=raw.get("tif"),
        )

    def to_domain(
        self, client_order_id: str, instrument: str, status: str, ts_ms: int | None = None
    ) -> OrderReport:
        """The order's state; ``status`` is the exchange's status word."""
        filled = self.original - self.remaining
        if status in ORDER_STATUS_OPEN:
            ours = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
        elif status in ORDER_STATUS_FILLED:
            ours, filled = OrderStatus.FILLED, self.original
        elif status in ORDER_STATUS_CANCELED or status.endswith(("Canceled", "Cancel")):
            ours = OrderStatus.CANCELLED
        elif status == ORDER_STATUS_IOC_UNMATCHED:
            ours = OrderStatus.EXPIRED
        elif status in ORDER_STATUS_REJECTED or status.endswith("Rejected"):
            ours = OrderStatus.REJECTED
        else:
            raise VenueError(f"hyperliquid: unknown order status {status!r} for oid {self.oid}")
        return OrderReport(
            client_order_id=client_order_id,
            instrument=instrument,
            status=ours,
            ts_ns=ms_to_ns(ts_ms if ts_ms else self.timestamp_ms),
            filled_quantity=filled,
            venue_order_id=str(self.oid),
            reason="" if ours in _LIVE_OR_FILLED else status,
        )


@attrs.frozen(kw_only=True)
class OrderStatusPayload:
    """``orderStatus``: the order and its status, or nothing (``unknownOid``)."""

    order: OrderPayload | None
    status: str
    status_timestamp_ms: int = 0

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OrderStatusPayload:
        """Parse ``{"status": "order", "order": {"order": {...}, "status", "statusTimestamp"}}``
        or ``{"status": "unknownOid"}``."""
        if raw.get("status") != "order":
            return cls(order=None, status=str(raw.get("status")))
        inner = raw["order"]
        return cls(
            order=OrderPayload.from_json(inner["order"]),
            status=str(inner["status"]),
            status_timestamp_ms=int(inner.get("statusTimestamp") or 0),
        )

    @classmethod
    def from_update(cls, raw: Mapping[str, Any]) -> OrderStatusPayload:
        """Parse one ``orderUpdates`` websocket entry ``{"order", "status", "statusTimestamp"}``."""
        return cls(
            order=OrderPayload.from_json(raw["order"]),
            status=str(raw["status"]),
            status_timestamp_ms=int(raw.get("statusTimestamp") or 0),
        )


@attrs.frozen(kw_only=True)
class UserFillPayload:
    """One fill of ``userFills`` / ``userFillsByTime`` or of the websocket user channels."""

    coin: str
    price: Decimal
    size: Decimal
    side: Side
    time_ms: int
    oid: int
    tid: int
    crossed: bool
    fee: Decimal
    fee_token: str
    builder_fee: Decimal
    cloid: str | None
    tx_hash: str = ""
    start_position: str = ""

    @property
    def identity(self) -> str:
        """What makes this fill one fill: its trade id, or, for fills recorded without a
        ``tid`` (older ``userFills`` payloads), the transaction hash with the order id, the
        position before the fill, price, size and time (one transaction fills one order at
        several prices; each fill moves the position, so ``startPosition`` tells them apart)."""
        if self.tid:
            return str(self.tid)
        return (
            f"{self.tx_hash}/{self.oid}/{self.start_position}/{self.price}/{self.size}/"
            f"{self.time_ms}"
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> UserFillPayload:
        """Parse ``{"coin","px","sz","side","time","oid","tid","crossed","fee",...}``."""
        return cls(
            coin=raw["coin"],
            price=_dec(raw["px"]),
            size=_dec(raw["sz"]),
            side=_side(raw["side"]),
            time_ms=int(raw["time"]),
            oid=int(raw["oid"]),
            tid=int(raw.get("tid") or 0),
            crossed=bool(raw.get("crossed")),
            fee=_dec(raw.get("fee") or "0"),
            fee_token=str(raw.get("feeToken") or QUOTE_CURRENCY),
            builder_fee=_dec(raw.get("builderFee") or "0"),
            cloid=raw.get("cloid"),
            tx_hash=str(raw.get("hash") or ""),
            start_position=str(raw.get("startPosition") or ""),
        )

    def to_domain(self, client_order_id: str, instrument: str) -> Fill:
        """The fill; its fee (exchange plus builder fee, in USDC) is positive when paid."""
        return Fill(
            client_order_id=client_order_id,
            instrument=instrument,
            side=self.side,
            quantity=self.size,
            price=self.price,
            fee=self.fee + self.builder_fee,
            ts_ns=ms_to_ns(self.time_ms),
            liquidity="taker" if self.crossed else "maker",
            trade_id=self.identity,
            fee_currency=self.fee_token,
            fee_asset="quote" if self.fee_token == QUOTE_CURRENCY else "other",
        )


@attrs.frozen(kw_only=True)
class ClearinghouseState:
    """``clearinghouseState``: the perp account's positions and margin summary."""

    positions: tuple[tuple[str, Decimal, Decimal | None], ...]  # (coin, szi, entryPx)
    account_value: Decimal
    withdrawable: Decimal
    time_ms: int
    #: Sum of the open positions' ``unrealizedPnl`` (part of ``account_value``).
    unrealized_pnl: Decimal = ZERO

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ClearinghouseState:
        """Parse ``{"assetPositions": [{"position": {"coin","szi","entryPx"}}], ...}``."""
        positions = []
        unrealized = ZERO
        for ap in raw.get("assetPositions") or ():
            p = ap["position"]
            unrealized += _dec(p.get("unrealizedPnl") or "0")
            entry = p.get("entryPx")
            positions.append((p["coin"], _dec(p["szi"]), None if entry is None else _dec(entry)))
        summary = raw.get("marginSummary") or raw.get("crossMarginSummary") or {}
        return cls(
            positions=tuple(positions),
            account_value=_dec(summary.get("accountValue") or "0"),
            withdrawable=_dec(raw.get("withdrawable") or "0"),
            time_ms=int(raw.get("time") or 0),
            unrealized_pnl=unrealized,
        )

    def to_positions(self, instrument_of: Mapping[str, str]) -> list[Position]:
        """Non-flat positions of the coins in ``instrument_of`` (coin -> instrument key).

        The exchange reports a net size and an entry price, not the lots: the position is one
        lot at the entry price, and realised P&L starts at zero.
        """
        out = []
        for coin, szi, entry in self.positions:
            key = instrument_of.get(coin)
            if key is None or szi == 0:
                continue
            avg = entry if entry is not None else ZERO
            out.append(
                Position(
                    instrument=key,
                    quantity=szi,
                    avg_price=avg,
                    opened_ts_ns=ms_to_ns(self.time_ms),
                    lots=((szi, avg),),
                )
            )
        return out


# -- values the core's model does not have (yet) --------------------------------------------
@attrs.frozen(kw_only=True)
class OrderBook:
    """A depth snapshot: (price, size) levels, best first on each side."""

    instrument: str
    ts_ns: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]

    def top(self) -> BookTop:
        """Best bid and offer."""
        if not self.bids or not self.asks:
            raise VenueError(f"{self.instrument}: the book has an empty side")
        (bp, bs), (ap, az) = self.bids[0], self.asks[0]
        return BookTop(
            instrument=self.instrument,
            ts_ns=self.ts_ns,
            bid_price=float(bp),
            bid_size=float(bs),
            ask_price=float(ap),
            ask_size=float(az),
        )


@attrs.frozen(kw_only=True)
class FundingRate:
    """A perp's funding rate for one funding interval (Hyperliquid: hourly), paid at ``ts_ns``.

    Positive: longs pay shorts. ``premium`` is the premium component where the venue gives it.
    """

    instrument: str
    ts_ns: int
    rate: Decimal
    premium: Decimal | None = None
