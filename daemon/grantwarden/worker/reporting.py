"""Turning one cycle into what people and machines watch: status, metrics, log lines.

The tenant loop hands over what a pass observed and what the diagnosis concluded; this module
writes the ``TenantStatus`` (for ``/status``, the page and ``check``), sets the metrics of
design.md §2.4, and logs on change only (design.md §2.5): ``tenant_state_changed`` when the
state moves, ``probe_failed`` when a probe's outcome becomes a different failure,
``permission_missing`` when a permission newly goes missing, ``rate_limited`` on each 429, and
``regrant_planned`` / ``regrant_refused`` once per distinct plan or refusal (``plans.plan_key``),
not every cycle that finds it again. A healthy tenant probed every minute writes no log lines.
The per-tenant series are fields of the tenant's ``series.TenantSeries``, held from the start:
no ``labels()`` lookup per probe.
Lines carry no tenant of their own: the tenant's task has it bound (``structlog.contextvars``).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.policy import diagnosis as diagnosis_mod
from grantwarden.policy import labels
from grantwarden.policy.planning import Plan, Refusal
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import plans, probing, tokenbox
from grantwarden.worker import status as health

_LOG = structlog.get_logger("grantwarden.tenant")
_REGRANT_LOG = structlog.get_logger("grantwarden.regrant")
_NONE: frozenset[str] = frozenset()  # one shared empty set: most probes of most tenants miss nothing


class Reporter:
    __slots__ = ("_announced", "_clock", "_metrics", "_missing", "_missing_by_probe", "_series", "_status")

    def __init__(self, *, status: health.TenantStatus, metrics: metrics_mod.Metrics, clock: clock_mod.Clock) -> None:
        self._status = status
        self._metrics = metrics
        self._clock = clock
        # Held, not looked up per probe; a worker still unwinding after its tenant was forgotten
        # writes into its own dropped entry and revives no series.
        self._series = metrics.tenant(status.tenant)
        self._missing: frozenset[str] | set[str] = _NONE
        self._missing_by_probe: dict[str, frozenset[str]] = {}
        self._announced: set[str] | None = None  # plans and refusals logged already; most tenants have none

    def probes(self, observed: probing.Pass) -> None:
        """Record each probe's result: status, gauges, counters, and a line when it changed."""
        for name, record in observed.records.items():
            previous = self._status.probes.get(name)
            self._status.probes[name] = record
            ok = record.outcome is labels.Outcome.OK
            self._series.record_probe(name, record.outcome, record.http_status or 0)
            self._metrics.probe_duration_of(name).observe(record.duration_s)
            changed = previous is None or previous.outcome is not record.outcome
            if not ok and record.outcome is not labels.Outcome.RATE_LIMITED and changed:
                _LOG.warning(
                    "probe_failed",
                    probe=name,
                    outcome=str(record.outcome),
                    http_status=record.http_status,
                    code=record.code,
                    message=record.message,
                    correlation_id=record.correlation_id,
                )
        self._missing_permissions(observed)

    def rate_limited(self, probe: str, retry_after: float | None) -> None:
        """A 429, reported when it arrives (the probe may then wait its Retry-After out); ``probe``
        names the request: a probe, or ``token`` for the token endpoint."""
        self._series.rate_limited += 1
        self._status.saw_rate_limit(self._clock.now(), probe, retry_after)
        _LOG.warning("rate_limited", probe=probe, retry_after=retry_after)

    def forget_probes(self, names: set[str]) -> None:
        """Probes the blueprint no longer lists (a reload): their records, series and missing
        permissions go, as they would have with a restart."""
        if not names:
            return
        for name in names:
            self._status.probes.pop(name, None)
            self._series.probes.pop(name, None)
            self._missing_by_probe.pop(name, None)
        missing = set().union(*self._missing_by_probe.values())
        if missing != self._missing:
            self._series.set_missing(missing)
            self._missing = missing

    def _missing_permissions(self, observed: probing.Pass) -> None:
        """``grantwarden_missing_permission``: what the probes of this pass lack, plus, for a
        partial re-probe (a re-grant's settle), what the probes it did not run lacked last time.
        A probe that ran and passed clears its permissions at once, not at the next full pass."""
        kinds = (
            labels.Outcome.MISSING_PERMISSION,
            labels.Outcome.MISSING_DIVISION_PERMISSION,
            labels.Outcome.UNLICENSED,
        )
        if set(observed.verdicts) == set(self._status.probes):
            self._missing_by_probe.clear()  # a full pass: probes that vanished take theirs along
        for name, verdict in observed.verdicts.items():
            self._missing_by_probe[name] = frozenset(verdict.permissions) if verdict.outcome in kinds else _NONE
        missing = set().union(*self._missing_by_probe.values())
        for permission in sorted(missing - self._missing):
            _LOG.warning("permission_missing", permission=permission)
        if missing != self._missing:
            self._series.set_missing(missing)
            self._missing = missing

    def token(self, box: tokenbox.TokenBox) -> None:
        token = box.token
        self._status.token_expires_at = token.expires_at if token is not None else None
        self._status.token_refresh_at = (
            box.retry_at if box.retry_at is not None else (token.refresh_at if token else None)
        )
        self._status.token_last_error = tokenbox.describe(box.last_error) if box.last_error is not None else None

    def diagnosis(self, result: diagnosis_mod.Diagnosis, identity_org_id: str | None) -> None:
        status = self._status
        status.identity_org_id = identity_org_id or status.identity_org_id
        status.findings = tuple(
            health.FindingRecord(
                probe=f.probe,
                outcome=str(f.outcome),
                missing=f.missing,
                fixable=f.fixable,
                summary=f.summary,
                fix=f.fix,
                command=f.command,
                change=f.change,
            )
            for f in result.findings
        )
        self.state(result.state, reason=result.findings[0].summary if result.findings else "all probes pass")

    def state(self, state: labels.State, *, reason: str) -> None:
        status = self._status
        if state is not status.state:
            _LOG.info("tenant_state_changed", state=str(state), previous=str(status.state), reason=reason)
            status.state, status.state_since = state, self._clock.now()
        self._series.state = state

    def regrant(self, record: health.RegrantRecord) -> None:
        self._status.add_regrant(record)
        self._series.count_regrant(record.result)

    def planned(self, planned: Mapping[str, Plan], *, dry_run: bool) -> None:
        """``regrant_planned`` and a ``planned`` record, once for each distinct merged plan."""
        for plan in (plans.merged_roles(planned), plans.merged_scopes(planned)):
            if plan is None or not self._first(f"{dry_run}:{plans.plan_key(plan)}"):
                continue
            adds, names = plans.adds(plan)
            _REGRANT_LOG.info(
                "regrant_planned", client_id=self._status.client_id, dry_run=dry_run, add=adds, roles=names
            )
            what = "dry run: would add" if dry_run else "will add"
            self._record(labels.RegrantResult.PLANNED, f"{what} {', '.join(names)}", tuple(names))

    def refusals(self, planned: Mapping[str, Plan]) -> None:
        """``regrant_refused`` and a ``refused`` record, once for each distinct refusal to a person."""
        for refusal, probes in plans.merged_refusals(planned):
            if not self._first(plans.plan_key(refusal)):
                continue
            _REGRANT_LOG.warning(
                "regrant_refused",
                client_id=self._status.client_id,
                probe=probes[0],
                probes=list(probes),
                reason=str(refusal.reason),
                detail=refusal.detail,
                missing=list(refusal.missing),
            )
            self._record(labels.RegrantResult.REFUSED, refusal.detail)

    def refused_already(self, refusal: Refusal) -> None:
        """A refusal already told (the executor's ``regrant_refused``): not again when plans meet it."""
        self._first(plans.plan_key(refusal))

    def _first(self, key: str) -> bool:
        """Remember ``key`` as told; False when it was already."""
        announced = self._announced = self._announced or set()
        if key in announced:
            return False
        announced.add(key)
        return True

    def _record(self, result: labels.RegrantResult, detail: str, added: tuple[str, ...] = ()) -> None:
        self.regrant(health.RegrantRecord(self._clock.now(), result, detail, added, None))
