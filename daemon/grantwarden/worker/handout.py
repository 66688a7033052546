"""What the integration gets for a token: the token, where it acts, and its JSON, encoded once.

``access.Access`` wraps every token that goes out in a ``Handout``; the hand-off listener answers
``body(now)`` (``surface.handoff``) and the file sink writes ``as_json(now)`` (``surface.files``).
The answer's JSON up to ``expires_in`` is encoded once per token (``prefix``, kept by the access
object), so that answering 2,000 requests a second encodes one number each, not a document. The
token itself never reaches a ``repr``. Pure data: no clock, no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from grantwarden.worker import statusjson, tokenbox

TOKEN_TYPE = "bearer"


@dataclasses.dataclass(frozen=True, slots=True)
class Handout:
    """A token going out and where it acts; ``prefix``: ``encoded_prefix`` of its answer, or empty."""

    tenant: str
    org_id: str
    region: str | None
    api_base_url: str
    token: tokenbox.Token = dataclasses.field(repr=False)
    prefix: bytes = dataclasses.field(repr=False, default=b"")

    @property
    def expires_at(self) -> float:
        return self.token.expires_at

    @property
    def usable_until(self) -> float:
        return self.token.usable_until

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "org_id": self.org_id,
            "region": self.region,
            "api_base_url": self.api_base_url,
            "access_token": self.token.value,
            "token_type": TOKEN_TYPE,
            "expires_at": statusjson.iso(self.token.expires_at),
            "expires_in": max(0, int(self.token.expires_at - now)),
        }

    def body(self, now: float) -> bytes:
        """``as_json(now)`` as JSON bytes, ``<``, ``>`` and ``&`` escaped (``surface.wire.dumps``)."""
        prefix = self.prefix or encoded_prefix(self.as_json(now))
        return b"%s%d}" % (prefix, max(0, int(self.token.expires_at - now)))


def encoded_prefix(answer: dict[str, Any]) -> bytes:
    """The JSON of ``answer`` without ``expires_in``, ending where its value goes."""
    fields = {key: value for key, value in answer.items() if key != "expires_in"}
    text = json.dumps(fields).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text[:-1].encode() + b', "expires_in": '
