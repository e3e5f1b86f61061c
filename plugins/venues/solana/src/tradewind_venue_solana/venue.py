"""The Solana venue: a wallet's SOL and SPL balances as the account, market orders as swaps.

A market order becomes one swap quoted and built by the configured aggregator plugin
(:class:`~tradewind_venue_solana.swapsource.SwapSource`, e.g. Jupiter): a sell is an ExactIn
swap of the base quantity, a buy an ExactOut swap of it. The transaction is checked
(:mod:`.txcheck`), signed, its signature journaled (:mod:`.txjournal`), sent, and followed until
the configured commitment; the fill is the wallet's token balance changes in the landed
transaction's metadata, with everything paid in SOL (fee, priority fee, rent of accounts the
swap created) as the fill's fee in SOL, to the lamport.

Blockhash expiry: a transaction not seen landed while its blockhash is valid is looked up once
more after the cluster's block height passed its ``lastValidBlockHeight``; only when that lookup
says it never landed (it can no longer land) is the order re-built once with a fresh blockhash.
A transaction seen landed is never re-sent, and one client order id never sends two swaps that
could both land.
"""

from __future__ import annotations

import base64
import json
import statistics
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import anyio
import attrs
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.models import TokenAccountOpts, TxOpts
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from tradewind.loader import PluginRequest, load_host
from tradewind.model import (
    Event,
    Fill,
    Instrument,
    InstrumentKind,
    Order,
    OrderReport,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TickBatch,
)
from tradewind.protocols import EventSink

from .config import DirectPool, PoolEntry, SolanaConfig, TokenEntry
from .constants import (
    BASE_PROGRAMS,
    COMMITMENTS,
    LAMPORTS_PER_SOL,
    NATIVE_MINT,
    NATIVE_SOL,
    TOKEN_PROGRAMS,
)
from .direct import SwapAsk, amm_v4_swap, cpmm_swap, whirlpool_swap
from .marketdata import decode_pool_trade, trades_to_batch
from .raydium import AMM_V4_PROGRAM, CPMM_PROGRAM
from .schemas import BalanceChanges, balance_changes
from .swapsource import SolSwapQuote, SwapSource
from .txcheck import CheckedSwap, SwapExpectation, check_swap
from .txjournal import SigJournal, SigRecord
from .whirlpool import WHIRLPOOL_PROGRAM

#: The program of each kind of direct pool (the only one its swap transaction may call).
_DIRECT_PROGRAMS = {"whirlpool": WHIRLPOOL_PROGRAM, "cpmm": CPMM_PROGRAM, "amm_v4": AMM_V4_PROGRAM}


class SolanaError(Exception):
    """The venue could not do what was asked; the message names the instance and why."""


@attrs.define
class _OrderState:
    order: Order
    report: OrderReport
    fills: list[Fill] = attrs.Factory(list)


def load_keypair(text: str, where: str) -> Keypair:
    """A keypair from a JSON array of 64 bytes or a base58 secret key."""
    text = text.strip()
    try:
        if text.startswith("["):
            return Keypair.from_bytes(bytes(json.loads(text)))
        return Keypair.from_base58_string(text)
    except Exception as exc:  # solders raises ValueError or its own errors; never echo the key
        raise SolanaError(
            f"{where}: the keypair is neither a JSON array of 64 bytes nor a "
            f"base58 secret key ({type(exc).__name__})"
        ) from None


class SolanaVenue:
    """A Solana wallet trading SPL tokens through a swap aggregator (see the module doc)."""

    name: ClassVar[str] = "solana"
    config_class: ClassVar[type] = SolanaConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"data", "values", "execution", "account", "fills:history"}
    )

    def __init__(self, *, config: SolanaConfig, instance: str) -> None:
        self.config = config
        self.instance = instance
        self._where = f"[venues.{instance}]"
        self._sink: EventSink | None = None
        self._client: AsyncClient | None = None
        self._keypair: Keypair | None = None
        self._source: SwapSource | None = None
        self._decimals: dict[str, int] = {NATIVE_SOL: 9}
        #: The configured tokens and native SOL (wrapped for swaps, the native mint).
        self._tokens: dict[str, TokenEntry] = {
            **config.tokens,
            NATIVE_SOL: TokenEntry(mint=str(NATIVE_MINT), program="token"),
        }
        self._direct: dict[str, DirectPool] = {d.symbol: d for d in config.direct_pools}
        self._orders: dict[str, _OrderState] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._journal: SigJournal | None = None
        self._instruments = {
            m.symbol: Instrument(
                venue=instance,
                symbol=m.symbol,
                kind=InstrumentKind.SPOT,
                tick_size=Decimal(m.tick_size),
                lot_size=Decimal(m.lot_size),
                base=m.base,
                quote=m.quote,
            )
            for m in config.markets
        }
        self.changes: dict[str, BalanceChanges] = {}
        self._last_sig: dict[str, str] = {}
        self._values: dict[str, dict[str, float]] = {}
        #: (client order id, why) of each swap built through a direct pool instead of the
        #: aggregator.
        self.fallbacks: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"<SolanaVenue {self.instance}>"

    # -- wiring -----------------------------------------------------------------------------
    def set_sink(self, sink: EventSink) -> None:
        """Where reports and fills go."""
        self._sink = sink

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Instruments come from ``markets``; others are refused by name."""
        for inst in instruments:
            if inst.symbol not in self._instruments:
                raise SolanaError(
                    f"{self._where}: instrument {inst.symbol} is not in markets "
                    f"({', '.join(self._instruments) or 'none'})"
                )

    def instrument_currencies(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` token names of a market."""
        inst = self._instruments[symbol]
        return inst.base, inst.quote

    @property
    def wallet(self) -> Pubkey:
        """The wallet's address."""
        if self._keypair is None:
            raise SolanaError(f"{self._where}: not connected")
        return self._keypair.pubkey()

    @property
    def client(self) -> AsyncClient:
        """The RPC client."""
        if self._client is None:
            raise SolanaError(f"{self._where}: not connected")
        return self._client

    def _commitment(self) -> Commitment:
        return Commitment(self.config.commitment)

    async def connect(self) -> None:
        """Read the keypair, open the RPC client, read each mint's decimals, load the
        aggregator and the signature journal."""
        self._keypair = load_keypair(self.config.keypair.reveal(), f"{self._where}.keypair")
        self._client = AsyncClient(self.config.rpc_url.reveal(), commitment=self._commitment())
        for name, tok in self.config.tokens.items():
            self._decimals[name] = await self._mint_decimals(name, tok)
        self._source = self._load_source()
        # Orders journaled before a restart are resolved by signature when asked about
        # (fetch_order, or submit_order of the same client order id), never re-sent.
        self._journal = SigJournal(Path(self.config.tx_journal))

    def _load_source(self) -> SwapSource:
        from tradewind._serde import structure

        key = f"{self._where}.aggregator"
        host = load_host(
            [PluginRequest(kind="aggregators", name=self.config.aggregator, config_key=key)]
        )
        cls: Any = host.plugin_class("aggregators", self.config.aggregator)
        source = cls(
            config=structure(dict(self.config.aggregator_config), cls.config_class),
            instance=self.config.aggregator,
        )
        if not isinstance(source, SwapSource):
            raise SolanaError(
                f"{key}: aggregator '{self.config.aggregator}' does not quote "
                "Solana swaps (it lacks quote_sol / swap_sol / sol_programs)"
            )
        return source

    async def _mint_decimals(self, name: str, tok: TokenEntry) -> int:
        info = await self.client.get_account_info(Pubkey.from_string(tok.mint))
        acc = info.value
        if acc is None or acc.owner != TOKEN_PROGRAMS[tok.program] or len(acc.data) < 82:
            raise SolanaError(
                f"{self._where}.tokens.{name}: {tok.mint} is not a mint of the {tok.program} "
                f"program ({'no account' if acc is None else f'owner {acc.owner}'})"
            )
        return int(bytes(acc.data)[44])

    async def close(self) -> None:
        """Close the RPC client and the aggregator (idempotent)."""
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._source is not None:
            await self._source.close()
            self._source = None

    async def instruments(self) -> Sequence[Instrument]:
        """The configured markets."""
        return list(self._instruments.values())

    # -- market data ------------------------------------------------------------------------
    def _pool(self, inst: Instrument) -> PoolEntry:
        for p in self.config.pools:
            if p.symbol == inst.symbol:
                return p
        raise SolanaError(
            f"{self._where}.pools: no pool streams {inst.symbol} (pools: "
            f"{', '.join(p.symbol for p in self.config.pools) or 'none'})"
        )

    async def poll_trades(
        self, inst: Instrument, until_slot: int | None = None
    ) -> TickBatch | None:
        """The pool's swaps since the last poll (all of its history at the first), oldest
        first, and its state measured."""
        pool = self._pool(inst)
        vault = Pubkey.from_string(pool.base_vault)
        last = self._last_sig.get(inst.key)
        resp = await self.client.get_signatures_for_address(
            vault, until=Signature.from_string(last) if last else None, limit=1000
        )
        sigs = [
            str(r.signature)
            for r in reversed(resp.value)
            if r.err is None and (until_slot is None or r.slot <= until_slot)
        ]
        trades = []
        for sig in sigs:
            got = await self.client.get_transaction(
                Signature.from_string(sig),
                encoding="base64",
                commitment=Commitment("confirmed"),
                max_supported_transaction_version=0,
            )
            if got.value is None:
                continue
            trade = decode_pool_trade(
                json.loads(got.value.to_json()),
                sig,
                base_vault=pool.base_vault,
                quote_vault=pool.quote_vault,
                base_decimals=self._decimals[inst.base],
                quote_decimals=self._decimals[inst.quote],
            )
            if trade is not None:
                trades.append(trade)
        if sigs:
            self._last_sig[inst.key] = sigs[-1]
        await self._measure(inst, pool)
        return trades_to_batch(inst.key, trades) if trades else None

    async def _measure(self, inst: Instrument, pool: PoolEntry) -> None:
        got = await self.client.get_multiple_accounts(
            [Pubkey.from_string(pool.base_vault), Pubkey.from_string(pool.quote_vault)]
        )
        amounts = [
            int.from_bytes(bytes(a.data)[64:72], "little") if a is not None else 0
            for a in got.value
        ]
        base = Decimal(amounts[0]).scaleb(-self._decimals[inst.base])
        quote = Decimal(amounts[1]).scaleb(-self._decimals[inst.quote])
        price = quote / base if base else Decimal(0)
        self._values[inst.key] = {"price": float(price), "liquidity": float(quote + base * price)}

    def venue_values(self, instrument: str) -> Mapping[str, float]:
        """``price`` (quote reserve / base reserve) and ``liquidity`` (both reserves valued in
        the quote token) of the instrument's pool, NaN until measured."""
        return self._values.get(instrument, {"price": float("nan"), "liquidity": float("nan")})

    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """The pools' swaps, polled every ``poll_interval_s``, as TickBatches per instrument."""
        known = [self._instruments.get(i.symbol) for i in instruments]
        insts = [i for i in known if i is not None]
        for inst in insts:
            self._pool(inst)
        until = self.config.until_slot
        while self._client is not None:
            done = until is not None and (await self.client.get_slot()).value >= until
            for inst in insts:
                batch = await self.poll_trades(inst, until)
                if batch is not None:
                    yield batch
            if done:
                return
            await anyio.sleep(self.config.poll_interval_s)

    # -- account ----------------------------------------------------------------------------
    async def _token_amount(self, tok: TokenEntry) -> int:

        resp = await self.client.get_token_accounts_by_owner(
            self.wallet,
            TokenAccountOpts(
                mint=Pubkey.from_string(tok.mint), program_id=TOKEN_PROGRAMS[tok.program]
            ),
        )
        return sum(int.from_bytes(bytes(a.account.data)[64:72], "little") for a in resp.value)

    async def fetch_balances(self) -> Mapping[str, Decimal]:
        """SOL (the wallet's lamports and any wrapped SOL it holds) and every configured token,
        exact."""
        sol = (await self.client.get_balance(self.wallet)).value
        sol += await self._token_amount(self._tokens[NATIVE_SOL])
        out = {"SOL": Decimal(sol) / LAMPORTS_PER_SOL}
        for name, tok in self.config.tokens.items():
            out[name] = Decimal(await self._token_amount(tok)).scaleb(-self._decimals[name])
        return out

    async def fetch_positions(self) -> Sequence[Position]:
        """The base holdings of the traded markets (spot); of native SOL, what is above
        ``sol_reserve`` (the wallet's fee float is no position)."""
        balances = dict(await self.fetch_balances())
        balances[NATIVE_SOL] = max(balances["SOL"] - Decimal(self.config.sol_reserve), Decimal(0))
        return [
            Position(instrument=inst.key, quantity=balances[inst.base])
            for inst in self._instruments.values()
            if balances.get(inst.base)
        ]

    # -- orders -----------------------------------------------------------------------------
    def _publish(self, state: _OrderState, report: OrderReport) -> OrderReport:
        state.report = report
        if self._sink is not None:
            self._sink.on_report(report)
        return report

    def _emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink.on_event(event)

    def _report(self, order: Order, status: OrderStatus, **kw: Any) -> OrderReport:
        return OrderReport(
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            status=status,
            ts_ns=kw.pop("ts_ns", 0),
            **kw,
        )

    async def submit_order(self, order: Order) -> OrderReport:
        """Swap for a market order; idempotent on the client order id."""
        known = self._orders.get(order.client_order_id)
        if known is not None:
            return known.report
        rec = self._journal.records.get(order.client_order_id) if self._journal else None
        if rec is not None and rec.attempts:
            state = _OrderState(order, self._report(order, OrderStatus.ACCEPTED))
            self._orders[order.client_order_id] = state
            return await self._resolve_journaled(state, rec)
        state = _OrderState(order, self._report(order, OrderStatus.ACCEPTED))
        self._orders[order.client_order_id] = state
        problem = self._order_problem(order)
        if problem:
            return self._publish(state, self._report(order, OrderStatus.REJECTED, reason=problem))
        lock = self._locks.setdefault(order.client_order_id, anyio.Lock())
        async with lock:
            return await self._swap(state)

    def _order_problem(self, order: Order) -> str:
        symbol = order.instrument.split(":", 1)[-1]
        if symbol not in self._instruments:
            return f"{order.instrument} is not a market of {self._where}"
        if order.type is not OrderType.MARKET:
            return (
                f"{self._where} trades through swaps: only market orders (got "
                f"{order.type.value}); limit orders on pools are not emulated"
            )
        return ""

    def _units(self, token: str, amount: Decimal) -> int:
        units = amount.scaleb(self._decimals[token])
        if units != units.to_integral_value():
            raise SolanaError(
                f"{self._where}: {amount} {token} is finer than its "
                f"{self._decimals[token]} decimals"
            )
        return int(units)

    async def _cu_price(self) -> int:
        cfg = self.config
        if cfg.priority_fee == "fixed":
            return min(cfg.priority_fee_micro_lamports, cfg.max_priority_fee_micro_lamports)
        fees = await self.client.get_recent_prioritization_fees()
        seen = [f.prioritization_fee for f in fees.value]
        median = int(statistics.median(seen)) if seen else 0
        return min(
            max(median, cfg.priority_fee_micro_lamports), cfg.max_priority_fee_micro_lamports
        )

    async def _build(
        self, order: Order
    ) -> tuple[SolSwapQuote, VersionedTransaction, CheckedSwap, int, str]:
        """Quote, build, check and sign one swap transaction for ``order``."""
        assert self._source is not None and self._keypair is not None
        inst = self._instruments[order.instrument.split(":", 1)[-1]]
        base, quote = self._tokens[inst.base], self._tokens[inst.quote]
        qty = self._units(inst.base, order.quantity)
        if order.side is Side.SELL:
            src, dst, mode = base, quote, "ExactIn"
        else:
            src, dst, mode = quote, base, "ExactOut"
        price = await self._cu_price()
        direct = self._direct.get(inst.symbol)
        programs = {*self.config.programs, *self._source.sol_programs()}
        pools: frozenset[Pubkey] = frozenset()
        try:
            if direct is None:
                q, tx, last_valid = await self._aggregator_tx(src, dst, mode, qty, price)
            else:
                with anyio.fail_after(self.config.aggregator_deadline_s):
                    q, tx, last_valid = await self._aggregator_tx(src, dst, mode, qty, price)
        except Exception as exc:
            if direct is None:
                raise
            # Nothing was signed: the aggregator answered no transaction in time. The swap is
            # built here through the pool instead (one swap for the order either way).
            self.fallbacks.append((order.client_order_id, f"{type(exc).__name__}: {exc}"))
            q, tx, last_valid = await self._direct_tx(direct, src, dst, mode, qty, price)
            programs = {str(_DIRECT_PROGRAMS[direct.kind])}
            pools = frozenset({Pubkey.from_string(direct.address)})
        want = SwapExpectation(
            wallet=self.wallet,
            input_mint=Pubkey.from_string(src.mint),
            input_program=TOKEN_PROGRAMS[src.program],
            output_mint=Pubkey.from_string(dst.mint),
            output_program=TOKEN_PROGRAMS[dst.program],
            swap_mode=mode,
            max_in=q.in_amount if mode == "ExactIn" else q.other_amount_threshold,
            min_out=q.other_amount_threshold if mode == "ExactIn" else q.out_amount,
            max_cu_price=self.config.max_priority_fee_micro_lamports,
            extra_programs=frozenset(Pubkey.from_string(p) for p in programs),
            pools=pools,
        )
        checked = check_swap(tx, want, BASE_PROGRAMS)
        sig = self._keypair.sign_message(to_bytes_versioned(tx.message))
        signed = VersionedTransaction.populate(tx.message, [sig, *tx.signatures[1:]])
        return q, signed, checked, last_valid, str(sig)

    async def _aggregator_tx(
        self, src: TokenEntry, dst: TokenEntry, mode: str, qty: int, price: int
    ) -> tuple[SolSwapQuote, VersionedTransaction, int]:
        """The aggregator's quote and unsigned transaction (it wraps and unwraps native SOL
        in the swap's transaction when a side is SOL; the check allows only that)."""
        assert self._source is not None
        q = await self._source.quote_sol(
            input_mint=src.mint,
            output_mint=dst.mint,
            amount=qty,
            swap_mode=mode,
            slippage_bps=self.config.slippage_bps,
        )
        self._check_quote(q, src, dst, mode, qty, self._source.name)
        built = await self._source.swap_sol(
            q,
            user=str(self.wallet),
            compute_unit_limit=self.config.compute_unit_limit,
            compute_unit_price_micro_lamports=price,
            wrap_and_unwrap_sol=str(NATIVE_MINT) in (src.mint, dst.mint),
        )
        tx = VersionedTransaction.from_bytes(base64.b64decode(built.tx_b64))
        return q, tx, built.last_valid_block_height

    def _check_quote(
        self, q: SolSwapQuote, src: TokenEntry, dst: TokenEntry, mode: str, qty: int, by: str
    ) -> None:
        if (q.input_mint, q.output_mint, q.swap_mode) != (src.mint, dst.mint, mode) or (
            (q.in_amount if mode == "ExactIn" else q.out_amount) != qty
        ):
            raise SolanaError(
                f"{self._where}: the {by} quote is for another swap "
                f"({q.input_mint} -> {q.output_mint} {q.swap_mode})"
            )

    async def _direct_tx(
        self, pool: DirectPool, src: TokenEntry, dst: TokenEntry, mode: str, qty: int, price: int
    ) -> tuple[SolSwapQuote, VersionedTransaction, int]:
        """The swap through ``pool``, built here (see :mod:`.direct`), with a fresh blockhash."""
        build = {"cpmm": cpmm_swap, "amm_v4": amm_v4_swap}.get(pool.kind, whirlpool_swap)
        ask = SwapAsk(
            wallet=self.wallet,
            input_mint=Pubkey.from_string(src.mint),
            input_program=TOKEN_PROGRAMS[src.program],
            output_mint=Pubkey.from_string(dst.mint),
            output_program=TOKEN_PROGRAMS[dst.program],
            amount=qty,
            swap_mode=mode,
            slippage_bps=self.config.slippage_bps,
            compute_unit_limit=pool.compute_unit_limit,
            compute_unit_price=price,
        )
        built = await build(self.client, Pubkey.from_string(pool.address), ask)
        self._check_quote(built.quote, src, dst, mode, qty, f"{pool.kind} {pool.address}")
        latest = (await self.client.get_latest_blockhash()).value
        msg = MessageV0.try_compile(self.wallet, list(built.instructions), [], latest.blockhash)
        tx = VersionedTransaction.populate(
            msg, [Signature.default()] * msg.header.num_required_signatures
        )
        return built.quote, tx, latest.last_valid_block_height

    async def _swap(self, state: _OrderState) -> OrderReport:
        from tradewind_venue_solana.txcheck import UnsafeSwap

        order = state.order
        assert self._journal is not None
        for attempt in (0, 1):
            try:
                q, tx, checked, last_valid, sig = await self._build(order)
            except UnsafeSwap as exc:
                reason = f"refused before signing: {exc}"
                self._journal.outcome(order.client_order_id, "rejected", reason=reason)
                return self._publish(
                    state, self._report(order, OrderStatus.REJECTED, reason=reason)
                )
            except Exception as exc:
                reason = f"no swap: {type(exc).__name__}: {exc}"
                if attempt == 0:
                    self._journal.outcome(order.client_order_id, "rejected", reason=reason)
                    return self._publish(
                        state, self._report(order, OrderStatus.REJECTED, reason=reason)
                    )
                raise
            self._journal.signed(
                order.client_order_id,
                sig,
                str(tx.message.recent_blockhash),
                last_valid,
                base64.b64encode(bytes(tx)).decode(),
                meta={
                    "route": list(q.route),
                    "in_amount": q.in_amount,
                    "out_amount": q.out_amount,
                    "threshold": q.other_amount_threshold,
                    "swap_mode": q.swap_mode,
                    "cu_limit": checked.compute_unit_limit,
                    "cu_price": checked.compute_unit_price,
                    "attempt": attempt,
                },
            )
            rejected = await self._send(bytes(tx))
            if rejected:
                reason = f"the cluster refused {sig}: {rejected}"
                self._journal.outcome(order.client_order_id, "rejected", sig, reason)
                return self._publish(
                    state, self._report(order, OrderStatus.REJECTED, reason=reason)
                )
            outcome = await self._follow(sig, last_valid)
            if outcome == "landed":
                return await self._settle(state, sig)
            if outcome == "unknown":
                return self._publish(
                    state,
                    self._report(
                        order,
                        OrderStatus.ACCEPTED,
                        venue_order_id=sig,
                        reason=f"{sig} not confirmed within {self.config.confirm_timeout_s} s",
                    ),
                )
            self._journal.outcome(
                order.client_order_id, "expired", sig, "blockhash expired before it landed"
            )
            if attempt == 1:
                break
        reason = "the swap expired twice before landing (re-sent once with a fresh blockhash)"
        self._journal.outcome(order.client_order_id, "rejected", reason=reason)
        return self._publish(state, self._report(order, OrderStatus.REJECTED, reason=reason))

    async def _send(self, raw: bytes) -> str:
        """Send; the cluster's refusal as text ("" when sent or when the answer was lost)."""
        from solana.exceptions import SolanaRpcException
        from solana.rpc.core import RPCException

        try:
            await self.client.send_raw_transaction(raw, TxOpts(skip_preflight=False, max_retries=0))
        except RPCException as exc:
            return str(exc)
        except (SolanaRpcException, OSError):
            return ""  # no answer: the transaction may have landed; follow its signature
        return ""

    async def _status(self, sig: str) -> tuple[str, Any]:
        resp = await self.client.get_signature_statuses(
            [Signature.from_string(sig)], search_transaction_history=True
        )
        st = resp.value[0]
        if st is None:
            return "", None
        level = (
            str(st.confirmation_status).rsplit(".", 1)[-1].lower()
            if (st.confirmation_status is not None)
            else "processed"
        )
        return level, st.err

    async def _follow(self, sig: str, last_valid: int) -> str:
        """``landed`` at the commitment, ``expired`` (known never to land) or ``unknown``."""
        need = COMMITMENTS.index(self.config.commitment)
        with anyio.move_on_after(self.config.confirm_timeout_s):
            while True:
                level, _err = await self._status(sig)
                if level and COMMITMENTS.index(level) >= need:
                    return "landed"
                if not level:
                    height = (await self.client.get_block_height()).value
                    if height > last_valid:
                        # Past its last valid height it can never land: one more look decides.
                        level, _err = await self._status(sig)
                        if not level:
                            return "expired"
                await anyio.sleep(self.config.poll_interval_s)
        return "unknown"

    async def _changes(self, sig: str) -> BalanceChanges:
        resp = await self.client.get_transaction(
            Signature.from_string(sig),
            encoding="base64",
            commitment=Commitment("confirmed"),
            max_supported_transaction_version=0,
        )
        if resp.value is None:
            raise SolanaError(f"{self._where}: getTransaction {sig} returned nothing")
        tx = json.loads(resp.value.to_json())
        changes = balance_changes(tx, sig, str(self.wallet))
        self.changes[sig] = changes
        return changes

    async def _settle(self, state: _OrderState, sig: str) -> OrderReport:
        assert self._journal is not None
        order = state.order
        changes = await self._changes(sig)
        inst = self._instruments[order.instrument.split(":", 1)[-1]]
        base_units, quote_units = (
            abs(self._moved(changes, name)) for name in (inst.base, inst.quote)
        )
        if not base_units:
            reason = f"{sig} landed but moved no {inst.base} for the wallet"
            self._journal.outcome(order.client_order_id, "rejected", sig, reason)
            return self._publish(state, self._report(order, OrderStatus.REJECTED, reason=reason))
        qty = Decimal(base_units).scaleb(-self._decimals[inst.base])
        quote_amt = Decimal(quote_units).scaleb(-self._decimals[inst.quote])
        fill = Fill(
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            side=order.side,
            quantity=qty,
            price=quote_amt / qty,
            fee=changes.cost_sol,
            ts_ns=0,
            trade_id=sig,
            fee_currency="SOL",
            fee_asset="other",
        )
        self._journal.outcome(
            order.client_order_id,
            "filled",
            sig,
            meta={
                "fee_lamports": changes.fee_lamports,
                "rent_lamports": changes.rent_lamports,
                "base_units": base_units,
                "quote_units": quote_units,
                "slot": changes.slot,
                "compute_units": changes.compute_units,
            },
        )
        state.fills.append(fill)
        if self._sink is not None:
            self._sink.on_fill(fill)
        return self._publish(
            state, self._report(order, OrderStatus.FILLED, filled_quantity=qty, venue_order_id=sig)
        )

    def _moved(self, changes: BalanceChanges, token: str) -> int:
        """Base units of ``token`` the transaction moved for the wallet (native SOL: the
        lamports traded, wrapped or not)."""
        if token == NATIVE_SOL:
            return changes.native_lamports
        return changes.tokens.get(self._tokens[token].mint, 0)

    async def _resolve_journaled(self, state: _OrderState, rec: SigRecord) -> OrderReport:
        """An order the journal knows: find which of its signatures landed, never re-send."""
        for sig in rec.signatures:
            level, _ = await self._status(sig)
            if level:
                return await self._settle(state, sig)
        reason = rec.reason or "journaled, not landed; not re-sent"
        status = OrderStatus.REJECTED if rec.outcome else OrderStatus.ACCEPTED
        return self._publish(state, self._report(state.order, status, reason=reason))

    async def cancel_order(self, instrument: str, client_order_id: str) -> OrderReport:
        """A swap cannot be cancelled once signed; an unknown id is refused by name."""
        state = self._orders.get(client_order_id)
        if state is None:
            raise SolanaError(f"{self._where}: no order {client_order_id}")
        return state.report

    async def fetch_order(self, instrument: str, client_order_id: str) -> OrderReport | None:
        """The order's state; one journaled before a restart is resolved by signature."""
        state = self._orders.get(client_order_id)
        if state is not None:
            return state.report
        rec = self._journal.records.get(client_order_id) if self._journal else None
        if rec is None or not rec.attempts:
            return None
        order = Order(
            client_order_id=client_order_id,
            instrument=instrument,
            side=Side.BUY,
            type=OrderType.MARKET,
            quantity=Decimal(1),
        )
        state = _OrderState(order, self._report(order, OrderStatus.ACCEPTED))
        self._orders[client_order_id] = state
        sink, self._sink = self._sink, None
        try:
            return await self._resolve_journaled(state, rec)
        finally:
            self._sink = sink

    async def fetch_fills(self, instrument: str, client_order_id: str) -> Sequence[Fill]:
        """The fills of an order (from the landed transaction's metadata)."""
        state = self._orders.get(client_order_id)
        return list(state.fills) if state is not None else []

    async def fetch_open_orders(self) -> Sequence[OrderReport]:
        """Swaps sent and not yet known to have landed or expired."""
        return [s.report for s in self._orders.values() if not s.report.status.is_terminal]
