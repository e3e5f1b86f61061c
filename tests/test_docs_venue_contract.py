"""The docs describe the venue contract and the live-trading settings of issue 9: every
capability Protocol has its row in docs/plugins.md; configuration.md and
orders-and-journal.md cover accounts, reporting currency, market types, pyramiding and the
reconciliation interval."""

from __future__ import annotations

from pathlib import Path

from tradewind.model.orders import INTENTS
from tradewind.protocols import CAPABILITY_PROTOCOLS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_capability_has_its_row_in_the_venue_contract():
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    for name, protocol in CAPABILITY_PROTOCOLS.items():
        assert f"| `{name}` | `{protocol.__name__}` |" in text, name
    for intent in INTENTS:
        assert f"`{intent}`" in text, intent


def test_configuration_describes_accounts_market_types_pyramiding_and_reconciliation():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for row in ("| `reporting_currency` |", "| `reconcile_interval_s` |", "| `pyramiding` |"):
        assert row in text, row
    for market_type in ('| `"spot"` |', '| `"perp"` |'):
        assert market_type in text, market_type


def test_orders_and_journal_describe_accounts_intents_and_re_reconciliation():
    text = (DOCS / "orders-and-journal.md").read_text(encoding="utf-8")
    assert "| `account_balances` |" in text
    assert "reconcile_interval_s" in text
    assert "intent (`entry`, `add`, `reduce`, `close`, `flip`)" in text
    assert "entry_priced" in text


def test_no_test_or_benchmark_sets_private_portfolio_fields():
    """Cash comes from the venues' accounts: no test or benchmark works around it by writing a
    portfolio's private fields (its ``_start``, as the e2e test once did)."""
    import re

    root = DOCS.parent
    # An assignment (plain or augmented) to a private field of a portfolio, by its usual
    # names, or a setattr of one.
    pattern = re.compile(
        r"\b(portfolio|pf)\._\w+\s*(\[[^\]]*\])?\s*([-+*/]?=)(?!=)"
        r"|setattr\([^,]*\b(portfolio|pf)\b[^,]*,\s*[\"']_"
    )
    places = [root / "tests", root / "bench", *sorted((root / "plugins").glob("*/*/tests"))]
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for place in places
        for path in sorted(place.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
