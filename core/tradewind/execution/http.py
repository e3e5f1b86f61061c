"""The HTTP side every aggregator plugin shares: JSON GET/POST with a timeout, 429 with
``Retry-After`` honoured, and the API's own error body turned into a clear AggregatorError.

Needs aiohttp (a dependency of every aggregator plugin, not of the core). The API key goes in a
header and is never part of an error message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio

from tradewind.execution.quotes import AggregatorError

#: Fields in which the APIs put a human-readable reason for an error.
_REASON_FIELDS = ("description", "message", "error", "reason", "detail", "name")


def error_text(body: str) -> str:
    """The API's reason from an error body (JSON fields, else the text, shortened)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300] or "(empty body)"
    if isinstance(data, Mapping):
        parts = []
        for key in _REASON_FIELDS:
            value = data.get(key)
            if isinstance(value, str) and value and value not in parts:
                parts.append(value)
        if parts:
            return "; ".join(parts)
    return json.dumps(data)[:300]


def retry_after_s(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (delta-seconds), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class JsonApi:
    """One aggregator's HTTP API."""

    def __init__(
        self,
        aggregator: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
        max_retries: int = 2,
        max_retry_after_s: float = 5.0,
    ) -> None:
        self.aggregator = aggregator
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_retry_after_s = max_retry_after_s
        self._session: Any = None
        #: How often a 429 was answered (and waited out).
        self.rate_limited = 0

    def _client(self) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), headers=self.headers
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer of ``method path``; AggregatorError otherwise."""
        import aiohttp

        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._client().request(method, url, params=params, json=body) as resp:
                    text = await resp.text()
                    status = resp.status
                    wait = retry_after_s(resp.headers.get("Retry-After"))
            except TimeoutError as exc:
                raise AggregatorError(
                    self.aggregator,
                    "timeout",
                    f"{method} {path}: no answer within {self.timeout_s}s",
                ) from exc
            except aiohttp.ClientError as exc:
                raise AggregatorError(
                    self.aggregator, "http", f"{method} {path}: {type(exc).__name__}: {exc}"
                ) from exc
            if status == 429:
                self.rate_limited += 1
                if attempt > self.max_retries or (wait or 0) > self.max_retry_after_s:
                    raise AggregatorError(
                        self.aggregator,
                        "rate_limited",
                        f"{method} {path}: HTTP 429 (Retry-After {wait}s) after {attempt} "
                        f"attempts: {error_text(text)}",
                    )
                await anyio.sleep(wait if wait is not None else 0.5 * attempt)
                continue
            if status >= 400:
                kind = "api" if 400 <= status < 500 else "http"
                raise AggregatorError(
                    self.aggregator, kind, f"{method} {path}: HTTP {status}: {error_text(text)}"
                )
            try:
                return json.loads(text)
            except ValueError as exc:
                raise AggregatorError(
                    self.aggregator,
                    "malformed",
                    f"{method} {path}: the body is not JSON: {text[:200]!r}",
                ) from exc

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def field(data: Any, *path: str | int, aggregator: str, what: str = "response") -> Any:
    """``data[path...]``, or AggregatorError(malformed) naming the missing field."""
    cur = data
    for i, key in enumerate(path):
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError) as exc:
            where = ".".join(str(p) for p in path[: i + 1])
            raise AggregatorError(
                aggregator, "malformed", f"the {what} has no field {where}"
            ) from exc
    return cur


def integer(data: Any, *path: str | int, aggregator: str, what: str = "response") -> int:
    """An integer field (the APIs send amounts as decimal strings)."""
    value = field(data, *path, aggregator=aggregator, what=what)
    try:
        return int(str(value))
    except ValueError as exc:
        where = ".".join(str(p) for p in path)
        raise AggregatorError(
            aggregator, "malformed", f"the {what}'s {where} is not an integer: {value!r}"
        ) from exc
