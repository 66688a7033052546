"""Each tenant's metric series as plain data: cheap to update, cheap to keep, quick to render.

prometheus_client gives every labelled child an object of its own, with a lock and a value cell:
about 13 KiB per tenant with six probes, and a ``labels()`` lookup (argument checks, a lock, a
dict) on every update. At 10,000 tenants that was most of the daemon's memory and a good part of
its CPU per probe. Here a tenant's series are one ``TenantSeries`` of ints, floats and small dicts
keyed by the label enums; its worker holds a reference and writes fields directly.

A series exists from its first value on, as a prometheus_client child did (a tenant never rate
limited has no ``grantwarden_rate_limited_total`` series), so the per-tenant budget of
``daemon/grantwarden/telemetry/metrics.py`` holds unchanged. Label values are escaped for the text format once, when
a tenant or probe first appears, never per scrape. Only the event loop writes the store and only
the event loop reads it (``exposition``), so nothing here locks. ``Store.forget`` is one dict
pop: a writer that still holds the dropped entry (a worker being cancelled) writes into nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from grantwarden.policy import labels


def escape(value: str) -> str:
    """A label value as the text format 0.0.4 spells it: backslash, newline and double quote
    escaped, in prometheus_client's order. The very same object when there is nothing to escape."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


class ProbeSeries:
    """One probe of one tenant: ``probe_success``, ``probe_http_status``, ``probe_outcomes_total``.

    Nearly every run is ``ok``: that count has a field of its own, and a dict for the other
    outcomes exists only once one happened (six dicts fewer per healthy tenant, 1.3 KiB).
    """

    __slots__ = ("failures", "http_status", "label", "ok", "success")

    def __init__(self, name: str) -> None:
        self.label = escape(name)
        self.success = 0
        self.http_status = 0
        self.ok = 0
        self.failures: dict[labels.Outcome, int] | None = None

    def outcomes(self) -> list[tuple[labels.Outcome, int]]:
        """Runs by outcome, ``ok`` first, the others as they first happened; only counts above 0."""
        counted = [(labels.Outcome.OK, self.ok)] if self.ok else []
        return counted + list(self.failures.items()) if self.failures else counted


class TenantSeries:
    """Everything ``/metrics`` shows of one tenant; ``None`` and empty mean "no series yet"."""

    __slots__ = (
        "label",
        "missing",
        "name",
        "probes",
        "proxy_requests",
        "rate_limited",
        "refusals",
        "regrants",
        "state",
        "token_expiry",
        "token_refresh",
        "token_requests",
        "worker_restarts",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.label = escape(name)
        self.state: labels.State | None = None
        self.token_expiry: float | None = None
        self.token_refresh: float | None = None
        self.token_requests: dict[labels.TokenResult, int] = {}
        self.probes: dict[str, ProbeSeries] = {}
        self.missing: tuple[str, ...] = ()  # sorted, so that scrapes list them in a stable order
        self.regrants: dict[labels.RegrantResult, int] = {}
        self.rate_limited = 0
        self.worker_restarts = 0
        self.refusals: dict[labels.Outcome, int] | None = None  # only with a hand-off: reported refusals
        self.proxy_requests: dict[str, int] | None = None  # by outcome; None until the proxy served one

    def record_probe(self, probe: str, outcome: labels.Outcome, http_status: int) -> None:
        """One probe run: its success gauge, its status gauge (0 for no response), its outcome count."""
        series = self.probes.get(probe)
        if series is None:
            series = self.probes[probe] = ProbeSeries(probe)
        series.http_status = http_status
        if outcome is labels.Outcome.OK:
            series.success = 1
            series.ok += 1
            return
        series.success = 0
        if series.failures is None:
            series.failures = {}
        series.failures[outcome] = series.failures.get(outcome, 0) + 1

    def count_token_request(self, result: labels.TokenResult) -> None:
        self.token_requests[result] = self.token_requests.get(result, 0) + 1

    def count_refusal(self, outcome: labels.Outcome) -> None:
        """A refusal the integration reported through the hand-off."""
        if self.refusals is None:
            self.refusals = {}
        self.refusals[outcome] = self.refusals.get(outcome, 0) + 1

    def count_proxy_request(self, outcome: str) -> None:
        """One request through the in-path proxy, by its outcome label (a bounded vocabulary)."""
        if self.proxy_requests is None:
            self.proxy_requests = {}
        self.proxy_requests[outcome] = self.proxy_requests.get(outcome, 0) + 1

    def count_regrant(self, result: labels.RegrantResult) -> None:
        self.regrants[result] = self.regrants.get(result, 0) + 1

    def set_missing(self, permissions: Iterable[str]) -> None:
        """The permissions refused right now; the others' series go away."""
        self.missing = tuple(sorted(set(permissions)))


class Store:
    """The tenants' series by name, in the order the tenants first appeared."""

    def __init__(self) -> None:
        self._tenants: dict[str, TenantSeries] = {}

    def __len__(self) -> int:
        return len(self._tenants)

    def tenant(self, name: str) -> TenantSeries:
        """The tenant's series, created empty on first use."""
        series = self._tenants.get(name)
        if series is None:
            series = self._tenants[name] = TenantSeries(name)
        return series

    def forget(self, name: str) -> None:
        self._tenants.pop(name, None)

    def snapshot(self) -> list[TenantSeries]:
        """The entries as of now: a render walks this list while tenants come and go."""
        return list(self._tenants.values())
