"""Every Prometheus metric of design.md §2.4, on a registry passed in.

Names and labels are a contract with dashboards and alert rules (deploy/), so they live in one
place. Nothing registers on the global registry: each daemon (and each test) builds its own
``Metrics(registry=CollectorRegistry())``. The per-tenant series are bounded: with the six
default probes a tenant has at most 30 series (a test counts them), which keeps 10,000 tenants
scrapeable; the probe duration histogram has no tenant label for the same reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import prometheus_client as prom

from daemon import __version__
from daemon.policy import labels

PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, *, registry: prom.CollectorRegistry) -> None:
        self.registry = registry
        self.tenant_state = prom.Gauge(
            "grantwarden_tenant_state", "1 for the tenant's current state", ["tenant", "state"], registry=registry
        )
        self.token_expiry = prom.Gauge(
            "grantwarden_token_expiry_timestamp_seconds",
            "When the tenant's current access token expires (Unix time)",
            ["tenant"],
            registry=registry,
        )
        self.token_refresh = prom.Gauge(
            "grantwarden_token_refresh_timestamp_seconds",
            "When the tenant's next token refresh is planned (Unix time)",
            ["tenant"],
            registry=registry,
        )
        self.token_requests = prom.Counter(
            "grantwarden_token_requests", "Token requests by result", ["tenant", "result"], registry=registry
        )
        self.probe_success = prom.Gauge(
            "grantwarden_probe_success", "1 when the probe's last run passed", ["tenant", "probe"], registry=registry
        )
        self.probe_http_status = prom.Gauge(
            "grantwarden_probe_http_status",
            "HTTP status of the probe's last run (0 when there was no response)",
            ["tenant", "probe"],
            registry=registry,
        )
        self.probe_outcomes = prom.Counter(
            "grantwarden_probe_outcomes", "Probe runs by outcome", ["tenant", "probe", "outcome"], registry=registry
        )
        self.probe_duration = prom.Histogram(
            "grantwarden_probe_duration_seconds",
            "Probe request duration",
            ["probe"],
            buckets=PROBE_BUCKETS,
            registry=registry,
        )
        self.missing_permission = prom.Gauge(
            "grantwarden_missing_permission",
            "1 while the tenant's client is refused this permission",
            ["tenant", "permission"],
            registry=registry,
        )
        self.regrants = prom.Counter(
            "grantwarden_regrants", "Re-grants by result", ["tenant", "result"], registry=registry
        )
        self.rate_limited = prom.Counter(
            "grantwarden_rate_limited", "429 answers received", ["tenant"], registry=registry
        )
        self.worker_restarts = prom.Counter(
            "grantwarden_worker_restarts", "Tenant worker restarts after a crash", ["tenant"], registry=registry
        )
        self.loop_lag = prom.Gauge(
            "grantwarden_event_loop_lag_seconds", "How late the event loop woke the watchdog", registry=registry
        )
        self.shard_ordinal = prom.Gauge("grantwarden_shard_ordinal", "This replica's shard index", registry=registry)
        self.total_shards = prom.Gauge("grantwarden_total_shards", "Number of shards", registry=registry)
        self.config_reload_ok = prom.Gauge(
            "grantwarden_config_last_reload_successful",
            "1 when the last configuration (re)load succeeded",
            registry=registry,
        )
        self.build_info = prom.Gauge("grantwarden_build_info", "Always 1", ["version"], registry=registry)
        self.build_info.labels(version=__version__).set(1)

    def set_state(self, tenant: str, state: labels.State) -> None:
        """One series per tenant, for its current state (value 1); the others are removed."""
        for candidate in labels.State:
            if candidate is not state:
                with contextlib.suppress(KeyError):
                    self.tenant_state.remove(tenant, candidate)
        self.tenant_state.labels(tenant=tenant, state=state).set(1)

    def set_missing(self, tenant: str, missing: Iterable[str], previous: Iterable[str]) -> None:
        now = set(missing)
        for permission in set(previous) - now:
            self.missing_permission.remove(tenant, permission)
        for permission in now:
            self.missing_permission.labels(tenant=tenant, permission=permission).set(1)

    def forget_tenant(self, tenant: str) -> None:
        """Drop every series of a tenant that left this replica (config reload, resharding)."""
        for metric in (
            self.tenant_state,
            self.token_expiry,
            self.token_refresh,
            self.token_requests,
            self.probe_success,
            self.probe_http_status,
            self.probe_outcomes,
            self.missing_permission,
            self.regrants,
            self.rate_limited,
            self.worker_restarts,
        ):
            _remove_tenant(metric, tenant)


def _remove_tenant(metric: prom.metrics.MetricWrapperBase, tenant: str) -> None:
    names = metric._labelnames  # prometheus_client keeps label names here; no public accessor
    position = names.index("tenant")
    for values in list(metric._metrics):  # same: the children by label values
        if values[position] == tenant:
            metric.remove(*values)
