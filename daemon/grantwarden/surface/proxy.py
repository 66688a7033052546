"""In-path mode: an integration points its SDK at grantwarden, which adds the right org's token.

A separate listener (``proxy.listen``, its own ``AppRunner`` beside the operator endpoints) takes
``/t/{tenant}/api/v2/…`` and forwards it to that tenant's API host with the tenant's current
token, so one org's rate limit is shared by all its callers and every real refusal is seen and
diagnosed (design.md §2.9). Holding every tenant's token makes it a confused deputy in waiting,
so only what the tenant's blueprint allows (``proxy_allow``) is ever forwarded, and only for a
tenant whose identity check passed. Callers prove themselves with ``X-Grantwarden-Token`` (the
``Authorization`` header belongs to the SDK and is never forwarded).

This module holds the contract with the rest of the daemon, and nothing that runs: ``Access``
(what the proxy needs of a tenant's access object, the one the token hand-off answers from, so
a proxied refusal is diagnosed and re-granted as a reported one is), ``Target`` (one tenant as
the proxy sees it), ``Upstream`` (the way to the platform, ``remote.passthrough``). The
requests themselves are ``proxyforward``'s, the way back ``proxyrelay``'s, the answers
grantwarden gives itself ``proxyanswers``', the listener ``proxylistener``'s (started through
``app.inpath`` only). No token is ever logged or returned.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import Protocol

from grantwarden.config import models as settings
from grantwarden.policy import allowlist, traffic
from grantwarden.worker import status as health


class Answered(Protocol):
    """What the access object answers a report (``worker.refusals.Answer``): the fix the tenant's
    findings (or the diagnosis of this one refusal) give."""

    @property
    def fix(self) -> str: ...


class Token(Protocol):
    """The tenant's token (``worker.tokenbox.Token``): only its value goes into a request."""

    @property
    def value(self) -> str: ...


class Access(Protocol):
    """What the proxy needs of one tenant's access object (``worker.access.Access``, design.md §2.8),
    the same object the token hand-off answers from.

    ``why_not`` is None while the tenant's token may go out: never before an identity check showed
    it acting in the tenant's org, never for ``wrong_org``. ``current`` returns that token, lasting
    ``min_valid_s`` more seconds, or raises ``traffic.NotReadyError``; it records no hand-out (the
    token goes into a request, never to the caller). ``report_refusal`` returns at once with the
    fix: a 429's ``Retry-After`` raises the tenant's floor, a 401 drops the token it names, a 403
    (or a grant-type 400) is diagnosed and re-granted in the tenant's own loop, bounded per
    operation and probe interval. The proxy neither floors nor drops anything itself.
    """

    def why_not(self) -> traffic.NotReadyError | None: ...

    async def current(self, min_valid_s: float = 0.0) -> Token: ...

    def report_refusal(self, report: traffic.Report) -> Answered: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One owned tenant as the proxy sees it, looked up by name for every request."""

    tenant: settings.Tenant
    rules: tuple[allowlist.Rule, ...]  # the blueprint's proxy_allow, compiled
    status: health.TenantStatus
    access: Access | None  # None while the tenant's worker is not running (starting, restarting)
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
