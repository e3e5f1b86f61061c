"""The cost of a direct plugin method call vs a pluggy hook call (why the tick path is direct).

python bench/bench_plugin_call.py
"""

from __future__ import annotations

import timeit
from types import SimpleNamespace

import pluggy
from tradewind import hookimpl

spec = pluggy.HookspecMarker("benchcall")


class Spec:
    @spec
    def on_value(self, value: float) -> None:
        """A hook called with one value."""


class Analyzer:
    def __init__(self) -> None:
        self.total = 0.0

    def on_value(self, value: float) -> None:
        self.total += value


def main() -> None:
    analyzer = Analyzer()
    impl = pluggy.HookimplMarker("benchcall")
    module = SimpleNamespace(on_value=impl(lambda value: analyzer.on_value(value)))
    pm = pluggy.PluginManager("benchcall")
    pm.add_hookspecs(Spec)
    pm.register(module)
    n = 1_000_000
    direct = min(timeit.repeat(lambda: analyzer.on_value(1.0), number=n, repeat=5)) / n
    hook = min(timeit.repeat(lambda: pm.hook.on_value(value=1.0), number=n, repeat=5)) / n
    print("plugin call cost (one implementation, best of 5 x 1,000,000 calls)")
    print(f"  direct method call: {direct * 1e9:,.0f} ns")
    print(f"  pluggy hook call:   {hook * 1e9:,.0f} ns  ({hook / direct:.1f}x)")
    _ = hookimpl  # tradewind's marker is the same pluggy machinery under project "tradewind"


if __name__ == "__main__":
    main()
