"""observed: refusals the integration reported, merged into the tenant's passes until settled.

Covers: a report wakes the loop once per operation per interval, a report of another operation
wakes it too; at most ``CAPACITY`` operations, the least recently reported going; a non-GET is
merged as reported, not after a re-grant attempt followed it, again after a new report; every
observation expires an hour after its last report; a GET is only ever what its re-probe says:
a pass drops it, a refusal keeps it, a transient answer leaves it, anything else (a 404) drops it
from the store and the pass; a pass whose identity check failed is left alone; dropped names are
handed back (``retired``) for their records to be forgotten.
"""

from __future__ import annotations

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.policy import catalog, labels, traffic
from grantwarden.policy.forbidden import Verdict
from grantwarden.worker import observed
from tests.worker import accesses

DENIED = Verdict(labels.Outcome.MISSING_PERMISSION, status=403, code="missing.permissions", permissions=("a:b:c",))
POST_PATH = "/api/v2/conversations/messages/agentless"
GET_PATH = "/api/v2/conversations/messaging/settings"


def report(clock: clock_mod.Clock, method: str = "POST", path: str = POST_PATH) -> observed.Observation:
    reprobe = traffic.reprobe_path(method, path, "")
    name = traffic.operation(method, path)
    return observed.Observation(name, method, path, reprobe, DENIED, "corr-1", clock.now())


def test_reports_of_one_operation_wake_the_loop_once_per_interval() -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    woken = [store.record(report(clock), interval_s=60.0) for _ in range(50)]
    assert woken == [True] + [False] * 49
    assert store.record(report(clock, "GET", GET_PATH), interval_s=60.0), "another operation is diagnosed too"
    clock.jump(60)
    assert store.record(report(clock), interval_s=60.0)
    assert store.get(traffic.operation("POST", POST_PATH)).reports == 51  # type: ignore[union-attr]


def test_at_most_capacity_operations_are_kept_the_least_recently_reported_going_first() -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    names = []
    for index in range(observed.CAPACITY + 1):
        clock.jump(1)
        fresh = report(clock, "POST", f"/api/v2/things{'x' * index}")
        names.append(fresh.name)
        store.record(fresh, interval_s=60.0)
    assert len(store) == observed.CAPACITY
    assert store.get(names[0]) is None
    assert store.retired == {names[0]}


def test_a_non_get_is_merged_as_reported_until_a_regrant_attempt_follows_it() -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    fresh = report(clock)
    store.record(fresh, interval_s=60.0)
    merged = store.merge(accesses.passed(), last_attempt_at=None)
    assert merged.verdicts[fresh.name] == DENIED
    assert merged.records[fresh.name].correlation_id == "corr-1"
    assert store.probe_defs() == (), "never repeated by grantwarden"
    clock.jump(5)
    waiting = store.merge(accesses.passed(), last_attempt_at=clock.now())
    assert fresh.name not in waiting.verdicts, "a re-grant followed: the next report tells"
    clock.jump(5)
    store.record(report(clock), interval_s=60.0)
    assert fresh.name in store.merge(accesses.passed(), last_attempt_at=clock.now() - 5).verdicts


def test_an_observation_expires_an_hour_after_its_last_report() -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    fresh = report(clock)
    store.record(fresh, interval_s=60.0)
    clock.jump(observed.TTL_S - 1)
    assert fresh.name in store.merge(accesses.passed(), last_attempt_at=None).verdicts
    clock.jump(2)
    assert fresh.name not in store.merge(accesses.passed(), last_attempt_at=None).verdicts
    assert len(store) == 0
    assert store.retired == {fresh.name}


@pytest.mark.parametrize(
    ("outcome", "status", "kept", "in_pass"),
    [
        pytest.param(labels.Outcome.OK, 200, False, True, id="passes-resolved"),
        pytest.param(labels.Outcome.MISSING_PERMISSION, 403, True, True, id="still-refused"),
        pytest.param(labels.Outcome.TIMEOUT, None, True, True, id="transient-kept"),
        pytest.param(labels.Outcome.UNEXPECTED_STATUS, 404, False, False, id="gone-dropped"),
    ],
)
def test_a_get_is_what_its_reprobe_says(outcome: labels.Outcome, status: int | None, kept: bool, in_pass: bool) -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    fresh = report(clock, "GET", GET_PATH)
    store.record(fresh, interval_s=60.0)
    (probe,) = store.probe_defs()
    assert (probe.name, probe.path, probe.method) == (fresh.name, GET_PATH, "GET")
    merged = store.merge(accesses.passed(**{fresh.name: Verdict(outcome, status=status)}), last_attempt_at=None)
    assert (store.get(fresh.name) is not None) is kept
    assert (fresh.name in merged.verdicts) is in_pass
    assert (fresh.name in merged.records) is in_pass


def test_a_get_not_probed_in_a_pass_is_not_merged_from_the_report() -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    fresh = report(clock, "GET", GET_PATH)
    store.record(fresh, interval_s=60.0)
    assert fresh.name not in store.merge(accesses.passed(), last_attempt_at=None).verdicts


@pytest.mark.parametrize("identity", [accesses.wrong_org, accesses.failed], ids=["wrong-org", "failed"])
def test_a_pass_whose_identity_check_failed_is_left_as_it_was(identity: object) -> None:
    clock = clock_mod.ManualClock()
    store = observed.Observed(clock=clock)
    store.record(report(clock), interval_s=60.0)
    observed_pass = identity()  # type: ignore[operator]
    assert store.merge(observed_pass, last_attempt_at=None) is observed_pass
    assert catalog.TOKEN in observed_pass.verdicts
