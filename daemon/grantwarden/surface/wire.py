"""What every listener of the surface says alike: JSON with markup escaped, and the bearer check.

Why apart: the operator listener (``server``), the hand-off (``handoff``, through ``replies``)
and the in-path proxy answer in the same JSON and compare bearer tokens the same way, yet must
not know one another (an import-linter contract keeps them independent); what they share sits
here, below all three. ``dumps`` escapes ``<``, ``>`` and ``&`` so that no sniffing or embedding
reads markup in a JSON answer; ``authorized`` compares in constant time.

What it must not do: route, log, or hold a token (it is handed the expected one). Callers:
``server``, ``statusdoc``, ``replies``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web


def authorized(header: str | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header carries exactly ``Bearer <token>``, compared in constant time."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    offered = credentials.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered, token)


def dumps(payload: Any) -> str:
    """JSON with ``<``, ``>`` and ``&`` escaped, so no sniffing or embedding can read markup in it.

    Safe because those characters only ever occur inside JSON strings, where ``\\u003c`` means
    the same. ASCII output: a lone surrogate in a platform message cannot break the encoding.
    """
    text = json.dumps(payload)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def answer(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=dumps(payload), status=status, content_type="application/json")


def error(status: int, name: str, message: str, **extra: Any) -> web.Response:
    return answer({"error": name, "message": message, **extra}, status)
