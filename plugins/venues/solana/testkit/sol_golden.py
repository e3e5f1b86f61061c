"""The golden vectors of the direct pools: Orca's and Raydium's official SDKs run under node.

The scripts in ``tests/golden`` take the ``node_modules`` folder the ``solana`` tox env installs
(``TRADEWIND_SOLANA_NPM``) and, for the instruction builders, one JSON argument; each prints
one JSON document. The vector sets (pool states and their quotes) are built once per test
session and shared by every module that reads them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
NPM_ENV = "TRADEWIND_SOLANA_NPM"


def npm_modules() -> str:
    npm = os.environ.get(NPM_ENV)
    assert npm, f"{NPM_ENV} names the node_modules the solana tox env installs (tox.ini)"
    return npm


def run_golden(script: str, args: dict[str, Any] | None = None, *, timeout: float = 60) -> Any:
    """``node golden/<script> <node_modules> [<args as JSON>]``: its output, parsed."""
    cmd = ["node", str(GOLDEN / script), npm_modules()]
    if args is not None:
        cmd.append(json.dumps(args))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(proc.stdout)


@functools.cache
def vectors(script: str) -> Any:
    """The vector set of ``script`` (``whirlpool_vectors.mjs``, ``raydium_vectors.cjs``),
    computed by the SDK once per session. Callers must not mutate it."""
    return run_golden(script, timeout=120)
