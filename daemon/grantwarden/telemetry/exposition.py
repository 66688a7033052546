"""The per-tenant families of design.md §2.4, from ``series.Store`` to the Prometheus text format.

Two views of the same store, from one definition per family (``FAMILIES``):

* ``render()``: the fast path behind ``/metrics``. It writes text format 0.0.4 directly, exactly
  as ``prometheus_client.generate_latest`` would (labels in sorted order, Go float spelling,
  ``# HELP`` and ``# TYPE`` once per family, a family never split), a chunk of tenants at a
  time, and yields to the event loop between chunks so that a scrape of 10,000 tenants never
  stalls token refreshes. It walks a snapshot of the entries: tenants that come or go meanwhile
  are safe. No thread: the loop mutates the store, so the loop reads it.
* ``Collector``: the slow path, registered on the daemon's registry, so that
  ``registry.get_sample_value()`` (tests) and anything else that collects the registry see the
  very same families. A test holds both views equal.

The order is deterministic: families as listed, tenants as they first appeared, a tenant's
probes and results as they first happened, missing permissions sorted.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from prometheus_client import core, registry, utils

from grantwarden.base import clock as clock_mod
from grantwarden.telemetry import series

CHUNK = 500  # tenants per slice of work between yields: a few ms of loop time each

Samples = Iterator[tuple[tuple[str, ...], int | float]]
SampleFn = Callable[[series.TenantSeries, str, bool], Samples]


@dataclasses.dataclass(frozen=True)
class Family:
    """One metric family: its contract (name, type, help, label names) and its samples.

    ``samples(entry, tenant, escaped)`` yields (label values in ``labels`` order, value) for one
    tenant, with ``tenant`` and every other label value escaped when ``escaped`` is true.
    """

    name: str  # as collected; a counter's samples and text lines add ``_total``
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...]  # sorted: the order the text format prints them in
    samples: SampleFn

    @property
    def exposed(self) -> str:
        return self.name + "_total" if self.kind == "counter" else self.name

    @property
    def header(self) -> str:
        return f"# HELP {self.exposed} {self.help}\n# TYPE {self.exposed} {self.kind}\n"

    @property
    def template(self) -> str:
        """``str.format`` pattern of one line: the label values, then the value."""
        pairs = ",".join(f'{label}="{{}}"' for label in self.labels)
        return f"{self.exposed}{{{{{pairs}}}}} {{}}\n"

    def text(self, entries: Sequence[series.TenantSeries]) -> str:
        """The lines of ``entries``, without header."""
        line = self.template.format
        samples = self.samples
        return "".join([line(*values, number(value)) for e in entries for values, value in samples(e, e.label, True)])

    def metric(self, entries: Sequence[series.TenantSeries]) -> core.Metric:
        """The family as prometheus_client collects it (raw label values)."""
        kind = core.CounterMetricFamily if self.kind == "counter" else core.GaugeMetricFamily
        family = kind(self.name, self.help, labels=self.labels)
        for entry in entries:
            for values, value in self.samples(entry, entry.name, False):
                family.add_metric([str(v) for v in values], float(value))  # plain str, not the enums
        return family


def number(value: int | float) -> str:
    """Go's spelling of a sample value, as ``prometheus_client.utils.floatToGoString``; the common
    small counts and statuses without its float round trip."""
    if type(value) is int and 0 <= value < 1_000_000:
        return f"{value}.0"
    return str(utils.floatToGoString(value))  # type: ignore[no-untyped-call]  # unannotated in the library


def _state(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.state is not None:
        yield (e.state, tenant), 1


def _token_expiry(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.token_expiry is not None:
        yield (tenant,), e.token_expiry


def _token_refresh(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.token_refresh is not None:
        yield (tenant,), e.token_refresh


def _token_requests(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for result, count in e.token_requests.items():
        yield (result, tenant), count


def _probe_success(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for name, probe in e.probes.items():
        yield (probe.label if escaped else name, tenant), probe.success


def _probe_http_status(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for name, probe in e.probes.items():
        yield (probe.label if escaped else name, tenant), probe.http_status


def _probe_outcomes(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for name, probe in e.probes.items():
        label = probe.label if escaped else name
        for outcome, count in probe.outcomes():
            yield (outcome, label, tenant), count


def _missing(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for permission in e.missing:
        yield (series.escape(permission) if escaped else permission, tenant), 1


def _regrants(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    for result, count in e.regrants.items():
        yield (result, tenant), count


def _rate_limited(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.rate_limited:
        yield (tenant,), e.rate_limited


def _refusals(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.refusals:
        for outcome, count in e.refusals.items():
            yield (outcome, tenant), count


def _worker_restarts(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.worker_restarts:
        yield (tenant,), e.worker_restarts


def _proxy_requests(e: series.TenantSeries, tenant: str, escaped: bool) -> Samples:
    if e.proxy_requests:
        for outcome, count in e.proxy_requests.items():
            yield (outcome, tenant), count


T, P = "tenant", "probe"  # the two label names nearly every family has, kept short for the table
FAMILIES = (
    Family("grantwarden_tenant_state", "gauge", "1 for the tenant's current state", ("state", T), _state),
    Family(
        "grantwarden_token_expiry_timestamp_seconds",
        "gauge",
        "When the tenant's current access token expires (Unix time)",
        (T,),
        _token_expiry,
    ),
    Family(
        "grantwarden_token_refresh_timestamp_seconds",
        "gauge",
        "When the tenant's next token refresh is planned (Unix time)",
        (T,),
        _token_refresh,
    ),
    Family("grantwarden_token_requests", "counter", "Token requests by result", ("result", T), _token_requests),
    Family("grantwarden_probe_success", "gauge", "1 when the probe's last run passed", (P, T), _probe_success),
    Family(
        "grantwarden_probe_http_status",
        "gauge",
        "HTTP status of the probe's last run (0 when there was no response)",
        (P, T),
        _probe_http_status,
    ),
    Family("grantwarden_probe_outcomes", "counter", "Probe runs by outcome", ("outcome", P, T), _probe_outcomes),
    Family(
        "grantwarden_missing_permission",
        "gauge",
        "1 while the tenant's client is refused this permission",
        ("permission", T),
        _missing,
    ),
    Family("grantwarden_regrants", "counter", "Re-grants by result", ("result", T), _regrants),
    Family("grantwarden_rate_limited", "counter", "429 answers received", (T,), _rate_limited),
    Family("grantwarden_worker_restarts", "counter", "Tenant worker restarts after a crash", (T,), _worker_restarts),
    Family(
        "grantwarden_refusals_reported",
        "counter",
        "Refusals the integration reported through the hand-off, by outcome",
        ("outcome", T),
        _refusals,
    ),
    Family(
        "grantwarden_proxy_requests",
        "counter",
        "Requests through the in-path proxy by outcome",
        ("outcome", T),
        _proxy_requests,
    ),
)


async def render(store: series.Store, *, clock: clock_mod.Clock, chunk: int = CHUNK) -> bytes:
    """Every family of ``store`` in the text format, ``chunk`` tenants per turn of the loop."""
    entries = store.snapshot()
    parts = [[family.header.encode()] for family in FAMILIES]
    for start in range(0, len(entries), chunk):
        piece = entries[start : start + chunk]
        for family, out in zip(FAMILIES, parts, strict=True):
            out.append(family.text(piece).encode())
        await clock.sleep(0)  # let refreshes and probes run between chunks
    return b"".join(itertools.chain.from_iterable(parts))


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (Prometheus sends ``gzip``; q=0 refuses it).

    The server asks aiohttp to compress only then: aiohttp's own negotiation picks a coding by
    substring and ignores quality values, so ``gzip;q=0`` would still get gzip."""
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


class Collector(registry.Collector):
    """The store's families for ``CollectorRegistry.collect()``: the slow path tests read."""

    def __init__(self, store: series.Store) -> None:
        self._store = store

    def collect(self) -> Iterator[core.Metric]:
        entries = self._store.snapshot()
        for family in FAMILIES:
            yield family.metric(entries)

    def describe(self) -> Iterator[core.Metric]:
        """The names without samples, so the registry refuses a clashing metric at registration."""
        for family in FAMILIES:
            yield family.metric([])
