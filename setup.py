"""Builds the core's compiled kernels (everything else is in pyproject.toml).

``tradewind._kernels``: the candle aggregator's exact sums (core/tradewind/_kernels.c). The
flags are the analyzer plugins' (no fast-math, no fused multiply-add): every float operation
is the one the numpy/Python reference performs. ``tradewind._slots``: the builders of the
frozen, slotted classes made per fill (core/tradewind/_slots.c, tradewind.model.frozen).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension(
            "tradewind._kernels",
            sources=["core/tradewind/_kernels.c"],
            extra_compile_args=flags,
        ),
        Extension(
            "tradewind._slots",
            sources=["core/tradewind/_slots.c"],
            extra_compile_args=flags,
        ),
    ]
)
