"""A Solana JSON-RPC server on 127.0.0.1 over LiteSVM, for tests (not production code).

``solders.litesvm.LiteSVM`` is a real in-process Solana VM: the System, SPL Token, Token-2022
and Associated Token Account programs execute every transaction, check its signatures and its
blockhash, and charge its fee. This server speaks the JSON-RPC methods the venue's
``solana.rpc.async_api.AsyncClient`` calls, in the node's own shapes:

- ``getLatestBlockhash`` (with ``lastValidBlockHeight`` = height + 150), ``getBlockHeight``;
- ``sendTransaction`` (base64): the transaction runs in LiteSVM; a failure is answered as a
  node answers a failed preflight (error -32002 with the program logs);
- ``getSignatureStatuses``: ``processed`` in the slot it landed, ``confirmed`` one slot later,
  ``finalized`` after :data:`FINALITY_SLOTS` (the slot advances by one on each status poll, the
  way a real cluster keeps producing slots while a client polls);
- ``getTransaction`` (base64): ``meta`` with ``fee``, ``preBalances``/``postBalances`` and
  ``preTokenBalances``/``postTokenBalances`` read from the accounts just before and after the
  transaction ran (what a validator records);
- ``getBalance``, ``getAccountInfo``, ``getMultipleAccounts``, ``getTokenAccountsByOwner``
  (base64), ``getMinimumBalanceForRentExemption``, ``getRecentPrioritizationFees``.

Controls for the failure cases a real cluster produces: :meth:`SvmRpc.drop_next` accepts the
next transaction and never lands it (dropped by the leader); :meth:`SvmRpc.lose_next_response`
lands it but answers the send with HTTP 503 (the client cannot tell whether it landed);
:meth:`SvmRpc.advance` moves the block height past a blockhash's validity and expires it in
LiteSVM, so the old transaction can never land.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from solders.account import Account
from solders.compute_budget import ID as COMPUTE_BUDGET_ID
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
FINALITY_SLOTS = 32
#: Blocks a blockhash stays valid for (the cluster's MAX_PROCESSING_AGE).
VALIDITY = 150


def token_account_fields(acc: Account | None) -> tuple[Pubkey, Pubkey, int] | None:
    """``(mint, owner, amount)`` of an SPL Token or Token-2022 account, else None."""
    if acc is None or acc.owner not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM) or len(acc.data) < 165:
        return None
    if len(acc.data) > 165 and acc.data[165] != 2:  # Token-2022: account type byte 2 = Account
        return None
    data = bytes(acc.data)
    return (
        Pubkey.from_bytes(data[0:32]),
        Pubkey.from_bytes(data[32:64]),
        struct.unpack_from("<Q", data, 64)[0],
    )


@attrs.define
class Landed:
    """A transaction that ran, with what a validator records about it."""

    signature: str
    slot: int
    tx_b64: str
    meta: dict[str, Any]
    block_time: int = 0
    err: Any = None


class SvmRpc:
    """The JSON-RPC server (start with :meth:`start`, stop with :meth:`stop`)."""

    def __init__(self, svm: LiteSVM | None = None) -> None:
        # LiteSVM accepts only its latest blockhash; a cluster accepts any of the last 150
        # blocks'. The server checks blockhash age itself (``valid_until``) like a cluster and
        # rolls LiteSVM's blockhash with every landed transaction (a new block).
        self.svm = (svm or LiteSVM()).with_blockhash_check(False)
        self.lock = threading.RLock()
        self.slot = 1000
        self.height = 900
        self.valid_until: dict[str, int] = {}
        self.landed: dict[str, Landed] = {}
        self.dropped: list[str] = []
        self.sent: list[str] = []
        #: Each sent transaction as received (base64), by signature.
        self.sent_tx: dict[str, str] = {}
        self.priority_fees: list[tuple[int, int]] = []
        self._drop = 0
        self._lose = 0
        #: Unix seconds of the next block (a test's clock, as anvil's
        #: evm_setNextBlockTimestamp); blocks never go back in time.
        self.next_block_time: int | None = None
        self._block_time = 1_700_000_000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._note_blockhash()

    # -- controls ---------------------------------------------------------------------------
    def drop_next(self, n: int = 1) -> None:
        """Accept the next ``n`` transactions and never land them."""
        self._drop += n

    def lose_next_response(self, n: int = 1) -> None:
        """Land the next ``n`` transactions but answer their sends with HTTP 503."""
        self._lose += n

    def advance(self, blocks: int = VALIDITY + 1) -> None:
        """Produce ``blocks`` blocks: heights move on and LiteSVM's blockhash expires."""
        with self.lock:
            self.height += blocks
            self.slot += blocks
            self.svm.expire_blockhash()
            self._note_blockhash()

    def _note_blockhash(self) -> None:
        self.valid_until.setdefault(str(self.svm.latest_blockhash()), self.height + VALIDITY)

    # -- server -----------------------------------------------------------------------------
    def start(self) -> SvmRpc:
        """Serve on 127.0.0.1, a free port."""
        rpc = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = rpc.handle(body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, body: Any) -> tuple[int, Any]:
        """Answer one JSON-RPC request (or a batch)."""
        if isinstance(body, list):
            return 200, [self.handle(b)[1] for b in body]
        rid = body.get("id")
        method = body.get("method", "")
        fn = getattr(self, "rpc_" + method, None)
        if fn is None:
            return 200, {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": -32601, "message": f"Method not found: {method}"},
            }
        with self.lock:
            try:
                result = fn(*body.get("params", []))
            except _RpcError as exc:
                if exc.http:
                    return exc.http, {"error": exc.message}
                return 200, {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": exc.code, "message": exc.message, "data": exc.data},
                }
        return 200, {"jsonrpc": "2.0", "id": rid, "result": result}

    def _ctx(self, value: Any) -> dict[str, Any]:
        return {"context": {"slot": self.slot, "apiVersion": "2.2.0"}, "value": value}

    # -- methods ----------------------------------------------------------------------------
    def rpc_getLatestBlockhash(self, *_: Any) -> Any:
        bh = str(self.svm.latest_blockhash())
        return self._ctx({"blockhash": bh, "lastValidBlockHeight": self.valid_until[bh]})

    def rpc_getBlockHeight(self, *_: Any) -> Any:
        return self.height

    def rpc_getSlot(self, *_: Any) -> Any:
        return self.slot

    def rpc_isBlockhashValid(self, blockhash: str, *_: Any) -> Any:
        return self._ctx(
            self.valid_until.get(blockhash, -1) >= self.height
            and blockhash == str(self.svm.latest_blockhash())
        )

    def rpc_getBalance(self, pubkey: str, *_: Any) -> Any:
        return self._ctx(self.svm.get_balance(Pubkey.from_string(pubkey)) or 0)

    def rpc_getMinimumBalanceForRentExemption(self, size: int, *_: Any) -> Any:
        return self.svm.minimum_balance_for_rent_exemption(size)

    def _account_json(self, acc: Account | None) -> Any:
        if acc is None:
            return None
        return {
            "lamports": acc.lamports,
            "owner": str(acc.owner),
            "data": [base64.b64encode(bytes(acc.data)).decode(), "base64"],
            "executable": acc.executable,
            "rentEpoch": 18446744073709551615,
            "space": len(acc.data),
        }

    def rpc_getAccountInfo(self, pubkey: str, *_: Any) -> Any:
        return self._ctx(self._account_json(self.svm.get_account(Pubkey.from_string(pubkey))))

    def rpc_getMultipleAccounts(self, pubkeys: list[str], *_: Any) -> Any:
        return self._ctx(
            [self._account_json(self.svm.get_account(Pubkey.from_string(p))) for p in pubkeys]
        )

    def rpc_getTokenAccountsByOwner(self, owner: str, flt: dict[str, str], *_: Any) -> Any:
        owner_pk = Pubkey.from_string(owner)
        programs = (
            [Pubkey.from_string(flt["programId"])]
            if "programId" in flt
            else [TOKEN_PROGRAM, TOKEN_2022_PROGRAM]
        )
        found = []
        for program in programs:
            for address, acc in self.svm.get_program_accounts(program):
                fields = token_account_fields(acc)
                if fields is None or fields[1] != owner_pk:
                    continue
                if "mint" in flt and str(fields[0]) != flt["mint"]:
                    continue
                found.append({"pubkey": str(address), "account": self._account_json(acc)})
        return self._ctx(found)

    def rpc_getRecentPrioritizationFees(self, *_: Any) -> Any:
        return [{"slot": s, "prioritizationFee": f} for s, f in self.priority_fees[-150:]]

    def _token_balances(self, keys: list[Pubkey]) -> list[dict[str, Any]]:
        out = []
        for i, key in enumerate(keys):
            acc = self.svm.get_account(key)
            fields = token_account_fields(acc)
            if fields is None or acc is None:
                continue
            mint, owner, amount = fields
            mint_acc = self.svm.get_account(mint)
            decimals = bytes(mint_acc.data)[44] if mint_acc is not None else 0
            ui = Decimal(amount).scaleb(-decimals)
            out.append(
                {
                    "accountIndex": i,
                    "mint": str(mint),
                    "owner": str(owner),
                    "programId": str(acc.owner),
                    "uiTokenAmount": {
                        "amount": str(amount),
                        "decimals": decimals,
                        "uiAmount": float(ui),
                        "uiAmountString": format(ui, "f"),
                    },
                }
            )
        return out

    def rpc_sendTransaction(self, tx_b64: str, opts: dict[str, Any] | None = None) -> Any:
        raw = base64.b64decode(tx_b64)
        tx = VersionedTransaction.from_bytes(raw)
        sig = str(tx.signatures[0])
        self.sent.append(sig)
        self.sent_tx[sig] = tx_b64
        if self._drop:
            self._drop -= 1
            self.dropped.append(sig)
            return sig
        blockhash = str(tx.message.recent_blockhash)
        if self.valid_until.get(blockhash, -1) < self.height:
            raise _RpcError(
                -32002,
                "Transaction simulation failed: Blockhash not found",
                {"err": "BlockhashNotFound", "logs": [], "accounts": None, "unitsConsumed": 0},
            )
        keys = list(tx.message.account_keys)
        pre = [self.svm.get_balance(k) or 0 for k in keys]
        pre_tok = self._token_balances(keys)
        result = self.svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            raise _RpcError(
                -32002,
                f"Transaction simulation failed: {result.err()}",
                {
                    "err": _err_json(result.err()),
                    "logs": list(meta.logs()),
                    "accounts": None,
                    "unitsConsumed": meta.compute_units_consumed(),
                },
            )
        self.slot += 1
        self.height += 1
        self.svm.warp_to_slot(self.slot)
        self.svm.expire_blockhash()
        self._note_blockhash()
        price = _cu_price(tx)
        self.priority_fees.append((self.slot, price))
        self._block_time = max(self._block_time + (self.slot % 2), self.next_block_time or 0)
        self.next_block_time = None
        self.landed[sig] = Landed(
            sig,
            self.slot,
            tx_b64,
            block_time=self._block_time,
            meta={
                "err": None,
                "status": {"Ok": None},
                "fee": result.fee(),
                "preBalances": pre,
                "postBalances": [self.svm.get_balance(k) or 0 for k in keys],
                "innerInstructions": [],
                "logMessages": list(result.logs()),
                "preTokenBalances": pre_tok,
                "postTokenBalances": self._token_balances(keys),
                "rewards": [],
                "loadedAddresses": {"writable": [], "readonly": []},
                "computeUnitsConsumed": result.compute_units_consumed(),
            },
        )
        if self._lose:
            self._lose -= 1
            raise _RpcError(0, "Service Unavailable", None, http=503)
        return sig

    def simulate(self, tx: VersionedTransaction, sig_verify: bool = False) -> Any:
        """Simulate ``tx`` (without checking signatures unless asked, as the RPC method's
        ``sigVerify`` default); the LiteSVM result."""
        with self.lock:
            self.svm.with_sigverify(sig_verify)
            try:
                return self.svm.simulate_transaction(tx)
            finally:
                self.svm.with_sigverify(True)

    def rpc_simulateTransaction(self, tx_b64: str, opts: dict[str, Any] | None = None) -> Any:
        opts = opts or {}
        tx = VersionedTransaction.from_bytes(base64.b64decode(tx_b64))
        result = self.simulate(tx, bool(opts.get("sigVerify", False)))
        meta = result.meta()
        err = str(result.err()) if isinstance(result, FailedTransactionMetadata) else None
        return self._ctx(
            {
                "err": err,
                "logs": list(meta.logs()),
                "accounts": None,
                "unitsConsumed": meta.compute_units_consumed(),
                "returnData": None,
            }
        )

    def _status(self, sig: str) -> Any:
        got = self.landed.get(sig)
        if got is None:
            return None
        age = self.slot - got.slot
        level = "finalized" if age >= FINALITY_SLOTS else "confirmed" if age >= 1 else "processed"
        return {
            "slot": got.slot,
            "confirmations": None if level == "finalized" else age,
            "err": got.err,
            "status": {"Ok": None},
            "confirmationStatus": level,
        }

    def rpc_getSignatureStatuses(self, sigs: list[str], *_: Any) -> Any:
        self.slot += 1  # the cluster keeps producing slots while the client polls
        return self._ctx([self._status(s) for s in sigs])

    def rpc_getSignaturesForAddress(self, address: str, opts: dict[str, Any] | None = None) -> Any:
        opts = opts or {}
        found = []
        for sig, got in reversed(self.landed.items()):  # newest first, as the node answers
            if sig == opts.get("until"):
                break
            keys = VersionedTransaction.from_bytes(base64.b64decode(got.tx_b64)).message
            if address in {str(k) for k in keys.account_keys}:
                st = self._status(sig)
                found.append(
                    {
                        "signature": sig,
                        "slot": got.slot,
                        "err": None,
                        "memo": None,
                        "blockTime": got.block_time,
                        "confirmationStatus": st["confirmationStatus"],
                    }
                )
        return found[: int(opts.get("limit", 1000))]

    def rpc_getTransaction(self, sig: str, *_: Any) -> Any:
        got = self.landed.get(sig)
        if got is None:
            return None
        return {
            "slot": got.slot,
            "blockTime": got.block_time,
            "transaction": [got.tx_b64, "base64"],
            "meta": got.meta,
            "version": 0,
        }

    # -- set-up helpers (tests) ---------------------------------------------------------------
    def token_amount(self, owner: Pubkey, mint: Pubkey) -> int:
        """What ``owner`` holds of ``mint`` over all its token accounts."""
        with self.lock:
            total = 0
            for program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
                for _, acc in self.svm.get_program_accounts(program):
                    f = token_account_fields(acc)
                    if f is not None and f[0] == mint and f[1] == owner:
                        total += f[2]
            return total

    def lamports(self, who: Pubkey) -> int:
        """``who``'s SOL balance in lamports."""
        with self.lock:
            return self.svm.get_balance(who) or 0

    def run(self, tx: VersionedTransaction) -> Any:
        """Execute a set-up transaction; raise with the logs when it fails."""
        with self.lock:
            result = self.svm.send_transaction(tx)
            if isinstance(result, FailedTransactionMetadata):
                raise AssertionError(f"{result.err()}: {result.meta().logs()}")
            return result

    def blockhash(self) -> Hash:
        """LiteSVM's current blockhash."""
        with self.lock:
            return self.svm.latest_blockhash()

    def airdrop(self, who: Pubkey, lamports: int) -> None:
        """Give ``who`` lamports."""
        with self.lock:
            self.svm.airdrop(who, lamports)

    def signatures(self) -> Iterator[Signature]:
        """Signatures of the transactions that landed, in order."""
        return (Signature.from_string(s) for s in self.landed)


def _cu_price(tx: VersionedTransaction) -> int:
    keys = tx.message.account_keys
    for ix in tx.message.instructions:
        data = bytes(ix.data)
        if keys[ix.program_id_index] == COMPUTE_BUDGET_ID and data[:1] == b"\x03":
            return int(struct.unpack_from("<Q", data, 1)[0])
    return 0


def _err_json(err: Any) -> Any:
    """A TransactionError as the RPC serialises it ("AlreadyProcessed", {"InstructionError":
    [0, {"Custom": 1}]})."""
    if hasattr(err, "to_json"):
        return json.loads(err.to_json())
    return str(err).rsplit(".", 1)[-1]


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any, http: int = 0) -> None:
        super().__init__(message)
        self.code, self.message, self.data, self.http = code, message, data, http


__all__ = ["FINALITY_SLOTS", "Keypair", "SvmRpc", "token_account_fields"]
