"""Puts this directory on sys.path so tests can import their helper, ``regime_data``.

The helper's name is unique to this plugin, so a combined run of every plugin's tests in one
pytest session (``--import-mode=importlib``) cannot pick up another plugin's helper.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
