"""ccxt exceptions → the core's venue errors, with every secret redacted from the text.

=============================================  ==========================================
ccxt                                           tradewind
=============================================  ==========================================
``InsufficientFunds``, ``InvalidOrder``        :class:`~tradewind.errors.OrderRejectedError`
``RequestTimeout``                             :class:`~tradewind.errors.VenueTimeoutError`
``NetworkError``, ``ExchangeNotAvailable``     :class:`~tradewind.errors.VenueUnavailableError`
``AuthenticationError`` and anything else      :class:`~tradewind.errors.VenueError`
=============================================  ==========================================

The mapped error's ``__cause__`` is a copy of the ccxt exception whose message went through
the same redaction, so a logged traceback cannot leak a key either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from tradewind.errors import (
    OrderRejectedError,
    VenueError,
    VenueTimeoutError,
    VenueUnavailableError,
)

# Request signatures are not secrets, but they are noise and can be replayed within the
# venue's receive window: drop them from messages too.
_SIGNATURE = re.compile(r"(?i)\b(signature|sign)=[0-9a-zA-Z%+/=_-]+")


# Account tokens an exchange hands out at run time: Binance's user-data ``listenKey`` (read
# access to the account's order stream), KuCoin's private-bullet ``token``, OAuth-style access
# tokens. Seen as ``"listenKey": "..."`` in a response body or ``listenKey=...`` in a URL.
_TOKEN = re.compile(
    r"""(?i)["']?\b(listenKey|listen_key|token|access_?token)\b["']?\s*[:=]\s*["']?"""
    r"([0-9a-zA-Z._~+/-]{8,})"
)


class Redactor:
    """Replaces known secret values, account tokens and request signatures in text with
    ``***``. A token seen once (the response that issued it) is masked everywhere after, in
    any form (a websocket URL path that embeds it, say)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Mask ``value`` from now on."""
        if value and value not in self._values:
            self._values.append(value)
            # Longest first, so a secret containing another is masked whole.
            self._values.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for match in _TOKEN.finditer(text):
            if match.group(2) != "***":
                self.add(match.group(2))
        for value in self._values:
            text = text.replace(value, "***")
        return _SIGNATURE.sub(r"\1=***", text)


class RedactingLogger:
    """The logger handed to ccxt (``exchange.logger``): every record is redacted first.

    ccxt logs each request at DEBUG with its headers, which carry the API key on most
    exchanges; this wrapper formats the record, masks secrets and passes plain text on.
    """

    def __init__(self, logger: logging.Logger, redact: Callable[[str], str]) -> None:
        self._logger = logger
        self._redact = redact

    def _log(self, level: int, msg: Any, *args: Any) -> None:
        if not self._logger.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join([str(msg), *map(str, args)])
        self._logger.log(level, "%s", self._redact(text))

    def debug(self, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at DEBUG."""
        self._log(logging.DEBUG, msg, *args)

    def info(self, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at INFO."""
        self._log(logging.INFO, msg, *args)

    def warning(self, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at WARNING."""
        self._log(logging.WARNING, msg, *args)

    warn = warning

    def error(self, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at ERROR (without a traceback: it could carry unredacted text)."""
        self._log(logging.ERROR, msg, *args)

    exception = error

    def critical(self, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at CRITICAL."""
        self._log(logging.CRITICAL, msg, *args)

    def log(self, level: int, msg: Any, *args: Any, **_kw: Any) -> None:
        """Log at ``level``."""
        self._log(level, msg, *args)

    def isEnabledFor(self, level: int) -> bool:
        """Whether ``level`` would be logged."""
        return self._logger.isEnabledFor(level)


def _redacted_copy(exc: BaseException, redact: Callable[[str], str]) -> BaseException:
    try:
        return type(exc)(redact(str(exc)))
    except Exception:
        return Exception(f"{type(exc).__name__}: {redact(str(exc))}")


def map_ccxt_error(
    exc: BaseException, *, venue: str, action: str, redact: Callable[[str], str]
) -> VenueError:
    """The core error for a ccxt exception raised while doing ``action`` on ``venue``."""
    import ccxt

    text = redact(str(exc)).strip() or type(exc).__name__
    cls: type[VenueError]
    if isinstance(exc, ccxt.AuthenticationError):
        cls = VenueError
        msg = (
            f"venue '{venue}': {action} failed: the exchange refused the credentials "
            f"({type(exc).__name__}: {text}); check the api_key/secret environment variables"
        )
    else:
        if isinstance(exc, ccxt.InsufficientFunds | ccxt.InvalidOrder):
            cls = OrderRejectedError
        elif isinstance(exc, ccxt.RequestTimeout):
            cls = VenueTimeoutError
        elif isinstance(exc, ccxt.NetworkError | ccxt.ExchangeNotAvailable):
            cls = VenueUnavailableError
        else:
            cls = VenueError
        msg = f"venue '{venue}': {action} failed: {type(exc).__name__}: {text}"
    err = cls(redact(msg))
    err.__cause__ = _redacted_copy(exc, redact)
    err.__suppress_context__ = True
    return err
