"""Generate the hook reference (docs/hooks.md) from the hookspec docstrings.

``python -m tradewind.hookdocs > docs/hooks.md``; a test fails when the file is stale.
"""

from __future__ import annotations

import inspect
import sys

from tradewind import hookspecs


def hook_functions() -> list[tuple[str, object]]:
    """Every hookspec, in source order."""
    funcs = [
        (name, obj)
        for name, obj in vars(hookspecs).items()
        if name.startswith("tradewind_") and inspect.isfunction(obj)
    ]
    return sorted(funcs, key=lambda item: item[1].__code__.co_firstlineno)  # type: ignore[attr-defined]


def render() -> str:
    """The hook reference as Markdown."""
    out = [
        "# Hook reference",
        "",
        "Generated from `tradewind/hookspecs.py` by `python -m tradewind.hookdocs`; do not edit.",
        "",
        "Hooks register plugin classes and observe a run's lifecycle. They are synchronous and",
        "collecting (none is firstresult). Implement them with `tradewind.hookimpl`:",
        "",
        "```python",
        "from tradewind import hookimpl",
        "",
        "@hookimpl",
        "def tradewind_register_notifiers(registry):",
        "    registry.add(MyNotifier)",
        "```",
        "",
    ]
    for name, func in hook_functions():
        sig = inspect.signature(func)  # type: ignore[arg-type]
        params = ", ".join(sig.parameters)
        out.append(f"## `{name}({params})`")
        out.append("")
        out.append(inspect.cleandoc(func.__doc__ or ""))
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
