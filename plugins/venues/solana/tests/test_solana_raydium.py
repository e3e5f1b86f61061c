"""Raydium AMM v4 and CPMM decoding, quotes and swap instruction bytes equal Raydium's SDK.

``golden/raydium_vectors.cjs`` runs under node at test time with ``@raydium-io/raydium-sdk-v2``
(installed from npm by the ``solana`` tox env): five AMM v4 and five CPMM pool states built to
known values (decimals, reserves, PnL and fees owed, fee rates, the creator fee on input or
output), encoded into account bytes by the SDK's layouts; each quoted exact-in and exact-out in
both directions at four sizes by the SDK, and its swap instruction built by the SDK. The Python
side decodes the SDK's bytes and must agree to the unit and to the byte.
"""

from __future__ import annotations

import base64

import pytest
import sol_golden
from solders.pubkey import Pubkey
from tradewind_venue_solana import raydium as ray


@pytest.fixture(scope="module")
def vectors() -> dict:
    return sol_golden.vectors("raydium_vectors.cjs")


def pk(s: str) -> Pubkey:
    return Pubkey.from_string(s)


def metas(ix) -> list:
    return [[str(m.pubkey), m.is_signer, m.is_writable] for m in ix.accounts]


def test_five_states_of_each_kind(vectors):
    assert len(vectors["v4"]) >= 5 and len(vectors["cpmm"]) >= 5


def test_amm_v4_decode_quotes_and_instructions_equal_the_sdk(vectors):
    checked = 0
    for s in vectors["v4"]:
        pool = ray.decode_amm_v4(pk(s["address"]), base64.b64decode(s["data"]))
        f = s["fields"]
        assert (pool.base_decimals, pool.quote_decimals) == (
            f["base_decimals"],
            f["quote_decimals"],
        )
        assert [
            str(x)
            for x in (
                pool.base_mint,
                pool.quote_mint,
                pool.base_vault,
                pool.quote_vault,
                pool.open_orders,
                pool.target_orders,
                pool.market_id,
                pool.market_program,
            )
        ] == [
            f["base_mint"],
            f["quote_mint"],
            f["base_vault"],
            f["quote_vault"],
            f["open_orders"],
            f["target_orders"],
            f["market_id"],
            f["market_program"],
        ]
        assert (pool.base_need_take_pnl, pool.quote_need_take_pnl) == (
            int(f["base_need_take_pnl"]),
            int(f["quote_need_take_pnl"]),
        )
        assert [str(pool.swap_fee_numerator), str(pool.swap_fee_denominator)] == f["swap_fee"]
        reserves = ray.amm_v4_reserves(pool, int(s["vault_base"]), int(s["vault_quote"]))
        m = s["market"]
        market = ray.SerumMarketKeys(
            bids=pk(m["marketBids"]),
            asks=pk(m["marketAsks"]),
            event_queue=pk(m["marketEventQueue"]),
            base_vault=pk(m["marketBaseVault"]),
            quote_vault=pk(m["marketQuoteVault"]),
            authority=pk(m["marketAuthority"]),
        )
        u = s["user"]
        for q in s["quotes"]:
            amount = int(q["amount"])
            qi = ray.amm_v4_quote_in(reserves, amount, base_in=q["base_in"], slippage=0.005)
            assert (qi.amount_out, qi.bound, qi.fee) == (
                int(q["out"]),
                int(q["min_out"]),
                int(q["fee"]),
            ), q
            qo = ray.amm_v4_quote_out(reserves, amount, base_in=q["base_in"], slippage=0.005)
            assert (qo.amount_in, qo.bound) == (int(q["in"]), int(q["max_in"])), q
            ix = ray.amm_v4_swap_instruction(
                pool,
                market,
                user_in=pk(u["in"]),
                user_out=pk(u["out"]),
                owner=pk(u["owner"]),
                amount=amount,
                threshold=qi.bound,
                exact_in=True,
            )
            assert str(ix.program_id) == q["ix_in"]["program"]
            assert bytes(ix.data).hex() == q["ix_in"]["data"]
            assert metas(ix) == q["ix_in"]["accounts"]
            if "ix_out" in q:
                ixo = ray.amm_v4_swap_instruction(
                    pool,
                    market,
                    user_in=pk(u["in"]),
                    user_out=pk(u["out"]),
                    owner=pk(u["owner"]),
                    amount=amount,
                    threshold=qo.bound,
                    exact_in=False,
                )
                assert bytes(ixo.data).hex() == q["ix_out"]["data"]
                assert metas(ixo) == q["ix_out"]["accounts"]
            checked += 1
    assert checked >= 40


def test_cpmm_decode_quotes_and_instructions_equal_the_sdk(vectors):
    checked = 0
    for s in vectors["cpmm"]:
        pool = ray.decode_cpmm_pool(pk(s["address"]), base64.b64decode(s["data"]))
        cfg = ray.decode_cpmm_config(pk(s["fields"]["config_id"]), base64.b64decode(s["config"]))
        f = s["fields"]
        assert [
            str(x)
            for x in (
                pool.config,
                pool.vault_a,
                pool.vault_b,
                pool.mint_a,
                pool.mint_b,
                pool.program_a,
                pool.program_b,
                pool.observation,
            )
        ] == [
            f["config_id"],
            f["vault_a"],
            f["vault_b"],
            f["mint_a"],
            f["mint_b"],
            f["program_a"],
            f["program_b"],
            f["observation"],
        ]
        assert [pool.decimals_a, pool.decimals_b] == f["decimals"]
        assert [str(x) for x in (*pool.protocol_fees, *pool.fund_fees, *pool.creator_fees)] == f[
            "fees"
        ]
        assert pool.enable_creator_fee == f["enable_creator_fee"]
        assert [
            cfg.trade_fee_rate,
            cfg.protocol_fee_rate,
            cfg.fund_fee_rate,
            cfg.creator_fee_rate,
        ] == f["rates"]
        reserves = ray.cpmm_reserves(pool, int(s["vault_a"]), int(s["vault_b"]))
        on_input = f["creator_fee_on_input"]
        for q in s["quotes"]:
            amount = int(q["amount"])
            qi = ray.cpmm_quote_in(
                reserves, cfg, amount, a_in=q["a_in"], creator_fee_on_input=on_input
            )
            assert (qi.amount_out, qi.fee) == (int(q["out"]), int(q["trade_fee"])), q
            ix = ray.cpmm_swap_instruction(
                pool,
                payer=pk(q["payer"]),
                user_in=pk(q["user_in"]),
                user_out=pk(q["user_out"]),
                a_in=q["a_in"],
                amount=amount,
                threshold=int(q["min_out"]),
                exact_in=True,
            )
            assert str(ix.program_id) == q["ix_in"]["program"]
            assert bytes(ix.data).hex() == q["ix_in"]["data"]
            assert metas(ix) == q["ix_in"]["accounts"]
            if "out_error" in q:
                with pytest.raises(ray.RaydiumError):
                    ray.cpmm_quote_out(
                        reserves, cfg, amount, a_in=q["a_in"], creator_fee_on_input=on_input
                    )
                continue
            qo = ray.cpmm_quote_out(
                reserves, cfg, amount, a_in=q["a_in"], creator_fee_on_input=on_input
            )
            assert qo.amount_in == int(q["in_for_out"]), q
            ixo = ray.cpmm_swap_instruction(
                pool,
                payer=pk(q["payer"]),
                user_in=pk(q["user_in"]),
                user_out=pk(q["user_out"]),
                a_in=q["a_in"],
                amount=amount,
                threshold=int(q["max_in"]),
                exact_in=False,
            )
            assert bytes(ixo.data).hex() == q["ix_out"]["data"]
            assert metas(ixo) == q["ix_out"]["accounts"]
            checked += 1
    assert checked >= 30


def test_the_creator_fee_side_follows_the_program_rule():
    # raydium-cp-swap PoolState::is_creator_fee_on_input: BothToken (0) always on the input;
    # OnlyToken0 (1) on the input when token 0 (A) is sold; OnlyToken1 (2) when B is sold.
    import attrs

    base = ray.CpmmPool(
        address=pk("11111111111111111111111111111111"),
        config=pk("11111111111111111111111111111111"),
        vault_a=ray.CPMM_AUTHORITY,
        vault_b=ray.CPMM_AUTHORITY,
        mint_a=ray.CPMM_AUTHORITY,
        mint_b=ray.CPMM_AUTHORITY,
        program_a=ray.TOKEN_PROGRAM,
        program_b=ray.TOKEN_PROGRAM,
        observation=ray.CPMM_AUTHORITY,
        decimals_a=9,
        decimals_b=6,
        protocol_fees=(0, 0),
        fund_fees=(0, 0),
        creator_fees=(0, 0),
        enable_creator_fee=True,
    )
    table = {
        (on, a_in): ray.cpmm_creator_fee_on_input(attrs.evolve(base, creator_fee_on=on), a_in=a_in)
        for on in (0, 1, 2)
        for a_in in (True, False)
    }
    assert table == {
        (0, True): True,
        (0, False): True,
        (1, True): True,
        (1, False): False,
        (2, True): False,
        (2, False): True,
    }
    with pytest.raises(ray.RaydiumError, match="creator_fee_on 3"):
        ray.cpmm_creator_fee_on_input(attrs.evolve(base, creator_fee_on=3), a_in=True)
    cfg = ray.CpmmConfig(
        trade_fee_rate=2500, protocol_fee_rate=1, fund_fee_rate=2, creator_fee_rate=700
    )
    assert ray.cpmm_effective_config(base, cfg) == cfg
    assert (
        ray.cpmm_effective_config(
            attrs.evolve(base, enable_creator_fee=False), cfg
        ).creator_fee_rate
        == 0
    )
