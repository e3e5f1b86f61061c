"""The local exchange's signature check agrees with the SDK's; cloids are deterministic."""

from __future__ import annotations

import eth_account
from hyperliquid.utils.signing import (
    order_request_to_order_wire,
    order_wires_to_order_action,
    recover_agent_or_user_from_l1_action,
    sign_l1_action,
)
from hyperliquid_local_server import WALLET_ADDRESS, WALLET_KEY, recover_l1_signer
from tradewind_venue_hyperliquid import cloid_for


def test_the_servers_recovery_matches_the_sdks():
    wallet = eth_account.Account.from_key(WALLET_KEY)
    wire = order_request_to_order_wire(
        {
            "coin": "BTC",
            "is_buy": True,
            "sz": 0.0001,
            "limit_px": 100000.0,
            "order_type": {"limit": {"tif": "Gtc"}},
            "reduce_only": False,
            "cloid": cloid_for("x"),
        },
        0,
    )
    action = order_wires_to_order_action([wire])
    for is_mainnet in (True, False):
        sig = sign_l1_action(wallet, action, None, 1_700_000_000_000, 1_700_000_010_000, is_mainnet)
        ours = recover_l1_signer(
            action, 1_700_000_000_000, None, 1_700_000_010_000, sig, is_mainnet
        )
        sdk = recover_agent_or_user_from_l1_action(
            action, sig, None, 1_700_000_000_000, 1_700_000_010_000, is_mainnet
        )
        assert ours == sdk.lower() == WALLET_ADDRESS
        # The other chain's typed data recovers someone else.
        other = recover_l1_signer(
            action, 1_700_000_000_000, None, 1_700_000_010_000, sig, not is_mainnet
        )
        assert other != WALLET_ADDRESS


def test_cloids_are_16_bytes_and_deterministic():
    a, b = cloid_for("tw-abc-1"), cloid_for("tw-abc-1")
    assert a.to_raw() == b.to_raw() and len(bytes.fromhex(a.to_raw()[2:])) == 16
    assert cloid_for("tw-abc-2").to_raw() != a.to_raw()
    # Written down so any tool can compute it: BLAKE2b-128, person "tradewind-cloid".
    assert cloid_for("tw-abc-1").to_raw() == cloid_for("tw-abc-1").to_raw()
