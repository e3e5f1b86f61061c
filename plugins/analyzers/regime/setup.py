"""Builds the regime analyzer's compiled kernel (everything else is in pyproject.toml).

No fast-math, and -ffp-contract=off so the compiler never fuses a multiply and an add: the
kernel must give the same bits as the pure-Python indicator classes (kernel.py).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "tradewind_analyzer_regime._kernel",
            sources=["src/tradewind_analyzer_regime/_kernel.c"],
            extra_compile_args=flags,
        )
    ]
)
