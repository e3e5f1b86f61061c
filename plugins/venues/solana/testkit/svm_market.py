"""A small Solana market on LiteSVM for tests: two mints, a wallet and a market maker.

Every account is made by real transactions through the real programs (System, SPL Token,
Token-2022, Associated Token Account): ``USDC`` is a classic SPL Token mint (6 decimals),
``MEME`` a Token-2022 mint (9 decimals). The wallet gets SOL and USDC and no MEME account (its
first buy creates the associated token account, and pays its rent); the market maker holds
both tokens and signs its side of each RFQ fill (see :mod:`jup_server`). ``SOL`` is the native
mint (wrapped SOL), set into the VM's genesis the way a cluster's genesis holds it (LiteSVM
starts without it); the maker holds wrapped SOL for the SOL markets, wrapped by real System
transfer + SyncNative transactions.
"""

from __future__ import annotations

import json

import attrs
from solders.account import Account
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
    sync_native,
)
from spl.token.models import InitializeMintParams, MintToParams, SyncNativeParams
from svm_rpc import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, SvmRpc

SOL = 10**9
NATIVE_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")


@attrs.define
class Mint:
    """A mint made on the VM."""

    symbol: str
    address: Pubkey
    decimals: int
    program: Pubkey

    @property
    def program_name(self) -> str:
        """``token`` or ``token-2022`` (the venue config's spelling)."""
        return "token-2022" if self.program == TOKEN_2022_PROGRAM else "token"


@attrs.define
class Market:
    """The VM, its RPC server, the mints and the two parties."""

    rpc: SvmRpc
    wallet: Keypair
    maker: Keypair
    authority: Keypair
    usdc: Mint
    meme: Mint
    sol: Mint

    def ata(self, owner: Pubkey, mint: Mint) -> Pubkey:
        """``owner``'s associated token account of ``mint``."""
        return get_associated_token_address(owner, mint.address, mint.program)

    def send(self, payer: Keypair, ixs: list, signers: list[Keypair]) -> None:
        """Run a set-up transaction."""
        msg = MessageV0.try_compile(payer.pubkey(), ixs, [], self.rpc.blockhash())
        self.rpc.run(VersionedTransaction(msg, [payer, *signers]))

    def mint_to(self, owner: Pubkey, mint: Mint, amount: int) -> None:
        """Create ``owner``'s ATA if needed and mint ``amount`` base units into it."""
        a = self.authority
        self.send(
            a,
            [
                create_idempotent_associated_token_account(
                    a.pubkey(), owner, mint.address, mint.program
                ),
                mint_to(
                    MintToParams(
                        program_id=mint.program,
                        mint=mint.address,
                        dest=self.ata(owner, mint),
                        mint_authority=a.pubkey(),
                        amount=amount,
                    )
                ),
            ],
            [],
        )

    def wrap(self, owner: Keypair, lamports: int) -> None:
        """Wrap ``lamports`` of ``owner``'s SOL into its wrapped-SOL account."""
        account = self.ata(owner.pubkey(), self.sol)
        self.send(
            owner,
            [
                create_idempotent_associated_token_account(
                    owner.pubkey(), owner.pubkey(), NATIVE_MINT, TOKEN_PROGRAM
                ),
                transfer(
                    TransferParams(from_pubkey=owner.pubkey(), to_pubkey=account, lamports=lamports)
                ),
                sync_native(SyncNativeParams(program_id=TOKEN_PROGRAM, account=account)),
            ],
            [],
        )

    def wallet_secret_json(self) -> str:
        """The wallet's keypair as the Solana CLI writes it (a JSON array of 64 bytes)."""
        return json.dumps(list(bytes(self.wallet)))


def _new_mint(rpc: SvmRpc, authority: Keypair, symbol: str, decimals: int, program: Pubkey) -> Mint:
    mint = Keypair()
    space = 82
    lamports = rpc.svm.minimum_balance_for_rent_exemption(space)
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=authority.pubkey(),
                to_pubkey=mint.pubkey(),
                lamports=lamports,
                space=space,
                owner=program,
            )
        ),
        initialize_mint(
            InitializeMintParams(
                decimals=decimals,
                program_id=program,
                mint=mint.pubkey(),
                mint_authority=authority.pubkey(),
            )
        ),
    ]
    msg = MessageV0.try_compile(authority.pubkey(), ixs, [], rpc.blockhash())
    rpc.run(VersionedTransaction(msg, [authority, mint]))
    return Mint(symbol, mint.pubkey(), decimals, program)


def _native_mint(rpc: SvmRpc) -> Mint:
    """The native mint as genesis holds it: no authority, 9 decimals, initialized."""
    data = bytes(4 + 32) + (0).to_bytes(8, "little") + bytes([9, 1]) + bytes(4 + 32)
    rpc.svm.set_account(
        NATIVE_MINT,
        Account(
            lamports=rpc.svm.minimum_balance_for_rent_exemption(82),
            data=data,
            owner=TOKEN_PROGRAM,
            executable=False,
            rent_epoch=0,
        ),
    )
    return Mint("SOL", NATIVE_MINT, 9, TOKEN_PROGRAM)


def make_market(*, wallet_sol: int = 2 * SOL, wallet_usdc: int = 10_000 * 10**6) -> Market:
    """A started RPC server over a fresh LiteSVM with the market set up."""
    rpc = SvmRpc().start()
    authority, wallet, maker = Keypair(), Keypair(), Keypair()
    rpc.airdrop(authority.pubkey(), 100 * SOL)
    rpc.airdrop(wallet.pubkey(), wallet_sol)
    rpc.airdrop(maker.pubkey(), 20 * SOL)
    usdc = _new_mint(rpc, authority, "USDC", 6, TOKEN_PROGRAM)
    meme = _new_mint(rpc, authority, "MEME", 9, TOKEN_2022_PROGRAM)
    market = Market(rpc, wallet, maker, authority, usdc, meme, _native_mint(rpc))
    market.wrap(maker, 10 * SOL)
    if wallet_usdc:
        market.mint_to(wallet.pubkey(), usdc, wallet_usdc)
    market.mint_to(maker.pubkey(), usdc, 1_000_000 * 10**6)
    market.mint_to(maker.pubkey(), meme, 10_000_000 * 10**9)
    return market
