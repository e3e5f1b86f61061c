from collections.abc import Callable
from typing import Any

def builder(cls: type, descriptors: tuple[Any, ...], /) -> Callable[..., Any]: ...
def json_writer(
    cls: type, items: tuple[tuple[str, Any, int, Any], ...], tail: str, quote: Any, decimal: type, /
) -> Callable[[Any], str]: ...
