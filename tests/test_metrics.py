"""The metrics of design.md §2.4 as a scrape sees them: their bookkeeping and their cardinality.

Covers: the state gauge shows exactly one state at 1 per tenant; a healed permission's
``grantwarden_missing_permission`` series goes away; ``forget_tenant`` drops every series of one
tenant and nothing of another; the token expiry and next-refresh gauges follow a background
refresh (daemon and simulator on a ManualClock); and the cardinality budget: with the six default
probes, after a few cycles of the demo world including failures, a re-grant and rate limiting, no
tenant has more than 30 series in ``/metrics``.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import aiohttp
import prometheus_client
import pytest

from daemon import metrics as metrics_mod
from daemon.clock import ManualClock
from daemon.policy import labels
from daemon.simulator import control, testing
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon

BUDGET = 30  # series per tenant with the six default probes (daemon/metrics.py)
TENANT_LABEL = re.compile(r'[{,]tenant="([^"]*)"')


def fresh() -> metrics_mod.Metrics:
    return metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())


def series(registry: prometheus_client.CollectorRegistry, tenant: str) -> dict[str, float]:
    """Every sample of ``tenant``, keyed by name and labels."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.labels.get("tenant") == tenant:
                found[f"{sample.name}{sorted(sample.labels.items())}"] = sample.value
    return found


def per_tenant(exposition: str) -> dict[str, collections.Counter[str]]:
    """Series per tenant and metric name, counted from the Prometheus text format."""
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in exposition.splitlines():
        if line.startswith("#") or not (match := TENANT_LABEL.search(line)):
            continue
        counts[match.group(1)][line.split("{", 1)[0]] += 1
    return counts


def test_the_state_gauge_shows_exactly_one_state_per_tenant() -> None:
    metrics = fresh()
    metrics.set_state("acme", labels.State.DEGRADED)
    metrics.set_state("acme", labels.State.HEALTHY)
    metrics.set_state("beta", labels.State.NEEDS_ATTENTION)
    shown = {
        (s.labels["tenant"], s.labels["state"])
        for family in metrics.registry.collect()
        if family.name == "grantwarden_tenant_state"
        for s in family.samples
        if s.value == 1
    }
    assert shown == {("acme", "healthy"), ("beta", "needs_attention")}


def test_a_healed_permission_leaves_no_missing_permission_series() -> None:
    metrics = fresh()
    metrics.set_missing("acme", ["messaging:integration:view", "messaging:setting:view"], [])
    metrics.set_missing("acme", ["messaging:setting:view"], ["messaging:integration:view", "messaging:setting:view"])
    assert series(metrics.registry, "acme") == {
        "grantwarden_missing_permission[('permission', 'messaging:setting:view'), ('tenant', 'acme')]": 1.0
    }


def test_forgetting_a_tenant_drops_all_its_series_and_nothing_else() -> None:
    metrics = fresh()
    for tenant in ("acme", "beta"):
        metrics.set_state(tenant, labels.State.HEALTHY)
        metrics.token_expiry.labels(tenant=tenant).set(1)
        metrics.token_refresh.labels(tenant=tenant).set(1)
        metrics.token_requests.labels(tenant=tenant, result=labels.TokenResult.OK).inc()
        metrics.probe_success.labels(tenant=tenant, probe="organization").set(1)
        metrics.probe_http_status.labels(tenant=tenant, probe="organization").set(200)
        metrics.probe_outcomes.labels(tenant=tenant, probe="organization", outcome=labels.Outcome.OK).inc()
        metrics.set_missing(tenant, ["messaging:integration:view"], [])
        metrics.regrants.labels(tenant=tenant, result=labels.RegrantResult.VERIFIED).inc()
        metrics.rate_limited.labels(tenant=tenant).inc()
        metrics.worker_restarts.labels(tenant=tenant).inc()
    beta = series(metrics.registry, "beta")
    metrics.forget_tenant("acme")
    assert series(metrics.registry, "acme") == {}
    assert series(metrics.registry, "beta") == beta


async def test_the_token_gauges_follow_a_background_refresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        sim.world.clients[sim.tenant("acme").client_id].validity_seconds = 600
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme"])
        async with running_daemon(loaded, clock) as run:

            def gauge(name: str) -> float | None:
                return run.registry.get_sample_value(name, {"tenant": "acme"})

            await clock.advance(61)
            first_expiry = gauge("grantwarden_token_expiry_timestamp_seconds")
            first_refresh = gauge("grantwarden_token_refresh_timestamp_seconds")
            assert first_expiry is not None
            assert first_refresh is not None
            # refresh at 0.65–0.75 of the 600 s life, computed from expires_in at receipt
            assert first_expiry - 600 + 0.65 * 600 <= first_refresh <= first_expiry - 600 + 0.75 * 600
            await clock.advance(first_refresh - clock.now() + 1)
            expiry = gauge("grantwarden_token_expiry_timestamp_seconds")
            refresh = gauge("grantwarden_token_refresh_timestamp_seconds")
            assert expiry is not None
            assert refresh is not None
            assert expiry == pytest.approx(first_refresh + 600, abs=1.0), "the new token's expiry"
            assert first_refresh < refresh < expiry
            assert run.registry.get_sample_value(
                "grantwarden_token_requests_total", {"tenant": "acme", "result": "ok"}
            ) == pytest.approx(2)
            await clock.advance(60)
            status = run.daemon.statuses()["acme"]
            assert (status.token_expires_at, status.token_refresh_at) == (expiry, refresh), "/status agrees"


async def test_no_tenant_has_more_than_30_series_after_failures_regrants_and_rate_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        # Fewer requests per minute than a cycle makes: every cycle of acme-ca meets 429s.
        control.set_rate_limits(sim.world, org_id=sim.tenant("acme-ca").org_id, token_requests_per_minute=4)
        loaded = support.demo_config(sim, monkeypatch, tmp_path)
        async with running_daemon(loaded, clock) as run:
            for _ in range(6):
                await clock.advance(60)
            async with aiohttp.ClientSession() as http, http.get(run.http.url + "/metrics") as response:
                exposition = await response.text()

            def value(name: str, **labels_: str) -> float:
                return run.registry.get_sample_value(name, labels_) or 0.0

            # The few cycles did include what makes series: failures, a re-grant, rate limits.
            assert value("grantwarden_regrants_total", tenant="acme-eu", result="verified") == 1
            assert value("grantwarden_rate_limited_total", tenant="acme-ca") >= 1
            assert value("grantwarden_tenant_state", tenant="acme-latam", state="needs_attention") == 1
            assert (
                value(
                    "grantwarden_missing_permission",
                    tenant="acme-latam",
                    permission="webDeployments:configuration:view",
                )
                == 1
            )
    counts = per_tenant(exposition)
    assert set(counts) == {t.name for t in loaded.settings.tenants}
    over = {tenant: dict(c) for tenant, c in counts.items() if sum(c.values()) > BUDGET}
    assert not over, f"more than {BUDGET} series: {over}"
