"""One probe pass for one tenant: token, identity, then the blueprint's endpoints.

The pass proves what design.md §2.6 asks: the token can be had, it acts in the tenant's org
(``GET /api/v2/tokens/me`` → ``organization.id``, platform.md §3.1; another org is ``wrong_org``
and nothing else is probed, since every answer would be about the wrong org), and each endpoint
the integration needs answers 2xx. Endpoint probes run concurrently, at most
``probe_concurrency`` at once, each bounded by ``probe_timeout``; a 401 re-mints once
(``tokens_box.call``). Every answer becomes a ``Verdict`` (``verdicts``); nothing raises.

The pass only observes. Diagnosis, metrics and logs are the caller's (``tenant``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from grantwarden.base import clock as clock_mod
from grantwarden.policy import catalog, labels
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, transport
from grantwarden.worker import status as health
from grantwarden.worker import tokenbox as tokens_box
from grantwarden.worker import verdicts

# After these outcomes of the identity check, the endpoint probes would only repeat the failure.
STOP_AFTER_TOKEN = frozenset(
    {
        labels.Outcome.WRONG_ORG,
        labels.Outcome.UNAUTHORIZED,
        labels.Outcome.RATE_LIMITED,
        labels.Outcome.TIMEOUT,
        labels.Outcome.NETWORK_ERROR,
        labels.Outcome.SERVER_ERROR,
    }
)


_T = TypeVar("_T")
MAX_RETRY_AFTER_WAIT_S = 60.0  # a 429 asking for a longer wait ends the probe as rate_limited


@dataclasses.dataclass
class Pass:
    """What one pass observed; ``verdicts`` and ``records`` are keyed by probe name."""

    verdicts: dict[str, Verdict] = dataclasses.field(default_factory=dict)
    records: dict[str, health.ProbeRecord] = dataclasses.field(default_factory=dict)
    identity_org_id: str | None = None
    token_problem: token_policy.TokenProblem | None = None
    stopped: bool = False  # the tenant stopped while a request waited: this pass says nothing

    def sync_records(self) -> None:
        """After a verdict was refined (``unlicensed``), make its record say the same."""
        for name, verdict in self.verdicts.items():
            record = self.records.get(name)
            if record is not None and record.outcome is not verdict.outcome:
                self.records[name] = dataclasses.replace(record, outcome=verdict.outcome)

    @property
    def failing(self) -> set[str]:
        return {name for name, verdict in self.verdicts.items() if verdict.outcome is not labels.Outcome.OK}


class Prober:
    __slots__ = (  # one per tenant: slots instead of an instance dict
        "_box",
        "_client",
        "_clock",
        "_concurrency",
        "_endpoints",
        "_gate",
        "_on_rate_limited",
        "_org_id",
        "_probes",
        "_timeout_s",
        "_token_probe",
    )

    def __init__(
        self,
        *,
        org_id: str,
        probes: tuple[catalog.ProbeDef, ...],
        box: tokens_box.TokenBox,
        client: remote_client.Client,
        endpoints: transport.Endpoints,
        gate: gate.Gate,
        clock: clock_mod.Clock,
        timeout_s: float,
        concurrency: int,
        on_rate_limited: Callable[[str, float | None], None] = lambda probe, retry_after: None,
    ) -> None:
        self._org_id = org_id
        self._token_probe = catalog.BUILTIN[catalog.TOKEN]
        self._probes = tuple(p for p in probes if p.name != catalog.TOKEN)
        self._box = box
        self._client = client
        self._endpoints = endpoints
        self._gate = gate
        self._clock = clock
        self._timeout_s = timeout_s
        self._concurrency = concurrency
        self._on_rate_limited = on_rate_limited  # told at once: a wait for Retry-After may be long

    @property
    def probe_names(self) -> tuple[str, ...]:
        return (catalog.TOKEN, *(p.name for p in self._probes))

    async def run(self, only: set[str] | None = None) -> Pass:
        """Probe everything, or only the named probes (the identity check always runs)."""
        result = Pass()
        try:
            await self._box.get()
        except tokens_box.TokenUnavailableError as exc:
            result.token_problem = verdicts.token_problem(exc.cause)
            return result
        await self._identity(result)
        if result.stopped or result.verdicts[catalog.TOKEN].outcome in STOP_AFTER_TOKEN:
            return result
        chosen = [p for p in self._probes if only is None or p.name in only]
        # ``concurrency`` lanes take the next probe as each finishes: a semaphore's order without
        # a semaphore per tenant, whose waiter deque (600 B) would stay allocated for good.
        queue = iter(chosen)

        async def lane() -> None:
            for probe in queue:
                await self._endpoint(probe, result)

        await asyncio.gather(*(lane() for _ in range(min(self._concurrency, len(chosen)))))
        return result

    async def _identity(self, result: Pass) -> None:
        started = self._clock.now()

        async def request(token: str) -> str:
            info = await self._client.tokens_me(self._endpoints, token, gate=self._gate, timeout_s=self._timeout_s)
            return info.organization.id

        try:
            org_id = await self._call(catalog.TOKEN, request)
        except errors.NotSent:
            result.stopped = True
            return
        except tokens_box.TokenUnavailableError as exc:
            if not exc.refused:  # a refused credential's backoff is no token-endpoint problem
                result.token_problem = verdicts.token_problem(exc.cause)  # a 401, then no new token
            self._record(result, catalog.TOKEN, _verdict_of(exc), started, exc)
            return
        except errors.RemoteError as exc:
            self._record(result, catalog.TOKEN, _verdict_of(exc), started, exc)
            return
        result.identity_org_id = org_id
        verdict = verdicts.ok(200)
        if org_id != self._org_id:
            verdict = dataclasses.replace(
                verdict,
                outcome=labels.Outcome.WRONG_ORG,
                message=f"the token acts in org {org_id}, not in {self._org_id}",
            )
        self._record(result, catalog.TOKEN, verdict, started, None)

    async def _endpoint(self, probe: catalog.ProbeDef, result: Pass) -> None:
        started = self._clock.now()

        async def request(token: str) -> remote_client.ApiReply:
            return await self._client.get(
                self._endpoints, probe.path, token, gate=self._gate, timeout_s=self._timeout_s, read=False
            )

        try:
            answer = await self._call(probe.name, request)
        except errors.NotSent:
            result.stopped = True
            return
        except (errors.RemoteError, tokens_box.TokenUnavailableError) as exc:
            self._record(result, probe.name, _verdict_of(exc), started, exc)
            return
        self._record(result, probe.name, verdicts.ok(answer.status), started, answer.reply)

    async def _call(self, name: str, request: Callable[[str], Awaitable[_T]]) -> _T:
        """``tokens_box.call`` (401: re-mint once), and after a 429 one more try past its floor.

        The tenant's gate holds the Retry-After for every request (platform.md §5), so the retry
        waits it out and gives this cycle a real answer, unless the wait is longer than a probe
        may reasonably take. Every 429 is reported at once (``on_rate_limited``): the metrics, the log, the status.
        """
        try:
            return await tokens_box.call(self._box, request)
        except errors.RateLimited as exc:
            self._on_rate_limited(name, exc.retry_after)
            if exc.retry_after is None or exc.retry_after > MAX_RETRY_AFTER_WAIT_S:
                raise
        try:
            return await tokens_box.call(self._box, request)
        except errors.RateLimited as exc:
            self._on_rate_limited(name, exc.retry_after)
            raise

    def _record(
        self,
        result: Pass,
        name: str,
        verdict: Verdict,
        started: float,
        source: BaseException | errors.Reply | None,
    ) -> None:
        reply = source if isinstance(source, errors.Reply) else getattr(source, "reply", None)
        result.verdicts[name] = verdict
        result.records[name] = health.ProbeRecord(
            probe=name,
            outcome=verdict.outcome,
            http_status=verdict.status,
            code=verdict.code,
            message=verdict.message,
            duration_s=max(0.0, self._clock.now() - started),
            at=started,
            correlation_id=reply.correlation_id if isinstance(reply, errors.Reply) else None,
        )


def _verdict_of(exc: errors.RemoteError | tokens_box.TokenUnavailableError) -> Verdict:
    """A token endpoint that fails after a 401 keeps its own outcome: an outage is no credential
    problem (5xx, timeouts, resets stay transient); only a refused credential is ``unauthorized``."""
    if isinstance(exc, tokens_box.TokenUnavailableError):
        if isinstance(exc.cause, errors.RemoteError):
            return verdicts.of_exception(exc.cause)
        return Verdict(outcome=labels.Outcome.UNAUTHORIZED, message=str(exc))
    return verdicts.of_exception(exc)
