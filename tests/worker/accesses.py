"""Builders for the hand-off's tests: an ``access.Access`` over a real token box with an instant mint.

``Setup`` holds the tenant's settings, its status, a token box whose mint answers at once (and
counts), a metrics registry, a redactor and a ``ManualClock``; ``passed``/``wrong_org``/``failed``
build the passes a tenant's cycle would hand to ``Access.after_pass``.
"""

from __future__ import annotations

import dataclasses
import random

import prometheus_client

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretRef
from grantwarden.policy import catalog, labels
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import gate, oauth
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import access, probing, tokenbox
from grantwarden.worker import status as health
from tests.worker import fakes

OTHER_ORG = "org-other"
API = "https://api.example.test"


def tenant_settings(
    *, grant: labels.GrantType = labels.GrantType.CLIENT_CREDENTIALS, probe_interval: float = 60.0, **regrant: object
) -> settings.Tenant:
    credentials: dict[str, object] = {"client_id": fakes.CLIENT, "client_secret": SecretRef(env="X"), "grant": grant}
    if grant is labels.GrantType.AUTHORIZATION_CODE:
        credentials["redirect_uri"] = "http://127.0.0.1:8765/callback"
    return settings.Tenant.model_validate(
        {
            "name": "acme",
            "org_id": fakes.ORG,
            "api_base_url": API,
            "login_base_url": "https://login.example.test",
            "blueprint": "default",
            "credentials": credentials,
            "probe_interval": probe_interval,
            "probe_timeout": 5.0,
            "probe_concurrency": 2,
            "refresh": settings.RefreshSettings(),
            "regrant": settings.RegrantSettings.model_validate(regrant),
        }
    )


@dataclasses.dataclass
class Setup:
    clock: clock_mod.ManualClock
    tenant: settings.Tenant
    status: health.TenantStatus
    box: tokenbox.TokenBox
    gate: gate.Gate
    metrics: metrics_mod.Metrics
    redactor: redaction.Redactor
    access: access.Access
    mints: list[str]
    lineage: list[int]
    changes: list[str]
    lifetime: int = 3600


def setup(
    *,
    tenant: settings.Tenant | None = None,
    status: health.TenantStatus | None = None,
    lifetime: int = 3600,
    handoff: bool = True,
) -> Setup:
    """``handoff=False``: the access object of in-path mode alone (no hand-off to show)."""
    clock = clock_mod.ManualClock(start=1_000_000.0)
    tenant = tenant or tenant_settings()
    status = status or health.TenantStatus(tenant.name, tenant.org_id, fakes.CLIENT, tenant.credentials.grant)
    mints: list[str] = []

    async def mint() -> oauth.TokenGrant:
        mints.append(f"tok-{len(mints) + 1}-{'x' * 24}")
        return oauth.TokenGrant(
            access_token=mints[-1], token_type="bearer", expires_in=lifetime, received_at=clock.now()
        )

    box = tokenbox.TokenBox(
        tenant=tenant.name, mint=mint, clock=clock, rng=random.Random(1), refresh=tenant.refresh, metrics=None
    )
    limit = gate.Gate()
    metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
    redactor = redaction.Redactor()
    lineage = [0]
    changes: list[str] = []
    made = access.Access(
        tenant=tenant,
        status=status,
        box=box,
        gate_hold=lambda now, seconds: limit.hold(now=now, seconds=seconds),
        clock=clock,
        metrics=metrics,
        wiring=access.Wiring(redactor=redactor, on_change=lambda found: changes.append(found.name), handoff=handoff),
        lineage=lambda: lineage[0],
    )
    return Setup(clock, tenant, status, box, limit, metrics, redactor, made, mints, lineage, changes, lifetime)


def identity(outcome: labels.Outcome, org_id: str | None, **extra: Verdict) -> probing.Pass:
    verdict = Verdict(outcome, status=200 if org_id is not None else None)
    record = health.ProbeRecord(catalog.TOKEN, outcome, verdict.status, None, None, 0.0, 0.0)
    verdicts = {catalog.TOKEN: verdict, **extra}
    records = {catalog.TOKEN: record} | {
        name: health.ProbeRecord(name, v.outcome, v.status, v.code, v.message, 0.0, 0.0) for name, v in extra.items()
    }
    return probing.Pass(verdicts=verdicts, records=records, identity_org_id=org_id)


def passed(**extra: Verdict) -> probing.Pass:
    return identity(labels.Outcome.OK, fakes.ORG, **extra)


def wrong_org() -> probing.Pass:
    return identity(labels.Outcome.WRONG_ORG, OTHER_ORG)


def failed(outcome: labels.Outcome = labels.Outcome.TIMEOUT) -> probing.Pass:
    return identity(outcome, None)


def learn(made: Setup, observed: probing.Pass) -> probing.Pass:
    """What the tenant's cycle does with a pass: the access object learns, the status records."""
    merged = made.access.after_pass(observed, made.access.before_pass())
    made.status.probes.update(merged.records)
    made.status.identity_org_id = merged.identity_org_id or made.status.identity_org_id
    return merged
