"""The direct-pool fallback: Jupiter down (HTTP 503) or too slow, the venue swaps through the
configured Orca Whirlpool itself.

The pool's accounts are the ones Orca's SDK encodes in ``golden/whirlpool_vectors.mjs`` (pool
states built to known values), set into LiteSVM at the pool's address and at the tick arrays'
program addresses; the venue reads them over the RPC facade (getAccountInfo,
getMultipleAccounts), quotes, builds, checks, signs, journals and sends the transaction. The
Whirlpool program ships as a binary in no registry (npm's Orca packages are SDKs), so LiteSVM
cannot execute the swap: the facade refuses the transaction (the program is not deployed
there) and the order is rejected with that reason. What is checked is everything up to the
bytes: the sent transaction's swap instruction has exactly the data and accounts Orca's SDK
(``@orca-so/whirlpools-client`` ``getSwapV2Instruction``, its own tick-array and oracle
address derivations) builds for the same pool state, wallet and amounts, the quote's threshold
is the SDK's, the wallet's signature is valid, and exactly one swap was sent for the order.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
import sol_golden
from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind_venue_solana import whirlpool as wp
from tradewind_venue_solana.constants import (
    ASSOCIATED_TOKEN_PROGRAM,
    COMPUTE_BUDGET_PROGRAM,
    NATIVE_MINT,
    SYSTEM_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
)

D = Decimal
MINT_A_OFFSET = 101  # token_mint_a in a Whirlpool account (after config, bump, fees, price)


@pytest.fixture(scope="module")
def state() -> dict:
    return sol_golden.vectors("whirlpool_vectors.mjs")["states"][0]


def sdk_swap_ix(**args: Any) -> dict:
    return sol_golden.run_golden("whirlpool_swap_ix.mjs", args)


def sdk_quote(state: dict, *, by_input: bool, a_to_b: bool, amount: int) -> dict:
    for q in state["quotes"]:
        if (q["by_input"], q["a_to_b"], int(q["amount"])) == (by_input, a_to_b, amount):
            assert "error" not in q, q
            return q
    raise AssertionError(f"no SDK quote {by_input=} {a_to_b=} {amount=}")


def _mint_data(decimals: int) -> bytes:
    return bytes(36) + (10**15).to_bytes(8, "little") + bytes([decimals, 1]) + bytes(36)


def install_pool(sol: Any, state: dict, *, native_a: bool = False) -> dict[str, Any]:
    """The SDK's pool and tick-array accounts set into the VM, and the pool's two mints
    (A under SPL Token, B under Token-2022, 6 decimals; A replaced by native SOL if asked)."""
    svm = sol.rpc.svm
    data = bytearray(base64.b64decode(state["data"]))
    if native_a:
        data[MINT_A_OFFSET : MINT_A_OFFSET + 32] = bytes(NATIVE_MINT)
    pool = Pubkey.from_string(state["address"])

    def put(key: Pubkey, raw: bytes, owner: Pubkey) -> None:
        svm.set_account(
            key,
            Account(
                lamports=svm.minimum_balance_for_rent_exemption(len(raw)),
                data=raw,
                owner=owner,
                executable=False,
                rent_epoch=0,
            ),
        )

    put(pool, bytes(data), wp.WHIRLPOOL_PROGRAM)
    for arr in state["tick_arrays"]:
        put(
            wp.tick_array_address(pool, arr["start"]),
            base64.b64decode(arr["data"]),
            wp.WHIRLPOOL_PROGRAM,
        )
    decoded = wp.decode_whirlpool(pool, bytes(data))
    if not native_a:
        put(decoded.token_mint_a, _mint_data(6), TOKEN_PROGRAM)
    put(decoded.token_mint_b, _mint_data(6), TOKEN_2022_PROGRAM)
    base = "SOL" if native_a else "WA"
    tokens = dict(sol.config_table()["tokens"])
    if not native_a:
        tokens["WA"] = {"mint": str(decoded.token_mint_a), "program": "token"}
    tokens["WB"] = {"mint": str(decoded.token_mint_b), "program": "token-2022"}
    symbol = f"{base}/WB"
    return {
        "pool": decoded,
        "symbol": symbol,
        "config": dict(
            tokens=tokens,
            pools=[],
            slippage_bps=75,
            aggregator_deadline_s=0.5,
            markets=[
                {
                    "symbol": symbol,
                    "base": base,
                    "quote": "WB",
                    "lot_size": "0.000000001",
                    "tick_size": "0.000000001",
                }
            ],
            direct_pools=[{"symbol": symbol, "kind": "whirlpool", "address": str(pool)}],
            aggregator_config={"base_url": sol.jupiter.url, "max_retries": 0},
        ),
    }


async def submit(sol: Any, setup: dict, side: Side, qty: Decimal) -> tuple[Any, Any]:
    venue = await sol.venue(**setup["config"])
    try:
        report = await venue.submit_order(
            Order(
                client_order_id="d1",
                instrument=f"sol:{setup['symbol']}",
                side=side,
                type=OrderType.MARKET,
                quantity=qty,
            )
        )
        again = await venue.submit_order(
            Order(
                client_order_id="d1",
                instrument=f"sol:{setup['symbol']}",
                side=side,
                type=OrderType.MARKET,
                quantity=qty,
            )
        )
        assert again == report
        return report, venue
    finally:
        await venue.close()


def sent_swap(sol: Any, report: Any) -> tuple[VersionedTransaction, list]:
    """The one transaction the venue sent, and its instructions as (program, accounts, data)."""
    assert len(sol.rpc.sent) == 1, sol.rpc.sent
    sig = sol.rpc.sent[0]
    assert report.status is OrderStatus.REJECTED and sig in report.reason, report
    # LiteSVM has no Whirlpool program: the cluster refuses it there, after the send.
    assert "InvalidProgramForExecution" in report.reason
    tx = VersionedTransaction.from_bytes(base64.b64decode(sol.rpc.sent_tx[sig]))
    assert tx.verify_with_results() == [True]  # signed by the wallet, validly
    keys = list(tx.message.account_keys)
    assert keys[0] == sol.market.wallet.pubkey()
    ixs = [
        (keys[ix.program_id_index], [keys[i] for i in ix.accounts], bytes(ix.data))
        for ix in tx.message.instructions
    ]
    return tx, ixs


def assert_equals_sdk(tx: VersionedTransaction, ix: tuple, sdk: dict) -> None:
    program, accounts, data = ix
    assert str(program) == sdk["program"] == str(wp.WHIRLPOOL_PROGRAM)
    assert data.hex() == sdk["data"]
    assert [str(a) for a in accounts] == [a for a, _ in sdk["accounts"]]
    keys = list(tx.message.account_keys)
    for addr, role in sdk["accounts"]:
        i = keys.index(Pubkey.from_string(addr))
        assert tx.message.is_signer(i) == bool(role & 2), addr
        if role & 1:
            assert tx.message.is_maybe_writable(i), addr


def sdk_args(
    setup: dict, wallet: Pubkey, q: dict, *, by_input: bool, a_to_b: bool, program_a: Pubkey
) -> dict:
    pool = setup["pool"]
    return dict(
        authority=str(wallet),
        token_program_a=str(program_a),
        token_program_b=str(TOKEN_2022_PROGRAM),
        whirlpool=str(pool.address),
        mint_a=str(pool.token_mint_a),
        mint_b=str(pool.token_mint_b),
        owner_a=str(get_associated_token_address(wallet, pool.token_mint_a, program_a)),
        owner_b=str(get_associated_token_address(wallet, pool.token_mint_b, TOKEN_2022_PROGRAM)),
        vault_a=str(pool.token_vault_a),
        vault_b=str(pool.token_vault_b),
        tick_array_starts=wp.swap_tick_arrays(pool, a_to_b),
        amount=q["amount"],
        threshold=q["threshold"],
        by_input=by_input,
        a_to_b=a_to_b,
    )


def test_jupiter_503_a_sell_goes_to_the_whirlpool_with_the_sdk_instruction(sol, state):
    setup = install_pool(sol, state)
    sol.jupiter.fail = "503"
    q = sdk_quote(state, by_input=True, a_to_b=True, amount=7_000_000)
    report, venue = anyio.run(submit, sol, setup, Side.SELL, D(q["amount"]).scaleb(-6))
    tx, ixs = sent_swap(sol, report)
    wallet = sol.market.wallet.pubkey()
    assert [p for p, _, _ in ixs] == [
        COMPUTE_BUDGET_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        wp.WHIRLPOOL_PROGRAM,
    ]
    assert_equals_sdk(
        tx,
        ixs[3],
        sdk_swap_ix(
            **sdk_args(setup, wallet, q, by_input=True, a_to_b=True, program_a=TOKEN_PROGRAM)
        ),
    )
    # Jupiter was asked (and answered 503), then the pool; the journal names the route.
    assert [p for p, _ in sol.jupiter.requests] == ["/quote"]
    assert len(venue.fallbacks) == 1 and "503" in venue.fallbacks[0][1]
    signed = [
        json.loads(x)
        for x in Path("solana-transactions.jsonl").read_text().splitlines()
        if json.loads(x)["type"] == "signed"
    ]
    assert len(signed) == 1 and signed[0]["meta"]["route"] == [
        f"Whirlpool {setup['pool'].address} 100% (direct)"
    ]
    assert signed[0]["meta"]["threshold"] == int(q["threshold"])


def test_a_slow_jupiter_misses_the_deadline_and_a_buy_goes_to_the_pool(sol, state):
    setup = install_pool(sol, state)
    sol.jupiter.delay_s = 3.0
    q = sdk_quote(state, by_input=False, a_to_b=False, amount=7_000_000)
    report, venue = anyio.run(submit, sol, setup, Side.BUY, D(q["amount"]).scaleb(-6))
    tx, ixs = sent_swap(sol, report)
    wallet = sol.market.wallet.pubkey()
    assert_equals_sdk(
        tx,
        ixs[-1],
        sdk_swap_ix(
            **sdk_args(setup, wallet, q, by_input=False, a_to_b=False, program_a=TOKEN_PROGRAM)
        ),
    )
    assert "TimeoutError" in venue.fallbacks[0][1]
    # The buy's output (A) account is created for the wallet, paid by the wallet.
    assert ixs[2][0] == ASSOCIATED_TOKEN_PROGRAM and ixs[2][1][:3] == [
        wallet,
        get_associated_token_address(wallet, setup["pool"].token_mint_a, TOKEN_PROGRAM),
        wallet,
    ]


def test_native_sol_through_the_pool_wraps_swaps_and_unwraps_in_one_transaction(sol, state):
    setup = install_pool(sol, state, native_a=True)
    sol.jupiter.fail = "503"
    q = sdk_quote(state, by_input=True, a_to_b=True, amount=7_000_000)
    report, _ = anyio.run(submit, sol, setup, Side.SELL, D(q["amount"]).scaleb(-9))
    tx, ixs = sent_swap(sol, report)
    wallet = sol.market.wallet.pubkey()
    wsol = get_associated_token_address(wallet, NATIVE_MINT, TOKEN_PROGRAM)
    assert [p for p, _, _ in ixs] == [
        COMPUTE_BUDGET_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        SYSTEM_PROGRAM,
        TOKEN_PROGRAM,
        wp.WHIRLPOOL_PROGRAM,
        TOKEN_PROGRAM,
    ]
    # wrap: the wallet's lamports into its wrapped-SOL account, exactly the amount sold
    system = ixs[4]
    assert system[1] == [wallet, wsol]
    assert system[2] == (2).to_bytes(4, "little") + int(q["amount"]).to_bytes(8, "little")
    assert ixs[5][1:] == ([wsol], bytes([17]))  # SyncNative
    assert ixs[7][1:] == ([wsol, wallet, wallet], bytes([9]))  # CloseAccount to the wallet
    assert_equals_sdk(
        tx,
        ixs[6],
        sdk_swap_ix(
            **sdk_args(setup, wallet, q, by_input=True, a_to_b=True, program_a=TOKEN_PROGRAM)
        ),
    )


def test_a_direct_pool_of_other_mints_is_refused_by_name(sol, state):
    setup = install_pool(sol, state)
    sol.jupiter.fail = "503"
    setup["config"]["direct_pools"] = [
        {
            "symbol": setup["symbol"],
            "kind": "whirlpool",
            "address": state["tick_arrays"][0]["address"],
        }
    ]
    report, _ = anyio.run(submit, sol, setup, Side.SELL, D("0.007"))
    assert report.status is OrderStatus.REJECTED and sol.rpc.sent == []
    assert "no account of the Whirlpool program" in report.reason


# -- Raydium CPMM --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cpmm_state() -> dict:
    # state 1: a creator fee on both tokens (on the input), Token and Token-2022 mints
    return sol_golden.vectors("raydium_vectors.cjs")["cpmm"][1]


def _token_account(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    return (
        bytes(mint)
        + bytes(owner)
        + amount.to_bytes(8, "little")
        + bytes(36)
        + b"\x01"
        + bytes(12)
        + bytes(8)
        + bytes(36)
    )


def install_cpmm(sol: Any, state: dict) -> dict[str, Any]:
    """The SDK's CPMM pool and AMM config accounts, its two vaults holding the state's
    amounts, and the pool's mints, set into the VM."""
    from tradewind_venue_solana import raydium as ray

    svm = sol.rpc.svm
    f = state["fields"]
    address = Pubkey.from_string(state["address"])

    def put(key: Pubkey, raw: bytes, owner: Pubkey) -> None:
        svm.set_account(
            key,
            Account(
                lamports=svm.minimum_balance_for_rent_exemption(len(raw)),
                data=raw,
                owner=owner,
                executable=False,
                rent_epoch=0,
            ),
        )

    pk = Pubkey.from_string
    put(address, base64.b64decode(state["data"]), ray.CPMM_PROGRAM)
    put(pk(f["config_id"]), base64.b64decode(state["config"]), ray.CPMM_PROGRAM)
    put(
        pk(f["vault_a"]),
        _token_account(pk(f["mint_a"]), ray.CPMM_AUTHORITY, int(state["vault_a"])),
        pk(f["program_a"]),
    )
    put(
        pk(f["vault_b"]),
        _token_account(pk(f["mint_b"]), ray.CPMM_AUTHORITY, int(state["vault_b"])),
        pk(f["program_b"]),
    )
    put(pk(f["mint_a"]), _mint_data(f["decimals"][0]), pk(f["program_a"]))
    put(pk(f["mint_b"]), _mint_data(f["decimals"][1]), pk(f["program_b"]))
    name = {str(TOKEN_PROGRAM): "token", str(TOKEN_2022_PROGRAM): "token-2022"}
    tokens = dict(sol.config_table()["tokens"])
    tokens["CA"] = {"mint": f["mint_a"], "program": name[f["program_a"]]}
    tokens["CB"] = {"mint": f["mint_b"], "program": name[f["program_b"]]}
    fees = [int(x) for x in f["fees"]]
    return {
        "symbol": "CA/CB",
        "fields": f,
        "reserves": (
            int(state["vault_a"]) - fees[0] - fees[2] - fees[4],
            int(state["vault_b"]) - fees[1] - fees[3] - fees[5],
        ),
        "config": dict(
            tokens=tokens,
            pools=[],
            slippage_bps=50,
            aggregator_deadline_s=0.5,
            markets=[
                {
                    "symbol": "CA/CB",
                    "base": "CA",
                    "quote": "CB",
                    "lot_size": "0.000000001",
                    "tick_size": "0.000000001",
                }
            ],
            direct_pools=[{"symbol": "CA/CB", "kind": "cpmm", "address": state["address"]}],
            aggregator_config={"base_url": sol.jupiter.url, "max_retries": 0},
        ),
    }


@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
def test_jupiter_503_a_swap_goes_to_the_cpmm_pool_with_the_sdk_quote_and_instruction(
    sol, cpmm_state, side
):
    setup = install_cpmm(sol, cpmm_state)
    f = setup["fields"]
    sol.jupiter.fail = "503"
    amount = 3_000_000  # of CA (9 decimals): sold exactly, or bought exactly
    report, venue = anyio.run(submit, sol, setup, side, D(amount).scaleb(-9))
    tx, ixs = sent_swap(sol, report)
    assert "InvalidProgramForExecution" in report.reason
    assert "503" in venue.fallbacks[0][1]
    wallet = sol.market.wallet.pubkey()
    entries = [json.loads(x) for x in Path("solana-transactions.jsonl").read_text().splitlines()]
    (signed,) = [e["meta"] for e in entries if e["type"] == "signed"]
    exact_in = side is Side.SELL
    a_in = exact_in  # selling CA (token A) for CB; buying CA pays CB
    ins, outs = ("a", "b") if a_in else ("b", "a")
    prog = {k: Pubkey.from_string(f[f"program_{k}"]) for k in "ab"}
    mint = {k: Pubkey.from_string(f[f"mint_{k}"]) for k in "ab"}
    reserve = dict(zip("ab", setup["reserves"], strict=True))
    trade, _protocol, _fund, creator = f["rates"]
    sdk = sdk_cpmm(
        exact_in=exact_in,
        amount=str(amount),
        threshold=str(signed["threshold"]),
        reserve_in=str(reserve[ins]),
        reserve_out=str(reserve[outs]),
        trade_fee_rate=trade,
        creator_fee_rate=creator,
        protocol_fee_rate=f["rates"][1],
        fund_fee_rate=f["rates"][2],
        creator_fee_on_input=True,
        payer=str(wallet),
        config=f["config_id"],
        pool=cpmm_state["address"],
        user_in=str(get_associated_token_address(wallet, mint[ins], prog[ins])),
        user_out=str(get_associated_token_address(wallet, mint[outs], prog[outs])),
        vault_in=f[f"vault_{ins}"],
        vault_out=f[f"vault_{outs}"],
        program_in=str(prog[ins]),
        program_out=str(prog[outs]),
        mint_in=str(mint[ins]),
        mint_out=str(mint[outs]),
        observation=f["observation"],
    )
    # The venue's quote is the SDK's (CurveCalculator on the pool's reserves less fees owed).
    assert (signed["in_amount"], signed["out_amount"]) == (
        int(sdk["in_amount"]),
        int(sdk["out_amount"]),
    )
    # slippage 50 bps: the least received, or the most paid
    if exact_in:
        assert signed["threshold"] == int(sdk["out_amount"]) * 9950 // 10_000
    else:
        assert signed["threshold"] == -(-int(sdk["in_amount"]) * 10_050 // 10_000)
    program, accounts, data = ixs[-1]
    assert str(program) == sdk["program"] and data.hex() == sdk["data"]
    assert [str(a) for a in accounts] == [a for a, _, _ in sdk["accounts"]]
    keys = list(tx.message.account_keys)
    for addr, signer, writable in sdk["accounts"]:
        i = keys.index(Pubkey.from_string(addr))
        assert tx.message.is_signer(i) == signer
        if writable:
            assert tx.message.is_maybe_writable(i), addr


def sdk_cpmm(**args: Any) -> dict:
    return sol_golden.run_golden("raydium_cpmm_swap_ix.cjs", args)


def test_with_jupiter_up_the_direct_pool_is_not_used(sol, state):
    # MEME/USDC names a direct pool, but Jupiter answers within the deadline: its swap lands
    # (the RFQ exchange on LiteSVM), the pool is never read, one transaction is sent.
    install_pool(sol, state)
    reads: list[str] = []
    original = sol.rpc.rpc_getAccountInfo

    def spy(pubkey: str, *rest: Any) -> Any:
        reads.append(pubkey)
        return original(pubkey, *rest)

    sol.rpc.rpc_getAccountInfo = spy

    async def go() -> tuple[Any, Any]:
        venue = await sol.venue(
            direct_pools=[
                {"symbol": "MEME/USDC", "kind": "whirlpool", "address": state["address"]}
            ],
            aggregator_deadline_s=10.0,
        )
        try:
            return await venue.submit_order(
                Order(
                    client_order_id="j1",
                    instrument="sol:MEME/USDC",
                    side=Side.BUY,
                    type=OrderType.MARKET,
                    quantity=D(5),
                )
            ), venue
        finally:
            await venue.close()

    report, venue = anyio.run(go)
    assert report.status is OrderStatus.FILLED, report.reason
    assert venue.fallbacks == [] and state["address"] not in reads
    assert sol.rpc.sent == [report.venue_order_id] and list(sol.rpc.landed)[-1] == sol.rpc.sent[0]


# -- Raydium AMM v4 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def v4_state() -> dict:
    return sol_golden.vectors("raydium_vectors.cjs")["v4"][0]


def sdk_v4(**args: Any) -> dict:
    return sol_golden.run_golden("raydium_v4_swap_ix.cjs", args)


@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
def test_jupiter_503_a_swap_goes_to_the_amm_v4_pool_with_the_sdk_quote_and_instruction(
    sol, v4_state, side
):
    from tradewind_venue_solana import raydium as ray

    f = v4_state["fields"]
    pk = Pubkey.from_string
    wallet = sol.market.wallet.pubkey()
    base, quote = pk(f["base_mint"]), pk(f["quote_mint"])
    exact_in = side is Side.SELL  # selling the base (ExactIn) or buying it (ExactOut)
    mint_in, mint_out = (base, quote) if exact_in else (quote, base)
    args = dict(
        market_id=f["market_id"],
        market_program=f["market_program"],
        base_mint=str(base),
        quote_mint=str(quote),
        pool=v4_state["address"],
        open_orders=f["open_orders"],
        target_orders=f["target_orders"],
        base_vault=f["base_vault"],
        quote_vault=f["quote_vault"],
        user_in=str(get_associated_token_address(wallet, mint_in, TOKEN_PROGRAM)),
        user_out=str(get_associated_token_address(wallet, mint_out, TOKEN_PROGRAM)),
        owner=str(wallet),
        amount="2500000",
        threshold="0",
        exact_in=exact_in,
    )
    market = sdk_v4(**args)
    svm = sol.rpc.svm

    def put(key: Pubkey, raw: bytes, owner: Pubkey) -> None:
        svm.set_account(
            key,
            Account(
                lamports=svm.minimum_balance_for_rent_exemption(len(raw)),
                data=raw,
                owner=owner,
                executable=False,
                rent_epoch=0,
            ),
        )

    put(pk(v4_state["address"]), base64.b64decode(v4_state["data"]), ray.AMM_V4_PROGRAM)
    put(pk(f["market_id"]), base64.b64decode(market["market"]), pk(f["market_program"]))
    put(
        pk(f["base_vault"]),
        _token_account(base, ray.AMM_V4_AUTHORITY, int(v4_state["vault_base"])),
        TOKEN_PROGRAM,
    )
    put(
        pk(f["quote_vault"]),
        _token_account(quote, ray.AMM_V4_AUTHORITY, int(v4_state["vault_quote"])),
        TOKEN_PROGRAM,
    )
    put(base, _mint_data(f["base_decimals"]), TOKEN_PROGRAM)
    put(quote, _mint_data(f["quote_decimals"]), TOKEN_PROGRAM)
    tokens = dict(sol.config_table()["tokens"])
    tokens["VA"] = {"mint": str(base)}
    tokens["VB"] = {"mint": str(quote)}
    setup = {
        "symbol": "VA/VB",
        "config": dict(
            tokens=tokens,
            pools=[],
            slippage_bps=50,
            aggregator_deadline_s=0.5,
            markets=[
                {
                    "symbol": "VA/VB",
                    "base": "VA",
                    "quote": "VB",
                    "lot_size": "0.000000001",
                    "tick_size": "0.000000001",
                }
            ],
            direct_pools=[{"symbol": "VA/VB", "kind": "amm_v4", "address": v4_state["address"]}],
            aggregator_config={"base_url": sol.jupiter.url, "max_retries": 0},
        ),
    }
    sol.jupiter.fail = "503"
    amount = 2_500_000
    report, venue = anyio.run(submit, sol, setup, side, D(amount).scaleb(-f["base_decimals"]))
    tx, ixs = sent_swap(sol, report)
    assert "InvalidProgramForExecution" in report.reason and "503" in venue.fallbacks[0][1]
    entries = [json.loads(x) for x in Path("solana-transactions.jsonl").read_text().splitlines()]
    (signed,) = [e["meta"] for e in entries if e["type"] == "signed"]
    # The venue's quote and bound are the SDK's (computeAmountOut / computeAmountIn, 0.5 %).
    (row,) = [
        q for q in v4_state["quotes"] if (q["base_in"], int(q["amount"])) == (exact_in, amount)
    ]
    if exact_in:
        assert (signed["out_amount"], signed["threshold"]) == (int(row["out"]), int(row["min_out"]))
    else:
        assert (signed["in_amount"], signed["threshold"]) == (int(row["in"]), int(row["max_in"]))
    sdk = sdk_v4(**{**args, "threshold": str(signed["threshold"])})
    program, accounts, data = ixs[-1]
    assert str(program) == sdk["program"] == str(ray.AMM_V4_PROGRAM)
    assert data.hex() == sdk["data"]
    assert [str(a) for a in accounts] == [a for a, _, _ in sdk["accounts"]]
    # the market's vault signer: the SDK's program address of the market and its nonce
    assert str(accounts[14]) == sdk["authority"]
    keys = list(tx.message.account_keys)
    for addr, signer, writable in sdk["accounts"]:
        i = keys.index(Pubkey.from_string(addr))
        assert tx.message.is_signer(i) == signer
        if writable:
            assert tx.message.is_maybe_writable(i), addr
