"""The shared aggregator test kit (plugins/aggregators/testkit) and the local-chain fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

_KIT = Path(__file__).resolve().parent / "../.." / "testkit"
if str(_KIT) not in sys.path:
    sys.path.insert(0, str(_KIT))

from agg_fixtures import agg_chain, agg_chain_session  # noqa: E402, F401
