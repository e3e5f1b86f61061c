"""The ccxt venue: any exchange ccxt speaks, for execution, behind the core's Venue protocol.

What it guarantees beyond passing calls through:

- **Idempotent submits.** Every order carries its client order id to the exchange. When a
  create times out (the exchange may have accepted it), the order is looked up by client order
  id, ``lookup_attempts`` times, and the accepted state returned; it is never resent blindly.
  A later ``submit_order`` of the same id looks it up again first.
- **Orders by client order id.** ``fetch_order`` and ``cancel_order`` address the exchange's
  client-id field (``origClientOrderId`` on Binance, ``orderLinkId`` on Bybit, ``clOrdId`` on
  OKX, ccxt's ``clientOrderId`` elsewhere).
- **Order updates.** Through ccxt.pro ``watch_orders`` where the exchange has it, else by
  polling the open orders every ``poll_interval_s``. State changes go to the sink as
  :class:`OrderReport`; executions as :class:`Fill` (from the exchange's trade list where ccxt
  has ``fetchOrderTrades``, else derived from the order's filled quantity and average price),
  fills before the report that they complete.
- **Capabilities** are narrowed at connect to what the exchange declares in ccxt's
  ``features`` / ``has``; an order type the exchange lacks is refused before it is sent.
- **Errors** are the core's (see :mod:`tradewind_venue_ccxt.errors`); no message or log record
  contains a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import attrs
from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueRateLimitedError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.model import (
    ConnectionLost,
    Fill,
    FundingPayment,
    Instrument,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TickBatch,
    TimeInForce,
)
from tradewind.protocols import EventSink

from .config import CcxtVenueConfig
from .constants import (
    CLIENT_ID_CREATE_PARAM,
    CLIENT_ID_LOOKUP_PARAM,
    DEFAULT_CLIENT_ID_PARAM,
    DEFAULT_RATE_LIMIT_HOLD_S,
    EXCHANGE_OPTIONS,
    FETCH_ORDER_PARAMS,
    LOOKUP_BY_LIST,
    MY_TRADES_ORDER_PARAM,
    WALLET_BALANCE,
)
from .errors import RedactingLogger, Redactor, map_ccxt_error
from .market_data import TradeStreams
from .providers import MarketIndex, contract_size
from .rate_limit import TokenBucket, token_bucket_exchange_class, urgent_calls
from .schemas import (
    CcxtOrder,
    CcxtPosition,
    CcxtTrade,
    FundingRate,
    balances_to_domain,
    to_decimal,
)

log = logging.getLogger("tradewind_venue_ccxt")

#: What ``_order_trades`` answers when an order's trades cannot be read for now (this very
#: list, told apart by identity; never filled).
_LATER: list[dict[str, Any]] = []

_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
}


@attrs.define
class _Tracked:
    """What the venue knows of one client order id."""

    symbol: str
    order: Order | None = None  # None: found on the exchange, not sent by this instance
    report: OrderReport | None = None
    unknown: bool = False  # a create's outcome is unknown (timed out, not found yet)
    venue_order_id: str = ""
    filled: Decimal = Decimal(0)  # quantity delivered to the sink as fills
    cost: Decimal = Decimal(0)  # sum of price × quantity of those fills
    trade_ids: set[str] = attrs.field(factory=set)
    synthetic: bool = False  # fills derived from the order, not read from its trades

    @property
    def is_stop(self) -> bool:
        return self.order is not None and self.order.type in (OrderType.STOP, OrderType.STOP_LIMIT)


def rewrite_urls(urls: Any, host: str) -> Any:
    """``urls`` (ccxt's nested ``urls['api']``) with every URL's scheme and host replaced by
    ``host``'s, paths kept; websocket URLs get ``ws``/``wss`` to match ``http``/``https``."""
    target = urlsplit(host)
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, host) for k, v in urls.items()}
    if not isinstance(urls, str):
        return urls
    parts = urlsplit(urls)
    if parts.scheme in ("http", "https"):
        scheme = target.scheme
    elif parts.scheme in ("ws", "wss"):
        scheme = "ws" if target.scheme == "http" else "wss"
    else:
        return urls
    base = target.path.rstrip("/")
    return urlunsplit((scheme, target.netloc, base + parts.path, parts.query, parts.fragment))


def set_url(urls: dict[str, Any], dotted: str, value: str) -> None:
    """Set ``urls[a][b]`` for the key ``"a.b"`` (a plain key sets the top level)."""
    *path, last = dotted.split(".")
    node = urls
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def exchange_capabilities(exchange: Any, market_type: str) -> frozenset[str]:
    """The capabilities one ccxt exchange offers for ``market_type``, from ``features``/``has``."""
    has = exchange.has or {}
    features = (getattr(exchange, "features", None) or {}).get(market_type) or {}
    if market_type == "swap" and "createOrder" not in features:
        features = features.get("linear") or features.get("inverse") or {}
    create = features.get("createOrder") or {}
    caps = {"execution", "account", "orders:resume", "fills:history"}
    if has.get("fetchOrders"):
        caps.add("orders:search")
    if has.get("fetchMyTrades"):
        caps.add("trades:account")
    if has.get("createMarketOrder", True):
        caps.add("order:market")
    if has.get("createLimitOrder", True):
        caps.add("order:limit")
    trigger = create.get("triggerPrice") if create else has.get("createStopOrder")
    if trigger:
        caps.add("order:stop")
        caps.add("order:stop_limit")
    tif = create.get("timeInForce") if create else None
    if tif:
        for key, cap in (("GTC", "tif:gtc"), ("IOC", "tif:ioc"), ("FOK", "tif:fok")):
            if tif.get(key):
                caps.add(cap)
        if tif.get("PO"):
            caps.add("tif:post_only")
    else:
        caps.add("tif:gtc")
        if has.get("createPostOnlyOrder"):
            caps.add("tif:post_only")
    if market_type == "swap":
        if has.get("createReduceOnlyOrder", True):
            caps.add("reduce_only")
        if has.get("fetchFundingRate"):
            caps.add("funding")
        if has.get("fetchFundingHistory"):
            caps.add("funding:history")
    return frozenset(caps)


def _order_capabilities(order: Order) -> list[str]:
    caps = [f"order:{order.type.value}"]
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        caps.append(f"tif:{order.time_in_force.value}")
    if order.reduce_only:
        caps.append("reduce_only")
    return caps


class CcxtVenue:
    """An execution venue on any ccxt exchange (one exchange and market type per instance)."""

    name: ClassVar[str] = "ccxt"
    config_class: ClassVar[type] = CcxtVenueConfig
    # What the plugin can express; ``connect`` narrows the instance's set to its exchange's.
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "execution",
            "order:market",
            "order:limit",
            "order:stop",
            "order:stop_limit",
            "tif:gtc",
            "tif:ioc",
            "tif:fok",
            "tif:post_only",
            "reduce_only",
            "funding",
            "funding:history",
            "account",
            "orders:resume",
            "orders:search",
            "fills:history",
            "trades:account",
            "data",
            "subscribe",
        }
    )

    def __init__(
        self,
        config: CcxtVenueConfig,
        instance: str = "ccxt",
        instruments: Sequence[Instrument] = (),
        *,
        clock: Callable[[], int] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.instance = instance
        self._clock = clock or time.time_ns
        self._environ = environ
        self._wanted: list[str] = list(config.symbols)
        self._wanted.extend(i.symbol for i in instruments)
        self._exchange: Any = None
        self._index: MarketIndex | None = None
        self._traded: list[str] = []  # unified symbols
        self._orders: dict[str, _Tracked] = {}
        self._sink: EventSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        #: Public trades (ccxt.pro watch_trades), when the exchange streams them.
        self._trade_streams: TradeStreams | None = None
        self._redact = Redactor()
        self._lost = False
        self._trades_method = "order"  # "order", then "account", or "none": see _order_trades
        self.update_mode = "off"
        #: The ``token_bucket`` rate limiter of the connected exchange (None with ccxt's).
        self.limiter: TokenBucket | None = None

    # -- helpers --------------------------------------------------------------------------
    def _now(self) -> int:
        return self._clock()

    def _error(self, exc: BaseException, action: str) -> VenueError:
        self._rate_limited(exc)
        return map_ccxt_error(exc, venue=self.instance, action=action, redact=self._redact)

    def _rate_limited_error(self, exc: BaseException, action: str) -> VenueRateLimitedError:
        """An HTTP 429 / 418 as the core's error: not processed, with the answer's
        ``Retry-After`` (None when it gave none)."""
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        retry_after = _retry_after(headers)
        msg = str(self._error(exc, action))
        return VenueRateLimitedError(
            f"{msg} (rate limited, not processed; retry after {retry_after} s)",
            retry_after_s=retry_after,
        )

    def _rate_limited(self, exc: BaseException) -> None:
        """On an HTTP 429 / 418 (ccxt's RateLimitExceeded / DDoSProtection), hold every
        request of this exchange for the answer's ``Retry-After`` (else one second)."""
        import ccxt

        if self.limiter is None or not isinstance(
            exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)
        ):
            return
        headers = getattr(self._exchange, "last_response_headers", None) or {}
        retry_after = _retry_after(headers)
        self.limiter.hold(DEFAULT_RATE_LIMIT_HOLD_S if retry_after is None else retry_after)

    def _ex(self) -> Any:
        if self._exchange is None or self._index is None:
            raise VenueError(f"venue '{self.instance}' ({self.config.exchange}) is not connected")
        return self._exchange

    def _require_credentials(self, action: str) -> None:
        if not self.config.has_credentials:
            raise VenueError(
                f"venue '{self.instance}' ({self.config.exchange}): {action} needs api_key and "
                f'secret ([venues.{self.instance}] api_key = "env:NAME", secret = "env:NAME")'
            )

    def _symbol(self, instrument: str) -> str:
        assert self._index is not None
        return self._index.require(instrument, f" (instrument {instrument})")

    def _key(self, symbol: str) -> str:
        assert self._index is not None
        return self._index.key(symbol)

    def _market(self, symbol: str) -> dict[str, Any]:
        assert self._index is not None
        return self._index.market(symbol)

    @property
    def exchange(self) -> Any:
        """The connected ccxt exchange object (for what the plugin does not wrap)."""
        return self._ex()

    # -- lifecycle ------------------------------------------------------------------------
    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Trade these instruments too (the host config's instruments naming this venue)."""
        names = [i.symbol for i in instruments]
        self._wanted.extend(names)
        if self._index is not None:
            for name in names:
                symbol = self._symbol(name)
                if symbol not in self._traded:
                    self._traded.append(symbol)

    def _options(self) -> dict[str, Any]:
        """ccxt options the plugin sets (the config's ``options`` go over them)."""
        options: dict[str, Any] = {
            "fetchCurrencies": self.config.load_currencies,
            "fetchMargins": False,
            "defaultType": self.config.market_type,
        }
        options.update(EXCHANGE_OPTIONS.get(self.config.exchange, {}))
        return options

    def _market_types(self, exchange: Any) -> list[str]:
        if self.config.fetch_market_types:
            return list(self.config.fetch_market_types)
        if self.config.market_type == "spot":
            return ["spot"]
        fm = exchange.options.get("fetchMarkets")
        vocab = fm.get("types", []) if isinstance(fm, dict) else (fm or [])
        if "swap" in vocab or not vocab:
            return ["swap"]
        return ["linear"] if "linear" in vocab else ["swap"]

    async def connect(self) -> None:
        """Build the ccxt exchange, load its markets, resolve the traded symbols and start
        order updates."""
        if self._exchange is not None:
            return
        cfg = self.config
        secrets: dict[str, str] = {}
        if cfg.has_credentials:
            assert cfg.api_key is not None and cfg.secret is not None
            secrets["apiKey"] = cfg.api_key.reveal(self._environ)
            secrets["secret"] = cfg.secret.reveal(self._environ)
            if cfg.password is not None:
                secrets["password"] = cfg.password.reveal(self._environ)
        self._redact = Redactor(secrets.values())

        import ccxt.async_support as ccxt_async

        module: Any = ccxt_async
        mode = cfg.order_updates
        if mode in ("auto", "websocket"):
            pro = _pro_module()
            pro_cls = getattr(pro, cfg.exchange, None) if pro is not None else None
            if pro_cls is not None and pro_cls().describe().get("has", {}).get("watchOrders"):
                module = pro
                mode = "websocket"
            elif mode == "websocket":
                raise VenueError(
                    f"venue '{self.instance}': ccxt.pro has no watchOrders for exchange "
                    f'{cfg.exchange!r}; set order_updates = "poll" @ '
                    f"$.venues.{self.instance}.order_updates"
                )
            else:
                mode = "poll"
        self.update_mode = mode

        options = self._options()
        options.update(cfg.options)
        params: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": cfg.timeout_ms,
            "options": options,
            **secrets,
        }
        if cfg.rate_limiter == "rolling_window":
            params["rateLimiterAlgorithm"] = "rollingWindow"
            params["rollingWindowSize"] = cfg.rate_window_s * 1000.0
        exchange_class = getattr(module, cfg.exchange)
        if cfg.rate_limiter == "token_bucket":
            exchange_class = token_bucket_exchange_class(exchange_class)
        exchange = exchange_class(params)
        if cfg.rate_limiter == "token_bucket":
            self.limiter = TokenBucket.for_exchange(exchange, cfg.rate_burst_s)
            exchange.tradewind_limiter = self.limiter
        exchange.logger = RedactingLogger(
            logging.getLogger(f"tradewind_venue_ccxt.{self.instance}"), self._redact
        )
        try:
            if "fetchMarkets" not in cfg.options:
                fm = exchange.options.get("fetchMarkets")
                types = self._market_types(exchange)
                exchange.options["fetchMarkets"] = (
                    {**fm, "types": types} if isinstance(fm, dict) else {"types": types}
                )
            if not cfg.load_currencies:
                exchange.has["fetchCurrencies"] = False
            if cfg.sandbox:
                try:
                    exchange.set_sandbox_mode(True)
                except Exception as exc:
                    raise VenueError(
                        f"venue '{self.instance}': exchange {cfg.exchange!r} has no sandbox in "
                        f"ccxt ({type(exc).__name__}) @ $.venues.{self.instance}.sandbox"
                    ) from None
            if cfg.api_host:
                exchange.urls["api"] = rewrite_urls(exchange.urls["api"], cfg.api_host)
            for key, url in cfg.api_urls.items():
                set_url(exchange.urls["api"], key, url)
            if cfg.api_host or cfg.api_urls:
                _pin_error_table(exchange, self._market_types(exchange))
            try:
                await exchange.load_markets()
            except Exception as exc:
                if _is_ccxt_error(exc):
                    raise self._error(exc, "load_markets") from None
                raise
            index = MarketIndex.build(self.instance, exchange.markets, cfg.market_type)
            if not index.markets:
                raise VenueError(
                    f"venue '{self.instance}': {cfg.exchange} returned no {cfg.market_type} markets"
                )
            traded: list[str] = []
            for name in self._wanted:
                symbol = index.require(name, f" @ $.venues.{self.instance}.symbols")
                if symbol not in traded:
                    traded.append(symbol)
        except BaseException:
            await exchange.close()
            raise
        self._exchange = exchange
        self._index = index
        self._traded = traded
        self.capabilities = exchange_capabilities(exchange, cfg.market_type)  # type: ignore[misc]
        if exchange.has.get("watchTrades"):  # a ccxt.pro exchange: public trades streamed
            self.capabilities = self.capabilities | {"data", "subscribe"}  # type: ignore[misc]
            self._trade_streams = TradeStreams(
                exchange,
                self._symbol,
                lambda key: contract_size(self._market(self._symbol(key))),
                retry_s=cfg.poll_interval_s,
                on_problem=self._trade_stream_problem,
            )
        if self.update_mode != "off" and cfg.has_credentials:
            running = asyncio.get_running_loop()
            self._task = running.create_task(self._poll_loop())
            if self.update_mode == "websocket":
                # The stream, and the poll whatever the stream says: ccxt.pro drops a message
                # that arrives while nothing awaits it, so a fill is booked within one
                # poll interval at worst.
                self._watch_task = running.create_task(self._watch_loop())

    async def close(self) -> None:
        """Stop order updates and close the exchange's sessions; idempotent."""
        for task in (self._task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._watch_task = None
        streams, self._trade_streams = self._trade_streams, None
        if streams is not None:
            await streams.close()
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    async def instruments(self) -> Sequence[Instrument]:
        """The traded instruments (every active market of the type when none is configured)."""
        self._ex()
        assert self._index is not None
        symbols = self._traded or self._index.active_symbols()
        return self._index.instruments(symbols, self._exchange.precisionMode)

    def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """The instruments' public trades as they happen (ccxt.pro ``watch_trades``, one per
        symbol), changeable while streaming with :meth:`subscribe`/:meth:`unsubscribe`.
        Needs a ccxt.pro exchange (``order_updates`` "auto" or "websocket")."""
        self._ex()
        if self._trade_streams is None:
            raise VenueError(
                f"venue '{self.instance}' ({self.config.exchange}): no public trade stream "
                f"(ccxt.pro watchTrades) with order_updates = {self.config.order_updates!r}; "
                f'set order_updates = "auto" @ $.venues.{self.instance}.order_updates'
            )
        for inst in instruments:
            self._symbol(inst.key)  # an unknown market fails here, named
        return self._trade_streams.stream(instruments)

    def subscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stream these instruments' trades again (capability ``"subscribe"``)."""
        if self._trade_streams is not None:
            self._trade_streams.subscribe(instruments)

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stop streaming these instruments' trades; none is delivered from now on."""
        if self._trade_streams is not None:
            self._trade_streams.unsubscribe(instruments)

    def set_sink(self, sink: EventSink) -> None:
        """Where order reports, fills and connection events go."""
        self._sink = sink

    # -- execution ------------------------------------------------------------------------
    def _order_request(
        self, order: Order, symbol: str
    ) -> tuple[str, str, float, float | None, dict[str, Any]]:
        market = self._market(symbol)
        size = contract_size(market)
        amount = float(order.quantity / size)
        params: dict[str, Any] = {
            CLIENT_ID_CREATE_PARAM.get(self.config.exchange, DEFAULT_CLIENT_ID_PARAM): (
                order.client_order_id
            )
        }
        kind = "limit" if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else "market"
        price = float(order.price) if kind == "limit" and order.price is not None else None
        if order.stop_price is not None and order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            params["triggerPrice"] = float(order.stop_price)
        if kind == "limit":
            if order.time_in_force is TimeInForce.POST_ONLY:
                params["postOnly"] = True
            else:
                params["timeInForce"] = _TIF[order.time_in_force]
        if order.reduce_only:
            params["reduceOnly"] = True
        side = "buy" if order.side is Side.BUY else "sell"
        return kind, side, amount, price, params

    async def submit_order(self, order: Order) -> OrderReport:
        """Send ``order``; a known client order id returns its state (looked up when the
        previous attempt's outcome is unknown), never a second order."""
        self._ex()
        self._require_credentials("submit_order")
        cid = order.client_order_id
        tracked = self._orders.get(cid)
        if tracked is not None:
            if tracked.report is not None and not tracked.unknown:
                return tracked.report
            found = await self._find(tracked)
            if found is not None:
                return found
        else:
            symbol = self._symbol(order.instrument)
            missing = [c for c in _order_capabilities(order) if c not in self.capabilities]
            if missing:
                raise OrderRejectedError(
                    f"venue '{self.instance}' ({self.config.exchange} {self.config.market_type})"
                    f" does not offer {', '.join(missing)} (order {cid}); its capabilities: "
                    f"{', '.join(sorted(self.capabilities))}"
                )
            tracked = _Tracked(symbol=symbol, order=order)
            self._orders[cid] = tracked
        return await self._create(tracked, order)

    async def _create(self, tracked: _Tracked, order: Order) -> OrderReport:
        import ccxt

        exchange = self._ex()
        kind, side, amount, price, params = self._order_request(order, tracked.symbol)
        tracked.unknown = True
        try:
            with urgent_calls():  # before the poll's and the fills' lookups in the limiter
                raw = await exchange.create_order(tracked.symbol, kind, side, amount, price, params)
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
            # HTTP 429 / Binance's 418: refused before processing, nothing was created.
            self._orders.pop(order.client_order_id, None)
            raise self._rate_limited_error(exc, f"submit_order {order.client_order_id}") from None
        except (
            ccxt.InsufficientFunds,
            ccxt.InvalidOrder,
            ccxt.InvalidNonce,
            ccxt.BadRequest,
            ccxt.PermissionDenied,
        ) as exc:
            # Definite refusals: bad request, clock skew (Binance -1021), insufficient
            # balance. The same create is never retried.
            err = self._error(exc, f"submit_order {order.client_order_id}")
            if not isinstance(err, OrderRejectedError):
                err = OrderRejectedError(str(err))
            tracked.unknown = False
            report = OrderReport(
                client_order_id=order.client_order_id,
                instrument=order.instrument,
                status=OrderStatus.REJECTED,
                ts_ns=self._now(),
                reason=str(err),
            )
            tracked.report = report
            self._emit_report(report)
            raise err from None
        except (ccxt.OperationFailed, ccxt.BadResponse) as exc:
            # The request may have reached the exchange: find out, never resend blindly.
            # OperationFailed is ccxt's parent of NetworkError, raised as such for Binance's
            # -1001 "Internal error" (an HTTP 5xx: the execution status is unknown).
            return await self._unknown_outcome(tracked, exc)
        except ccxt.BaseError as exc:
            raise self._error(exc, f"submit_order {order.client_order_id}") from None
        except Exception as exc:  # an answer ccxt could not parse: the outcome is unknown
            return await self._unknown_outcome(tracked, exc)
        if not isinstance(raw, Mapping) or not raw.get("id") or not raw.get("status"):
            # A 200 without an order in it is not an acceptance.
            return await self._unknown_outcome(
                tracked, ValueError(f"unparseable create response {str(raw)[:200]!r}")
            )
        tracked.unknown = False
        if not raw.get("clientOrderId"):
            raw = {**raw, "clientOrderId": order.client_order_id}
        # The create's own answer, even when the websocket (or a cancel) has told of a later
        # state already: the order manager journals such a late answer as stale.
        return await self._ingest(tracked, raw)

    async def _unknown_outcome(self, tracked: _Tracked, exc: BaseException) -> OrderReport:
        assert tracked.order is not None
        cid = tracked.order.client_order_id
        log.warning(
            "venue %s: create of %s failed with %s; looking it up by client order id",
            self.instance,
            cid,
            type(exc).__name__,
        )
        found = await self._find(tracked)
        if found is not None:
            return found
        if _is_ccxt_error(exc):
            err = self._error(exc, f"submit_order {cid}")
        else:
            err = VenueError(self._redact(f"venue '{self.instance}': submit_order {cid}: {exc}"))
        raise VenueTimeoutError(f"{err} (outcome unknown: not found by client order id)") from None

    async def search_order(
        self, instrument: str, client_order_id: str, since_ns: int
    ) -> OrderReport | None:
        """Capability ``"orders:search"``: find an order of unknown outcome among the
        account's orders since ``since_ns`` (``fetch_orders``: open, filled and cancelled);
        its state and fills are delivered like any update. None when it is not there."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("search_order")
        symbol = self._symbol(instrument)
        if not exchange.has.get("fetchOrders"):
            return None
        since_ms = max(0, since_ns // 1_000_000 - 60_000)
        try:
            raws = await exchange.fetch_orders(symbol, since_ms)
        except ccxt.BaseError as exc:
            raise self._error(exc, f"fetch_orders (looking for {client_order_id})") from None
        for raw in raws:
            if raw.get("clientOrderId") == client_order_id:
                tracked = self._orders.setdefault(client_order_id, _Tracked(symbol=symbol))
                tracked.unknown = False
                await self._ingest(tracked, raw)
                return tracked.report
        return None

    async def _find(self, tracked: _Tracked) -> OrderReport | None:
        """Look an order of unknown outcome up by client order id, a few times."""
        assert tracked.order is not None
        cid = tracked.order.client_order_id
        for attempt in range(self.config.lookup_attempts):
            if attempt:
                await asyncio.sleep(self.config.lookup_delay_s)
            try:
                raw = await self._lookup(tracked.symbol, cid, trigger=tracked.is_stop)
            except VenueError as exc:
                log.warning("venue %s: lookup of %s failed: %s", self.instance, cid, exc)
                continue
            if raw is not None:
                tracked.unknown = False
                await self._ingest(tracked, raw)
                return tracked.report
        return None

    def _lookup_params(self, cid: str, trigger: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            CLIENT_ID_LOOKUP_PARAM.get(self.config.exchange, DEFAULT_CLIENT_ID_PARAM): cid
        }
        if trigger and self.config.market_type == "swap":
            params["trigger"] = True
        return params

    async def _lookup(self, symbol: str, cid: str, *, trigger: bool = False) -> dict | None:
        """The ccxt order with client order id ``cid``, or None when the exchange has none."""
        import ccxt

        exchange = self._ex()
        params = {**FETCH_ORDER_PARAMS.get(self.config.exchange, {})}
        params.update(self._lookup_params(cid, trigger))
        methods = LOOKUP_BY_LIST.get(self.config.exchange)
        if methods:
            return await self._scan(symbol, cid, methods, self._lookup_params(cid, trigger))
        try:
            raw = await exchange.fetch_order(None, symbol, params)
        except ccxt.OrderNotFound:
            return None
        except (ccxt.NotSupported, ccxt.ArgumentsRequired):
            return await self._scan(
                symbol, cid, ("fetch_open_orders", "fetch_closed_orders", "fetch_canceled_orders")
            )
        except ccxt.BaseError as exc:
            raise self._error(exc, f"fetch_order {cid}") from None
        if not raw or (raw.get("clientOrderId") not in (None, cid)):
            return None
        if not raw.get("clientOrderId"):
            raw = {**raw, "clientOrderId": cid}
        return dict(raw)

    async def _scan(
        self,
        symbol: str,
        cid: str,
        methods: Sequence[str],
        params: Mapping[str, Any] | None = None,
    ) -> dict | None:
        """Find ``cid`` among the orders the list ``methods`` return (exchanges whose
        fetch_order cannot take a client order id)."""
        import ccxt

        exchange = self._ex()
        for method in methods:
            if not exchange.has.get(_camel(method)):
                continue
            try:
                orders = await getattr(exchange, method)(symbol, None, None, dict(params or {}))
            except ccxt.BaseError as exc:
                raise self._error(exc, f"{method} (looking for {cid})") from None
            for raw in orders:
                if raw.get("clientOrderId") == cid:
                    return dict(raw)
        return None

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel by client order id; an order already done reports its final state."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("cancel_order")
        symbol = self._symbol(instrument)
        tracked = self._orders.get(client_order_id)
        if tracked is None:
            tracked = _Tracked(symbol=symbol)
        params = self._lookup_params(client_order_id, tracked.is_stop)
        try:
            with urgent_calls():
                raw = await exchange.cancel_order(None, symbol, params)
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
            # Refused before processing: the order manager sends it again after Retry-After.
            raise self._rate_limited_error(exc, f"cancel_order {client_order_id}") from None
        except ccxt.OrderNotFound as exc:
            found = await self._lookup(symbol, client_order_id, trigger=tracked.is_stop)
            if found is None:
                raise self._error(exc, f"cancel_order {client_order_id}") from None
            self._orders.setdefault(client_order_id, tracked)
            await self._ingest(tracked, found)
            assert tracked.report is not None
            return tracked.report
        except ccxt.BaseError as exc:
            raise self._error(exc, f"cancel_order {client_order_id}") from None
        self._orders.setdefault(client_order_id, tracked)
        raw = {**raw, "clientOrderId": client_order_id}
        if raw.get("status") in (None, "open"):
            # Bybit and OKX acknowledge a cancel with ids only: read the resulting state.
            found = await self._lookup(symbol, client_order_id, trigger=tracked.is_stop)
            if found is not None:
                raw = found
        await self._ingest(tracked, raw)
        report = tracked.report
        assert report is not None
        if not report.status.is_terminal:
            # Accepted by the exchange, not yet done: the final state follows as an update.
            return attrs.evolve(report, status=OrderStatus.CANCELLED)
        return report

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """The order's state, by client order id; None if the exchange never saw it."""
        self._ex()
        self._require_credentials("fetch_order")
        symbol = self._symbol(instrument)
        tracked = self._orders.get(client_order_id)
        raw = await self._lookup(
            symbol, client_order_id, trigger=tracked.is_stop if tracked else False
        )
        if raw is None:
            return None
        if tracked is None:
            tracked = self._orders.setdefault(client_order_id, _Tracked(symbol=symbol))
        tracked.unknown = False
        await self._ingest(tracked, raw)
        return tracked.report

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Every resting order of the traded markets (all markets when none is configured)."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("fetch_open_orders")
        raws: list[dict[str, Any]] = []
        try:
            if self._traded:
                for symbol in self._traded:
                    raws.extend(await exchange.fetch_open_orders(symbol))
            else:
                raws.extend(await exchange.fetch_open_orders())
        except ccxt.BaseError as exc:
            raise self._error(exc, "fetch_open_orders") from None
        out: list[OrderReport] = []
        assert self._index is not None
        for raw in raws:
            unified = str(raw.get("symbol") or "")
            cid = raw.get("clientOrderId")
            if unified not in self._index.markets or not cid:
                continue
            tracked = self._orders.setdefault(cid, _Tracked(symbol=unified))
            await self._ingest(tracked, raw)
            if tracked.report is not None and not tracked.report.status.is_terminal:
                out.append(tracked.report)
        return out

    async def fetch_positions(self) -> Sequence[Position]:
        """Every non-flat position of the traded markets (swap only; spot has none)."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("fetch_positions")
        if self.config.market_type == "spot":
            return await self._spot_holdings()
        if not exchange.has.get("fetchPositions"):
            return []
        try:
            raws = await exchange.fetch_positions(self._traded or None)
        except ccxt.BaseError as exc:
            raise self._error(exc, "fetch_positions") from None
        assert self._index is not None
        out = []
        for raw in raws:
            pos = CcxtPosition.from_ccxt(raw)
            if pos.symbol not in self._index.markets or not pos.contracts:
                continue
            market = self._market(pos.symbol)
            out.append(pos.to_domain(self._key(pos.symbol), contract_size(market)))
        return out

    async def _spot_holdings(self) -> list[Position]:
        """Spot positions: the balance of each traded market's base asset (a spot venue knows
        no entry price: ``avg_price`` is 0)."""
        assert self._index is not None
        balances = await self.fetch_balances()
        out = []
        for symbol in self._traded:
            market = self._market(symbol)
            held = balances.get(str(market.get("base") or ""), Decimal(0))
            if held:
                out.append(Position(instrument=self._key(symbol), quantity=held))
        return out

    async def fetch_funding_payments(self, instrument: str) -> Sequence[FundingPayment]:
        """Capability ``"funding:history"`` (perpetuals): the funding the account settled on
        ``instrument`` (ccxt's ``fetch_funding_history``; Binance USD-M: ``/fapi/v1/income``
        with ``incomeType=FUNDING_FEE``), oldest first. The venue's income record carries the
        amount only: ``rate``, ``mark_price`` and ``quantity`` are 0 (not reported)."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("fetch_funding_payments")
        symbol = self._symbol(instrument)
        try:
            raws = await exchange.fetch_funding_history(symbol)
        except ccxt.BaseError as exc:
            raise self._error(exc, f"fetch_funding_history({symbol})") from None
        out = []
        for raw in raws:
            amount = to_decimal(raw.get("amount"))
            ts = raw.get("timestamp")
            if amount is None or ts is None:
                raise VenueError(
                    f"venue '{self.instance}': fetch_funding_history({symbol}) returned a row "
                    f"without amount or timestamp: {raw.get('info')!r}"
                )
            out.append(
                FundingPayment(
                    ts_ns=int(ts) * 1_000_000,
                    instrument=self._key(symbol),
                    rate=Decimal(0),
                    mark_price=Decimal(0),
                    quantity=Decimal(0),
                    amount=-amount,  # the venue's income: > 0 received
                )
            )
        return sorted(out, key=lambda p: p.ts_ns)

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` of a traded market (quote = settlement currency of a contract)."""
        self._ex()
        market = self._market(self._symbol(symbol))
        return str(market.get("base") or ""), str(market.get("settle") or market.get("quote"))

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> None:
        """Track an order this host sent before a restart; ``fills`` are the fills already
        booked for it, so only later executions reach the sink."""
        symbol = self._symbol(order.instrument)
        tracked = self._orders.get(order.client_order_id)
        if tracked is None:
            tracked = self._orders[order.client_order_id] = _Tracked(symbol=symbol)
        tracked.order = order
        tracked.filled = sum((f.quantity for f in fills), Decimal(0))
        tracked.cost = sum((f.quantity * f.price for f in fills), Decimal(0))
        tracked.trade_ids = {f.trade_id for f in fills if f.trade_id}
        tracked.report = None  # the next lookup reports the state as the venue has it

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """Every execution of an order, by client order id (from the exchange's trade list,
        or one fill derived from the order's filled quantity and average price)."""
        self._ex()
        self._require_credentials("fetch_fills")
        symbol = self._symbol(instrument)
        raw = await self._lookup(symbol, client_order_id)
        if raw is None:
            return []
        market = self._market(symbol)
        co = CcxtOrder.from_ccxt(raw, contract_size(market))
        if co.filled <= 0:
            return []
        side = Side.BUY if co.side == "buy" else Side.SELL
        order = Order(
            client_order_id=client_order_id,
            instrument=self._key(symbol),
            side=side,
            type=OrderType.MARKET,
            quantity=co.amount or co.filled,
        )
        probe = _Tracked(symbol=symbol, order=order, venue_order_id=co.id)
        out: list[Fill] = []
        if not await self._deliver_fills(probe, co, emit=out.append):
            raise VenueUnavailableError(
                f"venue '{self.instance}': the trades of order {client_order_id} cannot be "
                "read now (a transient error); ask again"
            )
        return out

    async def fetch_account_trades(self, instrument: str, since_ns: int) -> Sequence[Fill]:
        """Capability ``"trades:account"``: the account's executions in ``instrument`` at or
        after ``since_ns`` (``fetch_my_trades``), oldest first, each booked to its order's
        client order id — read from the account's orders (``fetch_orders`` since a minute
        before, then ``fetch_order`` by venue id for an order older than that); an order the
        exchange knows no client id of goes by ``venue-<order id>``."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("fetch_account_trades")
        symbol = self._symbol(instrument)
        since_ms = max(0, since_ns // 1_000_000)
        market = self._market(symbol)
        size = contract_size(market)
        try:
            # since 0: no start time (an exchange bounds a start-to-end window, e.g. 24 h)
            raws = await exchange.fetch_my_trades(symbol, since_ms or None)
            trades = sorted(
                (CcxtTrade.from_ccxt(t, size) for t in raws),
                key=lambda t: (t.timestamp_ms or 0, t.id),
            )
            trades = [t for t in trades if (t.timestamp_ms or 0) >= since_ms]
            client_ids: dict[str, str] = {}
            if trades and exchange.has.get("fetchOrders"):
                for raw in await exchange.fetch_orders(symbol, max(0, since_ms - 60_000)):
                    if raw.get("id") and raw.get("clientOrderId"):
                        client_ids[str(raw["id"])] = str(raw["clientOrderId"])
            for oid in {t.order_id for t in trades if t.order_id and t.order_id not in client_ids}:
                raw = await exchange.fetch_order(oid, symbol)
                if raw and raw.get("clientOrderId"):
                    client_ids[oid] = str(raw["clientOrderId"])
        except ccxt.BaseError as exc:
            raise self._error(exc, f"fetch_account_trades {instrument}") from None
        inst = self._index.instruments([symbol], exchange.precisionMode)[0]  # type: ignore[union-attr]
        quote = str(market.get("settle") or market.get("quote") or "")
        base = str(market.get("base") or "")
        return [
            t.to_domain(
                instrument=inst.key,
                client_order_id=client_ids.get(t.order_id) or f"venue-{t.order_id}",
                base=base,
                quote=quote,
                maker_fee=inst.maker_fee,
                taker_fee=inst.taker_fee,
                fallback_ts_ns=self._now(),
            )
            for t in trades
        ]

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """Total balance per asset (zero balances left out)."""
        import ccxt

        exchange = self._ex()
        self._require_credentials("fetch_balances")
        try:
            raw = await exchange.fetch_balance()
        except ccxt.BaseError as exc:
            raise self._error(exc, "fetch_balances") from None
        out = balances_to_domain(raw)
        wallet = WALLET_BALANCE.get(self.config.exchange)
        info = raw.get("info")
        if wallet is not None and isinstance(info, Mapping):
            # ccxt's total of a derivatives account includes the open positions' unrealised
            # P&L (Binance's marginBalance); the host values positions itself, at its own
            # marks, so the account holds the wallet balance.
            rows, key, field = wallet
            for row in info.get(rows) or ():
                amount = to_decimal(row.get(field))
                if amount is not None and row.get(key):
                    if amount:
                        out[str(row[key])] = amount
                    else:
                        out.pop(str(row[key]), None)
        return out

    async def fetch_funding_rate(self, symbol: str) -> FundingRate:
        """The current funding rate of a perpetual (market id, unified symbol or key)."""
        import ccxt

        exchange = self._ex()
        unified = self._symbol(symbol)
        if not self._market(unified).get("swap"):
            raise VenueError(f"venue '{self.instance}': {symbol} is not a perpetual")
        try:
            raw = await exchange.fetch_funding_rate(unified)
        except ccxt.BaseError as exc:
            raise self._error(exc, f"fetch_funding_rate {symbol}") from None
        return FundingRate.from_ccxt(raw, self._key(unified))

    # -- order updates --------------------------------------------------------------------
    def _emit_report(self, report: OrderReport) -> None:
        if self._sink is not None:
            self._sink.on_report(report)

    def _emit_fill(self, fill: Fill) -> None:
        if self._sink is not None:
            self._sink.on_fill(fill)

    async def _ingest(self, tracked: _Tracked, raw: Mapping[str, Any]) -> OrderReport:
        """Fold a ccxt order into what is known; deliver new fills, then a changed state; the
        report ``raw`` makes. A report of an earlier stage than the known one with no more
        filled (a create's answer that arrives after the websocket's update of the order's
        end) is late: it changes nothing and is not delivered."""
        market = self._market(tracked.symbol)
        co = CcxtOrder.from_ccxt(raw, contract_size(market))
        cid = co.client_order_id or (
            tracked.order.client_order_id if tracked.order is not None else ""
        )
        if co.id:
            tracked.venue_order_id = co.id
        report = co.to_domain(self._key(tracked.symbol), cid, self._now())
        ours = tracked.order is not None
        if ours and co.filled > tracked.filled:
            if not await self._deliver_fills(tracked, co):
                # The order's trades could not be read for now (a transient error): its new
                # state is not taken in, so the next poll looks it up and reads them again;
                # no fill is made up from the order (the real trade would be booked later
                # as well). The caller (a create's answer) still gets the report.
                return report
        elif not ours:
            tracked.filled = max(tracked.filled, co.filled)
        before = tracked.report
        if (
            before is not None
            and _stage(report.status) < _stage(before.status)
            and report.filled_quantity <= before.filled_quantity
        ):
            return report  # late: the order has moved on
        tracked.report = report
        if ours and (
            before is None
            or before.status is not report.status
            or before.filled_quantity != report.filled_quantity
        ):
            self._emit_report(report)
        return report

    async def _deliver_fills(
        self, tracked: _Tracked, co: CcxtOrder, emit: Callable[[Fill], None] | None = None
    ) -> bool:
        """Deliver the fills of ``co`` not delivered yet, from the order's trades; from the
        order itself only where the exchange cannot list them. False (nothing delivered)
        when listing them failed transiently: they are read at the next look-up."""
        assert tracked.order is not None
        emit = emit or self._emit_fill
        exchange = self._ex()
        market = self._market(tracked.symbol)
        inst = self._index.instruments([tracked.symbol], exchange.precisionMode)[0]  # type: ignore[union-attr]
        quote = str(market.get("settle") or market.get("quote") or "")
        base = str(market.get("base") or "")
        if not tracked.synthetic and tracked.venue_order_id:
            trades = await self._order_trades(tracked)
            if trades is _LATER:
                return False
            if trades is not None:
                size = contract_size(market)
                parsed = sorted(
                    (CcxtTrade.from_ccxt(t, size) for t in trades),
                    key=lambda t: (t.timestamp_ms or 0, t.id),
                )
                for trade in parsed:
                    if trade.id in tracked.trade_ids or (
                        trade.order_id and trade.order_id != tracked.venue_order_id
                    ):
                        continue
                    tracked.trade_ids.add(trade.id)
                    fill = trade.to_domain(
                        instrument=inst.key,
                        client_order_id=tracked.order.client_order_id,
                        base=base,
                        quote=quote,
                        maker_fee=inst.maker_fee,
                        taker_fee=inst.taker_fee,
                        fallback_ts_ns=self._now(),
                    )
                    tracked.filled += fill.quantity
                    tracked.cost += fill.quantity * fill.price
                    emit(fill)
                if tracked.filled >= co.filled or not co.domain_status().is_terminal:
                    return True
        # No trade list (or it lags behind a finished order): derive the fill from the order.
        delta = co.filled - tracked.filled
        if delta <= 0:
            return True
        avg = co.average
        price = (
            (avg * co.filled - tracked.cost) / delta if avg is not None else tracked.order.price
        ) or Decimal(0)
        price = inst.round_price(price) if price else price
        tracked.synthetic = True
        tracked.filled += delta
        tracked.cost += delta * price
        emit(
            Fill(
                client_order_id=tracked.order.client_order_id,
                instrument=inst.key,
                side=tracked.order.side,
                quantity=delta,
                price=price,
                fee=delta * price * inst.taker_fee,
                ts_ns=(co.timestamp_ms or 0) * 1_000_000 or self._now(),
                liquidity="taker",
                trade_id=f"{tracked.venue_order_id}-{len(tracked.trade_ids) + 1}",
                fee_currency=quote,
            )
        )
        tracked.trade_ids.add(f"synthetic-{len(tracked.trade_ids) + 1}")
        return True

    async def _order_trades(self, tracked: _Tracked) -> list[dict[str, Any]] | None:
        """The executions of a tracked order, None when the exchange cannot list them, or
        :data:`_LATER` when listing them failed for now (a network error, a timeout, HTTP
        5xx, a rate limit, an answer that cannot be read, Binance's -1001 "internal error":
        ccxt's ``OperationFailed``)."""
        import ccxt

        exchange = self._ex()
        cid = tracked.order.client_order_id if tracked.order is not None else ""
        try:
            if self._trades_method == "order" and exchange.has.get("fetchOrderTrades"):
                try:
                    return list(
                        await exchange.fetch_order_trades(tracked.venue_order_id, tracked.symbol)
                    )
                except ccxt.NotSupported:
                    # e.g. Binance futures: the account's trade list filtered by order id.
                    self._trades_method = "account"
            if self._trades_method == "account" and exchange.has.get("fetchMyTrades"):
                params = {}
                key = MY_TRADES_ORDER_PARAM.get(self.config.exchange)
                if key:
                    params[key] = tracked.venue_order_id
                raws = await exchange.fetch_my_trades(tracked.symbol, None, None, params)
                return [t for t in raws if str(t.get("order")) == tracked.venue_order_id]
        except ccxt.OperationFailed as exc:  # NetworkError, a bad response, Binance's -1001
            self._rate_limited(exc)  # a 429 / 418: every request waits its Retry-After
            log.warning(
                "venue %s: trades of %s unavailable for now (%s); read at the next look-up",
                self.instance,
                cid,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            return _LATER
        except ccxt.BaseError as exc:
            log.warning(
                "venue %s: trades of %s unavailable (%s); fills derived from the order",
                self.instance,
                cid,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            return None
        self._trades_method = "none"
        return None

    def _trade_stream_problem(self, exc: BaseException, what: str) -> None:
        """A symbol's public trade stream failed (reported once per outage; it retries)."""
        err = self._error(exc, what)
        log.warning("venue %s: public trades interrupted: %s", self.instance, err)
        if self._sink is not None:
            self._sink.on_event(
                ConnectionLost(
                    ts_ns=self._now(), venue=self.instance, reason=self._redact(str(err))
                )
            )

    def _connection_problem(self, exc: BaseException) -> None:
        if self._lost:
            return
        self._lost = True
        log.warning("venue %s: order updates interrupted: %s", self.instance, exc)
        if self._sink is not None:
            self._sink.on_event(
                ConnectionLost(
                    ts_ns=self._now(), venue=self.instance, reason=self._redact(str(exc))
                )
            )

    async def poll_once(self) -> None:
        """Look up every order not yet terminal and deliver what changed (one polling round)."""
        for cid, tracked in list(self._orders.items()):
            if tracked.order is None or tracked.unknown:
                continue
            if tracked.report is not None and tracked.report.status.is_terminal:
                continue
            try:
                raw = await self._lookup(tracked.symbol, cid, trigger=tracked.is_stop)
            except VenueError as exc:
                self._connection_problem(exc)
                return
            self._lost = False
            if raw is not None:
                await self._ingest(tracked, raw)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep polling: a bad round must not end updates
                self._connection_problem(exc)

    async def _watch_loop(self) -> None:
        import ccxt

        exchange = self._ex()
        while True:
            try:
                raws = await exchange.watch_orders()
            except asyncio.CancelledError:
                raise
            except ccxt.BaseError as exc:
                self._connection_problem(self._error(exc, "watch_orders"))
                await asyncio.sleep(self.config.poll_interval_s)
                with contextlib.suppress(Exception):
                    await self.poll_once()  # catch up on what the stream missed
                continue
            self._lost = False
            for raw in raws:
                tracked = self._orders.get(raw.get("clientOrderId") or "")
                if tracked is None or tracked.order is None:
                    continue
                if raw.get("symbol") != tracked.symbol:
                    continue
                try:
                    await self._ingest(tracked, raw)
                except Exception as exc:  # a bad message must not end the stream
                    self._connection_problem(exc)


def _pin_error_table(exchange: Any, market_types: Sequence[str]) -> None:
    """Make the market type's error codes apply whatever the URL.

    Some ccxt exchanges (the Binance family) choose the error-code table by the request's
    hostname (``fapi.binance.com`` → the ``linear`` table). Behind ``api_host``/``api_urls``
    that choice falls through to the generic table, where e.g. Binance futures' ``-2019
    Margin is insufficient`` is a plain ExchangeError instead of InsufficientFunds. One
    instance trades one market type, so its table is merged into the generic one.
    """
    tables = exchange.exceptions if isinstance(exchange.exceptions, dict) else {}
    for market_type in market_types:
        specific = tables.get(market_type)
        if not isinstance(specific, dict):
            continue
        for kind in ("exact", "broad"):
            if isinstance(specific.get(kind), dict):
                tables[kind] = {**tables.get(kind, {}), **specific[kind]}


def _stage(status: OrderStatus) -> int:
    """How far along its life an order in ``status`` is (every end state is the last)."""
    if status.is_terminal:
        return 3
    return {OrderStatus.NEW: 0, OrderStatus.ACCEPTED: 1}.get(status, 2)


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), if present."""
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _is_ccxt_error(exc: BaseException) -> bool:
    import ccxt

    return isinstance(exc, ccxt.BaseError)


def _pro_module() -> Any:
    try:
        import ccxt.pro as pro
    except ImportError:  # pragma: no cover - ccxt ships ccxt.pro since 4.0
        return None
    return pro
