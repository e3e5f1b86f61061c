"""Secrets as ``env:NAME`` references: the config stores the name, never the value."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from tradewind.errors import ConfigError, SecretNotSetError

PREFIX = "env:"


@attrs.frozen(repr=False)
class Secret:
    """A reference to an environment variable holding a secret.

    ``repr`` and ``str`` show only the reference, so a Secret can be logged, journaled or put
    in an error message without leaking the value. :meth:`reveal` reads the variable.
    """

    env_name: str

    @classmethod
    def parse(cls, text: str, path: str = "$") -> Secret:
        """Parse ``env:NAME``; anything else (a literal key) is refused."""
        if not isinstance(text, str) or not text.startswith(PREFIX) or not text[len(PREFIX) :]:
            raise ConfigError(
                f"secrets must be written as env:NAME (the environment variable holding it), "
                f"not as a literal value @ {path}"
            )
        return cls(text[len(PREFIX) :])

    def reveal(self, environ: Mapping[str, str] | None = None) -> str:
        """The secret's value, read from the environment now."""
        env = os.environ if environ is None else environ
        try:
            return env[self.env_name]
        except KeyError:
            raise SecretNotSetError(
                f"environment variable {self.env_name} is not set (needed by env:{self.env_name})"
            ) from None

    def is_set(self, environ: Mapping[str, str] | None = None) -> bool:
        """True when the variable is set."""
        return self.env_name in (os.environ if environ is None else environ)

    def __repr__(self) -> str:
        return f"Secret('env:{self.env_name}')"

    __str__ = __repr__
