from collections.abc import Callable
from typing import Any

def builder(cls: type, descriptors: tuple[Any, ...], /) -> Callable[..., Any]: ...
