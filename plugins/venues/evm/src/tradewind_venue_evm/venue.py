"""The EVM DEX venue: pools as spot instruments, swaps as orders, Swap events as trades.

One order model with the CEX venues: a MARKET order is an exact-input swap whose
``amountOutMinimum`` comes from a fresh quote and the configured slippage bound; a LIMIT order
is refused unless ``emulate_limits`` is on, and then it rests here until the pool's own Swap
events cross its price, when it is sent as a swap whose minimum output enforces the limit.

Transactions go through one write-ahead path: sign, journal the hash and the raw bytes
(:class:`~tradewind_venue_evm.txjournal.TxJournal`, fsynced), then broadcast. Swaps are sent
one at a time (one nonce in flight), so a stuck transaction can always be replaced at its nonce.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, ClassVar

import anyio
import attrs
from eth_account import Account
from eth_utils import to_checksum_address
from tradewind.errors import ConfigError, VenueError
from tradewind.model import (
    Fill,
    Instrument,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TickBatch,
)
from tradewind.model.events import Event
from tradewind.protocols import EventSink
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from tradewind_venue_evm.abis import abi
from tradewind_venue_evm.config import EvmConfig
from tradewind_venue_evm.constants import ERROR_STRING_SELECTOR, MAX_UINT256, WEI_PER_GWEI
from tradewind_venue_evm.pools import ADAPTERS, PoolAdapter, SwapLog, Token
from tradewind_venue_evm.providers import pool_instrument, split_symbol
from tradewind_venue_evm.registry import Chain, checksum, resolve_chain
from tradewind_venue_evm.schemas import (
    ApprovalSettled,
    EmulatedLimitTriggered,
    Money,
    SwapReceipt,
    SwapReverted,
    TicksRetracted,
    TransactionSent,
    ticks_from_swaps,
    trade_id,
)
from tradewind_venue_evm.txjournal import TxJournal, TxRecord

log = logging.getLogger("tradewind.venue.evm")

NS = 1_000_000_000


@attrs.define
class _OrderState:
    order: Order
    report: OrderReport
    fills: list[Fill] = attrs.Factory(list)
    emulated: bool = False


def _plain(value: Decimal) -> str:
    """``value`` without trailing zeros and never in exponent notation."""
    return f"{value.normalize():f}"


def revert_reason(exc: BaseException) -> str:
    """The revert reason in a web3 error ("Too little received"), or the error's text."""
    msg = getattr(exc, "message", None) or str(exc)
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith(ERROR_STRING_SELECTOR):
        from eth_abi import decode

        try:
            return str(decode(["string"], bytes.fromhex(data[10:]))[0])
        except Exception:  # not a well-formed Error(string): fall back to the message
            pass
    return str(msg).removeprefix("execution reverted: ").removeprefix("execution reverted")


class EvmVenue:
    """Swaps on EVM DEX pools (Uniswap V2/V3 and forks, Balancer V2, Curve), with their data."""

    name: ClassVar[str] = "evm"
    config_class: ClassVar[type] = EvmConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "data",
            "execution",
            "account",
            "fills:history",
            "values",
            "order:market",
            "order:limit:emulated",
            "market:spot",
            "swap:evm",
            "subscribe",
        }
    )

    def __init__(self, *, config: EvmConfig, instance: str) -> None:
        self.config = config
        self.instance = instance
        self._where = f"$.venues.{instance}"
        self._sink: EventSink | None = None
        self.w3: AsyncWeb3 | None = None
        self._send_w3: AsyncWeb3 | None = None
        self.chain: Chain | None = None
        self.pools: dict[str, PoolAdapter] = {}
        self._instruments: dict[str, Instrument] = {}
        self._tokens: dict[str, Token] = {}
        self._account: Any = None
        self._journal: TxJournal | None = None
        self._orders: dict[str, _OrderState] = {}
        self._lock = anyio.Lock()
        self._nonce = 0
        self._closed = False
        self._block_ts: dict[int, int] = {}
        #: Delivered blocks: number -> hash, and the tick ids delivered from each.
        self._seen_hashes: dict[int, str] = {}
        self._seen_ticks: dict[int, list[tuple[str, int]]] = {}
        self._last_price: dict[str, Decimal] = {}
        #: Pool symbols the host trades (add_instruments), in config order.
        self._traded: list[str] = []
        #: Per instrument key, what the venue measured while streaming (``liquidity``).
        self._values: dict[str, dict[str, float]] = {}
        #: Instrument keys whose pools' Swap events are not requested (``unsubscribe``).
        self.unsubscribed: set[str] = set()

    def __repr__(self) -> str:
        return f"EvmVenue({self.instance!r}, chain={self.config.chain!r})"

    # -- set-up ---------------------------------------------------------------------------------
    def set_sink(self, sink: EventSink) -> None:
        """Where order reports, fills and venue events go."""
        self._sink = sink

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Check that every instrument the host config names is a configured pool."""
        symbols = {p.symbol for p in self.config.pools}
        for inst in instruments:
            if inst.symbol not in symbols:
                raise ConfigError(
                    f"instrument {inst.key} is not a pool of venue '{self.instance}'; configured "
                    f"pools: {', '.join(sorted(symbols)) or 'none'} @ {self._where}.pools"
                )
            if inst.symbol not in self._traded:
                self._traded.append(inst.symbol)

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` of a pool: the token names of its symbol ("WETH/USDC"), which
        are the names :meth:`fetch_balances` reports the wallet's tokens by."""
        pool = self.pool(symbol)
        return pool.base.symbol, pool.quote.symbol

    @property
    def wallet(self) -> str | None:
        """The wallet's address (None without a private key)."""
        return None if self._account is None else str(self._account.address)

    def _w3(self) -> AsyncWeb3:
        if self.w3 is None:
            raise VenueError(f"venue '{self.instance}' is not connected: call connect() first")
        return self.w3

    async def connect(self) -> None:
        """Resolve the chain, check every contract exists, find the pools, recover the wallet."""
        cfg = self.config
        self.chain = chain = resolve_chain(cfg.chain, cfg.chains, cfg.dexes, self._where)
        url = cfg.rpc_url.reveal() if cfg.rpc_url is not None else chain.rpc_url
        if not url:
            raise ConfigError(
                f"chain {cfg.chain!r} has no rpc_url; set one @ {self._where}.rpc_url"
            )
        self.w3 = w3 = AsyncWeb3(AsyncHTTPProvider(url, request_kwargs={"timeout": 60}))
        self._send_w3 = (
            AsyncWeb3(AsyncHTTPProvider(cfg.private_rpc_url.reveal()))
            if cfg.private_rpc_url is not None
            else w3
        )
        try:
            chain_id = await w3.eth.chain_id
        except Exception as exc:
            raise VenueError(
                f"venue '{self.instance}': the RPC endpoint of {cfg.chain} does not answer "
                f"({type(exc).__name__}) @ {self._where}.rpc_url"
            ) from exc
        if chain_id != chain.chain_id:
            raise ConfigError(
                f"the RPC endpoint serves chain id {chain_id}, but chain {cfg.chain!r} has chain "
                f"id {chain.chain_id} @ {self._where}.rpc_url"
            )
        await self._check_code(chain)
        for i, pcfg in enumerate(cfg.pools):
            where = f"{self._where}.pools[{i}]"
            base_name, quote_name = split_symbol(pcfg.symbol, where)
            base = await self._token(pcfg.base, base_name, f"{where}.base")
            quote = await self._token(pcfg.quote, quote_name, f"{where}.quote")
            dex = chain.dexes.get(pcfg.dex)
            if dex is None:
                raise ConfigError(
                    f"chain {cfg.chain!r} has no DEX {pcfg.dex!r} @ {where}.dex; its DEXes: "
                    f"{', '.join(sorted(chain.dexes))} (add one under [venues.{self.instance}."
                    f"dexes.{pcfg.dex}])"
                )
            for token, part in ((base, "base"), (quote, "quote")):
                if token.symbol == chain.native:
                    raise ConfigError(
                        f"pool {pcfg.symbol!r} names a token {token.symbol!r}, the name of the "
                        f"chain's native token: balances are reported by name, so name the "
                        f"ERC-20 otherwise (e.g. W{token.symbol}) @ {where}.symbol ({part})"
                    )
            pool = ADAPTERS[dex.family](w3, pcfg, dex, base, quote, where)
            await pool.setup()
            self.pools[pcfg.symbol] = pool
            inst = pool_instrument(self.instance, pool)
            self._instruments[inst.key] = inst
        if cfg.private_key is not None:
            self._account = Account.from_key(cfg.private_key.reveal())
            self._journal = TxJournal(cfg.tx_journal)
            await self._recover()
            pending = await w3.eth.get_transaction_count(self._account.address, "pending")
            self._nonce = max(int(pending), self._journal.max_nonce() + 1)

    async def _check_code(self, chain: Chain) -> None:
        """Every contract address the configured pools use must hold code: one error for all."""
        w3 = self._w3()
        used = {p.dex for p in self.config.pools}
        missing = []
        for name in sorted(used):
            dex = chain.dexes.get(name)
            if dex is None:
                continue  # reported with the pool's path below
            for key, address in dex.contracts().items():
                code = await w3.eth.get_code(to_checksum_address(address))
                if len(code) == 0:
                    missing.append(f"{name}.{key} = {address}")
        if missing:
            raise ConfigError(
                f"no contract code on chain {self.config.chain!r} (id {chain.chain_id}) at "
                f"{'; '.join(missing)}: a wrong address for this chain, or the wrong chain "
                f"@ {self._where}.dexes"
            )

    async def _token(self, address: str, symbol: str, where: str) -> Token:
        addr = checksum(address, where)
        known = self._tokens.get(addr)
        if known is not None:
            return known
        w3 = self._w3()
        if len(await w3.eth.get_code(addr)) == 0:
            raise ConfigError(
                f"no token contract at {addr} on chain {self.config.chain!r} @ {where}"
            )
        erc20 = w3.eth.contract(address=addr, abi=abi("ERC20"))
        decimals = int(await erc20.functions.decimals().call())
        token = Token(address=addr, symbol=symbol, decimals=decimals)
        self._tokens[addr] = token
        return token

    async def close(self) -> None:
        """Stop streaming and release the journal; idempotent."""
        self._closed = True
        if self._journal is not None:
            self._journal.close()
        for w3 in {id(x): x for x in (self.w3, self._send_w3) if x is not None}.values():
            provider = w3.provider
            disconnect = getattr(provider, "disconnect", None)
            if disconnect is not None:
                await disconnect()

    async def instruments(self) -> Sequence[Instrument]:
        """One spot instrument per configured pool."""
        return list(self._instruments.values())

    def pool(self, instrument: str) -> PoolAdapter:
        """The pool of ``instrument`` (its key ``venue:symbol`` or its symbol)."""
        symbol = instrument.split(":", 1)[1] if ":" in instrument else instrument
        try:
            return self.pools[symbol]
        except KeyError:
            raise VenueError(
                f"venue '{self.instance}' has no pool {symbol!r}; pools: "
                f"{', '.join(sorted(self.pools))}"
            ) from None

    # -- events -----------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.on_event(event)

    def _publish(self, state: _OrderState, report: OrderReport, notify: bool = True) -> None:
        state.report = report
        if notify and self._sink is not None:
            self._sink.on_report(report)

    async def _now_ns(self) -> int:
        """Chain time: the latest block's timestamp (the venue never reads the wall clock)."""
        block = await self._w3().eth.get_block("latest")
        return int(block["timestamp"]) * NS

    async def _block_time_ns(self, number: int) -> int:
        ts = self._block_ts.get(number)
        if ts is None:
            block = await self._w3().eth.get_block(number)
            ts = self._block_ts[number] = int(block["timestamp"]) * NS
        return ts

    # -- quotes -----------------------------------------------------------------------------------
    async def quote(
        self, instrument: str, side: Side, quantity: Decimal, block: int | str = "latest"
    ) -> tuple[int, int]:
        """(amount in, expected amount out) in wei of a market swap of ``quantity`` base.

        A sell sells exactly ``quantity``; a buy spends what the pool asks for ``quantity``
        (its exact-output quote) and is then sent as an exact-input swap of that amount.
        """
        pool = self.pool(instrument)
        if side is Side.SELL:
            amount_in = pool.base.to_wei(quantity)
            return amount_in, await pool.quote_in(pool.base, amount_in, block)
        amount_in = await pool.quote_out(pool.quote, pool.base.to_wei(quantity), block)
        return amount_in, await pool.quote_in(pool.quote, amount_in, block)

    async def liquidity(self, instrument: str, block: int | str = "latest") -> Decimal:
        """The pool's liquidity valued in its quote token: quote held + base held x price.

        While streaming, the venue measures it at the last block it delivered and reports it
        as ``<venue instance>.liquidity`` (:meth:`venue_values`), the value the ``liquidity``
        exit watches (the seed's rug warning).
        """
        pool = self.pool(instrument)
        base_wei, quote_wei = await pool.reserves(block)
        price = await self.mid_price(instrument, block)
        return pool.quote.to_decimal(quote_wei) + pool.base.to_decimal(base_wei) * price

    def venue_values(self, instrument: str) -> Mapping[str, float]:
        """``{"liquidity": ...}`` of ``instrument``'s pool at the last block streamed (NaN
        before the first measurement, or with ``measure_liquidity = false``)."""
        return self._values.get(instrument, {"liquidity": float("nan")})

    async def _measure(self, instruments: Sequence[Instrument], block: int) -> None:
        for inst in instruments:
            value = await self.liquidity(inst.key, block)
            self._values[inst.key] = {"liquidity": float(value)}

    async def mid_price(self, instrument: str, block: int | str = "latest") -> Decimal:
        """The pool's marginal price, quote per base, from a one-lot sell quote plus the fee."""
        pool = self.pool(instrument)
        probe = max(1, 10 ** max(pool.base.decimals - 6, 0))
        out = await pool.quote_in(pool.base, probe, block)
        gross = Decimal(out) / (1 - pool.fee) if pool.fee < 1 else Decimal(out)
        return pool.quote.to_decimal(int(gross)) / pool.base.to_decimal(probe)

    # -- transactions -----------------------------------------------------------------------------
    def _require_wallet(self, what: str) -> Any:
        if self._account is None or self._journal is None:
            raise VenueError(
                f"venue '{self.instance}' has no wallet: set private_key = \"env:NAME\" to "
                f"{what} @ {self._where}.private_key"
            )
        return self._account

    async def _fees(self, bump_from: dict[str, int] | None = None) -> dict[str, int]:
        w3 = self._w3()
        assert self.chain is not None
        cap = (
            None
            if self.config.max_fee_per_gas_gwei is None
            else int(self.config.max_fee_per_gas_gwei * WEI_PER_GWEI)
        )
        if self.chain.gas == "legacy":
            fees = {"gasPrice": int(await w3.eth.gas_price)}
        else:
            block = await w3.eth.get_block("latest")
            base = int(block.get("baseFeePerGas", 0) or 0)
            tip = int(await w3.eth.max_priority_fee)
            fees = {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        if bump_from is not None:
            factor = 1 + self.config.fee_bump
            fees = {
                k: max(v, int((Decimal(bump_from[k]) * factor).to_integral_value(ROUND_CEILING)))
                for k, v in fees.items()
            }
        top = fees.get("maxFeePerGas", fees.get("gasPrice", 0))
        if cap is not None and top > cap:
            raise VenueError(
                f"fee per gas {Decimal(top) / WEI_PER_GWEI} gwei is above max_fee_per_gas_gwei "
                f"{self.config.max_fee_per_gas_gwei} @ {self._where}.max_fee_per_gas_gwei"
            )
        return fees

    async def _estimate(self, to: str, data: str) -> int:
        """Gas limit: estimate x gas_multiplier; a revert here raises ContractLogicError."""
        w3 = self._w3()
        est = await w3.eth.estimate_gas({"from": self.wallet, "to": to, "data": data})
        limit = int(Decimal(est) * self.config.gas_multiplier)
        if limit > self.config.gas_limit_cap:
            raise VenueError(
                f"gas limit {limit} (estimate {est} x {self.config.gas_multiplier}) is above "
                f"gas_limit_cap {self.config.gas_limit_cap} @ {self._where}.gas_limit_cap"
            )
        return limit

    async def _sign_and_send(
        self, cid: str, kind: str, tx: dict[str, Any], meta: dict[str, Any], replaces: str = ""
    ) -> str:
        """Sign ``tx``, journal it, then broadcast it; returns its hash."""
        assert self._journal is not None and self._send_w3 is not None
        signed = self._account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        raw = "0x" + bytes(signed.raw_transaction).hex()
        self._journal.signed(cid, kind, int(tx["nonce"]), tx_hash, raw, meta)
        self._emit(
            TransactionSent(
                ts_ns=await self._now_ns(),
                venue=self.instance,
                client_order_id=cid,
                kind=kind,
                nonce=int(tx["nonce"]),
                tx_hash=tx_hash,
                replaces=replaces,
            )
        )
        try:
            await self._broadcast(raw)
        except Web3RPCError as exc:
            if replaces:
                # A refused replacement (e.g. underpriced) leaves the original in force.
                log.warning("replacement of %s refused by the node: %s", replaces, exc)
                return tx_hash
            # The node answered with an error: the transaction is not in its pool and its
            # nonce stays free. Close the record so no restart re-broadcasts it.
            reason = f"the node refused the transaction: {revert_reason(exc)}"
            self._journal.outcome(cid, "rejected", tx_hash, reason)
            raise VenueError(reason) from exc
        return tx_hash

    async def _broadcast(self, raw: str) -> None:
        assert self._send_w3 is not None
        try:
            await self._send_w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            text = str(exc).lower()
            # The node already has it (a re-broadcast after a restart): nothing to do.
            if "already known" in text or "already imported" in text:
                return
            raise

    async def _transact(
        self,
        cid: str,
        kind: str,
        to: str,
        data: str,
        meta: dict[str, Any],
        state: _OrderState | None = None,
    ) -> Any:
        """Send one transaction at the next nonce and wait for its receipt (replacing if stuck).

        With ``state`` (a swap), the order is reported ACCEPTED, with the transaction hash as
        its venue order id, as soon as the transaction is broadcast.
        """
        assert self.chain is not None
        gas = await self._estimate(to, data)
        fees = await self._fees()
        tx: dict[str, Any] = {
            "from": self.wallet,
            "to": to,
            "data": data,
            "value": 0,
            "gas": gas,
            "nonce": self._nonce,
            "chainId": self.chain.chain_id,
            **fees,
        }
        tx_hash = await self._sign_and_send(cid, kind, tx, meta)
        self._nonce += 1
        if state is not None:
            self._publish(
                state,
                self._report(
                    state.order, OrderStatus.ACCEPTED, await self._now_ns(), venue_order_id=tx_hash
                ),
            )
        assert self._journal is not None
        return await self._wait(self._journal.records[cid], tx)

    async def _receipt_of(self, hashes: Sequence[str]) -> Any | None:
        w3 = self._w3()
        for h in reversed(hashes):
            try:
                return await w3.eth.get_transaction_receipt(h)  # type: ignore[arg-type]
            except TransactionNotFound:
                continue
        return None

    async def _wait(self, rec: TxRecord, tx: dict[str, Any] | None) -> Any:
        """The receipt of ``rec``'s nonce; re-signs with higher fees when it stays unmined."""
        cfg = self.config
        waited = 0.0
        since_send = 0.0
        step = min(cfg.poll_interval_s, 0.25)
        while True:
            receipt = await self._receipt_of(rec.hashes)
            if receipt is not None:
                return receipt
            if waited >= cfg.receipt_timeout_s:
                raise VenueError(
                    f"no receipt for {rec.kind} {rec.client_order_id} (nonce {rec.nonce}, "
                    f"{', '.join(rec.hashes)}) after {cfg.receipt_timeout_s}s; it stays pending "
                    f"and is looked up again on the next start"
                )
            if tx is not None and since_send >= cfg.replace_after_s:
                chain_nonce = await self._w3().eth.get_transaction_count(
                    self.wallet,
                    "latest",  # type: ignore[arg-type]
                )
                if chain_nonce <= rec.nonce:
                    old: dict[str, int] = {
                        k: tx[k]
                        for k in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
                        if k in tx
                    }
                    tx = {**tx, **await self._fees(bump_from=old)}
                    log.warning(
                        "replacing stuck %s %s (nonce %d)", rec.kind, rec.client_order_id, rec.nonce
                    )
                    await self._sign_and_send(
                        rec.client_order_id, rec.kind, tx, rec.meta, replaces=rec.hashes[-1]
                    )
                since_send = 0.0
            await anyio.sleep(step)
            waited += step
            since_send += step

    async def _why_reverted(self, receipt: Any, rec: TxRecord) -> str:
        """The revert reason, replayed by eth_call on the state of the block it reverted in."""
        w3 = self._w3()
        tx = await w3.eth.get_transaction(receipt["transactionHash"])
        call = {
            "from": tx["from"],
            "to": tx["to"],
            "data": tx["input"],
            "value": tx["value"],
            "gas": tx["gas"],
        }
        try:
            await w3.eth.call(call, block_identifier=int(receipt["blockNumber"]))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_reason(exc) or "reverted without a reason"
        except Web3RPCError as exc:
            return revert_reason(exc)
        return "reverted (the replayed call succeeds on the block's final state; reason unknown)"

    # -- approvals --------------------------------------------------------------------------------
    async def _ensure_allowance(self, token: Token, spender: str, amount: int, cid: str) -> int:
        """Approve ``spender`` for ``amount`` of ``token`` if needed; the gas paid, in wei."""
        w3 = self._w3()
        erc20 = w3.eth.contract(address=token.address, abi=abi("ERC20"))
        allowance = int(await erc20.functions.allowance(self.wallet, spender).call())
        if allowance >= amount:
            return 0
        value = MAX_UINT256 if self.config.approvals == "unlimited" else amount
        data = erc20.encode_abi("approve", args=[spender, value])
        acid = f"{cid}:approve"
        if self._journal is not None and acid in self._journal.records:
            acid = f"{acid}:{len([c for c in self._journal.records if c.startswith(acid)])}"
        receipt = await self._transact(
            acid,
            "approve",
            token.address,
            data,
            {"token": token.address, "spender": spender, "amount": str(value)},
        )
        assert self._journal is not None and self.chain is not None
        h = "0x" + bytes(receipt["transactionHash"]).hex()
        gas_wei = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
        gas = Money(
            amount=Decimal(gas_wei).scaleb(-self.chain.native_decimals),
            currency=self.chain.native,
        )
        if int(receipt["status"]) != 1:
            self._journal.outcome(acid, "rejected", h, "approval reverted")
            raise VenueError(f"approval of {token.symbol} to {spender} reverted ({h})")
        self._journal.outcome(acid, "filled", h)
        self._emit(
            ApprovalSettled(
                ts_ns=await self._block_time_ns(int(receipt["blockNumber"])),
                venue=self.instance,
                token=token.address,
                spender=spender,
                amount_wei=value,
                tx_hash=h,
                gas=gas,
            )
        )
        return gas_wei

    # -- orders -----------------------------------------------------------------------------------
    def _report(self, order: Order, status: OrderStatus, ts_ns: int, **kw: Any) -> OrderReport:
        return OrderReport(
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            status=status,
            ts_ns=ts_ns,
            **kw,
        )

    async def submit_order(self, order: Order) -> OrderReport:
        """Send ``order``; a resend of a known client order id returns its state, sends nothing."""
        known = await self._known(order.client_order_id)
        if known is not None:
            return known.report
        ts = await self._now_ns()
        state = _OrderState(order=order, report=self._report(order, OrderStatus.NEW, ts))
        self._orders[order.client_order_id] = state
        problem = self._order_problem(order)
        if problem:
            report = self._report(order, OrderStatus.REJECTED, ts, reason=problem)
            self._publish(state, report)
            return report
        if order.type is OrderType.LIMIT:
            state.emulated = True
            report = self._report(
                order,
                OrderStatus.ACCEPTED,
                ts,
                reason="emulated limit: rests in the venue "
                "until the pool price crosses it, then swaps",
            )
            self._publish(state, report)
            return report
        return await self._execute(state, limit=None)

    def _order_problem(self, order: Order) -> str:
        try:
            self.pool(order.instrument)
        except VenueError as exc:
            return str(exc)
        if self._account is None:
            return (
                f"venue '{self.instance}' has no wallet (private_key is not set) "
                f"@ {self._where}.private_key"
            )
        if order.type is OrderType.LIMIT and not self.config.emulate_limits:
            return (
                "limit orders do not exist on an AMM pool; set emulate_limits = true to have the "
                f"venue trigger them as swaps @ {self._where}.emulate_limits"
            )
        if order.type not in (OrderType.MARKET, OrderType.LIMIT):
            return (
                f"{order.type.value} orders are not supported on a pool (market, or emulated limit)"
            )
        return ""

    async def _execute(self, state: _OrderState, limit: Decimal | None) -> OrderReport:
        # Shielded: once a swap may have been broadcast, its receipt must be waited for and
        # booked even if the caller gives up (the order manager's call timeout cancels the
        # call; it then looks the order up and finds it settled). receipt_timeout_s bounds it.
        with anyio.CancelScope(shield=True):
            report = await self._execute_locked(state, limit)
        return report

    async def _execute_locked(self, state: _OrderState, limit: Decimal | None) -> OrderReport:
        async with self._lock:
            try:
                return await self._swap(state, limit)
            except (VenueError, ContractLogicError, Web3RPCError, ValueError) as exc:
                reason = revert_reason(exc) if isinstance(exc, ContractLogicError) else str(exc)
                order = state.order
                report = self._report(
                    order, OrderStatus.REJECTED, await self._now_ns(), reason=reason
                )
                if self._journal is not None and order.client_order_id in self._journal.records:
                    rec = self._journal.records[order.client_order_id]
                    if rec.is_open:
                        # Sent but not settled: keep it open; the next start looks it up.
                        report = attrs.evolve(report, status=OrderStatus.ACCEPTED)
                self._publish(state, report)
                return report

    async def _swap(self, state: _OrderState, limit: Decimal | None) -> OrderReport:
        order = state.order
        cid = order.client_order_id
        pool = self.pool(order.instrument)
        w3 = self._w3()
        token_in = pool.quote if order.side is Side.BUY else pool.base
        amount_in, _ = await self.quote(order.instrument, order.side, order.quantity)
        held = int(
            await w3.eth.contract(address=token_in.address, abi=abi("ERC20"))
            .functions.balanceOf(self.wallet)
            .call()
        )
        if held < amount_in:
            what = "sells what is held" if order.side is Side.SELL else "spends what is held"
            raise VenueError(
                f"spot: a {order.side.value} {what}; the wallet holds "
                f"{_plain(token_in.to_decimal(held))} {token_in.symbol}, the swap needs "
                f"{_plain(token_in.to_decimal(amount_in))}"
            )
        approval_gas = await self._ensure_allowance(token_in, pool.spender(), amount_in, cid)
        # The fresh quote the slippage bound is taken from, on the latest block.
        block = await w3.eth.get_block("latest")
        expected = await pool.quote_in(token_in, amount_in, int(block["number"]))
        min_out = int(
            (Decimal(expected) * (1 - self.config.slippage)).to_integral_value(ROUND_FLOOR)
        )
        if limit is not None:
            # The limit is enforced on chain: the swap reverts rather than fill beyond it.
            if order.side is Side.BUY:
                bound = pool.base.to_wei(pool.quote.to_decimal(amount_in) / limit)
            else:
                bound = pool.quote.to_wei(order.quantity * limit)
            min_out = max(min_out, bound)
        deadline = int(block["timestamp"]) + self.config.deadline_s
        to, data = pool.swap_call(token_in, amount_in, min_out, str(self.wallet), deadline)
        meta = {
            "instrument": order.instrument,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "amount_in": str(amount_in),
            "expected_out": str(expected),
            "min_out": str(min_out),
            "emulated": limit is not None,
            # The approval's gas is booked with the swap's fill (the account's native balance).
            "approval_gas_wei": str(approval_gas),
        }
        receipt = await self._transact(cid, "swap", to, data, meta, state=state)
        assert self._journal is not None
        return await self._settle(self._journal.records[cid], receipt, notify=True)

    async def _settle(self, rec: TxRecord, receipt: Any, notify: bool) -> OrderReport:
        """Book a mined swap once: a fill (or a rejection with its revert reason)."""
        assert self._journal is not None and self.chain is not None
        cid = rec.client_order_id
        meta = rec.meta
        state = self._orders.get(cid)
        if state is None:
            order = Order(
                client_order_id=cid,
                instrument=meta["instrument"],
                side=Side(meta["side"]),
                type=OrderType.MARKET,
                quantity=Decimal(meta["quantity"]),
            )
            state = self._orders[cid] = _OrderState(
                order=order, report=self._report(order, OrderStatus.ACCEPTED, 0)
            )
        order = state.order
        pool = self.pool(order.instrument)
        ts = await self._block_time_ns(int(receipt["blockNumber"]))
        h = "0x" + bytes(receipt["transactionHash"]).hex()
        if int(receipt["status"]) != 1:
            reason = await self._why_reverted(receipt, rec)
            gas_wei = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
            self._journal.outcome(cid, "rejected", h, reason)
            self._emit(
                SwapReverted(
                    ts_ns=ts,
                    venue=self.instance,
                    client_order_id=cid,
                    tx_hash=h,
                    reason=reason,
                    gas=Money(
                        amount=Decimal(gas_wei).scaleb(-self.chain.native_decimals),
                        currency=self.chain.native,
                    ),
                )
            )
            report = self._report(
                order, OrderStatus.REJECTED, ts, venue_order_id=h, reason=f"swap reverted: {reason}"
            )
            self._publish(state, report, notify)
            return report
        settled = SwapReceipt.from_receipt(
            receipt,
            wallet=str(self.wallet),
            base=pool.base,
            quote=pool.quote,
            side=order.side,
            pool_fee_rate=pool.fee,
            ts_ns=ts,
            native=self.chain.native,
            l1_fee_mode=self.chain.l1_fee,
        )
        fill = settled.to_domain(cid, order.instrument, int(meta.get("approval_gas_wei", "0")))
        self._journal.outcome(cid, "filled", h)
        state.fills.append(fill)
        self._emit(settled.settled_event(self.instance, cid, order.instrument))
        if notify and self._sink is not None:
            self._sink.on_fill(fill)
        report = self._report(
            order,
            OrderStatus.FILLED,
            ts,
            filled_quantity=fill.quantity,
            venue_order_id=h,
        )
        self._publish(state, report, notify)
        return report

    async def _recover(self) -> None:
        """Settle what the journal sent and never saw mined; re-broadcast what is still pending.

        Nothing is re-signed as a new swap: a pending transaction is re-sent byte for byte, so
        the client order id can only ever fill once.
        """
        assert self._journal is not None
        w3 = self._w3()
        for rec in self._journal.open_records():
            receipt = await self._receipt_of(rec.hashes)
            if receipt is None:
                mined_nonce = int(
                    await w3.eth.get_transaction_count(
                        self.wallet,
                        "latest",  # type: ignore[arg-type]
                    )
                )
                if mined_nonce > rec.nonce:
                    # Its nonce was used and none of its hashes has a receipt: another
                    # transaction took the nonce, so this one can never be mined.
                    self._journal.outcome(
                        rec.client_order_id,
                        "dropped",
                        "",
                        f"nonce {rec.nonce} was used by another transaction",
                    )
                    self._drop(rec)
                    continue
                try:
                    await self._broadcast(rec.sent[-1][1])
                except Web3RPCError as exc:
                    self._journal.outcome(
                        rec.client_order_id,
                        "dropped",
                        "",
                        f"re-broadcast refused by the node: {revert_reason(exc)}",
                    )
                    self._drop(rec)
                    continue
                receipt = await self._wait(rec, None)
            if rec.kind == "swap":
                await self._settle(rec, receipt, notify=False)
            else:
                status = "filled" if int(receipt["status"]) == 1 else "rejected"
                self._journal.outcome(
                    rec.client_order_id, status, "0x" + bytes(receipt["transactionHash"]).hex()
                )

    async def _known(self, client_order_id: str) -> _OrderState | None:
        """The order's state; a swap settled in an earlier run is rebuilt from its receipt
        when first asked for (so a start costs nothing per past swap)."""
        state = self._orders.get(client_order_id)
        if state is not None or self._journal is None:
            return state
        rec = self._journal.records.get(client_order_id)
        if rec is None or rec.kind != "swap":
            return None
        if rec.outcome == "filled":
            receipt = await self._receipt_of([rec.outcome_hash])
            if receipt is not None:
                await self._settle_again(rec, receipt)
        elif rec.outcome:
            self._drop(rec, rec.reason or rec.outcome)
        return self._orders.get(client_order_id)

    async def _settle_again(self, rec: TxRecord, receipt: Any) -> None:
        """Rebuild the state of a swap settled in an earlier run (journal not written again)."""
        assert self.chain is not None
        meta = rec.meta
        order = Order(
            client_order_id=rec.client_order_id,
            instrument=meta["instrument"],
            side=Side(meta["side"]),
            type=OrderType.MARKET,
            quantity=Decimal(meta["quantity"]),
        )
        pool = self.pool(order.instrument)
        ts = await self._block_time_ns(int(receipt["blockNumber"]))
        settled = SwapReceipt.from_receipt(
            receipt,
            wallet=str(self.wallet),
            base=pool.base,
            quote=pool.quote,
            side=order.side,
            pool_fee_rate=pool.fee,
            ts_ns=ts,
            native=self.chain.native,
            l1_fee_mode=self.chain.l1_fee,
        )
        fill = settled.to_domain(
            rec.client_order_id, order.instrument, int(meta.get("approval_gas_wei", "0"))
        )
        self._orders[rec.client_order_id] = _OrderState(
            order=order,
            report=self._report(
                order,
                OrderStatus.FILLED,
                ts,
                filled_quantity=fill.quantity,
                venue_order_id=settled.tx_hash,
            ),
            fills=[fill],
        )

    def _drop(self, rec: TxRecord, reason: str = "") -> None:
        meta = rec.meta
        if rec.kind != "swap":
            return
        order = Order(
            client_order_id=rec.client_order_id,
            instrument=meta["instrument"],
            side=Side(meta["side"]),
            type=OrderType.MARKET,
            quantity=Decimal(meta["quantity"]),
        )
        self._orders[rec.client_order_id] = _OrderState(
            order=order,
            report=self._report(
                order,
                OrderStatus.REJECTED,
                0,
                reason=reason or f"nonce {rec.nonce} was used by another transaction",
            ),
        )

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """Cancel a resting emulated limit order; a sent swap cannot be cancelled."""
        state = self._orders.get(client_order_id)
        if state is None:
            raise VenueError(
                f"venue '{self.instance}' does not know order {client_order_id!r} to cancel"
            )
        if state.emulated and not state.report.status.is_terminal:
            report = self._report(state.order, OrderStatus.CANCELLED, await self._now_ns())
            self._publish(state, report)
        return state.report

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """The order's known state; None if this wallet never sent it."""
        state = await self._known(client_order_id)
        return None if state is None else state.report

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """The fill of a settled swap (one per swap), for reconciliation after a restart."""
        state = await self._known(client_order_id)
        return [] if state is None else list(state.fills)

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Resting emulated limit orders (a swap is never open: it settles or is pending)."""
        return [s.report for s in self._orders.values() if not s.report.status.is_terminal]

    async def fetch_positions(self) -> Sequence[Position]:
        """Spot holdings as positions: the wallet's balance of each traded pool's base token
        (a wallet knows no entry price: ``avg_price`` is 0). Pools sharing a base token report
        the holding once, on the first traded pool in config order."""
        self._require_wallet("read positions")
        balances = await self.fetch_balances()
        out: list[Position] = []
        seen: set[str] = set()
        for symbol in self._traded or [p.symbol for p in self.config.pools]:
            pool = self.pool(symbol)
            if pool.base.address in seen:
                continue
            seen.add(pool.base.address)
            held = balances.get(pool.base.symbol, Decimal(0))
            if held:
                out.append(Position(instrument=f"{self.instance}:{symbol}", quantity=held))
        return out

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """The wallet's balance of each pool token (by its name in the pool symbols) and of
        the chain's native token (which pays gas), exactly."""
        account = self._require_wallet("read balances")
        w3 = self._w3()
        assert self.chain is not None
        out: dict[str, Decimal] = {}
        for token in self._tokens.values():
            erc20 = w3.eth.contract(address=token.address, abi=abi("ERC20"))
            out[token.symbol] = token.to_decimal(
                int(await erc20.functions.balanceOf(account.address).call())
            )
        native = int(await w3.eth.get_balance(account.address))
        out[self.chain.native] = Decimal(native).scaleb(-self.chain.native_decimals)
        return out

    # -- market data ------------------------------------------------------------------------------
    async def swap_logs(
        self, pools: Sequence[PoolAdapter], from_block: int, to_block: int
    ) -> dict[str, list[SwapLog]]:
        """The pools' Swap events of blocks ``from_block..to_block``, by pool symbol."""
        w3 = self._w3()
        filters = [p.log_filter() for p in pools]
        addresses = sorted({a for a, _ in filters})
        topic0 = sorted({t[0] for _, t in filters})
        # A raw eth_getLogs: web3's result formatters cost ~0.3 ms a log, more than the rest of
        # ingestion together (see bench/bench_evm.py); the pools decode the hex themselves.
        answer = await w3.provider.make_request(
            "eth_getLogs",  # type: ignore[arg-type]
            [
                {
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "address": addresses,
                    "topics": [topic0],
                }
            ],
        )
        if "error" in answer:
            raise VenueError(
                f"venue '{self.instance}': eth_getLogs of blocks {from_block}..{to_block} "
                f"failed: {answer['error']}"
            )
        logs = answer["result"]
        by_address: dict[str, list[PoolAdapter]] = {}
        for p, (addr, _) in zip(pools, filters, strict=True):
            by_address.setdefault(addr.lower(), []).append(p)
        out: dict[str, list[SwapLog]] = {p.cfg.symbol: [] for p in pools}
        for entry in logs:
            for p in by_address.get(str(entry["address"]).lower(), ()):
                s = p.decode_swap(entry)
                if s is not None:
                    out[p.cfg.symbol].append(s)
        return out

    async def _check_reorg(self) -> int | None:
        """The first block to re-read if a delivered block left the canonical chain, else None."""
        if not self._seen_hashes:
            return None
        w3 = self._w3()
        numbers = sorted(self._seen_hashes, reverse=True)
        # The anchor is the highest remembered block still on the canonical chain; everything
        # after it is re-read. With no anchor in the window, the whole window is re-read.
        anchor: int | None = None
        for n in numbers:
            try:
                block = await w3.eth.get_block(n)
                now = "0x" + bytes(block["hash"]).hex()
            except Exception:  # the block is gone (the chain got shorter)
                now = ""
            if now == self._seen_hashes[n]:
                anchor = n
                break
        if anchor == numbers[0]:
            return None
        fork = anchor + 1 if anchor is not None else numbers[-1]
        retracted: dict[str, list[int]] = {}
        for n in [n for n in numbers if n >= fork]:
            del self._seen_hashes[n]
            self._block_ts.pop(n, None)
            for key, tid in self._seen_ticks.pop(n, []):
                retracted.setdefault(key, []).append(tid)
        ts = await self._now_ns()
        for key, ids in retracted.items():
            self._emit(
                TicksRetracted(
                    ts_ns=ts,
                    venue=self.instance,
                    instrument=key,
                    from_block=fork,
                    trade_ids=tuple(ids),
                )
            )
        return fork

    def _remember(self, number: int, block_hash: str) -> None:
        self._seen_hashes[number] = block_hash
        window = self.config.reorg_window
        for old in [n for n in self._seen_hashes if n <= number - window]:
            del self._seen_hashes[old]
            self._seen_ticks.pop(old, None)
            self._block_ts.pop(old, None)

    async def poll_trades(
        self, instruments: Sequence[Instrument], from_block: int, to_block: int
    ) -> list[TickBatch]:
        """Swap events of ``from_block..to_block`` as one TickBatch per instrument (non-empty)."""
        pools = [self.pool(i.key) for i in instruments]
        by_symbol = await self.swap_logs(pools, from_block, to_block)
        out = []
        w3 = self._w3()
        for inst, pool in zip(instruments, pools, strict=True):
            swaps = by_symbol[pool.cfg.symbol]
            if not swaps:
                continue
            for s in swaps:
                if s.block_number not in self._block_ts:
                    self._block_ts[s.block_number] = await self._block_time_ns(s.block_number)
                self._seen_hashes.setdefault(s.block_number, s.block_hash)
                self._seen_ticks.setdefault(s.block_number, []).append(
                    (inst.key, trade_id(s.block_number, s.log_index))
                )
            batch = ticks_from_swaps(inst.key, swaps, self._block_ts, pool.base, pool.quote)
            if len(batch):
                self._last_price[inst.key] = Decimal(repr(float(batch.price[-1])))
                out.append(batch)
        head = await w3.eth.get_block(to_block)
        self._remember(to_block, "0x" + bytes(head["hash"]).hex())
        return out

    def subscribe(self, instruments: Sequence[Instrument]) -> None:
        """Request these pools' Swap events again, from the next block read on."""
        self.unsubscribed.difference_update(i.key for i in instruments)

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stop requesting these pools' Swap events (and measuring them) from the next block
        read on; their blocks in between are never delivered."""
        self.unsubscribed.update(i.key for i in instruments)

    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """The pools' Swap events, polled block by block, as TickBatches per instrument.

        Starts at ``from_block`` (default: the next block) and ends after ``until_block`` when
        set. A reorg of delivered blocks emits :class:`TicksRetracted` and re-reads from the fork.
        Unsubscribed instruments' pools are left out of each read (``unsubscribe``).
        """
        w3 = self._w3()
        cfg = self.config
        next_block = (
            cfg.from_block if cfg.from_block is not None else int(await w3.eth.block_number) + 1
        )
        while not self._closed:
            fork = await self._check_reorg()
            if fork is not None:
                next_block = min(next_block, fork)
            tip = int(await w3.eth.block_number)
            if cfg.until_block is not None:
                tip = min(tip, cfg.until_block)
            # Public RPCs cap eth_getLogs ranges: a backlog is read in log_range pieces.
            head = min(tip, next_block + cfg.log_range - 1)
            if head >= next_block:
                live = [i for i in instruments if i.key not in self.unsubscribed]
                batches = await self.poll_trades(live, next_block, head) if live else []
                if not live:
                    block = await w3.eth.get_block(head)
                    self._remember(head, "0x" + bytes(block["hash"]).hex())
                if cfg.measure_liquidity and live:
                    await self._measure(live, head)
                for batch in batches:
                    yield batch
                    await self._check_limits(batch)
                next_block = head + 1
            if cfg.until_block is not None and next_block > cfg.until_block:
                return
            if next_block > tip:
                await anyio.sleep(cfg.poll_interval_s)

    async def _check_limits(self, batch: TickBatch) -> None:
        """Trigger resting emulated limits the batch's prices crossed."""
        for state in list(self._orders.values()):
            order = state.order
            if not state.emulated or order.instrument != batch.instrument:
                continue
            if state.report.status is not OrderStatus.ACCEPTED or order.price is None:
                continue
            low, high = float(batch.price.min()), float(batch.price.max())
            crossed = (
                low <= float(order.price)
                if order.side is Side.BUY
                else (high >= float(order.price))
            )
            if not crossed:
                continue
            seen = Decimal(repr(low if order.side is Side.BUY else high))
            self._emit(
                EmulatedLimitTriggered(
                    ts_ns=batch.last_ts,
                    venue=self.instance,
                    client_order_id=order.client_order_id,
                    limit_price=order.price,
                    pool_price=seen,
                )
            )
            state.report = attrs.evolve(state.report, status=OrderStatus.NEW)
            await self._execute(state, limit=order.price)

    # -- swaps built elsewhere (aggregator routes; tradewind.execution) ---------------------------
    def swap_chain_id(self) -> int:
        """The chain id swaps are sent on (known once connected)."""
        if self.chain is None:
            raise VenueError(f"venue '{self.instance}' is not connected: call connect() first")
        return self.chain.chain_id

    async def chain_time_ns(self) -> int:
        """The latest block's timestamp (what a swap's deadline is measured against)."""
        return await self._now_ns()

    async def swap_terms(self, instrument: str, side: Side) -> tuple[int, Decimal]:
        """(gas price in wei, output-token wei per native wei) for a swap of ``instrument``.

        The native coin is valued through its wrapper: 1:1 when the output token is the
        wrapper, else at the mid price of a configured pool pairing the wrapper with the
        output token. Without such a pool, gas cannot be compared in the output token: a
        VenueError names the pool to add."""
        assert self.chain is not None
        fees = await self._fees()
        if "gasPrice" in fees:
            gas_price = fees["gasPrice"]
        else:  # what a transaction pays now: the base fee plus the tip (not the 2x cap)
            tip = fees["maxPriorityFeePerGas"]
            gas_price = (fees["maxFeePerGas"] - tip) // 2 + tip
        pool = self.pool(instrument)
        out = pool.base if side is Side.BUY else pool.quote
        native_dec = self.chain.native_decimals
        wrapped = self.chain.wrapped_native.lower()
        scale = Decimal(10) ** (out.decimals - native_dec)
        if out.address.lower() == wrapped:
            return gas_price, scale
        for symbol, p in self.pools.items():
            if p.base.address.lower() == wrapped and p.quote.address == out.address:
                return gas_price, await self.mid_price(symbol) * scale
            if p.quote.address.lower() == wrapped and p.base.address == out.address:
                return gas_price, scale / await self.mid_price(symbol)
        raise VenueError(
            f"venue '{self.instance}' cannot value gas in {out.symbol}: no configured pool pairs "
            f"it with the wrapped native token {self.chain.wrapped_native}; add one "
            f"@ {self._where}.pools"
        )

    def was_sent(self, client_order_id: str) -> bool:
        """True once a transaction for ``client_order_id`` may have reached the network
        (signed and not refused by the node): it must never be sent again."""
        rec = None if self._journal is None else self._journal.records.get(client_order_id)
        if rec is None or not rec.sent:
            return False
        refused = rec.outcome == "rejected" and rec.reason.startswith("the node refused")
        return not refused

    async def send_swap_transaction(
        self,
        order: Order,
        *,
        to: str,
        data: str,
        amount_in: int,
        spender: str,
        expected_out: int,
        min_out: int,
        route: str,
    ) -> OrderReport:
        """Send a swap transaction built elsewhere (an aggregator's, checked by the caller)
        for a market ``order`` on one of this venue's pools: approve ``spender`` for
        ``amount_in`` of the sold token when needed, then sign and send ``to``/``data``
        through the venue's nonce manager and transaction journal; the receipt becomes the
        order's fill. A client order id the venue knows returns its state and sends nothing.
        Native value is never sent (the sold token is the pool's ERC-20)."""
        known = await self._known(order.client_order_id)
        if known is not None:
            return known.report
        pool = self.pool(order.instrument)
        token_in = pool.quote if order.side is Side.BUY else pool.base
        to, spender = to_checksum_address(to), to_checksum_address(spender)
        cid = order.client_order_id
        state = _OrderState(
            order=order, report=self._report(order, OrderStatus.NEW, await self._now_ns())
        )
        self._orders[cid] = state
        meta = {
            "instrument": order.instrument,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "amount_in": str(amount_in),
            "expected_out": str(expected_out),
            "min_out": str(min_out),
            "emulated": False,
            "route": route,
        }
        with anyio.CancelScope(shield=True):
            async with self._lock:
                try:
                    self._require_wallet("send swaps")
                    await self._ensure_allowance(token_in, spender, amount_in, cid)
                    receipt = await self._transact(cid, "swap", to, data, meta, state=state)
                except BaseException:
                    if not self.was_sent(cid):
                        # Nothing left the wallet: the id stays free for another route.
                        self._orders.pop(cid, None)
                    raise
                assert self._journal is not None
                return await self._settle(self._journal.records[cid], receipt, notify=True)
