"""One tenant's tokens for the integration beside grantwarden: handed out only for its own org.

Each running ``tenant.Worker`` holds one ``Access`` when the hand-off or the in-path proxy is
configured; the hand-off listener and file sink and the proxy (``surface``) reach it through the
runtime by tenant name or org id. A restart builds a new one. What it offers:

* ``token(min_valid_s)``: the tenant's token, refreshed (single flight, the box's) when it would
  not last; never before an identity check has shown this credential acting in the tenant's org,
  never while the last identity check says another org (``NotReadyError`` says why, with the fix from
  the tenant's findings); ``current(min_valid_s)`` is the same token for the proxy, which puts it
  into a request and never hands it over (no hand-out is recorded);
* ``invalidate(token or sha256)``: the integration's 401 on the current token drops it and mints
  once; a second such drop of the token minted in its place is a refusal the box backs off from;
  an older token changes nothing;
* ``report_refusal``: see ``refusals``.

Who may be answered, and why not, is ``clearance`` (the identity proof, kept per credential
lineage); this object carries it out. What it must not do: hand out a token of another org, log
a token, or do a cycle's work on a request (it wakes the tenant's loop instead).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.policy import catalog, traffic
from grantwarden.remote import errors, gate
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import api as api_mod
from grantwarden.worker import clearance, handout, observed, probing, refusals, tokenbox, usergrant
from grantwarden.worker import status as health

_LOG = structlog.get_logger("grantwarden.handoff")  # called from request tasks: lines name the tenant


@dataclasses.dataclass(frozen=True)
class Wiring:
    """What every access object of a daemon shares; ``on_change`` tells the file sink to look again.
    ``handoff``: the hand-off is configured, so ``/status`` shows each tenant's ``handoff`` block
    (False when only the in-path proxy uses the access objects: it hands no token out)."""

    redactor: redaction.Redactor
    on_change: Callable[[Access], None] | None = None
    handoff: bool = True


class _Notifying(clock_mod.Event):
    """The box's ``changed`` event, telling the access object too whenever it is set."""

    def __init__(self, hook: Callable[[], None]) -> None:
        super().__init__()
        self._hook = hook

    def set(self) -> None:
        super().set()
        self._hook()


class Access:
    def __init__(
        self,
        *,
        tenant: settings.Tenant,
        status: health.TenantStatus,
        box: tokenbox.TokenBox,
        gate_hold: Callable[[float, float], None],
        clock: clock_mod.Clock,
        metrics: metrics_mod.Metrics,
        wiring: Wiring,
        lineage: Callable[[], int] = lambda: 0,
        config_path: str = "FILE",
    ) -> None:
        """``gate_hold(now, seconds)`` raises the tenant's Retry-After floor; ``lineage`` counts the
        credentials (stored grants) the box has minted from."""
        self.tenant, self.status, self.box = tenant, status, box
        self.name, self.org_id = tenant.name, tenant.org_id
        self.gate_hold, self.clock, self.metrics, self.wiring = gate_hold, clock, metrics, wiring
        self.config_path = config_path
        self.observed = observed.Observed(clock=clock)
        self.wake = clock_mod.Event()  # a refusal to diagnose: the tenant's loop runs a cycle
        self._purge: set[str] = set()
        self._dropped_at: float | None = None  # an integration's 401 dropped a token then
        self._handed: tokenbox.Token | None = None  # the last token that went out
        self._blind_at: float | None = None  # a 401 report naming no token dropped one then
        self._encoded: tuple[tokenbox.Token | None, bytes] = (None, b"")  # the current token's answer, encoded
        self.clearance = clearance.Clearance(tenant=tenant, status=status, lineage=lineage)
        if status.handoff is None and wiring.handoff:
            status.handoff = health.HandoffRecord()
        box.changed = _Notifying(self._changed)

    # -- the integration's calls ------------------------------------------------------------------

    async def token(self, min_valid_s: float = 0.0) -> handout.Handout:
        """The current token, lasting ``min_valid_s`` more seconds (at most half a token's lifetime)."""
        return self.handed(await self.current(min_valid_s))

    async def current(self, min_valid_s: float = 0.0) -> tokenbox.Token:
        """``token``'s token itself, nothing recorded: the in-path proxy sends it on the
        integration's behalf and never hands it over."""
        self._check()
        box = self.box
        current = box.token
        lifetime = current.expires_at - current.received_at if current is not None else None
        valid_for = traffic.valid_for(min_valid_s, lifetime)
        if current is not None and box.usable(current, valid_for_s=valid_for):
            return current
        with structlog.contextvars.bound_contextvars(tenant=self.name, org_id=self.org_id):
            try:
                token = await box.get(valid_for_s=valid_for)
            except tokenbox.TokenUnavailableError as exc:
                raise clearance.unavailable(self.name, self.status, exc) from None
            except gate.StoppedError:  # the worker stops (a reload, a shutdown): no mint goes out
                fix = f"Tenant {self.name}'s worker is stopping (a reload or a shutdown): ask again."
                raise traffic.NotReadyError("not_running", "pending", fix) from None
        self._check()  # a mint from a newly stored grant is another credential
        return token

    async def invalidate(self, presented: str) -> handout.Handout:
        """The integration's request with ``presented`` (a token or its SHA-256) met a 401."""
        self._check()
        current = self.box.token
        if current is not None and clearance.matches(current.value, presented):
            self.drop(current, clearance.client_refusal(), reason="the integration reported a 401")
        return await self.token()

    def drop(self, token: tokenbox.Token, exc: errors.HttpError, *, reason: str) -> None:
        """Drop the current ``token``; a replacement dropped before an identity check accepted it is
        a refusal: the box backs off before minting again (design.md §3.2)."""
        replacement = self._dropped_at is not None and token.received_at >= self._dropped_at
        with structlog.contextvars.bound_contextvars(tenant=self.name, org_id=self.org_id):
            if replacement:
                self.box.refused(token, exc)
            else:
                self.box.invalidate(token)
        self._dropped_at = self.clock.now()
        _LOG.info(
            "token_invalidated_by_client",
            tenant=self.name,
            org_id=self.org_id,
            reason=reason,
            backing_off=replacement,
            refusals=self.box.refusals,
        )

    def blind_drop_allowed(self, current: tokenbox.Token, now: float) -> bool:
        """Whether a 401 report that names no token may drop ``current``: only a token that went
        out, and at most once per probe interval (integrations still holding an older token)."""
        if self._handed is not current or not traffic.due(self._blind_at, now, self.tenant.probe_interval):
            return False
        self._blind_at = now
        return True

    def handed(self, token: tokenbox.Token) -> handout.Handout:
        """Record a token going out (the listener or a file) and wrap it."""
        if self._handed is not token:  # registered again at each of the worker's own uses anyway
            self.wiring.redactor.add(token.value)
        self._handed = token
        if (record := self.status.handoff) is not None:
            record.handed_out_at = self.clock.now()
        return self._wrap(token)

    def _wrap(self, token: tokenbox.Token) -> handout.Handout:
        tenant = self.tenant
        if self._encoded[0] is not token:
            plain = handout.Handout(tenant.name, tenant.org_id, tenant.region, tenant.api_url, token)
            self._encoded = (token, handout.encoded_prefix(plain.as_json(0.0)))
        return handout.Handout(tenant.name, tenant.org_id, tenant.region, tenant.api_url, token, self._encoded[1])

    def shareable(self) -> handout.Handout | None:
        """The token that may go out now without minting (what the file sink writes), or None.
        Nothing is recorded: ``note_handed`` does, once the sink writes it."""
        token = self.box.token
        if token is None or not self.box.usable(token) or self.why_not() is not None:
            return None
        return self._wrap(token)

    def note_handed(self) -> None:
        """The current token went out (into a file)."""
        if self.box.token is not None:
            self.handed(self.box.token)

    def report_refusal(self, report: traffic.Report) -> refusals.Answer:
        """A refusal the integration met (``refusals``); raises ValueError for a path not under /api/v2/."""
        return refusals.handle(self, report)

    @property
    def redactor(self) -> redaction.Redactor:
        return self.wiring.redactor

    # -- identity ---------------------------------------------------------------------------------

    def why_not(self) -> traffic.NotReadyError | None:
        """Why no token may go out now, whatever the box holds; None when one may (``clearance``)."""
        return self.clearance.why_not()

    def before_pass(self) -> int:
        """The credential lineage a pass starting now checks (taken before its first request)."""
        return self.clearance.mark()

    def after_pass(self, observed_pass: probing.Pass, mark: int) -> probing.Pass:
        """Learn from a pass's identity check; merge in the refusals the integration reported."""
        before = self.why_not() is None
        if self.clearance.learn(observed_pass, mark):
            self._dropped_at = None  # a token accepted: the next drop is a first one again
        if (self.why_not() is None) != before:
            self._changed()
        self._forget(self._purge)
        attempts = self.status.regrant_attempts
        merged = self.observed.merge(observed_pass, last_attempt_at=attempts[-1] if attempts else None)
        self._purge, self.observed.retired = self.observed.retired, set()
        return merged

    def probe_defs(self) -> tuple[catalog.ProbeDef, ...]:
        return self.observed.probe_defs()

    def close(self) -> None:
        """The worker ended: its token goes out no more (the file sink removes the file)."""
        self.clearance.revoke()
        self._changed()

    # -- helpers ----------------------------------------------------------------------------------

    def _check(self) -> None:
        if (reason := self.why_not()) is not None:
            raise reason

    def _forget(self, names: set[str]) -> None:
        """Status records and metric series of observations that ended."""
        series = self.metrics.tenant(self.name)
        for name in names:
            if self.observed.get(name) is None:
                self.status.probes.pop(name, None)
                series.probes.pop(name, None)

    def _changed(self) -> None:
        if (notify := self.wiring.on_change) is not None:
            notify(self)


def attach(
    *,
    tenant: settings.Tenant,
    status: health.TenantStatus,
    api: api_mod.TenantApi,
    mint: object,
    clock: clock_mod.Clock,
    metrics: metrics_mod.Metrics,
    wiring: Wiring,
    config_path: str,
) -> Access:
    """The access object of a worker being composed (``tenant.Worker``): its token box, its gate,
    and, for a user grant, the count of grants its minter went on with (a new lineage)."""
    grants = (lambda: mint.grants) if isinstance(mint, usergrant.Minter) else (lambda: 0)
    return Access(
        tenant=tenant,
        status=status,
        box=api.box,
        gate_hold=lambda now, seconds: api.gate.hold(now=now, seconds=seconds),
        clock=clock,
        metrics=metrics,
        wiring=wiring,
        lineage=grants,
        config_path=config_path,
    )
