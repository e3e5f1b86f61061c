"""Builds the profile analyzer's compiled kernel (everything else is in pyproject.toml).

The kernels are integer arithmetic, exactly the pure-Python code's (market_profile.py); the
flags are the regime plugin's all the same (no fast-math, no fused multiply-add).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "tradewind_analyzer_profile._kernel",
            sources=["src/tradewind_analyzer_profile/_kernel.c"],
            extra_compile_args=flags,
        )
    ]
)
