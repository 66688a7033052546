"""Refusals the integration reported, kept as observed probes until they are settled.

A 403 the integration met (``access.Access.report_refusal``) says more than any built-in probe:
it names the very operation the integration needs. It is kept here under its operation name
(``policy.traffic.operation``) and merged into the tenant's next passes, so diagnosis, planning,
the guard rails and re-grants treat it like a probe. How each one ends:

* a GET is probed again by the tenant's own cycles (``probe_defs``): a pass resolves it, another
  refusal keeps it, a transient answer leaves it as it was, anything else (a 404: the object is
  gone) drops it;
* any other method is never repeated by grantwarden (it could send a message twice): it stays as
  reported until a re-grant attempt follows the report, then waits for the integration's next
  report of it, or expires;
* every observation expires ``TTL_S`` after its last report; at most ``CAPACITY`` per tenant,
  the least recently reported going first.

Only the event loop touches it. Names dropped are handed back so that the caller can forget
their status records and metric series (``retired``).
"""

from __future__ import annotations

import dataclasses

from grantwarden.base import clock as clock_mod
from grantwarden.policy import catalog, labels, traffic
from grantwarden.policy.forbidden import Verdict
from grantwarden.worker import probing
from grantwarden.worker import status as health

TTL_S = 3600.0  # an observation nobody reports again for an hour is dropped
CAPACITY = 16  # operations observed per tenant at most


@dataclasses.dataclass(slots=True)
class Observation:
    name: str
    method: str
    path: str  # without the query: shown in /status
    reprobe: str | None  # what a GET re-probe asks for; None for other methods
    verdict: Verdict
    correlation_id: str | None
    reported_at: float
    diagnosed_at: float | None = None  # when a report of it last woke the tenant's loop
    reports: int = 1

    def record(self) -> health.ProbeRecord:
        v = self.verdict
        return health.ProbeRecord(
            self.name, v.outcome, v.status, v.code, v.message, 0.0, self.reported_at, self.correlation_id
        )


class Observed:
    __slots__ = ("_clock", "_items", "retired")

    def __init__(self, *, clock: clock_mod.Clock) -> None:
        self._clock = clock
        self._items: dict[str, Observation] = {}
        self.retired: set[str] = set()  # names dropped whose records the caller has not forgotten yet

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name: str) -> Observation | None:
        return self._items.get(name)

    def record(self, fresh: Observation, *, interval_s: float) -> bool:
        """Keep ``fresh`` (or update the observation of its name); True when the tenant's loop
        should be woken to diagnose it: at most once per operation per ``interval_s``."""
        now = self._clock.now()
        known = self._items.get(fresh.name)
        if known is None:
            if len(self._items) >= CAPACITY:
                self._drop(min(self._items.values(), key=lambda o: o.reported_at).name)
            known = self._items[fresh.name] = fresh
            self.retired.discard(fresh.name)
        else:
            known.verdict, known.correlation_id = fresh.verdict, fresh.correlation_id
            known.reported_at, known.reports = now, known.reports + 1
            known.reprobe = fresh.reprobe
        if not traffic.due(known.diagnosed_at, now, interval_s):
            return False
        known.diagnosed_at = now
        return True

    def probe_defs(self) -> tuple[catalog.ProbeDef, ...]:
        """The observed GETs, for the tenant's prober to repeat."""
        return tuple(catalog.ProbeDef(o.name, o.reprobe) for o in self._items.values() if o.reprobe is not None)

    def merge(self, observed: probing.Pass, *, last_attempt_at: float | None) -> probing.Pass:
        """``observed`` with what the integration reported, each observation settled as the module
        docstring says. A pass whose identity check failed is left as it was: its probes did not run."""
        token = observed.verdicts.get(catalog.TOKEN)
        if token is None or token.outcome is not labels.Outcome.OK or not self._items:
            return observed
        now = self._clock.now()
        verdicts, records = dict(observed.verdicts), dict(observed.records)
        for obs in list(self._items.values()):
            if now - obs.reported_at > TTL_S:
                self._drop(obs.name)
            elif obs.reprobe is not None:
                self._settle(obs, verdicts, records)
            elif last_attempt_at is None or last_attempt_at < obs.reported_at:
                verdicts[obs.name], records[obs.name] = obs.verdict, obs.record()
            # else: a re-grant attempt followed the report; the next report (or the expiry) tells
        return dataclasses.replace(observed, verdicts=verdicts, records=records)

    def _settle(self, obs: Observation, verdicts: dict[str, Verdict], records: dict[str, health.ProbeRecord]) -> None:
        fresh = verdicts.get(obs.name)
        if fresh is None or fresh.outcome in traffic.TRANSIENT:
            return
        if fresh.outcome is labels.Outcome.OK:
            self._drop(obs.name)  # the pass's ok record stays: the refusal is over
        elif fresh.outcome in traffic.DIAGNOSED or fresh.outcome is labels.Outcome.UNAUTHORIZED:
            obs.verdict = fresh
        else:
            self._drop(obs.name)
            verdicts.pop(obs.name)
            records.pop(obs.name, None)

    def _drop(self, name: str) -> None:
        del self._items[name]
        self.retired.add(name)
