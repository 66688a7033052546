"""Every Prometheus metric of design.md §2.4, on a registry passed in.

Names and labels are a contract with dashboards and alert rules (deploy/), so they live in one
place: here for the process-wide metrics, in ``exposition.FAMILIES`` for the per-tenant ones.
Nothing registers on the global registry: each daemon (and each test) builds its own
``Metrics(registry=CollectorRegistry())``.

The per-tenant families are plain data in ``series.Store`` (``tenant(name)`` hands a worker its
entry), not prometheus_client children: at 10,000 tenants those cost 13 KiB each and a
``labels()`` lookup per update. The store reaches the registry through ``exposition.Collector``,
so ``registry.get_sample_value()`` sees every family; ``/metrics`` asks ``exposition()``, which
renders the same text without going through prometheus_client objects. The per-tenant series are
bounded: with the six default probes a tenant has at most 30 series (a test counts them); the
probe duration histogram has no tenant label for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable

import prometheus_client as prom

from grantwarden import __version__
from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.telemetry import exposition, series

PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROXY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, *, registry: prom.CollectorRegistry) -> None:
        self.registry = registry
        self.tenants = series.Store()
        registry.register(exposition.Collector(self.tenants))
        self.probe_duration = prom.Histogram(
            "grantwarden_probe_duration_seconds",
            "Probe request duration",
            ["probe"],
            buckets=PROBE_BUCKETS,
            registry=None,
        )
        self.proxy_duration = prom.Histogram(
            "grantwarden_proxy_duration_seconds",
            "In-path proxy request duration, from the request's arrival to the end of its answer",
            ["outcome"],
            buckets=PROXY_BUCKETS,
            registry=None,
        )
        self.loop_lag = prom.Gauge(
            "grantwarden_event_loop_lag_seconds", "How late the event loop woke the watchdog", registry=None
        )
        self.shard_ordinal = prom.Gauge("grantwarden_shard_ordinal", "This replica's shard index", registry=None)
        self.total_shards = prom.Gauge("grantwarden_total_shards", "Number of shards", registry=None)
        self.config_reload_ok = prom.Gauge(
            "grantwarden_config_last_reload_successful",
            "1 when the last configuration (re)load succeeded",
            registry=None,
        )
        self.build_info = prom.Gauge("grantwarden_build_info", "Always 1", ["version"], registry=None)
        self.handoff_requests = prom.Counter(
            "grantwarden_handoff_requests",
            "Requests to the token hand-off, by endpoint and result (no tenant label: cardinality)",
            ["endpoint", "result"],
            registry=None,
        )
        self.build_info.labels(version=__version__).set(1)
        # The same objects on a registry of their own: ``exposition()`` renders them through
        # prometheus_client without collecting the store the slow way.
        self._own = prom.CollectorRegistry()
        for metric in (
            self.probe_duration,
            self.proxy_duration,
            self.loop_lag,
            self.shard_ordinal,
            self.total_shards,
            self.config_reload_ok,
            self.build_info,
            self.handoff_requests,
        ):
            registry.register(metric)
            self._own.register(metric)
        self._durations: dict[str, prom.Histogram] = {}
        self._proxy_durations: dict[str, prom.Histogram] = {}

    def tenant(self, name: str) -> series.TenantSeries:
        """The tenant's series (created on first use); hold it rather than look it up per update."""
        return self.tenants.tenant(name)

    def set_state(self, tenant: str, state: labels.State) -> None:
        """One ``grantwarden_tenant_state`` series per tenant, for its current state (value 1)."""
        self.tenants.tenant(tenant).state = state

    def set_missing(self, tenant: str, missing: Iterable[str]) -> None:
        """``grantwarden_missing_permission`` for exactly these permissions; healed ones go away."""
        self.tenants.tenant(tenant).set_missing(missing)

    def forget_tenant(self, tenant: str) -> None:
        """Drop every series of a tenant that left this replica (config reload, resharding)."""
        self.tenants.forget(tenant)

    def probe_duration_of(self, probe: str) -> prom.Histogram:
        """The histogram child of one probe, looked up once per probe name, not per observation."""
        child = self._durations.get(probe)
        if child is None:
            child = self._durations[probe] = self.probe_duration.labels(probe=probe)
        return child

    def proxy_duration_of(self, outcome: str) -> prom.Histogram:
        """The proxy histogram's child of one outcome label, looked up once per label."""
        child = self._proxy_durations.get(outcome)
        if child is None:
            child = self._proxy_durations[outcome] = self.proxy_duration.labels(outcome=outcome)
        return child

    async def exposition(self, *, clock: clock_mod.Clock) -> bytes:
        """The whole ``/metrics`` body (text format 0.0.4); yields to the loop while it renders."""
        return prom.generate_latest(self._own) + await exposition.render(self.tenants, clock=clock)
