"""Builds the trailing stop's compiled kernel (everything else is in pyproject.toml).

No fast-math, and -ffp-contract=off: the kernel must give the same running best and first hit
as the numpy path (plugin.py's ``TrailingStop._running``).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "tradewind_exit_trailing._kernel",
            sources=["src/tradewind_exit_trailing/_kernel.c"],
            extra_compile_args=flags,
        )
    ]
)
