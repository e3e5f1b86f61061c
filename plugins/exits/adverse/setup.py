"""Builds the adverse-moves monitor's compiled kernel (everything else is in pyproject.toml).

No fast-math, and -ffp-contract=off: the kernel must give the same samples, runs and trigger
as the pure-Python loop (plugin.py's ``AdverseMoves._on_few``).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "tradewind_exit_adverse._kernel",
            sources=["src/tradewind_exit_adverse/_kernel.c"],
            extra_compile_args=flags,
        )
    ]
)
