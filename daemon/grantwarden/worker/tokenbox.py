"""One tenant's access token: kept fresh, minted once at a time, never used past its expiry.

The box holds the current token and when to refresh it (``policy.tokens.refresh_at``, computed
from ``expires_in`` at receipt, never from anything inside the token). ``get(valid_for_s=)``
returns the current token while it is usable (``policy.tokens.expiry_margin``) or mints one;
concurrent callers share a single request (single flight, like kopf's ``Vault``). A failed mint
backs off (``policy.backoff``): until the backoff elapses, ``get()`` returns the old token while
it is still usable and otherwise raises the last failure without asking the platform again, so
a bad credential is not hammered. ``invalidate(token)`` drops a token the platform refused (401),
so the next ``get()`` mints; ``api.TenantApi`` does that around every request.

What the box does not do: decide schedules (``refreshing`` sleeps until ``refresh_at``), or know
how a token is obtained: the ``mint`` callable hides client credentials versus refresh tokens.
Its log lines carry no tenant: the tenant's task has it bound (``structlog.contextvars``). The
tenant's reporter (``observer``) hears of a 429 from the token endpoint as it arrives, so the
status shows it like a probe's, and of every change to the tenant's own token or retry time, so
the status never shows a schedule the box has already moved past.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import Callable
from typing import Protocol

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import backoff, labels
from grantwarden.policy import tokens as token_policy
from grantwarden.remote import errors
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import minting

_LOG = structlog.get_logger("grantwarden.tokens")  # the tenant comes from the task's context


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    value: str = dataclasses.field(repr=False)
    expires_at: float
    refresh_at: float
    received_at: float

    @property
    def usable_until(self) -> float:
        """The last moment this token is handed out (``policy.tokens.expiry_margin``)."""
        return token_policy.usable_until(received_at=self.received_at, expires_at=self.expires_at)


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


class Observer(Protocol):
    """The tenant's reporter (``reporting.Reporter``): told of every 429 when it arrives, with
    the request it answered, and of every change to the tenant's own token or retry time."""

    def rate_limited(self, probe: str, retry_after: float | None) -> None: ...

    def token(self, box: TokenBox) -> None: ...


class TokenBox:
    __slots__ = (  # two boxes per tenant: slots instead of an instance dict
        "_clock",
        "_inflight",
        "_limiter",
        "_metrics",
        "_mint",
        "_observer",
        "_refresh",
        "_rng",
        "changed",
        "failures",
        "identity",
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
        mint: minting.Mint,
        clock: clock_mod.Clock,
        rng: random.Random,
        refresh: settings.RefreshSettings,
        metrics: metrics_mod.Metrics | None,
        limiter: minting.MintLimiter | None = None,
        identity: str | None = None,
        observer: Observer | None = None,
    ) -> None:
        """``refresh``: the tenant's own settings object, held rather than copied (two boxes a
        tenant); ``identity``: None for the tenant's own client, "admin" for its admin credentials;
        ``observer``: told of the token endpoint's 429s (else they only count in ``metrics``) and,
        for the tenant's own box, of its token and schedule (an admin box's are not the tenant's)."""
        self.tenant = tenant
        self.identity = identity
        self._mint = mint
        self._clock = clock
        self._rng = rng
        self._refresh = refresh
        self._metrics = metrics
        self._limiter = limiter
        self._observer = observer
        self.token: Token | None = None
        self.failures = 0
        self.last_error: Exception | None = None
        self.retry_at: float | None = None
        self.refusals = 0  # fresh tokens the platform refused in a row (design.md §3: then back off)
        self._inflight: asyncio.Future[Token] | None = None
        self.changed = clock_mod.Event()  # set whenever the token or the schedule changes

    def usable(self, token: Token | None = None, *, valid_for_s: float = 0.0) -> bool:
        """Whether ``token`` (the current one) may be handed out for ``valid_for_s`` more seconds."""
        token = token or self.token
        return token is not None and self._clock.now() + valid_for_s < token.usable_until

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

    async def get(self, *, valid_for_s: float = 0.0) -> Token:
        """A token usable now and for ``valid_for_s`` more seconds; mints (single flight) otherwise.

        A freshly minted token is returned even when the platform's tokens live shorter than
        ``valid_for_s``: the caller reads ``expires_at``. Raises ``TokenUnavailableError``.
        """
        if self.usable(valid_for_s=valid_for_s):
            assert self.token is not None
            return self.token
        return await self.refresh(valid_for_s=valid_for_s)

    async def refresh(self, *, force: bool = False, valid_for_s: float = 0.0) -> Token:
        """Mint now, unless a failure's backoff forbids it; concurrent callers share one request."""
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        if not force and self.retry_at is not None and self._clock.now() < self.retry_at:
            if self.usable(valid_for_s=valid_for_s):
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

    def reconfigure(self, *, refresh: settings.RefreshSettings) -> None:
        """New refresh settings (a reload): they schedule the NEXT token; the one in hand keeps its
        refresh time, so a changed fraction costs no mint."""
        self._refresh = refresh

    def retry_now(self) -> None:
        """Forget a failed mint's backoff (a missing secret is there now): the next ``get()`` mints."""
        if self.retry_at is not None and not self.refusals:
            self.failures, self.retry_at = 0, None
            self._changed()

    def invalidate(self, token: Token) -> None:
        """The platform refused ``token`` (401): drop it if it is still the current one."""
        if self.token is not None and self.token.value == token.value:
            self._log(_LOG.info, "token_invalidated", reason="refused by the platform")
            self.token = None
            self.retry_at = None
            self._changed()

    def refused(self, token: Token, exc: Exception) -> None:
        """A freshly minted ``token`` was refused too (401): the credential mints tokens the API
        will not take. Drop it, and mint no other before a backoff (1 s doubling to 5 min) that
        grows with each such refusal until a request succeeds (``accepted``)."""
        self.refusals += 1
        now = self._clock.now()
        self.last_error = exc
        self.retry_at = backoff.token_retry_at(now=now, attempt=self.refusals, old_usable_until=None, rng=self._rng)
        if self.token is not None and self.token.value == token.value:
            self.token = None
        if self._metrics is not None:
            self._metrics.tenant(self.tenant).token_refresh = self.retry_at
        self._log(
            _LOG.warning,
            "token_invalidated",
            reason="a freshly minted token was refused as well",
            refusals=self.refusals,
            retry_in=round(self.retry_at - now, 1),
        )
        self._changed()

    def accepted(self) -> None:
        """A request with this box's token succeeded: refusals no longer stack."""
        self.refusals = 0

    async def _mint_once(self) -> Token:
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            grant = await self._mint()
        except (errors.RemoteError, minting.MintFailedError) as exc:
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
                at_fraction=self._refresh.at_fraction,
                jitter_fraction=self._refresh.jitter_fraction,
                max_lead_s=self._refresh.max_lead,
                rng=self._rng,
            ),
        )
        self.token, self.failures, self.last_error, self.retry_at = token, 0, None, None
        if self._metrics is not None:
            series = self._metrics.tenant(self.tenant)
            series.count_token_request(labels.TokenResult.OK)
            series.token_expiry, series.token_refresh = token.expires_at, token.refresh_at
        refresh_in = round(token.refresh_at - now, 1)
        self._log(_LOG.info, "token_acquired", expires_in=grant.expires_in, refresh_in=refresh_in)
        self._changed()
        return token

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error = exc
        now = self._clock.now()
        old_until = self.token.usable_until if self.usable() and self.token is not None else None
        self.retry_at = backoff.token_retry_at(
            now=now, attempt=self.failures, old_usable_until=old_until, rng=self._rng
        )
        if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
            self.retry_at = max(self.retry_at, now + exc.retry_after)
        result = minting.result_of(exc)
        if isinstance(exc, errors.RateLimited) and self._observer is not None:  # counted there, and shown
            request = "token" if self.identity is None else f"{self.identity} token"
            self._observer.rate_limited(request, exc.retry_after)
        if self._metrics is not None:
            series = self._metrics.tenant(self.tenant)
            if not isinstance(exc, minting.MintFailedError) or exc.sent:
                series.count_token_request(result)
            series.token_refresh = self.retry_at
            if result is labels.TokenResult.RATE_LIMITED and self._observer is None:
                series.rate_limited += 1  # a 429 is a 429, token or API
        self._log(
            _LOG.warning,
            "token_refresh_failed",
            result=str(result),
            error=describe(exc),
            attempt=self.failures,
            retry_in=round(self.retry_at - now, 1),
            old_token_valid=old_until is not None,
        )
        self._changed()

    def _changed(self) -> None:
        """The token or the schedule moved: wake the refresher, and show it in the tenant's status."""
        self.changed.set()
        if self._observer is not None and self.identity is None:
            self._observer.token(self)

    def _log(self, method: Callable[..., object], event: str, **fields: object) -> None:
        if self.identity is not None:
            fields["identity"] = self.identity
        method(event, **fields)
