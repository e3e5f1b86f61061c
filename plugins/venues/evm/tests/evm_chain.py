"""A real local EVM chain for the tests: anvil with the real Uniswap and Balancer contracts.

anvil and the compiled contracts come from npm, installed by the ``venue-evm`` tox env into
``$TRADEWIND_EVM_NPM`` (its node_modules). Nothing here is simulated: the contracts are the
published bytecode, deployed and called with web3.py over JSON-RPC on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

#: anvil's first dev accounts (their keys are public: anvil's documented test mnemonic).
DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
WALLET_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
TRADER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"

CHAIN_ID = 31337


def npm_root() -> Path:
    """node_modules of the tox env's npm install; a clear failure when it is missing."""
    root = os.environ.get("TRADEWIND_EVM_NPM")
    if not root or not Path(root).is_dir():
        raise RuntimeError(
            "TRADEWIND_EVM_NPM does not name the npm install of the venue-evm tox env; run the "
            "tests with: python3 -m tox -e venue-evm"
        )
    return Path(root)


def anvil_path() -> Path:
    """The anvil binary of @foundry-rs/anvil."""
    path = npm_root() / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if not path.is_file():
        raise RuntimeError(f"anvil is not installed at {path}: npm install @foundry-rs/anvil")
    return path


def artifact(rel: str) -> tuple[list[Any], str]:
    """(abi, creation bytecode) of an npm artifact."""
    data = json.loads((npm_root() / rel).read_text())
    if isinstance(data, list):  # an ABI without bytecode
        return data, ""
    if "creationCode" in data:  # balancer bytecode/*.json
        abi_rel = rel.replace("/bytecode/", "/abi/")
        return json.loads((npm_root() / abi_rel).read_text()), "0x" + data["creationCode"]
    code = data.get("bytecode") or data.get("evm", {}).get("bytecode", {}).get("object")
    if not code.startswith("0x"):
        code = "0x" + code
    return data["abi"], code


_V3C = "@uniswap/v3-core/artifacts/contracts/"
_V3P = "@uniswap/v3-periphery/artifacts/contracts/"
_BAL = "@balancer-labs/v2-deployments/dist/tasks/"

ARTIFACTS = {
    "ERC20": "@uniswap/v2-core/build/ERC20.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "UniswapV3Factory": _V3C + "UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": _V3C + "UniswapV3Pool.sol/UniswapV3Pool.json",
    "NonfungiblePositionManager": (
        _V3P + "NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "SwapRouter": _V3P + "SwapRouter.sol/SwapRouter.json",
    "QuoterV2": _V3P + "lens/QuoterV2.sol/QuoterV2.json",
    "SwapRouter02": (
        "@uniswap/swap-router-contracts/artifacts/contracts/SwapRouter02.sol/SwapRouter02.json"
    ),
    "Authorizer": _BAL + "20210418-authorizer/bytecode/Authorizer.json",
    "Vault": _BAL + "20210418-vault/bytecode/Vault.json",
    "WeightedPoolFactory": (_BAL + "20210418-weighted-pool/bytecode/WeightedPoolFactory.json"),
    "WeightedPool": _BAL + "20210418-weighted-pool/abi/WeightedPool.json",
}


class Anvil:
    """An anvil process on 127.0.0.1 (port chosen by the OS), stopped by :meth:`stop`."""

    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                str(anvil_path()),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--disable-code-size-limit",
                "--chain-id",
                str(CHAIN_ID),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        self.url = ""
        for line in self.proc.stdout:
            m = re.search(r"Listening on (127\.0\.0\.1:\d+)", line)
            if m:
                self.url = f"http://{m.group(1)}"
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise RuntimeError("anvil did not start")
        # Drain the log so anvil never blocks on a full pipe.
        import threading

        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        """Stop the node (idempotent)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@attrs.define
class Deployment:
    """Addresses of everything deployed on the local chain."""

    weth: str = ""
    usd: str = ""
    v2_factory: str = ""
    v2_router: str = ""
    v2_pair: str = ""
    fork_factory: str = ""
    fork_router: str = ""
    v3_factory: str = ""
    v3_pool: str = ""
    position_manager: str = ""
    swap_router: str = ""
    swap_router02: str = ""
    quoter_v2: str = ""
    vault: str = ""
    balancer_pool: str = ""


class LocalChain:
    """The node plus the deployed contracts, driven from the deployer and a trader account."""

    def __init__(self, anvil: Anvil) -> None:
        self.anvil = anvil
        self.w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))
        self.deployer = self.w3.eth.account.from_key(DEPLOYER_KEY).address
        self.wallet = self.w3.eth.account.from_key(WALLET_KEY).address
        self.trader = self.w3.eth.account.from_key(TRADER_KEY).address
        self.d = Deployment()

    # -- plumbing -----------------------------------------------------------------------------
    def contract(self, name: str, address: str) -> Contract:
        abi, _ = artifact(ARTIFACTS[name])
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def deploy(self, name: str, *args: Any) -> str:
        abi, code = artifact(ARTIFACTS[name])
        c = self.w3.eth.contract(abi=abi, bytecode=code)
        h = c.constructor(*args).transact({"from": self.deployer})
        r = self.w3.eth.wait_for_transaction_receipt(h)
        assert r["status"] == 1, f"deploying {name} failed"
        return str(r["contractAddress"])

    def send(self, fn: Any, sender: str | None = None, value: int = 0) -> Any:
        h = fn.transact({"from": sender or self.deployer, "value": value})
        r = self.w3.eth.wait_for_transaction_receipt(h)
        assert r["status"] == 1, f"transaction {h.hex()} reverted"
        return r

    def rpc(self, method: str, *params: Any) -> Any:
        return self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot")["result"])

    def revert(self, snap: str) -> None:
        assert self.rpc("evm_revert", snap)["result"] is True

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", on)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def erc20(self, address: str) -> Contract:
        return self.contract("ERC20", address)

    def fund(self, account: str, weth: Decimal, usd: Decimal) -> None:
        """Give ``account`` WETH (wrapped from the deployer's ether) and USD."""
        w = self.contract("WETH9", self.d.weth)
        self.send(w.functions.deposit(), sender=account, value=int(weth * 10**18))
        if usd:
            self.send(self.erc20(self.d.usd).functions.transfer(account, int(usd * 10**18)))

    # -- the deployment -----------------------------------------------------------------------
    def deploy_all(self) -> Deployment:
        d = self.d
        me = self.deployer
        deadline = 2**40
        d.weth = self.deploy("WETH9")
        d.usd = self.deploy("ERC20", 10**12 * 10**18)
        w = self.contract("WETH9", d.weth)
        usd = self.erc20(d.usd)
        self.send(w.functions.deposit(), value=5_000 * 10**18)
        # Uniswap V2, and a second V2 deployment for the config-only fork.
        d.v2_factory = self.deploy("UniswapV2Factory", me)
        d.v2_router = self.deploy("UniswapV2Router02", d.v2_factory, d.weth)
        d.fork_factory = self.deploy("UniswapV2Factory", me)
        d.fork_router = self.deploy("UniswapV2Router02", d.fork_factory, d.weth)
        books = ((d.v2_router, 500, 1_000_000), (d.fork_router, 100, 210_000))
        for router, weth_amt, usd_amt in books:
            self.send(w.functions.approve(router, 2**256 - 1))
            self.send(usd.functions.approve(router, 2**256 - 1))
            r = self.contract("UniswapV2Router02", router)
            self.send(
                r.functions.addLiquidity(
                    d.weth, d.usd, weth_amt * 10**18, usd_amt * 10**18, 0, 0, me, deadline
                )
            )
        f = self.contract("UniswapV2Factory", d.v2_factory)
        d.v2_pair = str(f.functions.getPair(d.weth, d.usd).call())
        # Uniswap V3 with both routers and QuoterV2.
        d.v3_factory = self.deploy("UniswapV3Factory")
        zero = "0x" + "00" * 20
        d.position_manager = self.deploy("NonfungiblePositionManager", d.v3_factory, d.weth, zero)
        d.swap_router = self.deploy("SwapRouter", d.v3_factory, d.weth)
        d.swap_router02 = self.deploy(
            "SwapRouter02", d.v2_factory, d.v3_factory, d.position_manager, d.weth
        )
        d.quoter_v2 = self.deploy("QuoterV2", d.v3_factory, d.weth)
        t0, t1 = sorted([d.weth, d.usd], key=lambda a: int(a, 16))
        price = 2000.0 if t0 == d.weth else 1 / 2000.0  # token1 per token0
        sqrt_x96 = int(math.sqrt(price) * 2**96)
        pm = self.contract("NonfungiblePositionManager", d.position_manager)
        self.send(pm.functions.createAndInitializePoolIfNecessary(t0, t1, 3000, sqrt_x96))
        self.send(w.functions.approve(d.position_manager, 2**256 - 1))
        self.send(usd.functions.approve(d.position_manager, 2**256 - 1))
        amt = {d.weth: 1_000 * 10**18, d.usd: 2_000_000 * 10**18}
        self.send(
            pm.functions.mint((t0, t1, 3000, -887220, 887220, amt[t0], amt[t1], 0, 0, me, deadline))
        )
        v3f = self.contract("UniswapV3Factory", d.v3_factory)
        d.v3_pool = str(v3f.functions.getPool(d.weth, d.usd, 3000).call())
        # Balancer V2: Authorizer, Vault, a 50/50 weighted pool.
        authorizer = self.deploy("Authorizer", me)
        d.vault = self.deploy("Vault", authorizer, d.weth, 0, 0)
        wpf_addr = self.deploy("WeightedPoolFactory", d.vault)
        wpf = self.contract("WeightedPoolFactory", wpf_addr)
        r = self.send(
            wpf.functions.create(
                "WETH-USD 50/50",
                "B-50WETH-50USD",
                [t0, t1],
                [5 * 10**17, 5 * 10**17],
                3 * 10**15,
                me,
            )
        )
        (ev,) = wpf.events.PoolCreated().process_receipt(r, errors=DISCARD)
        d.balancer_pool = str(ev["args"]["pool"])
        pool = self.contract("WeightedPool", d.balancer_pool)
        pool_id = pool.functions.getPoolId().call()
        vault = self.contract("Vault", d.vault)
        self.send(w.functions.approve(d.vault, 2**256 - 1))
        self.send(usd.functions.approve(d.vault, 2**256 - 1))
        bal = {d.weth: 300 * 10**18, d.usd: 600_000 * 10**18}
        from eth_abi import encode

        user_data = encode(["uint256", "uint256[]"], [0, [bal[t0], bal[t1]]])
        self.send(
            vault.functions.joinPool(
                pool_id, me, me, ([t0, t1], [bal[t0], bal[t1]], user_data, False)
            )
        )
        return d

    # -- a scripted trader ------------------------------------------------------------------
    def trader_swap_v3(self, sell_weth: bool, amount: Decimal, approve: bool = True) -> Any:
        """The trader swaps on the V3 pool through SwapRouter (an exact-input swap)."""
        d = self.d
        router = self.contract("SwapRouter", d.swap_router)
        token_in, token_out = (d.weth, d.usd) if sell_weth else (d.usd, d.weth)
        if approve:
            self.send(
                self.erc20(token_in).functions.approve(d.swap_router, 2**256 - 1), self.trader
            )
        return self.send(
            router.functions.exactInputSingle(
                (token_in, token_out, 3000, self.trader, 2**40, int(amount * 10**18), 0, 0)
            ),
            self.trader,
        )
