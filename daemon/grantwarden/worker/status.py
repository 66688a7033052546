"""What the daemon knows about each tenant, as ``/status``, the status page and ``check`` show it.

A ``TenantStatus`` is owned by the tenant's supervised unit and survives worker restarts; the
worker writes into it, the HTTP layer and the CLI read it (as JSON through ``statusjson``). It
holds no token and no secret, only their timing and the platform's refusals, so everything here
is safe to render. A ``ReloadRecord`` is the daemon's own line of that page: how the last
configuration reload went. Records and their updates only: no rendering, no I/O, no clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Protocol

from grantwarden.base import clock as clock_mod
from grantwarden.policy import catalog, labels

MAX_REGRANT_RECORDS = 10
MAX_TRAFFIC_RECORDS = 10  # operations refused in proxied traffic, the most recent kept


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeRecord:
    probe: str
    outcome: labels.Outcome
    http_status: int | None
    code: str | None
    message: str | None
    duration_s: float
    at: float
    correlation_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FindingRecord:
    probe: str | None
    outcome: str
    missing: tuple[str, ...]
    fixable: bool
    summary: str
    fix: str
    command: str | None = None
    change: str | None = None  # who changed what, from the audit trail (design.md §2.3.1)


@dataclasses.dataclass(frozen=True, slots=True)
class RegrantRecord:
    at: float
    result: labels.RegrantResult
    detail: str
    added: tuple[str, ...] = ()
    correlation_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RefusalRecord:
    """The last refusal the integration reported through the hand-off (design.md §2.8)."""

    at: float
    operation: str
    method: str
    path: str  # without the query
    http_status: int
    outcome: str
    code: str | None
    action: str


@dataclasses.dataclass(eq=False, slots=True)
class HandoffRecord:
    """A tenant's hand-off, when one is configured: when its token last went out, what was reported."""

    handed_out_at: float | None = None
    refusal: RefusalRecord | None = None


class Floor(Protocol):
    """The tenant's Retry-After floor (``remote.gate.Gate``): no request leaves before it."""

    @property
    def not_before(self) -> float: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Unresolved:
    """A secret reference of a tenant that cannot be resolved: where, why, and what it names."""

    place: str  # credentials.client_secret, admin_credentials.client_secret
    why: str  # names the variable or the file, never a value
    env: str | None = None
    file: str | None = None

    def fix(self) -> str:
        if self.env is not None:
            return (
                f"Set environment variable {self.env} for grantwarden and restart it (a running process never "
                f"sees a new environment), or name a secret file there instead, which is read at every cycle."
            )
        return (
            f"Put the secret into file {self.file} (UTF-8, not empty, at most 64 KiB) where grantwarden can "
            f"read it: it looks again every probe interval (or at a reconcile) and then runs the tenant."
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TrafficRecord:
    """An operation the in-path proxy saw refused (design.md §2.9): by the platform (401, 403,
    429, a grant-type 400) or by the allow-list (``not_allowed``). ``passed_at``: a later request
    of the same operation passed, so the refusal is history."""

    operation: str  # "GET /api/v2/users/{id}": bounded, ids replaced (policy.allowlist.operation)
    outcome: str  # an outcome of design.md §2.6, or not_allowed
    http_status: int
    code: str | None
    message: str | None
    count: int
    first_at: float
    at: float
    correlation_id: str | None = None
    passed_at: float | None = None


@dataclasses.dataclass(eq=False, slots=True)
class TenantStatus:
    tenant: str
    org_id: str
    client_id: str
    grant: labels.GrantType
    state: labels.State = labels.State.STARTING
    state_since: float | None = None
    token_expires_at: float | None = None
    token_refresh_at: float | None = None
    token_last_error: str | None = None
    identity_org_id: str | None = None
    probes: dict[str, ProbeRecord] = dataclasses.field(default_factory=dict)
    findings: tuple[FindingRecord, ...] = ()
    regrants: tuple[RegrantRecord, ...] = ()  # the last MAX_REGRANT_RECORDS (a deque costs 600 B)
    traffic: tuple[TrafficRecord, ...] = ()  # refusals seen by the proxy, oldest first (design.md §2.9)
    rate_limited: int = 0  # 429 answers received, token endpoint and API alike
    rate_limited_at: float | None = None
    rate_limited_probe: str | None = None  # "token" for the token endpoint
    rate_limited_retry_after: float | None = None
    regrant_attempts: list[float] = dataclasses.field(default_factory=list)  # for max_per_hour
    regrant_failures: int = 0  # consecutive unverified re-grants; 3 holds re-grants (design.md §3)
    cycles: int = 0
    last_cycle_at: float | None = None
    next_cycle_at: float | None = None
    reconcile_requested: asyncio.Event = dataclasses.field(default_factory=clock_mod.Event)
    first_cycle_done: asyncio.Event = dataclasses.field(default_factory=clock_mod.Event)
    floor: Floor | None = None  # the running worker's gate: a Retry-After being waited out
    handoff: HandoffRecord | None = None  # only with a hand-off configured: no cost without

    def waiting_until(self, now: float) -> float | None:
        """When the Retry-After floor this tenant waits out ends; None when it waits for none."""
        floor = self.floor
        return floor.not_before if floor is not None and floor.not_before > now else None

    @property
    def identity_verified(self) -> bool:
        """Whether the last identity check passed: the token acts in this tenant's org (platform.md §3.1).

        A token is never handed to anyone for a tenant whose identity check has not passed.
        """
        record = self.probes.get(catalog.TOKEN)
        return record is not None and record.outcome is labels.Outcome.OK and self.identity_org_id == self.org_id

    def add_regrant(self, record: RegrantRecord) -> None:
        self.regrants = (*self.regrants, record)[-MAX_REGRANT_RECORDS:]

    def saw_traffic_refusal(self, record: TrafficRecord) -> TrafficRecord:
        """Record a refusal of one operation in proxied traffic; returns the record kept. The same
        operation refused the same way counts up; anything else replaces its record."""
        kept = [r for r in self.traffic if r.operation != record.operation]
        previous = next((r for r in self.traffic if r.operation == record.operation), None)
        if previous is not None and previous.outcome == record.outcome and previous.passed_at is None:
            record = dataclasses.replace(record, count=previous.count + record.count, first_at=previous.first_at)
        self.traffic = (*kept, record)[-MAX_TRAFFIC_RECORDS:]
        return record

    def saw_traffic_pass(self, operation: str, now: float) -> None:
        """A request of ``operation`` passed: its refusal record, if any, becomes history."""
        for index, record in enumerate(self.traffic):
            if record.operation == operation and record.passed_at is None:
                passed = dataclasses.replace(record, passed_at=now)
                self.traffic = (*self.traffic[:index], passed, *self.traffic[index + 1 :])
                return

    def saw_rate_limit(self, now: float, probe: str, retry_after: float | None) -> None:
        self.rate_limited += 1
        self.rate_limited_at, self.rate_limited_probe, self.rate_limited_retry_after = now, probe, retry_after

    def crash_loop(self, now: float, crashes: int) -> None:
        self.state, self.state_since = labels.State.NEEDS_ATTENTION, now
        self.findings = (
            FindingRecord(
                probe=None,
                outcome="crash_loop",
                missing=(),
                fixable=False,
                summary=f"The worker of tenant {self.tenant} crashed {crashes} times within a minute.",
                fix="Read the worker_crashed log lines, then POST /tenants/{name}/reconcile or fix the config.".replace(
                    "{name}", self.tenant
                ),
            ),
        )
        self.first_cycle_done.set()

    def secrets_unavailable(self, now: float, unresolved: Sequence[Unresolved], config_path: str) -> str:
        """Not run: a secret reference of this tenant cannot be resolved (a finding each, naming
        the variable or file). Returns the first finding's summary, the state change's reason."""
        self.findings = tuple(
            FindingRecord(
                probe=None,
                outcome="secret_unavailable",
                missing=(),
                fixable=False,
                # Never "place: why": the redactor would read the reason as the secret's value.
                summary=(
                    f"Tenant {self.tenant}: {secret.place} in {config_path} cannot be resolved ({secret.why}), "
                    "so grantwarden requests no token for it and probes nothing."
                ),
                fix=secret.fix(),
            )
            for secret in unresolved
        )
        self.first_cycle_done.set()  # a tenant waiting for a person does not hold /readyz back
        return self.findings[0].summary


@dataclasses.dataclass(frozen=True, slots=True)
class ReloadRecord:
    """The configuration the daemon runs and how its last reload went (``/status``, the page,
    ``POST /-/reload``). ``refused``: the file was valid but not applied (it would stop every
    tenant without saying ``tenants: []``, or the daemon was stopping)."""

    source: str
    loaded_at: float  # when the configuration that runs was read: the start, or the last applied reload
    attempted_at: float | None = None  # the last reload, applied or not; None before the first
    ok: bool = True
    problems: tuple[str, ...] = ()
    refused: bool = False
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    reconfigured: tuple[str, ...] = ()
    unchanged: int = 0
