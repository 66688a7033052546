"""Turn any response body into facts: the platform ErrorBody or the token endpoint's error shape.

A 403 is only as useful as what we can read out of its body, and bodies arrive in every shape:
the API's ``ErrorBody`` JSON, the token endpoint's ``{error, description, error_description}``,
HTML pages from load balancers, truncated or binary garbage, JSON of the wrong shape. ``parse``
accepts all of it and never raises; fields it cannot find are ``None``. Text is decoded leniently,
stripped of control characters and truncated, so a hostile body cannot bloat a log line or the
status page. The remote layer calls it on every non-2xx reply; ``forbidden.classify`` reads it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
from collections.abc import Mapping
from typing import Any

TEXT_LIMIT = 2048  # characters of body text kept for humans
PARSE_LIMIT = 256 * 1024  # bytes; a larger body is not an error body worth decoding as JSON
MAX_RETRY_AFTER_S = 86_400.0  # an absurd Retry-After must not freeze a tenant for ever

_EMPTY: Mapping[str, str] = types.MappingProxyType({})
_NOT_JSON = object()
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorFacts:
    """What a body says. Every field is optional because every body is suspect."""

    code: str | None = None  # ErrorBody.code, e.g. "missing.permissions" (platform.md §4.1)
    message: str | None = None  # ErrorBody.message (truncated)
    # ErrorBody.messageParams, values as strings; read-only, left out of the hash
    message_params: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY, hash=False)
    context_id: str | None = None  # ErrorBody.contextId
    status: int | None = None  # ErrorBody.status (the HTTP status the platform meant)
    token_error: str | None = None  # token endpoint "error", e.g. "invalid_client" (platform.md §1.3)
    token_error_description: str | None = None  # "error_description", else "description"
    is_json: bool = False
    is_html: bool = False
    title: str | None = None  # <title> of an HTML page, e.g. "502 Bad Gateway"
    text: str = ""  # the decoded body, control characters removed, at most TEXT_LIMIT characters


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """Printable, bounded text: control characters (bar tab and newline) dropped, then truncated."""
    return _CONTROL.sub("", text[: limit * 2])[:limit]


def parse(body: bytes) -> ErrorFacts:
    """Facts from any bytes; never raises."""
    text = body[:PARSE_LIMIT].decode("utf-8-sig", errors="replace")
    shown = clean(text)
    if _looks_html(text):
        return ErrorFacts(is_html=True, title=_html_title(text), text=shown)
    data = _load_json(text) if len(body) <= PARSE_LIMIT else _NOT_JSON
    if data is _NOT_JSON:
        return ErrorFacts(text=shown)
    if not isinstance(data, dict):
        return ErrorFacts(is_json=True, text=shown)
    return ErrorFacts(
        code=_string(data.get("code")),
        message=_string(data.get("message")),
        message_params=_params(data.get("messageParams")),
        context_id=_string(data.get("contextId")),
        status=_integer(data.get("status")),
        token_error=_string(data.get("error")),
        token_error_description=_string(data.get("error_description")) or _string(data.get("description")),
        is_json=True,
        text=shown,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or unreadable.

    The platform sends integer seconds (platform.md §5); floats are tolerated, negatives become 0,
    HTTP-dates and garbage give None (the caller then falls back to its own backoff).
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _looks_html(text: str) -> bool:
    head = text[:512].lstrip().lower()
    # A page starts with markup; JSON that merely mentions "<html" in a string is still JSON.
    return head.startswith("<") and (head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head)


def _html_title(text: str) -> str | None:
    match = _TITLE.search(text[:8192])
    return _string(" ".join(match.group(1).split())) if match else None


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _string(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return clean(value)
    return None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _params(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        return _EMPTY
    kept = {clean(str(k), 128): clean(_scalar(v)) for k, v in list(value.items())[:32] if _scalar(v)}
    return types.MappingProxyType(kept) if kept else _EMPTY


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(value) + "]"
    return ""
