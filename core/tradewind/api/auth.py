"""Who may call the API: a bearer token compared in constant time, and a rate limit per client.

The token is read from the environment variable ``[api] token_env`` names; it never appears
in a log, an error or the journal. A request carries it as ``Authorization: Bearer <token>``
or, for Freqtrade's client, as the password of HTTP basic auth (the username is ignored).
A missing and a wrong token take the same path: the provided bytes (empty when missing) are
compared with :func:`hmac.compare_digest`, so the answer's timing does not say which it was.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections import deque

#: Bytes of randomness in a token made by ``tradewind api token`` (256 bits).
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random token, URL-safe (fits a header, a query string and a subprotocol)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def credential(authorization: str | None) -> bytes:
    """The token an ``Authorization`` header carries (bearer, or basic auth's password);
    empty bytes when there is none."""
    if not authorization:
        return b""
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value.encode("utf-8", "replace")
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return b""
        return decoded.partition(b":")[2]
    return b""


class TokenCheck:
    """Compares a provided credential with the expected token in constant time."""

    def __init__(self, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the API token must be at least 16 characters (tradewind api token)")
        self._token = token.encode("utf-8")

    def __repr__(self) -> str:
        return "TokenCheck(<redacted>)"

    def ok(self, provided: bytes) -> bool:
        """True when ``provided`` is the token."""
        return hmac.compare_digest(provided, self._token)


class RateLimiter:
    """At most ``limit`` requests per client in any ``window_s`` seconds (a sliding window).

    Time comes from the caller (the server's monotonic clock), so tests can drive it.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}

    def allow(self, client: str, now: float) -> float | None:
        """None when the request may go ahead, else the seconds until it may."""
        hits = self._hits.get(client)
        if hits is None:
            hits = self._hits[client] = deque()
        edge = now - self.window_s
        while hits and hits[0] <= edge:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.0, hits[0] + self.window_s - now)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle clients so the table cannot grow unbounded
            for key in [k for k, v in self._hits.items() if not v]:
                del self._hits[key]
        return None
