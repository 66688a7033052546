"""In-path mode: an integration points its SDK at grantwarden, which adds the right org's token.

A separate listener (``proxy.listen``, its own ``AppRunner`` beside the operator endpoints) takes
``/t/{tenant}/api/v2/…`` and forwards it to that tenant's API host with the tenant's current
token, so one org's rate limit is shared by all its callers and every real refusal is seen and
diagnosed (design.md §2.9). Holding every tenant's token makes it a confused deputy in waiting,
so only what the tenant's blueprint allows (``proxy_allow``) is ever forwarded, and only for a
tenant whose identity check passed. Callers prove themselves with ``X-Grantwarden-Token`` (the
``Authorization`` header belongs to the SDK and is never forwarded).

This module holds the contract with the rest of the daemon, and nothing that runs: ``Access``
(what the proxy needs of a tenant's token hand-off), ``Target`` (one tenant as the proxy sees
it), ``Upstream`` (the way to the platform, ``remote.passthrough``). The requests themselves are
``proxyforward``'s, the way back ``proxyrelay``'s, the answers grantwarden gives itself
``proxyanswers``', the listener ``proxylistener``'s (started through ``app.inpath`` only). No
token is ever logged or returned.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import Protocol

from grantwarden.config import models as settings
from grantwarden.policy import allowlist
from grantwarden.worker import status as health


class Floor(Protocol):
    """The tenant's Retry-After floor (``remote.gate.Gate``): shared by probes and proxied calls."""

    @property
    def not_before(self) -> float: ...

    def hold(self, *, now: float, seconds: float) -> None: ...


class Access(Protocol):
    """What the proxy needs of one tenant's token hand-off (the access object of issue 17).

    ``token`` returns a token that stays valid for ``min_valid_s`` more seconds, never before the
    tenant's identity check passed and never for ``wrong_org``; otherwise it raises
    ``UnavailableError`` with an outcome label and a one-sentence fix. ``invalidate`` drops the token
    the platform refused with 401, if it is still the current one. ``report_refusal`` returns at
    once: the refusal (401, 403, 429, a grant-type 400) is classified like a probe's and any
    diagnosis or re-grant runs in the tenant's own tasks, bounded per operation and cycle.
    """

    @property
    def gate(self) -> Floor: ...

    async def token(self, min_valid_s: float) -> str: ...

    def invalidate(self, presented: str) -> None: ...

    def report_refusal(self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes) -> None: ...


class UnavailableError(Exception):
    """No token can be handed out: ``outcome`` (a label of design.md §2.6 or §2.9) and ``fix``."""

    def __init__(self, outcome: str, fix: str) -> None:
        super().__init__(fix)
        self.outcome = outcome
        self.fix = fix


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One owned tenant as the proxy sees it, looked up by name for every request."""

    tenant: settings.Tenant
    rules: tuple[allowlist.Rule, ...]  # the blueprint's proxy_allow, compiled
    status: health.TenantStatus
    access: Access
    config_path: str
    api_url: str = ""  # the tenant's API host (``tenant.api_url``, taken once, not per request)

    def __post_init__(self) -> None:
        if not self.api_url:
            object.__setattr__(self, "api_url", self.tenant.api_url)

    @property
    def blueprint(self) -> str:
        return self.tenant.blueprint


class Targets(Protocol):
    """What the runtime offers the proxy: owned tenants by name (None for any other name)."""

    def proxy_target(self, name: str) -> Target | None: ...


class Reply(Protocol):
    """The platform's answer as ``remote.passthrough.Reply`` gives it."""

    status: int
    reason: str | None
    headers: Mapping[str, str]  # case-insensitive; items() gives every header, repeated ones too
    content_length: int | None

    async def prefix(self, size: int) -> bytes: ...

    async def chunk(self) -> bytes: ...


class Upstream(Protocol):
    """The way to the platform (``remote.passthrough.Passthrough``); failures raise
    ``policy.proxying.UpstreamError``."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]],
        body: bytes | AsyncIterable[bytes] | None,
        timeout_s: float,
    ) -> contextlib.AbstractAsyncContextManager[Reply]: ...
