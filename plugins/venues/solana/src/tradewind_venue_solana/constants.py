"""Program ids and units of the Solana venue."""

from __future__ import annotations

from solders.pubkey import Pubkey

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")

#: The native mint: SOL wrapped in an SPL Token account ("wSOL"); its token amount is lamports.
NATIVE_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")
#: The token name of native SOL in markets (the wallet's lamports, wrapped for a swap).
NATIVE_SOL = "SOL"

#: The config's spelling of each token program.
TOKEN_PROGRAMS: dict[str, Pubkey] = {"token": TOKEN_PROGRAM, "token-2022": TOKEN_2022_PROGRAM}

#: Programs every swap transaction may call: fees, account creation and the token programs.
BASE_PROGRAMS: frozenset[Pubkey] = frozenset(
    {
        SYSTEM_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        TOKEN_PROGRAM,
        TOKEN_2022_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
    }
)

LAMPORTS_PER_SOL = 10**9
#: The network's largest compute-unit limit for one transaction.
MAX_COMPUTE_UNITS = 1_400_000
COMMITMENTS = ("processed", "confirmed", "finalized")
