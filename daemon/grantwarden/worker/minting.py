"""How a token is obtained: the ``Mint`` a token box calls, its failures, and the fleet's mint cap.

Client credentials (platform.md §1.2): ``POST /oauth/token`` with the client's id and secret,
the secret read from its reference at every mint, in the environment the daemon was given
(``runtime.Options.environ``, never ``os.environ`` behind its back), so a rotated secret file is
picked up without a restart; a reference that cannot be resolved fails the mint before any
request, as ``secret_unavailable`` naming the config path and the variable or file (never a
value). Authorization-code tenants refresh with their stored, rotating refresh token
(``usergrant``). The token box neither knows nor cares which: both are a ``Mint``. The
``MintLimiter`` keeps a replica's cold start gentle on the token endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from grantwarden.base import clock as clock_mod
from grantwarden.config.secretrefs import SecretRef, SecretUnavailableError
from grantwarden.policy import labels, scheduling
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, oauth, transport

Mint = Callable[[], Awaitable[oauth.TokenGrant]]


class MintFailedError(Exception):
    """A mint that failed before or without the platform: an unreadable secret, no stored grant.

    ``problem`` is how diagnosis should read it (``policy.tokens.TokenProblem``); the message
    names what is missing, never a value. ``sent``: whether a token request went out at all
    (only those count in ``grantwarden_token_requests_total``).
    """

    def __init__(self, message: str, *, problem: TokenProblem = TokenProblem.UNEXPECTED, sent: bool = False) -> None:
        super().__init__(message)
        self.problem = problem
        self.sent = sent


class MintLimiter:
    """Caps token requests per second across all tenants of a replica (cold starts stay gentle)."""

    def __init__(self, *, rate_per_second: float, burst: int, clock: clock_mod.Clock) -> None:
        self._bucket = scheduling.Bucket(rate_per_s=rate_per_second, burst=burst)
        self._clock = clock
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        # One waiter at a time looks at the bucket; the rest queue on the lock (first come, first
        # served) without waking. The one in front looks again after every sleep, so a late
        # wake-up never lets a burst through, and 10,000 waiting tenants cost one sleeper.
        async with self._turn:
            while (wait := self._bucket.try_take(self._clock.now())) > 0:
                await self._clock.sleep(wait)


class ClientCredentials:
    """The ``Mint`` of a client-credentials identity (the tenant's client, or its admin client).

    An object, not a closure: one or two per tenant, and slots cost less than closure cells.
    """

    __slots__ = ("_client", "_client_id", "_endpoints", "_environ", "_gate", "_place", "_secret", "_timeout_s")

    def __init__(
        self,
        *,
        client: remote_client.Client,
        endpoints: transport.Endpoints,
        gate: gate.Gate,
        client_id: str,
        secret: SecretRef,
        environ: Mapping[str, str],
        timeout_s: float | None = None,
        where: str | None = None,
    ) -> None:
        """``where`` names the secret's place in the config (``credentials.client_secret of tenant x``)."""
        self._client = client
        self._endpoints = endpoints
        self._gate = gate
        self._client_id = client_id
        self._secret = secret
        self._environ = environ
        self._timeout_s = timeout_s
        self._place = where or f"the client secret of OAuth client {client_id}"

    def retime(self, timeout_s: float | None) -> None:
        """The token request's timeout from the next mint on (a reload changed ``probe_timeout``)."""
        self._timeout_s = timeout_s

    async def __call__(self) -> oauth.TokenGrant:
        try:
            value = self._secret.reveal(self._environ)
        except SecretUnavailableError as exc:
            raise unresolved(self._place, exc) from None
        return await self._client.mint_client_credentials(
            self._endpoints, self._client_id, value, gate=self._gate, timeout_s=self._timeout_s
        )


def result_of(exc: BaseException) -> labels.TokenResult:
    """``grantwarden_token_requests_total{result}`` for a failed mint."""
    if isinstance(exc, errors.InvalidClient):
        return labels.TokenResult.INVALID_CLIENT
    if isinstance(exc, errors.RateLimited):
        return labels.TokenResult.RATE_LIMITED
    return labels.TokenResult.ERROR


def unresolved(place: str, exc: SecretUnavailableError) -> MintFailedError:
    """The failure of a mint whose secret reference cannot be resolved: no request was sent.

    The place comes first and never right before a colon: logs and the status page redact every
    line again, and the redactor reads "client_secret: environment ..." as a secret key and value.
    """
    return MintFailedError(
        f"{place} cannot be resolved, so no token was requested: {exc}", problem=TokenProblem.SECRET_UNAVAILABLE
    )
