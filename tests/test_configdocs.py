"""docs/configuration.md is generated from the config classes and cannot omit a key."""

import attrs
from tradewind.configdocs import documented_classes, render

from tests.conftest import REPO

DOC = REPO / "docs" / "configuration.md"


def test_configuration_md_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run python -m tradewind.configdocs > docs/configuration.md"
    )


def test_every_key_of_every_config_class_is_documented_with_a_meaning():
    text = render()
    for _title, cls, skip in documented_classes():
        for field in attrs.fields(cls):
            if field.name not in skip:
                assert f"| `{field.name}` |" in text, (cls.__name__, field.name)
    assert "(undocumented)" not in text, "a config field has no #: comment"


def test_the_keys_the_issue_found_missing_are_there():
    text = DOC.read_text(encoding="utf-8")
    for key in (
        "max_leverage",
        "instrument_caps",
        "preset",
        "composition",
        "gates",
        "primary",
        "scorers",
        "min_score",
    ):
        assert f"| `{key}` |" in text, key
