"""One tenant's access token: kept fresh, minted once at a time, never used past its expiry.

The box holds the current token and when to refresh it (``policy.tokens.refresh_at``, computed
from ``expires_in`` at receipt, never from anything inside the token). ``get()`` returns the
current token or mints one; concurrent callers share a single request (single flight, like
kopf's ``Vault``). A failed mint backs off (``policy.backoff``): until the backoff elapses,
``get()`` returns the old token while it is still valid and otherwise raises the last failure
without asking the platform again, so a bad credential is not hammered. ``invalidate(token)``
drops a token the platform refused (401), so the next ``get()`` mints.

What the box does not do: decide schedules (``refreshing`` sleeps until ``refresh_at``), or know
how a token is obtained: the ``mint`` callable hides client credentials versus refresh tokens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.policy import backoff, labels, scheduling
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import errors
from grantwarden.remote import oauth as remote_oauth
from grantwarden.telemetry import metrics as metrics_mod

_T = TypeVar("_T")
_LOG = structlog.get_logger("grantwarden.tokens")  # tenant= on every line: no bound logger per box

EXPIRY_MARGIN_S = 30.0  # never hand out a token this close to expiry: a request takes time


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    value: str = dataclasses.field(repr=False)
    expires_at: float
    refresh_at: float
    received_at: float


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


class TokenUnavailableError(Exception):
    """No usable token: minting failed and the backoff has not elapsed. Never carries a secret.

    ``refused``: the backoff follows fresh tokens the API refused (the token endpoint is fine)."""

    def __init__(self, tenant: str, cause: Exception | None, retry_at: float | None, *, refused: bool = False) -> None:
        self.tenant = tenant
        self.cause = cause
        self.retry_at = retry_at
        self.refused = refused
        super().__init__(f"tenant {tenant}: no usable token ({describe(cause)})")


def describe(cause: BaseException | None) -> str:
    return "unknown" if cause is None else f"{type(cause).__name__}: {cause}"


def result_of(exc: BaseException) -> labels.TokenResult:
    """``grantwarden_token_requests_total{result}`` for a failed mint."""
    if isinstance(exc, errors.InvalidClient):
        return labels.TokenResult.INVALID_CLIENT
    if isinstance(exc, errors.RateLimited):
        return labels.TokenResult.RATE_LIMITED
    return labels.TokenResult.ERROR


Mint = Callable[[], Awaitable[remote_oauth.TokenGrant]]


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


class TokenBox:
    __slots__ = (  # two boxes per tenant: slots instead of an instance dict
        "_at_fraction",
        "_clock",
        "_inflight",
        "_jitter_fraction",
        "_limiter",
        "_max_lead_s",
        "_metrics",
        "_mint",
        "_rng",
        "changed",
        "failures",
        "last_error",
        "refusals",
        "retry_at",
        "tenant",
        "token",
    )

    def __init__(
        self,
        *,
        tenant: str,
        mint: Mint,
        clock: clock_mod.Clock,
        rng: random.Random,
        at_fraction: float,
        jitter_fraction: float,
        max_lead_s: float = token_policy.DEFAULT_MAX_LEAD_S,
        metrics: metrics_mod.Metrics | None,
        limiter: MintLimiter | None = None,
    ) -> None:
        self.tenant = tenant
        self._mint = mint
        self._clock = clock
        self._rng = rng
        self._at_fraction = at_fraction
        self._jitter_fraction = jitter_fraction
        self._max_lead_s = max_lead_s
        self._metrics = metrics
        self._limiter = limiter
        self.token: Token | None = None
        self.failures = 0
        self.last_error: Exception | None = None
        self.retry_at: float | None = None
        self.refusals = 0  # fresh tokens the platform refused in a row (design.md §3: then back off)
        self._inflight: asyncio.Future[Token] | None = None
        self.changed = clock_mod.Event()  # set whenever the token or the schedule changes

    def usable(self, token: Token | None = None) -> bool:
        token = token or self.token
        return token is not None and self._clock.now() < token.expires_at - EXPIRY_MARGIN_S

    def next_wakeup(self) -> float:
        """When the refreshing loop should act next: planned refresh, or retry after a failure.

        Never after a refusal: a token the API keeps refusing is minted when a probe needs one
        (after the backoff), not ahead of it, which would double the mints of every round."""
        if self.refusals and self.token is None:
            return math.inf
        if self.retry_at is not None:
            return self.retry_at
        # No token and no failure yet: due at once. Not ``now()``: on a moving clock a second
        # reading is later than the refresher's, and it would never find the mint due.
        return self.token.refresh_at if self.token is not None else 0.0

    async def get(self) -> Token:
        """A token usable now; mints (single flight) when there is none."""
        if self.usable():
            assert self.token is not None
            return self.token
        return await self.refresh()

    async def refresh(self, *, force: bool = False) -> Token:
        """Mint now, unless a failure's backoff forbids it; concurrent callers share one request."""
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        if not force and self.retry_at is not None and self._clock.now() < self.retry_at:
            if self.usable():
                assert self.token is not None
                return self.token
            raise TokenUnavailableError(self.tenant, self.last_error, self.retry_at, refused=self.refusals > 0)
        self._inflight = asyncio.get_running_loop().create_future()
        inflight = self._inflight
        try:
            token = await self._mint_once()
        except BaseException as exc:
            if not inflight.done():
                inflight.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            inflight.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            inflight.set_result(token)
            return token
        finally:
            self._inflight = None

    def invalidate(self, token: Token) -> None:
        """The platform refused ``token`` (401): drop it if it is still the current one."""
        if self.token is not None and self.token.value == token.value:
            _LOG.info("token_invalidated", tenant=self.tenant, reason="refused by the platform")
            self.token = None
            self.retry_at = None
            self.changed.set()

    def refused(self, token: Token, exc: Exception) -> None:
        """A freshly minted ``token`` was refused too (401): the credential mints tokens the API
        will not take. Drop it, and mint no other before a backoff (1 s doubling to 5 min) that
        grows with each such refusal until a request succeeds (``accepted``)."""
        self.refusals += 1
        now = self._clock.now()
        self.last_error = exc
        self.retry_at = backoff.token_retry_at(now=now, attempt=self.refusals, old_expires_at=None, rng=self._rng)
        if self.token is not None and self.token.value == token.value:
            self.token = None
        if self._metrics is not None:
            self._metrics.tenant(self.tenant).token_refresh = self.retry_at
        _LOG.warning(
            "token_invalidated",
            tenant=self.tenant,
            reason="a freshly minted token was refused as well",
            refusals=self.refusals,
            retry_in=round(self.retry_at - now, 1),
        )
        self.changed.set()

    def accepted(self) -> None:
        """A request with this box's token succeeded: refusals no longer stack."""
        self.refusals = 0

    async def _mint_once(self) -> Token:
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            grant = await self._mint()
        except (errors.RemoteError, MintFailedError) as exc:
            self._failed(exc)
            raise TokenUnavailableError(self.tenant, exc, self.retry_at) from None
        now = self._clock.now()
        token = Token(
            value=grant.access_token,
            received_at=now,
            expires_at=now + grant.expires_in,
            refresh_at=token_policy.refresh_at(
                received_at=now,
                expires_in=grant.expires_in,
                at_fraction=self._at_fraction,
                jitter_fraction=self._jitter_fraction,
                max_lead_s=self._max_lead_s,
                rng=self._rng,
            ),
        )
        self.token, self.failures, self.last_error, self.retry_at = token, 0, None, None
        if self._metrics is not None:
            series = self._metrics.tenant(self.tenant)
            series.count_token_request(labels.TokenResult.OK)
            series.token_expiry, series.token_refresh = token.expires_at, token.refresh_at
        refresh_in = round(token.refresh_at - now, 1)
        _LOG.info("token_acquired", tenant=self.tenant, expires_in=grant.expires_in, refresh_in=refresh_in)
        self.changed.set()
        return token

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error = exc
        now = self._clock.now()
        old_expiry = self.token.expires_at if self.usable() and self.token is not None else None
        self.retry_at = backoff.token_retry_at(now=now, attempt=self.failures, old_expires_at=old_expiry, rng=self._rng)
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            self.retry_at = max(self.retry_at, now + exc.retry_after)
        result = result_of(exc)
        if self._metrics is not None:
            series = self._metrics.tenant(self.tenant)
            if not isinstance(exc, MintFailedError) or exc.sent:
                series.count_token_request(result)
            series.token_refresh = self.retry_at
            if result is labels.TokenResult.RATE_LIMITED:
                series.rate_limited += 1  # a 429 is a 429, token or API
        _LOG.warning(
            "token_refresh_failed",
            tenant=self.tenant,
            result=str(result),
            error=describe(exc),
            attempt=self.failures,
            retry_in=round(self.retry_at - now, 1),
            old_token_valid=old_expiry is not None,
        )
        self.changed.set()


async def call(box: TokenBox, request: Callable[[str], Awaitable[_T]]) -> _T:
    """Run ``request(token)``; on 401 drop that token, mint once and retry the request once.

    design.md §3: a second 401 is the caller's to classify (``unauthorized``), and the box backs
    off before minting for that credential again (``refused``): a credential that fails twice
    is not tried again until its backoff elapses. While it backs off, every token is one minted
    after a refusal, so its 401 is the next refusal at once: one mint per round, not two.
    """
    token = await box.get()
    try:
        result = await request(token.value)
    except errors.Unauthorized as exc:
        if box.refusals:
            box.refused(token, exc)
            raise
        box.invalidate(token)
    else:
        box.accepted()
        return result
    token = await box.get()
    try:
        result = await request(token.value)
    except errors.Unauthorized as exc:
        box.refused(token, exc)
        raise
    box.accepted()
    return result
