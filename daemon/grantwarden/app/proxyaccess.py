"""The proxy's ``Access`` over a tenant worker's token box and Retry-After gate.

``surface.proxy.Access`` is what the in-path proxy needs of a tenant: a token (never before the
identity check passed, never for ``wrong_org``), a way to drop a token the platform refused, the
tenant's Retry-After floor, and somewhere to report refusals. The token hand-off's access object
(issue 17, built beside this on another branch) offers all of that and also diagnoses and
re-grants from reported refusals; until it is wired in here, this adapter gives the proxy the
worker's own ``TenantApi`` box and gate, so traffic shares the worker's token and its 429 floor,
and a refusal is recorded, counted and logged by the proxy itself (``report_refusal`` adds
nothing). A mint it triggers logs with the tenant bound, as the worker's own would. Built by
``app.inpath`` for each worker, only when the proxy is configured.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from grantwarden.config import models as settings
from grantwarden.policy import catalog
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.labels import Outcome
from grantwarden.remote import gate
from grantwarden.surface import proxy
from grantwarden.worker import api, tokenbox, verdicts
from grantwarden.worker import status as health

_TRANSIENT = {
    token_policy.TokenProblem.RATE_LIMITED: Outcome.RATE_LIMITED,
    token_policy.TokenProblem.SERVER_ERROR: Outcome.SERVER_ERROR,
    token_policy.TokenProblem.TIMEOUT: Outcome.TIMEOUT,
    token_policy.TokenProblem.NETWORK_ERROR: Outcome.NETWORK_ERROR,
}


class TokenBoxAccess:
    """One tenant's worker API, as the proxy's ``Access``."""

    __slots__ = ("_api", "_status", "_tenant")

    def __init__(self, *, api: api.TenantApi, status: health.TenantStatus, tenant: settings.Tenant) -> None:
        self._api, self._status, self._tenant = api, status, tenant

    @property
    def gate(self) -> gate.Gate:
        return self._api.gate

    async def token(self, min_valid_s: float) -> str:
        """The worker's current token (minted when it would not last ``min_valid_s``)."""
        if not self._status.identity_verified:
            raise proxy.UnavailableError(
                Outcome.WRONG_ORG
                if self._status.identity_org_id not in (None, self._tenant.org_id)
                else "identity_unverified",
                f"the identity check of tenant {self._tenant.name} has not passed; see GET /status/{self._tenant.name}",
            )
        box = self._api.box
        if box.usable(valid_for_s=min_valid_s):  # the usual case: the token in hand lasts
            assert box.token is not None
            return box.token.value
        with structlog.contextvars.bound_contextvars(tenant=self._tenant.name, org_id=self._tenant.org_id):
            try:
                token = await self._api.box.get(valid_for_s=min_valid_s)
            except tokenbox.TokenUnavailableError as exc:
                raise proxy.UnavailableError(*self._why(exc)) from None
            except gate.StoppedError:
                raise proxy.UnavailableError(
                    "unavailable", "the tenant is stopping (a reload or shutdown); retry"
                ) from None
        return token.value

    def _why(self, exc: tokenbox.TokenUnavailableError) -> tuple[str, str]:
        """The outcome and fix of a token that cannot be had: the worker's own token finding when
        it has one, else what the failure's cause says."""
        problem = verdicts.token_problem(exc.cause)
        outcome = _TRANSIENT.get(problem, Outcome.UNAUTHORIZED)
        finding = next((f for f in self._status.findings if f.probe == catalog.TOKEN), None)
        if finding is not None:
            return finding.outcome, finding.fix
        return (
            outcome,
            f"tenant {self._tenant.name} has no usable token ({problem}); see GET /status/{self._tenant.name}",
        )

    def invalidate(self, presented: str) -> None:
        current = self._api.box.token
        if current is not None and current.value == presented:
            self._api.box.invalidate(current)

    def report_refusal(self, method: str, path: str, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """The proxy has floored, recorded, counted and logged the refusal already; diagnosis and
        re-grant from traffic come with the token hand-off's access object."""
