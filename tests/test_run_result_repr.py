"""``RunResult``'s repr is a short line of sizes, whatever the run's length.

``asyncio.Runner`` (Python 3.11) formats the main task, result included, when it restores
the SIGINT handler at the end of ``anyio.run``: a repr of every curve point and fill was a
cost of every backtest, growing with the tape (two reprs of ~27 ms each at 300,000 ticks)."""

from __future__ import annotations

import anyio
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config  # noqa: F401  (fixture)


def test_the_repr_of_a_run_names_its_sizes_not_its_contents(demo_config):  # noqa: F811
    result = anyio.run(Engine(load_config(demo_config), run_id="repr").run)
    points = sum(len(v) for v in result.price_curve.values())
    assert points == result.summary["decisions"] > 100
    assert result.fills and result.equity_curve
    text = repr(result)
    assert text == (
        f"RunResult(run_id='repr', fills={len(result.fills)}, "
        f"equity_points={len(result.equity_curve)}, price_points={points}, "
        f"journal_path={result.journal_path!r})"
    )
    # What the field-by-field repr would print: the curves alone are far longer.
    assert len(repr(result.price_curve)) + len(repr(result.series)) > 20 * len(text)
