"""One probe pass for one tenant: token, identity, then the blueprint's endpoints.

The pass proves what design.md §2.6 asks: the token can be had, it acts in the tenant's org
(``GET /api/v2/tokens/me`` → ``organization.id``, platform.md §3.1; another org is ``wrong_org``
and nothing else is probed, since every answer would be about the wrong org), and each endpoint
the integration needs answers 2xx. Endpoint probes run concurrently, at most
``probe_concurrency`` at once, each bounded by ``probe_timeout``, through the tenant's
``api.TenantApi`` (a 401 re-mints once there). Every answer becomes a ``Verdict``
(``verdicts``); only a stop ends a pass early: ``gate.StoppedError`` from the lane that met it
(in the lanes' exception group), the other lanes cancelled, for the tenant's loop to handle.

A 429 is waited out within the pass only up to ``Patience.max_wait_s`` (60 s; ``check
--max-wait`` less): a request that would wait longer at the tenant's Retry-After floor is not
sent and reads ``rate_limited``, so a pass never sits for minutes (the tenant's loop waits the
floor out before its next cycle). A credential the API keeps refusing (its token box backs off,
design.md §3.2) reads as that refusal (``unauthorized``), never as a token-endpoint failure.

The pass only observes and returns a frozen ``Pass``; a later step that reads more into it
(``orgfacts.Planner.refine``) returns a new one. Diagnosis, metrics and logs are the caller's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, Protocol, TypeVar

from grantwarden.base import clock as clock_mod
from grantwarden.policy import catalog, identity, labels
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import errors
from grantwarden.worker import api, tokenbox, verdicts
from grantwarden.worker import status as health

# After these outcomes of the identity check, the endpoint probes would only repeat the failure.
STOP_AFTER_TOKEN = frozenset(
    {
        labels.Outcome.WRONG_ORG,
        labels.Outcome.UNAUTHORIZED,
        labels.Outcome.IP_NOT_AUTHORIZED,
        labels.Outcome.RATE_LIMITED,
        labels.Outcome.TIMEOUT,
        labels.Outcome.NETWORK_ERROR,
        labels.Outcome.SERVER_ERROR,
    }
)
MAX_RETRY_AFTER_WAIT_S = 60.0  # a 429 asking for a longer wait ends the probe as rate_limited
TELL_AFTER_S = 5.0  # a wait longer than this is told (``check`` prints a line)
_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True, slots=True)
class Pass:
    """What one pass observed; ``verdicts`` and ``records`` are keyed by probe name."""

    verdicts: Mapping[str, Verdict] = dataclasses.field(default_factory=dict)
    records: Mapping[str, health.ProbeRecord] = dataclasses.field(default_factory=dict)
    identity_org_id: str | None = None
    token_problem: token_policy.TokenProblem | None = None
    identity_home_org_id: str | None = None  # tokens/me homeOrganization (another org: a trusted user)

    def revised(self, changed: Mapping[str, Verdict]) -> Pass:
        """This pass with ``changed`` verdicts in place of its own, each record saying the same."""
        records = dict(self.records)
        for name, verdict in changed.items():
            record = records.get(name)
            if record is not None and record.outcome is not verdict.outcome:
                records[name] = dataclasses.replace(record, outcome=verdict.outcome)
        return dataclasses.replace(self, verdicts={**self.verdicts, **changed}, records=records)

    @property
    def failing(self) -> set[str]:
        return {name for name, verdict in self.verdicts.items() if verdict.outcome is not labels.Outcome.OK}


class RateLimits(Protocol):
    """Told of every 429 when it arrives (``reporting.Reporter``): waiting it out may take a while."""

    def rate_limited(self, probe: str, retry_after: float | None) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Patience:
    """How long a pass waits out a Retry-After, and who hears of a long wait.

    One shared by every tenant of the daemon; ``check`` gives each tenant its own, whose ``tell``
    prints a line naming the tenant: ``(request, seconds, waiting)``, the probe that got the 429,
    the Retry-After, and whether the pass waits it out (else the probe reads ``rate_limited``).
    """

    max_wait_s: float = MAX_RETRY_AFTER_WAIT_S
    tell: Callable[[str, float, bool], None] | None = None

    def waits(self, seconds: float | None) -> bool:
        """Whether a 429 asking for ``seconds`` is waited out in the pass (None: no Retry-After)."""
        return seconds is not None and seconds <= self.max_wait_s

    def told(self, request: str, seconds: float | None) -> None:
        """Tell of a Retry-After longer than ``TELL_AFTER_S``, waited out or not."""
        if self.tell is not None and seconds is not None and seconds > TELL_AFTER_S:
            self.tell(request, seconds, self.waits(seconds))


PATIENT = Patience()  # the daemon's: every tenant waits up to a minute within a pass


class _Found:
    """The pass being gathered; the lanes write into it, ``frozen()`` hands it on."""

    __slots__ = ("identity_home_org_id", "identity_org_id", "records", "verdicts")

    def __init__(self) -> None:
        self.verdicts: dict[str, Verdict] = {}
        self.records: dict[str, health.ProbeRecord] = {}
        self.identity_org_id: str | None = None
        self.identity_home_org_id: str | None = None

    def frozen(self, token_problem: token_policy.TokenProblem | None) -> Pass:
        return Pass(self.verdicts, self.records, self.identity_org_id, token_problem, self.identity_home_org_id)


class Prober:
    __slots__ = (  # one per tenant
        "_api",
        "_clock",
        "_concurrency",
        "_extra",
        "_home_org_id",
        "_org_id",
        "_patience",
        "_probes",
        "_rate_limits",
    )

    def __init__(
        self,
        *,
        org_id: str,
        probes: tuple[catalog.ProbeDef, ...],
        api: api.TenantApi,
        clock: clock_mod.Clock,
        concurrency: int,
        rate_limits: RateLimits,
        patience: Patience = PATIENT,
        home_org_id: str | None = None,
        extra: Callable[[], tuple[catalog.ProbeDef, ...]] | None = None,
    ) -> None:
        """``home_org_id``: the trustee org of a tenant that acts through an org trust (``policy.identity``);
        ``extra``: probes beyond the blueprint's, asked for at every pass (the GETs the integration
        reported refused, ``access.Access.probe_defs``)."""
        self._org_id = org_id
        self._home_org_id = home_org_id
        self._probes = tuple(p for p in probes if p.name != catalog.TOKEN)
        self._api = api
        self._clock = clock
        self._concurrency = concurrency
        self._rate_limits = rate_limits
        self._patience = patience
        self._extra = extra

    def reconfigure(self, *, probes: tuple[catalog.ProbeDef, ...], concurrency: int) -> None:
        """The blueprint's probes and the concurrency from the next pass on (a reload)."""
        self._probes = tuple(p for p in probes if p.name != catalog.TOKEN)
        self._concurrency = concurrency

    def _all(self) -> tuple[catalog.ProbeDef, ...]:
        return self._probes + self._extra() if self._extra is not None else self._probes

    def verifiable(self, names: set[str]) -> set[str]:
        """The probes of ``names`` a pass can run again (a reported non-GET cannot be repeated)."""
        return names & {probe.name for probe in self._all()}

    async def run(self, only: set[str] | None = None) -> Pass:
        """Probe everything, or only the named probes (the identity check always runs)."""
        found = _Found()
        if self._held(found, catalog.TOKEN):
            return found.frozen(None)
        started = self._clock.now()
        try:
            await self._api.box.get()
        except tokenbox.TokenUnavailableError as exc:
            if not exc.refused:
                return Pass(token_problem=verdicts.token_problem(exc.cause))
            # Backing off after the API refused fresh tokens (design.md §3.2): the cause is that
            # 401, which read as a token-endpoint failure would ask for a new secret or region.
            self._record(found, catalog.TOKEN, _verdict_of(exc), started, exc)
            return found.frozen(None)
        token_problem = await self._identity(found)
        if found.verdicts[catalog.TOKEN].outcome in STOP_AFTER_TOKEN:
            return found.frozen(token_problem)
        # ``concurrency`` lanes take the next probe as each finishes: a semaphore's order without
        # a semaphore per tenant, whose waiter deque (600 B) would stay allocated for good. A
        # stop in one lane cancels the others (the task group): the pass is over.
        chosen = [p for p in self._all() if only is None or p.name in only]
        queue = iter(chosen)

        async def lane() -> None:
            for probe in queue:
                await self._endpoint(probe, found)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(chosen))):
                group.create_task(lane())
        return found.frozen(token_problem)

    async def _identity(self, found: _Found) -> token_policy.TokenProblem | None:
        """The identity check's verdict; the token endpoint's problem when a 401 found no new token."""
        started = self._clock.now()
        try:
            info = await self._retried(catalog.TOKEN, self._api.tokens_me)
        except tokenbox.TokenUnavailableError as exc:
            self._record(found, catalog.TOKEN, _verdict_of(exc), started, exc)
            # A refused credential's backoff is no token-endpoint problem.
            return None if exc.refused else verdicts.token_problem(exc.cause)
        except errors.RemoteError as exc:
            self._record(found, catalog.TOKEN, _verdict_of(exc), started, exc)
            return None
        org_id = info.organization.id
        home = info.home_organization.id if info.home_organization is not None else None
        found.identity_org_id, found.identity_home_org_id = org_id, home
        verdict = verdicts.ok(200)
        mismatch = identity.judge(org_id=self._org_id, home_org_id=self._home_org_id, acts_in=org_id, home=home)
        if mismatch is not None:
            verdict = dataclasses.replace(verdict, outcome=labels.Outcome.WRONG_ORG, message=mismatch.message)
        self._record(found, catalog.TOKEN, verdict, started, None)
        return None

    def _held(self, found: _Found, name: str) -> bool:
        """Record ``name`` as ``rate_limited``, unsent, when the tenant's Retry-After floor is further
        off than this pass waits: a pass never sits out minutes at the gate."""
        now = self._clock.now()
        wait = self._api.gate.not_before - now
        if wait <= self._patience.max_wait_s:
            return False
        message = f"not sent: the tenant waits out a Retry-After for {wait:.0f} s more"
        verdict = Verdict(outcome=labels.Outcome.RATE_LIMITED, message=message, retry_after=round(wait, 1))
        self._record(found, name, verdict, now, None)
        return True

    async def _endpoint(self, probe: catalog.ProbeDef, found: _Found) -> None:
        if self._held(found, probe.name):
            return
        started = self._clock.now()
        try:
            answer = await self._retried(probe.name, self._api.get, probe.path, read=False)
        except (errors.RemoteError, tokenbox.TokenUnavailableError) as exc:
            self._record(found, probe.name, _verdict_of(exc), started, exc)
            return
        self._record(found, probe.name, verdicts.ok(answer.status), started, answer.reply)

    async def _retried(
        self, name: str, call: Callable[_P, Awaitable[_T]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``call``, and after a 429 one more try past its floor.

        The tenant's gate holds the Retry-After for every request (platform.md §5), so the retry
        waits it out and gives this cycle a real answer, unless the wait is longer than a probe
        may reasonably take. Every 429 is reported at once (``rate_limits``).
        """
        try:
            return await call(*args, **kwargs)
        except errors.RateLimited as exc:
            self._rate_limits.rate_limited(name, exc.retry_after)
            self._patience.told(name, exc.retry_after)
            if not self._patience.waits(exc.retry_after):
                raise
        try:
            return await call(*args, **kwargs)
        except errors.RateLimited as exc:
            self._rate_limits.rate_limited(name, exc.retry_after)
            raise

    def _record(
        self,
        found: _Found,
        name: str,
        verdict: Verdict,
        started: float,
        source: BaseException | errors.Reply | None,
    ) -> None:
        reply = source if isinstance(source, errors.Reply) else getattr(source, "reply", None)
        found.verdicts[name] = verdict
        found.records[name] = health.ProbeRecord(
            probe=name,
            outcome=verdict.outcome,
            http_status=verdict.status,
            code=verdict.code,
            message=verdict.message,
            duration_s=max(0.0, self._clock.now() - started),
            at=started,
            correlation_id=reply.correlation_id if isinstance(reply, errors.Reply) else None,
        )


def _verdict_of(exc: errors.RemoteError | tokenbox.TokenUnavailableError) -> Verdict:
    """A token endpoint that fails after a 401 keeps its own outcome: an outage is no credential
    problem (5xx, timeouts, resets stay transient); only a refused credential is ``unauthorized``."""
    if isinstance(exc, tokenbox.TokenUnavailableError):
        if isinstance(exc.cause, errors.RemoteError):
            return verdicts.of_exception(exc.cause)
        return Verdict(outcome=labels.Outcome.UNAUTHORIZED, message=str(exc))
    return verdicts.of_exception(exc)
