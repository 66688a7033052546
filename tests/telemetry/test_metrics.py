"""The metrics of design.md §2.4 as a scrape sees them: their bookkeeping, rendering and cardinality.

Covers: the state gauge shows exactly one state at 1 per tenant; a probe run sets its success and
status gauges and counts its outcome; a healed permission's ``grantwarden_missing_permission``
series goes away; ``forget_tenant`` drops every series of one tenant and nothing of another; the
fast ``/metrics`` text says exactly what the registry collects (parsed back, for tenant, probe and
permission names with quotes, backslashes and newlines, several states, probes, outcomes and
results), byte for byte as prometheus_client would write it, each family once; a large scrape
lets other tasks run between its chunks, and tenants that come or go meanwhile do not break it;
the token expiry and next-refresh gauges follow a background refresh (daemon and simulator on a
ManualClock); and the cardinality budget: with the six default probes, after a few cycles of the
demo world including failures, a re-grant and rate limiting, no tenant has more than 30 series
in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import collections
import re
from pathlib import Path

import aiohttp
import prometheus_client
import pytest
from prometheus_client import parser

from grantwarden.base.clock import LoopClock, ManualClock
from grantwarden.policy import labels
from grantwarden.simulator import control, testing
from grantwarden.telemetry import exposition
from grantwarden.telemetry import metrics as metrics_mod
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon

BUDGET = 30  # series per tenant with the six default probes (daemon/grantwarden/telemetry/metrics.py)
TENANT_LABEL = re.compile(r'[{,]tenant="([^"]*)"')
OUTCOME, RESULT = labels.Outcome, labels.TokenResult
HOSTILE = ('say "cheese"', "back\\slash", "new\nline", "zürich", "plain")


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


def canonical(families: object) -> list[tuple[object, ...]]:
    """Families as comparable tuples: name, type, help, and each sample's name, labels and value."""
    return [
        (
            family.name,
            family.type,
            family.documentation,
            [(s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples],
        )
        for family in families  # type: ignore[attr-defined]
    ]


def populate(metrics: metrics_mod.Metrics) -> None:
    """Tenants with hostile names in every state, with probes, outcomes, permissions and counts."""
    states = list(labels.State)
    for index, name in enumerate(HOSTILE):
        tenant = metrics.tenant(name)
        tenant.state = states[index % len(states)]
        tenant.token_expiry, tenant.token_refresh = 1_800_003_600.25, 1_800_002_700.5
        tenant.count_token_request(RESULT.OK)
        tenant.record_probe("organization", OUTCOME.OK, 200)
        tenant.record_probe('odd "probe"\\', OUTCOME.MISSING_PERMISSION, 403)
        tenant.record_probe("web-deployments", OUTCOME.TIMEOUT, 0)
        tenant.record_probe("web-deployments", OUTCOME.OK, 200)
        tenant.set_missing(["messaging:integration:view", 'quote"d\\perm\nission'])
    beta = metrics.tenant(HOSTILE[0])
    beta.count_token_request(RESULT.RATE_LIMITED)
    beta.count_regrant(labels.RegrantResult.PLANNED)
    beta.count_regrant(labels.RegrantResult.VERIFIED)
    beta.rate_limited, beta.worker_restarts = 3, 1_234_567  # past a million: Go spells it 1.234567e+06
    beta.count_refusal(OUTCOME.MISSING_PERMISSION)  # reported through the hand-off (design.md §2.8)
    beta.count_refusal(OUTCOME.MISSING_PERMISSION)
    metrics.handoff_requests.labels("tenant_token", "ok").inc()
    beta.count_proxy_request("ok")
    beta.count_proxy_request("missing_permission")
    beta.count_proxy_request("ok")
    metrics.probe_duration_of("organization").observe(0.12)
    metrics.proxy_duration_of("ok").observe(0.003)


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


def test_a_probe_run_sets_its_gauges_and_counts_its_outcome() -> None:
    metrics = fresh()
    acme = metrics.tenant("acme")
    acme.record_probe("organization", OUTCOME.OK, 200)
    acme.record_probe("organization", OUTCOME.MISSING_PERMISSION, 403)
    acme.record_probe("organization", OUTCOME.OK, 200)
    acme.record_probe("token", OUTCOME.TIMEOUT, 0)

    def value(name: str, **labels_: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"tenant": "acme", **labels_})

    assert value("grantwarden_probe_success", probe="organization") == 1
    assert value("grantwarden_probe_http_status", probe="organization") == 200
    assert value("grantwarden_probe_outcomes_total", probe="organization", outcome="ok") == 2
    assert value("grantwarden_probe_outcomes_total", probe="organization", outcome="missing_permission") == 1
    assert value("grantwarden_probe_success", probe="token") == 0
    assert value("grantwarden_probe_http_status", probe="token") == 0, "no response: status 0"
    assert value("grantwarden_probe_outcomes_total", probe="token", outcome="ok") is None, "no run passed yet"


def test_a_healed_permission_leaves_no_missing_permission_series() -> None:
    metrics = fresh()
    metrics.set_missing("acme", ["messaging:integration:view", "messaging:setting:view"])
    metrics.set_missing("acme", ["messaging:setting:view"])
    assert series(metrics.registry, "acme") == {
        "grantwarden_missing_permission[('permission', 'messaging:setting:view'), ('tenant', 'acme')]": 1.0
    }


def test_forgetting_a_tenant_drops_all_its_series_and_nothing_else() -> None:
    metrics = fresh()
    for name in ("acme", "beta"):
        metrics.set_state(name, labels.State.HEALTHY)
        tenant = metrics.tenant(name)
        tenant.token_expiry, tenant.token_refresh = 1, 1
        tenant.count_token_request(RESULT.OK)
        tenant.record_probe("organization", OUTCOME.MISSING_PERMISSION, 403)
        metrics.set_missing(name, ["messaging:integration:view"])
        tenant.count_regrant(labels.RegrantResult.VERIFIED)
        tenant.rate_limited += 1
        tenant.worker_restarts += 1
    beta = series(metrics.registry, "beta")
    assert len(beta) == 11, "one series of every per-tenant family"
    metrics.forget_tenant("acme")
    assert series(metrics.registry, "acme") == {}
    assert series(metrics.registry, "beta") == beta


async def test_the_fast_text_says_exactly_what_the_registry_collects() -> None:
    metrics = fresh()
    populate(metrics)
    text = (await metrics.exposition(clock=ManualClock())).decode()
    parsed = list(parser.text_string_to_metric_families(text))
    collected = list(metrics.registry.collect())
    per_tenant_families = {family.name for family in exposition.FAMILIES}
    assert canonical(f for f in parsed if f.name in per_tenant_families) == canonical(
        f for f in collected if f.name in per_tenant_families
    )
    names = [family.name for family in parsed]
    assert len(names) == len(set(names)), "each family in one piece, with one HELP and one TYPE"
    assert {family.name for family in collected} <= set(names), "the process-wide families too"
    shown = {s.labels["tenant"] for f in parsed if f.name == "grantwarden_tenant_state" for s in f.samples}
    assert shown == set(HOSTILE), "quotes, backslashes and newlines in names survive the round trip"


async def test_the_fast_text_is_byte_for_byte_what_prometheus_client_writes() -> None:
    metrics = fresh()
    populate(metrics)
    fast = await exposition.render(metrics.tenants, clock=ManualClock(), chunk=2)
    assert fast == prometheus_client.generate_latest(exposition.Collector(metrics.tenants))
    assert b'worker_restarts_total{tenant="say \\"cheese\\""} 1.234567e+06\n' in fast


async def test_a_large_scrape_lets_other_tasks_run_between_chunks() -> None:
    metrics = fresh()
    for index in range(2_000):
        metrics.tenant(f"tenant-{index}").record_probe("organization", OUTCOME.OK, 200)
    clock = LoopClock()
    rendering = asyncio.create_task(exposition.render(metrics.tenants, clock=clock, chunk=500))
    turns = 0
    while not rendering.done():
        turns += 1
        await clock.sleep(0)
    assert turns >= 4, "one turn of the loop per chunk of 500 tenants, at least"
    assert (await rendering).count(b"grantwarden_probe_success{") == 2_000


async def test_tenants_that_come_and_go_during_a_scrape_do_not_break_it() -> None:
    metrics = fresh()
    for index in range(1_000):
        metrics.set_state(f"tenant-{index}", labels.State.HEALTHY)
    clock = LoopClock()
    rendering = asyncio.create_task(metrics.exposition(clock=clock))
    await clock.sleep(0)  # the render has begun and yielded after its first chunk
    for index in range(0, 1_000, 2):
        metrics.forget_tenant(f"tenant-{index}")
    metrics.set_state("late", labels.State.STARTING)
    during = (await rendering).decode()
    after = (await metrics.exposition(clock=clock)).decode()

    def tenants(text: str) -> set[str]:
        families = parser.text_string_to_metric_families(text)
        return {s.labels["tenant"] for f in families if f.name == "grantwarden_tenant_state" for s in f.samples}

    assert tenants(during) == {f"tenant-{index}" for index in range(1_000)}, "the scrape shows when it began"
    assert tenants(after) == {f"tenant-{index}" for index in range(1, 1_000, 2)} | {"late"}


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


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        pytest.param("gzip", True, id="gzip"),
        pytest.param("identity, gzip", True, id="listed-second"),
        pytest.param("GZIP;q=0.5", True, id="case-and-quality"),
        pytest.param("*", True, id="anything"),
        pytest.param("gzip;q=0", False, id="refused"),
        pytest.param("gzip; q=0.0", False, id="refused-spaced"),
        pytest.param("deflate, br", False, id="others-only"),
        pytest.param("", False, id="none"),
        pytest.param("gzip;q=x", False, id="unreadable-quality"),
    ],
)
def test_gzip_is_used_only_when_the_accept_encoding_header_allows_it(header: str, gzip: bool) -> None:
    assert exposition.accepts_gzip(header) is gzip


async def test_reported_refusals_and_handoff_requests_are_exposed_the_requests_without_a_tenant() -> None:
    metrics = fresh()
    populate(metrics)
    text = (await metrics.exposition(clock=ManualClock())).decode()
    assert 'grantwarden_refusals_reported_total{outcome="missing_permission",tenant="say \\"cheese\\""} 2.0' in text
    assert 'grantwarden_handoff_requests_total{endpoint="tenant_token",result="ok"} 1.0' in text
    assert text.count("grantwarden_refusals_reported_total{") == 1, "a series only for an outcome reported"
