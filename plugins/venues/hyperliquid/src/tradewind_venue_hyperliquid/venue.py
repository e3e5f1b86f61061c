"""The Hyperliquid venue: perp market data and execution through hyperliquid-python-sdk.

How it talks to the exchange:

- **Reads** (``POST /info``) go through the SDK's ``Info`` (built with ``skip_ws=True`` and the
  ``meta`` fetched once, so it makes no start-up calls of its own).
- **Actions** (``POST /exchange``) are built and signed with the SDK's own helpers
  (``order_request_to_order_wire``, ``order_wires_to_order_action``, ``sign_l1_action``),
  exactly as ``Exchange.bulk_orders`` does, with two differences: the chain signed for is the
  configured ``network`` (the SDK's ``Exchange`` infers it from the URL), and every action
  carries ``expiresAfter``, which bounds how long a timed-out order's fate can stay unknown.
- The SDK is blocking (requests): every call runs in a worker thread
  (``anyio.to_thread.run_sync``), never on the event loop.
- **Streams** (trades, books, the account's fills and order updates) use aiohttp websockets
  on the SDK's ``/ws`` endpoint with the same subscription messages, reconnecting with
  backoff and reporting each drop as a ``ConnectionLost`` event.

Client order ids: Hyperliquid's ``cloid`` is 16 bytes. The core's ``client_order_id`` string is
mapped to ``0x`` + BLAKE2b-128(client_order_id, person=b"tradewind-cloid"), so the same id
always names the same exchange order, across restarts too (:func:`cloid_for`).

Idempotency: a client order id this venue has seen is never sent twice. When a submission's
HTTP request fails in a way that may have reached the exchange (timeout, dropped connection,
5xx), the venue looks the order up by cloid before anything else, and keeps looking until the
action's ``expiresAfter`` (plus ``clock_skew_s``) has passed: found means placed, still
unknown after that means never placed (the exchange refuses an expired action).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import aiohttp
import anyio
import attrs
import eth_account
import requests
import urllib3.exceptions
from hyperliquid.api import API
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError, ServerError
from hyperliquid.utils.signing import (
    order_request_to_order_wire,
    order_wires_to_order_action,
    sign_l1_action,
)
from hyperliquid.utils.types import Cloid
from tradewind.errors import (
    ConfigError,
    DataError,
    VenueError,
    VenueTimeoutError,
    VenueUnavailableError,
)
from tradewind.model import (
    ConnectionLost,
    Event,
    Fill,
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

from tradewind_venue_hyperliquid.config import HyperliquidConfig
from tradewind_venue_hyperliquid.constants import (
    MIN_ORDER_NOTIONAL_USD,
    QUOTE_CURRENCY,
    TIF_ALO,
    TIF_GTC,
    TIF_IOC,
    UNKNOWN_SIGNER_MARKERS,
    WS_PING_INTERVAL_S,
)
from tradewind_venue_hyperliquid.providers import (
    InstrumentProvider,
    PerpAsset,
    lot_size,
    price_error,
    round_price,
    size_error,
)
from tradewind_venue_hyperliquid.schemas import (
    ClearinghouseState,
    ExchangeResponse,
    FundingPayload,
    FundingRate,
    L2BookPayload,
    OrderBook,
    OrderPayload,
    OrderStatusPayload,
    PerpMeta,
    PlacementStatus,
    UserFillPayload,
    mids_from_json,
    trades_to_batch,
)

log = logging.getLogger("tradewind.venues.hyperliquid")

T = TypeVar("T")

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_EMPTY_SPOT_META: dict[str, list[Any]] = {"universe": [], "tokens": []}
_SEEN_FILLS_KEPT = 50_000


def cloid_for(client_order_id: str) -> Cloid:
    """The 16-byte Hyperliquid cloid for a tradewind client order id (deterministic)."""
    digest = hashlib.blake2b(client_order_id.encode(), digest_size=16, person=b"tradewind-cloid")
    return Cloid("0x" + digest.hexdigest())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _OutcomeUnknownError(Exception):
    """An action's request failed after it may have reached the exchange."""


@attrs.define
class _Tracked:
    """An order this venue sent (or tried to): what it needs to resolve and report it."""

    order: Order
    coin: str
    cloid: str
    resting: bool
    oid: int | None = None
    sent_ms: int = 0
    expires_ms: int = 0
    report: OrderReport | None = None
    unresolved: str = ""  # why the outcome is unknown, while it is


class _RecentIds:
    """A bounded set of recently seen ids (fills, trades) for de-duplication."""

    def __init__(self, keep: int = _SEEN_FILLS_KEPT) -> None:
        self._set: set[int | str] = set()
        self._queue: deque[int | str] = deque()
        self._keep = keep

    def add(self, value: int | str) -> bool:
        """Remember ``value``; False if it was already there."""
        if value in self._set:
            return False
        self._set.add(value)
        self._queue.append(value)
        if len(self._queue) > self._keep:
            self._set.discard(self._queue.popleft())
        return True


class HyperliquidVenue:
    """Hyperliquid perps: trades, books, mids and funding; limit, IoC-market, ALO, reduce-only."""

    name: ClassVar[str] = "hyperliquid"
    config_class: ClassVar[type] = HyperliquidConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "data",
            "execution",
            "order:market",
            "order:limit",
            "tif:gtc",
            "tif:ioc",
            "tif:post_only",
            "reduce_only",
            "account",
            "orders:resume",
            "fills:history",
        }
    )

    def __init__(
        self,
        config: HyperliquidConfig,
        instance: str = "hyperliquid",
        instruments: Sequence[Instrument] = (),
    ) -> None:
        self.config = config
        self.instance = instance
        self._added: list[Instrument] = list(instruments)
        self._info: Info | None = None
        self._api: API | None = None
        self._wallet: Any = None  # eth_account LocalAccount; holds the key, never printed
        self._account: str | None = None
        self._provider: InstrumentProvider | None = None
        self._instruments: dict[str, Instrument] = {}
        self._coin_of: dict[str, str] = {}
        self._key_of: dict[str, str] = {}
        self._orders: dict[str, _Tracked] = {}
        self._cid_by_cloid: dict[str, str] = {}
        self._cid_by_oid: dict[int, str] = {}
        self._last: dict[str, tuple[OrderStatus, Decimal]] = {}
        self._seen_fills = _RecentIds()
        self._session_start_ms = 0
        self._fill_cursor_ms = 0
        self._sink: EventSink | None = None
        self._nonce = 0
        self._connected = False
        self._closed = False
        self._http: aiohttp.ClientSession | None = None
        self._user_task: asyncio.Task[None] | None = None
        self._user_ready: asyncio.Event | None = None
        self._resumes: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"HyperliquidVenue(instance={self.instance!r}, network={self.config.network!r}, "
            f"url={self.config.api_url!r}, account={self._account!r})"
        )

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return f"venue '{self.instance}' (hyperliquid, {self.config.network})"

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Declare the host config's instruments on this venue (their symbols are coins)."""
        self._added.extend(instruments)

    def set_sink(self, sink: EventSink) -> None:
        """Where order reports, fills and feed events go."""
        self._sink = sink

    @property
    def account_address(self) -> str | None:
        """The account traded and queried (lower-case hex), once connected."""
        return self._account

    async def connect(self) -> None:
        """Load meta and mids, build the instruments, set leverage, start the user stream."""
        if self._connected:
            return
        cfg = self.config
        self._closed = False
        self._load_credentials()
        bootstrap = API(cfg.api_url, cfg.request_timeout_s)
        try:
            meta_raw = await self._call("meta", bootstrap.post, "/info", {"type": "meta"})
        finally:
            bootstrap.session.close()
        meta = PerpMeta.from_json(meta_raw)
        self._provider = InstrumentProvider(meta)
        self._info = Info(
            base_url=cfg.api_url,
            skip_ws=True,
            meta=meta_raw,
            spot_meta=_EMPTY_SPOT_META,  # type: ignore[arg-type]
            timeout=cfg.request_timeout_s,
        )
        self._api = API(cfg.api_url, cfg.request_timeout_s)
        coins = self._coins()
        mids = await self.mids_by_coin()
        for inst in self._provider.instruments(
            self.instance, coins, mids, maker_fee=cfg.maker_fee, taker_fee=cfg.taker_fee
        ):
            self._instruments[inst.key] = inst
            self._coin_of[inst.key] = inst.symbol
            self._key_of[inst.symbol] = inst.key
        self._check_added_instruments()
        self._session_start_ms = _now_ms()
        self._fill_cursor_ms = self._session_start_ms - int(cfg.clock_skew_s * 1000)
        self._connected = True
        log.info(
            "%s connected to %s: %d instruments, account %s",
            self._where,
            cfg.api_url,
            len(self._instruments),
            self._account or "none (market data only)",
        )
        if self._wallet is not None:
            for coin, lev in cfg.leverage.items():
                await self.set_leverage(coin, lev)
        if cfg.user_stream and self._account is not None:
            self._user_ready = asyncio.Event()
            self._user_task = asyncio.get_running_loop().create_task(self._run_user_stream())
            # Trading starts once the stream listens, so no update falls between the two;
            # a stream that is slow to come up is caught up when it does.
            with anyio.move_on_after(cfg.request_timeout_s):
                await self._user_ready.wait()

    async def close(self) -> None:
        """Stop the streams and release every connection; idempotent."""
        self._closed = True
        self._connected = False
        task, self._user_task = self._user_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        for api in (self._info, self._api):
            if api is not None:
                api.session.close()

    def _load_credentials(self) -> None:
        cfg = self.config
        if cfg.private_key is not None:
            try:
                self._wallet = eth_account.Account.from_key(cfg.private_key.reveal())
            except ConfigError:
                raise
            except Exception:
                # The cause is dropped on purpose: it could quote the value.
                raise ConfigError(
                    f"{self._where}: private_key ({cfg.private_key}) is not a valid "
                    f"secp256k1 private key (64 hex digits, optionally 0x-prefixed)"
                ) from None
        if cfg.account_address is not None:
            address = cfg.account_address.reveal().strip()
            if not _ADDRESS.match(address):
                raise ConfigError(
                    f"{self._where}: account_address ({cfg.account_address}) is not a "
                    f"0x-prefixed 40-hex-digit address"
                )
            self._account = address.lower()
        elif self._wallet is not None:
            self._account = self._wallet.address.lower()

    def _coins(self) -> list[str]:
        assert self._provider is not None
        cfg = self.config
        # Every instrument the host gives this venue, traded here or only fed from here (a
        # paper run: data from Hyperliquid, execution simulated).
        added = [i.symbol for i in self._added]
        if not cfg.symbols and not added:
            return list(self._provider.assets)
        named = [
            *((c, f"$.venues.{self.instance}.symbols") for c in cfg.symbols),
            *((c, "$.instruments[*].symbol") for c in added),
            *((c, f"$.venues.{self.instance}.leverage") for c in cfg.leverage),
        ]
        for coin, where in named:
            try:
                self._provider.asset(coin)
            except KeyError as exc:
                raise ConfigError(f"{self._where}: {exc.args[0]} @ {where}") from None
        # The coins named by symbols, then those only the host's instruments name.
        return list(dict.fromkeys([*cfg.symbols, *added]))

    def _check_added_instruments(self) -> None:
        assert self._provider is not None
        for inst in self._added:
            if inst.venue != self.instance or inst.symbol not in self._key_of:
                continue
            lot = lot_size(self._provider.asset(inst.symbol).sz_decimals)
            if inst.lot_size % lot:
                raise ConfigError(
                    f"{self._where}: instrument {inst.key} has lot_size {inst.lot_size}, finer "
                    f"than Hyperliquid's {lot} for {inst.symbol}; use a multiple of {lot}"
                )
        for coin, lev in self.config.leverage.items():
            asset = self._provider.asset(coin)
            if lev > asset.max_leverage:
                raise ConfigError(
                    f"{self._where}: leverage {lev} for {coin} is above its maximum "
                    f"{asset.max_leverage} @ $.venues.{self.instance}.leverage.{coin}"
                )
            if asset.only_isolated and self.config.margin_mode == "cross":
                raise ConfigError(
                    f"{self._where}: {coin} trades with isolated margin only; set "
                    f'margin_mode = "isolated" @ $.venues.{self.instance}.margin_mode'
                )

    # -- plumbing ---------------------------------------------------------------------------
    async def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking SDK call in a worker thread, mapping its failures to VenueErrors."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args))
        except requests.Timeout as exc:
            raise VenueTimeoutError(
                f"{self._where}: {what} timed out after {self.config.request_timeout_s}s"
            ) from exc
        except requests.ConnectionError as exc:
            raise VenueUnavailableError(
                f"{self._where}: {what} failed: cannot reach {self.config.api_url}: {exc}"
            ) from exc
        except ClientError as exc:
            if exc.status_code == 429:
                raise VenueUnavailableError(
                    f"{self._where}: {what} refused: rate limited (HTTP 429)"
                ) from exc
            raise VenueError(
                f"{self._where}: {what} refused: HTTP {exc.status_code}: {exc.error_message}"
            ) from exc
        except ServerError as exc:
            raise VenueUnavailableError(
                f"{self._where}: {what} failed: HTTP {exc.status_code}: {exc.message}"
            ) from exc

    def _info_api(self) -> Info:
        if self._info is None:
            raise VenueError(f"{self._where}: not connected; call connect() first")
        return self._info

    def _require_account(self, what: str) -> str:
        if self._account is None:
            raise ConfigError(
                f'{self._where}: {what} needs an account: set private_key = "env:NAME" (or '
                f'account_address = "env:NAME" to read only) in [venues.{self.instance}]'
            )
        return self._account

    def _require_wallet(self, what: str) -> Any:
        if self._wallet is None:
            raise ConfigError(
                f'{self._where}: {what} needs a signing key: set private_key = "env:NAME" '
                f"in [venues.{self.instance}]"
            )
        if self._api is None:
            raise VenueError(f"{self._where}: not connected; call connect() first")
        return self._wallet

    def _next_nonce(self) -> int:
        # Nonces must be unique per signer; the SDK uses the bare millisecond clock.
        self._nonce = max(_now_ms(), self._nonce + 1)
        return self._nonce

    async def _post_action(
        self, what: str, action: dict[str, Any], tracked: _Tracked | None = None
    ) -> ExchangeResponse:
        """Sign ``action`` for the configured network and post it to ``/exchange``.

        Raises :class:`_OutcomeUnknownError` when the request may have reached the exchange
        without an answer (timeout, dropped connection, 5xx); VenueError when it surely did not
        or was refused.
        """
        wallet = self._require_wallet(what)
        assert self._api is not None
        nonce = self._next_nonce()
        expires = nonce + int(self.config.order_expiry_s * 1000)
        signature = sign_l1_action(wallet, action, None, nonce, expires, self.config.is_mainnet)
        payload = {
            "action": action,
            "nonce": nonce,
            "signature": signature,
            "vaultAddress": None,
            "expiresAfter": expires,
        }
        if tracked is not None:
            tracked.sent_ms, tracked.expires_ms = nonce, expires
        try:
            raw = await anyio.to_thread.run_sync(self._api.post, "/exchange", payload)
        except requests.ConnectionError as exc:
            reason = exc.args[0].reason if exc.args and hasattr(exc.args[0], "reason") else None
            if isinstance(exc, requests.ConnectTimeout) or isinstance(
                reason, urllib3.exceptions.ConnectTimeoutError
            ):
                raise VenueUnavailableError(
                    f"{self._where}: {what} not sent: cannot connect to {self.config.api_url}"
                ) from exc
            raise _OutcomeUnknownError(f"{what}: connection lost before the answer") from exc
        except requests.Timeout as exc:
            raise _OutcomeUnknownError(
                f"{what}: no answer within {self.config.request_timeout_s}s"
            ) from exc
        except ServerError as exc:
            raise _OutcomeUnknownError(f"{what}: HTTP {exc.status_code} from the API") from exc
        except ClientError as exc:
            raise VenueError(
                f"{self._where}: {what} refused: HTTP {exc.status_code}: {exc.error_message}"
            ) from exc
        response = ExchangeResponse.from_json(raw)
        if not response.ok:
            raise VenueError(self._refusal(what, response.error))
        return response

    def _refusal(self, what: str, error: str) -> str:
        msg = f"{self._where}: {what} refused by the exchange: {error}"
        if any(marker in error for marker in UNKNOWN_SIGNER_MARKERS):
            signer = self._wallet.address if self._wallet is not None else "?"
            msg += (
                f". The exchange does not know the signer {signer} (the address of "
                f"private_key {self.config.private_key}) for account {self._account} on "
                f"{self.config.network}: check network, private_key and account_address (an "
                f"API wallet must be approved by the account on this network)"
            )
        return msg

    def _emit_event(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.on_event(event)

    def _publish(self, report: OrderReport) -> None:
        """Send ``report`` to the sink if it changes what the sink knows; never go backwards."""
        state = (report.status, report.filled_quantity)
        prev = self._last.get(report.client_order_id)
        if prev == state:
            return
        if prev is not None and prev[0].is_terminal and not report.status.is_terminal:
            return
        if prev is not None and report.filled_quantity < prev[1]:
            return
        self._last[report.client_order_id] = state
        if self._sink is not None:
            self._sink.on_report(report)

    def _client_id(self, cloid: str | None, oid: int | None) -> str:
        if cloid is not None and cloid in self._cid_by_cloid:
            return self._cid_by_cloid[cloid]
        if oid is not None and oid in self._cid_by_oid:
            return self._cid_by_oid[oid]
        # An order this process did not send: its cloid, or its exchange id.
        return cloid if cloid is not None else f"hl-oid-{oid}"

    def _asset(self, instrument: str) -> PerpAsset:
        coin = self._coin_of.get(instrument)
        if coin is None or self._provider is None:
            have = ", ".join(sorted(self._instruments)) or "none (not connected)"
            raise VenueError(f"{self._where}: unknown instrument {instrument}; it has {have}")
        return self._provider.asset(coin)

    # -- market data ("data") ------------------------------------------------------------
    async def instruments(self) -> Sequence[Instrument]:
        """The perps this venue trades, quantised as Hyperliquid requires (see providers)."""
        if not self._connected:
            await self.connect()
        return list(self._instruments.values())

    async def mids_by_coin(self) -> dict[str, Decimal]:
        """``allMids``: every coin's mid price."""
        return mids_from_json(await self._call("allMids", self._info_api().all_mids))

    async def mids(self) -> dict[str, Decimal]:
        """Mid prices of this venue's instruments, by instrument key."""
        by_coin = await self.mids_by_coin()
        return {key: by_coin[coin] for key, coin in self._coin_of.items() if coin in by_coin}

    async def book(self, instrument: str) -> OrderBook:
        """``l2Book``: the depth snapshot of ``instrument`` (20 levels a side)."""
        coin = self._asset(instrument).coin
        raw = await self._call(f"l2Book {coin}", self._info_api().l2_snapshot, coin)
        return L2BookPayload.from_json(raw).to_domain(instrument)

    async def book_top(self, instrument: str) -> Any:
        """Best bid and offer of ``instrument`` (a BookTop)."""
        return (await self.book(instrument)).top()

    async def funding_history(
        self, instrument: str, start_ns: int, end_ns: int | None = None
    ) -> list[FundingRate]:
        """``fundingHistory``: the hourly funding rates of ``instrument`` in [start, end]."""
        coin = self._asset(instrument).coin
        start_ms = start_ns // 1_000_000
        end_ms = None if end_ns is None else end_ns // 1_000_000
        raw = await self._call(
            f"fundingHistory {coin}", self._info_api().funding_history, coin, start_ms, end_ms
        )
        return [FundingPayload.from_json(r).to_domain(instrument) for r in raw]

    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield each websocket ``trades`` message as a TickBatch (aggressor side).

        The first message after (re)subscribing repeats recent trades; trades already yielded
        (by trade id) or older than the last one yielded are dropped, so each instrument's
        batches stay in time order without duplicates across reconnects.
        """
        if not self._connected:
            await self.connect()
        keys = self._feed_keys(instruments)
        if not keys:
            raise DataError(f"{self._where}: stream_trades needs at least one instrument")
        seen = {coin: _RecentIds() for coin in keys}
        last_ts = dict.fromkeys(keys, -1)
        subs = [{"type": "trades", "coin": coin} for coin in keys]
        async for channel, data in self._ws_messages("trades", subs):
            if channel != "trades" or not data:
                continue
            coin = data[0].get("coin")
            if coin not in keys:
                continue
            floor_ms = last_ts[coin] // 1_000_000
            rows = [t for t in data if int(t["time"]) >= floor_ms and seen[coin].add(int(t["tid"]))]
            if not rows:
                continue
            batch = trades_to_batch(keys[coin], rows)
            last_ts[coin] = batch.last_ts
            yield batch

    async def stream_books(self, instruments: Sequence[Instrument]) -> AsyncIterator[OrderBook]:
        """Yield each websocket ``l2Book`` message as an OrderBook snapshot."""
        if not self._connected:
            await self.connect()
        keys = self._feed_keys(instruments)
        subs = [{"type": "l2Book", "coin": coin} for coin in keys]
        async for channel, data in self._ws_messages("l2Book", subs):
            if channel == "l2Book" and data and data.get("coin") in keys:
                yield L2BookPayload.from_json(data).to_domain(keys[data["coin"]])

    def _feed_keys(self, instruments: Sequence[Instrument]) -> dict[str, str]:
        """coin -> the caller's instrument key. The symbol is the coin, whichever venue the
        instrument executes on (in a paper run, the simulated one)."""
        assert self._provider is not None
        keys = {}
        for inst in instruments:
            try:
                keys[self._provider.asset(inst.symbol).coin] = inst.key
            except KeyError as exc:
                raise DataError(f"{self._where}: {inst.key}: {exc.args[0]}") from None
        return keys

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def _ws_messages(
        self,
        what: str,
        subscriptions: Sequence[Mapping[str, Any]],
        on_subscribed: Callable[[], Any] | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """(channel, data) of every message of ``subscriptions``, reconnecting until closed."""
        url = self.config.ws_url
        delay = self.config.reconnect_delay_s
        while not self._closed:
            reason = "closed by the server"
            try:
                async with self._session().ws_connect(
                    url, timeout=aiohttp.ClientWSTimeout(ws_close=5.0)
                ) as ws:
                    for sub in subscriptions:
                        await ws.send_json({"method": "subscribe", "subscription": dict(sub)})
                    if on_subscribed is not None:
                        await on_subscribed()
                    delay = self.config.reconnect_delay_s
                    last_ping = time.monotonic()
                    while True:
                        wait = max(0.05, WS_PING_INTERVAL_S - (time.monotonic() - last_ping))
                        try:
                            msg = await ws.receive(timeout=wait)
                        except TimeoutError:
                            await ws.send_json({"method": "ping"})
                            last_ping = time.monotonic()
                            continue
                        if msg.type is aiohttp.WSMsgType.TEXT:
                            try:
                                obj = json.loads(msg.data)
                            except ValueError:
                                continue  # "Websocket connection established."
                            if not isinstance(obj, dict):
                                continue
                            channel = obj.get("channel")
                            if channel in ("pong", "subscriptionResponse"):
                                continue
                            if channel == "error":
                                log.warning("%s websocket error: %s", self._where, obj.get("data"))
                                continue
                            yield str(channel), obj.get("data")
                            if time.monotonic() - last_ping > WS_PING_INTERVAL_S:
                                await ws.send_json({"method": "ping"})
                                last_ping = time.monotonic()
                        elif msg.type in (
                            aiohttp.WSMsgType.CLOSE,
                            aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.CLOSED,
                        ):
                            break
                        elif msg.type is aiohttp.WSMsgType.ERROR:
                            reason = f"error: {ws.exception()}"
                            break
            except (TimeoutError, aiohttp.ClientError, OSError, VenueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if self._closed:
                return
            log.warning(
                "%s %s websocket lost (%s); reconnecting in %ss", self._where, what, reason, delay
            )
            self._emit_event(
                ConnectionLost(
                    ts_ns=time.time_ns(),
                    venue=self.instance,
                    reason=f"{what} websocket {url}: {reason}; reconnecting in {delay}s",
                )
            )
            await anyio.sleep(delay)
            delay = min(delay * 2, self.config.max_reconnect_delay_s)

    # -- the account's fills and order updates ------------------------------------------
    async def _run_user_stream(self) -> None:
        account = self._account
        subs = [
            {"type": "orderUpdates", "user": account},
            {"type": "userFills", "user": account},
        ]
        async for channel, data in self._ws_messages("user", subs, self._catch_up_quietly):
            try:
                if channel == "orderUpdates":
                    for entry in data or ():
                        self._deliver_update(OrderStatusPayload.from_update(entry))
                elif channel in ("userFills", "user"):
                    for raw in (data or {}).get("fills") or ():
                        self._deliver_fill(UserFillPayload.from_json(raw))
            except (VenueError, KeyError, ValueError, ArithmeticError) as exc:
                log.error("%s: unreadable %s message: %s", self._where, channel, exc)

    async def _catch_up_quietly(self) -> None:
        """After each (re)subscription: what the stream may have missed, from REST."""
        try:
            await self._catch_up_fills()
            await self._catch_up_orders()
        except VenueError as exc:
            log.warning("%s: catch-up after subscribing failed: %s", self._where, exc)
        finally:
            if self._user_ready is not None:
                self._user_ready.set()

    async def _catch_up_orders(self) -> None:
        """Look up every order sent by this process that was last seen live."""
        for tracked in list(self._orders.values()):
            if tracked.report is None or tracked.report.status.is_terminal:
                continue
            status = await self._lookup(tracked.cloid)
            if status.order is not None:
                order = tracked.order
                tracked.report = status.order.to_domain(
                    order.client_order_id,
                    order.instrument,
                    status.status,
                    status.status_timestamp_ms,
                )
                self._publish(tracked.report)

    async def _catch_up_fills(self) -> None:
        """Deliver the account's fills since the cursor (REST), each once."""
        if self._account is None:
            return
        raw = await self._call(
            "userFillsByTime",
            self._info_api().user_fills_by_time,
            self._account,
            self._fill_cursor_ms,
        )
        fills = sorted((UserFillPayload.from_json(r) for r in raw), key=lambda f: f.time_ms)
        for fill in fills:
            self._deliver_fill(fill)

    def _deliver_fill(self, fill: UserFillPayload) -> None:
        key = self._key_of.get(fill.coin)
        if key is None:
            return
        ours = (fill.cloid is not None and fill.cloid in self._cid_by_cloid) or (
            fill.oid in self._cid_by_oid
        )
        # Fills of orders this process did not send count from the session's start only.
        if not ours and fill.time_ms < self._session_start_ms:
            return
        if not self._seen_fills.add(fill.identity):
            return
        # Moving the cursor back by the clock skew keeps late-stamped fills in the next catch-up.
        skew = int(self.config.clock_skew_s * 1000)
        self._fill_cursor_ms = max(self._fill_cursor_ms, fill.time_ms - skew)
        if self._sink is not None:
            self._sink.on_fill(fill.to_domain(self._client_id(fill.cloid, fill.oid), key))

    def _deliver_update(self, update: OrderStatusPayload) -> None:
        order = update.order
        if order is None:
            return
        key = self._key_of.get(order.coin)
        if key is None:
            return
        cid = self._client_id(order.cloid, order.oid)
        self._publish(order.to_domain(cid, key, update.status, update.status_timestamp_ms))

    # -- execution ("execution") ---------------------------------------------------------
    def _order_problem(self, order: Order, asset: PerpAsset | None) -> str:
        if asset is None:
            have = ", ".join(sorted(self._instruments))
            return f"unknown instrument {order.instrument} (this venue trades {have})"
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            return f"{order.type.value} orders are not supported by this venue yet"
        if order.time_in_force is TimeInForce.FOK:
            return "fill-or-kill is not available on Hyperliquid (Gtc, Ioc and Alo are)"
        if order.type is OrderType.MARKET and order.time_in_force is TimeInForce.POST_ONLY:
            return "a market order cannot be post-only"
        problem = size_error(order.quantity, asset.sz_decimals)
        if problem:
            return problem
        if order.type is OrderType.LIMIT:
            assert order.price is not None
            problem = price_error(order.price, asset.sz_decimals)
            if problem:
                return problem
            notional = order.price * order.quantity
            if not order.reduce_only and notional < MIN_ORDER_NOTIONAL_USD:
                return (
                    f"order value {notional} USDC is below Hyperliquid's minimum of "
                    f"{MIN_ORDER_NOTIONAL_USD}"
                )
        return ""

    async def _market_price(self, asset: PerpAsset, side: Side) -> Decimal:
        """The IoC limit that stands for a market order: mid × (1 ± slippage), inside it."""
        mids = await self.mids_by_coin()
        if asset.coin not in mids:
            raise VenueError(
                f"{self._where}: no mid price for {asset.coin}; cannot price a market order"
            )
        mid = mids[asset.coin]
        slip = self.config.market_slippage
        if side is Side.BUY:
            return round_price(mid * (1 + slip), asset.sz_decimals, up=False)
        return round_price(mid * (1 - slip), asset.sz_decimals, up=True)

    def _rejected(self, order: Order, reason: str) -> OrderReport:
        report = OrderReport(
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            status=OrderStatus.REJECTED,
            ts_ns=time.time_ns(),
            reason=reason,
        )
        self._publish(report)
        return report

    async def submit_order(self, order: Order) -> OrderReport:
        """Place ``order``; a client order id already seen returns its state, never a resend.

        Market orders are IoC limits at the slippage bound (``market_slippage``), post-only is
        ALO, reduce-only is passed through. Orders the exchange would refuse for their size,
        price or value are rejected here with the rule that failed.
        """
        self._require_wallet("submit_order")
        cid = order.client_order_id
        tracked = self._orders.get(cid)
        if tracked is not None:
            return await self._known_state(tracked)
        coin = self._coin_of.get(order.instrument)
        asset = None if coin is None else self._asset(order.instrument)
        problem = self._order_problem(order, asset)
        if problem:
            return self._rejected(order, problem)
        assert asset is not None
        return await self._send(order, asset)

    async def _send(self, order: Order, asset: PerpAsset) -> OrderReport:
        if order.type is OrderType.MARKET:
            tif = TIF_IOC
            price = await self._market_price(asset, order.side)
        else:
            assert order.price is not None
            price = order.price
            tif = {
                TimeInForce.GTC: TIF_GTC,
                TimeInForce.IOC: TIF_IOC,
                TimeInForce.POST_ONLY: TIF_ALO,
            }[order.time_in_force]
        cloid = cloid_for(order.client_order_id)
        wire = order_request_to_order_wire(
            {
                "coin": asset.coin,
                "is_buy": order.side is Side.BUY,
                "sz": float(order.quantity),
                "limit_px": float(price),
                "order_type": {"limit": {"tif": tif}},  # type: ignore[typeddict-item]
                "reduce_only": order.reduce_only,
                "cloid": cloid,
            },
            asset.asset,
        )
        action = order_wires_to_order_action([wire])
        tracked = _Tracked(
            order=order, coin=asset.coin, cloid=cloid.to_raw(), resting=tif != TIF_IOC
        )
        self._orders[order.client_order_id] = tracked
        self._cid_by_cloid[tracked.cloid] = order.client_order_id
        what = f"order {order.client_order_id} (cloid {tracked.cloid})"
        try:
            response = await self._post_action(what, action, tracked)
        except _OutcomeUnknownError as exc:
            tracked.unresolved = str(exc)
            log.warning("%s: %s; looking it up by cloid before anything else", self._where, exc)
            return await self._resolve(tracked)
        except VenueError:
            # Refused as a whole (signature, expiry, HTTP 4xx) or never sent: nothing placed.
            self._forget(tracked)
            raise
        if not response.statuses:
            self._forget(tracked)
            raise VenueError(f"{self._where}: {what}: the exchange answered without a status")
        placement = PlacementStatus.from_json(response.statuses[0])
        report = placement.to_domain(
            order.client_order_id, order.instrument, order.quantity, tracked.resting, time.time_ns()
        )
        return await self._settle(tracked, report)

    async def _settle(self, tracked: _Tracked, report: OrderReport) -> OrderReport:
        """Record a known state: fills first (from the exchange), then the report."""
        tracked.unresolved = ""
        tracked.report = report
        if report.venue_order_id:
            tracked.oid = int(report.venue_order_id)
            self._cid_by_oid[tracked.oid] = tracked.order.client_order_id
        if report.filled_quantity > 0:
            try:
                await self._catch_up_fills()
            except VenueError as exc:
                log.warning(
                    "%s: fills of %s not loaded yet: %s", self._where, report.client_order_id, exc
                )
        self._publish(report)
        return report

    def _forget(self, tracked: _Tracked) -> None:
        self._orders.pop(tracked.order.client_order_id, None)
        self._cid_by_cloid.pop(tracked.cloid, None)

    async def _lookup(self, cloid: str) -> OrderStatusPayload:
        account = self._require_account("an order lookup")
        raw = await self._call(
            f"orderStatus {cloid}", self._info_api().query_order_by_cloid, account, Cloid(cloid)
        )
        return OrderStatusPayload.from_json(raw)

    async def _resolve(self, tracked: _Tracked) -> OrderReport:
        """Find out whether an order whose request failed was placed: look it up by cloid.

        Found: its state. Unknown to the exchange once the action's ``expiresAfter`` plus
        ``clock_skew_s`` has passed: it was never placed (REJECTED, safe to send again).
        Lookups failing until then: VenueTimeoutError, and the order is kept unresolved so a
        later submit of the same id looks it up again instead of resending.
        """
        order = tracked.order
        deadline = tracked.expires_ms + int(self.config.clock_skew_s * 1000)
        lookup_error = ""
        while True:
            reachable = True
            try:
                status = await self._lookup(tracked.cloid)
            except VenueError as exc:
                reachable, lookup_error, status = False, str(exc), None
            if status is not None and status.order is not None:
                report = status.order.to_domain(
                    order.client_order_id,
                    order.instrument,
                    status.status,
                    status.status_timestamp_ms,
                )
                log.info(
                    "%s: %s found by cloid: %s",
                    self._where,
                    order.client_order_id,
                    report.status.value,
                )
                return await self._settle(tracked, report)
            if _now_ms() > deadline:
                if reachable:
                    self._forget(tracked)
                    return self._rejected(
                        order,
                        f"not placed: {tracked.unresolved}, and the exchange did not know cloid "
                        f"{tracked.cloid} after the action expired; safe to send again",
                    )
                raise VenueTimeoutError(
                    f"{self._where}: the outcome of order {order.client_order_id} (cloid "
                    f"{tracked.cloid}) is unknown: {tracked.unresolved}; lookups failed: "
                    f"{lookup_error}. It was not resent: submit it again (it is looked up "
                    f"first) or call fetch_order once the venue answers"
                )
            await anyio.sleep(self.config.lookup_interval_s)

    async def _known_state(self, tracked: _Tracked) -> OrderReport:
        """A resubmission: the exchange's state of the order (nothing is sent again)."""
        if tracked.unresolved:
            report = await self._resolve(tracked)
            if tracked.order.client_order_id not in self._orders:
                # Proven never placed: now the order may go.
                return await self._send(tracked.order, self._asset(tracked.order.instrument))
            return report
        assert tracked.report is not None
        if tracked.report.status is OrderStatus.REJECTED and not tracked.oid:
            return tracked.report
        try:
            status = await self._lookup(tracked.cloid)
        except VenueError:
            return tracked.report
        if status.order is None:
            return tracked.report
        order = tracked.order
        report = status.order.to_domain(
            order.client_order_id, order.instrument, status.status, status.status_timestamp_ms
        )
        tracked.report = report
        self._publish(report)
        return report

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel by cloid; answers the order's state after the cancel."""
        self._require_wallet("cancel_order")
        asset = self._asset(instrument)
        tracked = self._orders.get(client_order_id)
        cloid = tracked.cloid if tracked is not None else cloid_for(client_order_id).to_raw()
        action = {"type": "cancelByCloid", "cancels": [{"asset": asset.asset, "cloid": cloid}]}
        what = f"cancel {client_order_id} (cloid {cloid})"
        unknown = ""
        cancelled = False
        try:
            response = await self._post_action(what, action)
            first = response.statuses[0] if response.statuses else None
            cancelled = first == "success"
            error = first.get("error", "") if isinstance(first, dict) else ""
        except _OutcomeUnknownError as exc:
            unknown, error = str(exc), ""
        status = await self._lookup(cloid)
        if status.order is None:
            return OrderReport(
                client_order_id=client_order_id,
                instrument=instrument,
                status=OrderStatus.REJECTED,
                ts_ns=time.time_ns(),
                reason=f"unknown client order id ({error or 'the exchange has no such order'})",
            )
        self._cid_by_cloid.setdefault(cloid, client_order_id)
        report = status.order.to_domain(
            client_order_id, instrument, status.status, status.status_timestamp_ms
        )
        if cancelled and not report.status.is_terminal:
            # The cancel succeeded; the lookup raced it.
            report = attrs.evolve(report, status=OrderStatus.CANCELLED, reason="canceled")
        if unknown and not report.status.is_terminal:
            raise VenueTimeoutError(f"{self._where}: {what}: {unknown}; the order is still open")
        if tracked is not None:
            tracked.report = report
        self._publish(report)
        return report

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """The order's state by cloid; None if the exchange never saw it."""
        tracked = self._orders.get(client_order_id)
        cloid = tracked.cloid if tracked is not None else cloid_for(client_order_id).to_raw()
        status = await self._lookup(cloid)
        if status.order is None:
            return None
        return status.order.to_domain(
            client_order_id, instrument, status.status, status.status_timestamp_ms
        )

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Resting orders of this venue's instruments (``frontendOpenOrders``)."""
        account = self._require_account("fetch_open_orders")
        raw = await self._call("frontendOpenOrders", self._info_api().frontend_open_orders, account)
        out = []
        for entry in raw:
            order = OrderPayload.from_json(entry)
            key = self._key_of.get(order.coin)
            if key is not None:
                cid = self._client_id(order.cloid, order.oid)
                out.append(order.to_domain(cid, key, "open"))
        return out

    async def fetch_positions(self) -> Sequence[Position]:
        """Non-flat positions of this venue's instruments (``clearinghouseState``)."""
        state = await self._account_state()
        return state.to_positions(self._key_of)

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """The perp account's cash in USDC: ``accountValue`` less the open positions'
        unrealised P&L (which the host values itself at its own marks)."""
        state = await self._account_state()
        return {QUOTE_CURRENCY: state.account_value - state.unrealized_pnl}

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(coin, "USDC")``: every Hyperliquid perpetual settles in USDC."""
        coin = symbol.split(":")[-1]
        return coin, QUOTE_CURRENCY

    def resume_order(self, order: Order, fills: Sequence[Fill]) -> None:
        """Track an order sent before a restart (by its cloid), so its fills are ours: the
        fills not in ``fills`` since the order was created are fetched and delivered."""
        coin = order.instrument.split(":")[-1]
        cloid = cloid_for(order.client_order_id).to_raw()
        tracked = _Tracked(order=order, coin=coin, cloid=cloid, resting=True)
        self._orders[order.client_order_id] = tracked
        self._cid_by_cloid[cloid] = order.client_order_id
        for fill in fills:
            if fill.trade_id:
                self._seen_fills.add(fill.trade_id)
        skew = int(self.config.clock_skew_s * 1000)
        since = max(0, order.created_ts_ns // 1_000_000 - skew)
        self._fill_cursor_ms = min(self._fill_cursor_ms, since)
        if self._connected:
            task = asyncio.get_running_loop().create_task(self._catch_up_quietly())
            self._resumes.add(task)
            task.add_done_callback(self._resumes.discard)

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """Every fill of one order (by its cloid), from the account's fill history."""
        account = self._require_account("fetch_fills")
        cloid = cloid_for(client_order_id).to_raw()
        raw = await self._call("userFillsByTime", self._info_api().user_fills_by_time, account, 0)
        key = self._key_of.get(instrument.split(":")[-1], instrument)
        return [
            f.to_domain(client_order_id, key)
            for f in sorted((UserFillPayload.from_json(r) for r in raw), key=lambda f: f.time_ms)
            if f.cloid == cloid
        ]

    async def _account_state(self) -> ClearinghouseState:
        account = self._require_account("the account state")
        raw = await self._call("clearinghouseState", self._info_api().user_state, account)
        return ClearinghouseState.from_json(raw)

    async def set_leverage(self, symbol: str, leverage: int, *, cross: bool | None = None) -> None:
        """``updateLeverage`` for coin ``symbol`` (cross unless ``margin_mode`` says isolated)."""
        if self._provider is None:
            raise VenueError(f"{self._where}: not connected; call connect() first")
        try:
            asset = self._provider.asset(symbol)
        except KeyError as exc:
            raise VenueError(f"{self._where}: {exc.args[0]}") from None
        is_cross = self.config.margin_mode == "cross" if cross is None else cross
        action = {
            "type": "updateLeverage",
            "asset": asset.asset,
            "isCross": is_cross,
            "leverage": int(leverage),
        }
        what = f"leverage {leverage}x {'cross' if is_cross else 'isolated'} for {symbol}"
        try:
            await self._post_action(what, action)
        except _OutcomeUnknownError as exc:
            raise VenueTimeoutError(f"{self._where}: {exc}; setting it again is harmless") from exc
        log.info("%s: %s set", self._where, what)
