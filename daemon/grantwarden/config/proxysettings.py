"""The in-path proxy's settings (design.md §2.9): the ``proxy`` section and ``proxy_allow`` rules.

Kept beside ``models`` (which uses both) so that the models module stays one screenful per
concern. The proxy is off unless the file has a ``proxy`` section; a TCP listener needs a
``bearer_token`` (a unix socket, created 0660, may go without). A rule is validated here with the
allow-list's own checks (``policy.allowlist``), so a rule the proxy could not match exactly, or
one outside ``/api/v2/``, never loads. No I/O: secrets stay references.
"""

from __future__ import annotations

from typing import Literal

import pydantic

from grantwarden.config import values
from grantwarden.config.secretrefs import Secret
from grantwarden.policy import allowlist


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class ProxySettings(_Model):
    """The in-path proxy (design.md §2.9): off unless the file has a ``proxy`` section."""

    listen: str = pydantic.Field(default="127.0.0.1:9466", pattern=r"^(unix:/\S+|[^\s:]*:\d{1,5})$")
    """HOST:PORT, or unix:/path for a socket created 0660."""
    bearer_token: Secret | None = pydantic.Field(default=None, validate_default=True)
    """What callers send in X-Grantwarden-Token; required on TCP, optional on a unix socket."""
    max_request_bytes: int = pydantic.Field(default=512_000, ge=1)
    """Largest request body forwarded; the platform's request.bytes.max is 512,000 (platform.md §5)."""
    max_response_bytes: int = pydantic.Field(default=16 * 1024 * 1024, ge=1)
    """Largest response body relayed; a longer one is cut (502 when known before it starts)."""
    per_tenant_concurrency: int = pydantic.Field(default=32, ge=1, le=1024)
    """Requests of one tenant in flight at once; more are answered 429 at once, not queued."""
    timeout: values.Duration = pydantic.Field(default=30.0, gt=0)
    """Seconds to wait for the platform's answer to start, and at most between two body reads."""

    @pydantic.field_validator("bearer_token")
    @classmethod
    def _token_on_tcp(cls, token: Secret | None, info: pydantic.ValidationInfo) -> Secret | None:
        listen = info.data.get("listen")  # absent when listen itself is wrong
        if token is None and listen is not None and not listen.startswith("unix:"):
            raise ValueError("bearer_token is required when listen is HOST:PORT (only a unix socket may go without it)")
        return token

    @property
    def unix_path(self) -> str | None:
        return self.listen.removeprefix("unix:") if self.listen.startswith("unix:") else None


class ProxyRule(_Model):
    """One ``proxy_allow`` entry: what the in-path proxy may forward (design.md §2.9)."""

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]
    """One method (as allowlist.METHODS), or "*" for any of them."""
    path: str
    """A path under /api/v2/; a segment ``*`` matches one segment, ``**`` any number (zero too)."""

    @pydantic.field_validator("path")
    @classmethod
    def _plain_path(cls, path: str) -> str:
        if (problem := allowlist.path_problem(path)) is not None:
            raise ValueError(problem)
        return path
