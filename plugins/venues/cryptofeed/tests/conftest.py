"""Puts this directory on sys.path for the test helpers (``cryptofeed_stub``,
``cryptofeed_replay``), whose names are unique to this plugin so a combined pytest run of every
plugin cannot pick up another plugin's helper; and isolates cryptofeed's process-wide symbol
cache per test (the stub and the recorded sessions each bring their own symbol tables).
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _isolated_symbol_cache() -> Iterator[None]:
    from cryptofeed.symbols import Symbols

    saved = dict(Symbols.data)
    Symbols.clear()
    try:
        yield
    finally:
        Symbols.clear()
        Symbols.data.update(saved)
