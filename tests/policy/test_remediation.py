"""remediation: additive PUT bodies, and the guard that decides whether to act at all.

Covers: roleDivisions and scopes appended once, every other field and entry kept as fetched,
the fetched object never mutated, unreadable lists refused; a property test over random clients,
allow-lists and missing sets that plan + apply only ever adds allow-listed roleDivisions; and
``decide`` for every mode, dry runs, the hourly cap (with when it lifts), repeated failures.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantwarden.policy import planning, remediation
from grantwarden.policy.labels import ManagedBy, Outcome, RegrantMode
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan
from grantwarden.policy.remediation import Action, Decision, HoldReason

from .roles import HOME, ORG_ROLES, OTHER

CLIENT: dict[str, Any] = {
    "id": "c-1",
    "name": "integration",
    "authorizedGrantType": "CLIENT-CREDENTIALS",
    "accessTokenValiditySeconds": 86400,
    "roleDivisions": [{"roleId": "r-org", "divisionId": HOME}],
    "state": "active",
    "dateCreated": "2024-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("client", "add", "expected"),
    [
        pytest.param(
            CLIENT,
            [RoleDivision("r-mv", HOME)],
            [{"roleId": "r-org", "divisionId": HOME}, {"roleId": "r-mv", "divisionId": HOME}],
            id="appends",
        ),
        pytest.param(
            CLIENT,
            [RoleDivision("r-org", HOME), RoleDivision("r-mv", "*"), RoleDivision("r-mv", "*")],
            [{"roleId": "r-org", "divisionId": HOME}, {"roleId": "r-mv", "divisionId": "*"}],
            id="no-duplicates",
        ),
        pytest.param(
            CLIENT,
            [RoleDivision("r-org", OTHER)],
            [{"roleId": "r-org", "divisionId": HOME}, {"roleId": "r-org", "divisionId": OTHER}],
            id="same-role-other-division",
        ),
        pytest.param(
            {"name": "n", "authorizedGrantType": "CLIENT-CREDENTIALS"},
            [RoleDivision("r-mv", HOME)],
            [{"roleId": "r-mv", "divisionId": HOME}],
            id="no-role-divisions-yet",
        ),
        pytest.param(
            {"name": "n", "roleDivisions": ["junk", {"roleId": "r-x"}]},
            [RoleDivision("r-mv", HOME)],
            ["junk", {"roleId": "r-x"}, {"roleId": "r-mv", "divisionId": HOME}],
            id="odd-entries-kept-as-they-were",
        ),
        pytest.param(CLIENT, [], CLIENT["roleDivisions"], id="nothing-to-add"),
    ],
)
def test_apply_roles(client: dict[str, Any], add: list[RoleDivision], expected: list[Any]) -> None:
    before = copy.deepcopy(client)
    body = remediation.apply_roles(client, add)
    assert body["roleDivisions"] == expected
    assert {k: v for k, v in body.items() if k != "roleDivisions"} == {
        k: v for k, v in client.items() if k != "roleDivisions"
    }
    assert client == before


@pytest.mark.parametrize(
    ("client", "add", "expected"),
    [
        pytest.param(
            {"name": "n", "scope": ["organization:readonly"]},
            ["messaging:readonly"],
            ["organization:readonly", "messaging:readonly"],
            id="appends",
        ),
        pytest.param(
            {"name": "n", "scope": ["messaging:readonly"]},
            ["messaging:readonly"],
            ["messaging:readonly"],
            id="no-duplicate",
        ),
        pytest.param({"name": "n"}, ["messaging:readonly"], ["messaging:readonly"], id="no-scope-yet"),
    ],
)
def test_apply_scopes(client: dict[str, Any], add: list[str], expected: list[str]) -> None:
    before = copy.deepcopy(client)
    body = remediation.apply_scopes(client, add)
    assert body["scope"] == expected
    assert body["name"] == "n"
    assert client == before


@pytest.mark.parametrize(
    ("apply", "client"),
    [
        pytest.param(
            lambda c: remediation.apply_roles(c, [RoleDivision("r", "d")]), {"roleDivisions": {"r": "d"}}, id="roles"
        ),
        pytest.param(lambda c: remediation.apply_scopes(c, ["s"]), {"scope": "messaging"}, id="scopes"),
    ],
)
def test_unreadable_lists_are_refused(apply: Any, client: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a list"):
        apply(client)


PERMISSIONS = [
    "messaging:integration:view",
    "messaging:setting:view",
    "webDeployments:deployment:view",
    "webDeployments:configuration:view",
    "routing:queue:view",
    "journey:actionmap:view",
]
ROLE_IDS = [r.id for r in ORG_ROLES]
ROLE_NAMES = [r.name for r in ORG_ROLES]
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
entries = st.fixed_dictionaries(
    {"roleId": st.sampled_from([*ROLE_IDS, "r-foreign"]), "divisionId": st.sampled_from([HOME, OTHER, "*"])}
)
clients = st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "authorizedGrantType": st.just("CLIENT-CREDENTIALS"),
        "roleDivisions": st.lists(entries, max_size=6),
    },
    optional={
        "description": json_scalars,
        "scope": st.lists(st.text(max_size=5), max_size=3),
        "registeredRedirectUri": st.lists(st.text(max_size=5), max_size=2),
        "extra": st.dictionaries(st.text(max_size=4), json_scalars, max_size=3),
    },
)


@settings(database=None, max_examples=300, deadline=None)
@given(
    client=clients,
    allow=st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=4, unique=True),
    missing=st.frozensets(st.sampled_from(PERMISSIONS), min_size=1, max_size=3),
    requirement=st.sampled_from(Requirement),
    division=st.sampled_from(["home", "*", OTHER]),
    admin=st.just(frozenset(ROLE_IDS)) | st.none() | st.frozensets(st.sampled_from(ROLE_IDS)),
    licensed=st.none() | st.just(frozenset(PERMISSIONS)) | st.frozensets(st.sampled_from(PERMISSIONS)),
)
def test_plan_then_apply_only_ever_adds_allow_listed_role_divisions(
    client: dict[str, Any],
    allow: list[str],
    missing: frozenset[str],
    requirement: Requirement,
    division: str,
    admin: frozenset[str] | None,
    licensed: frozenset[str] | None,
) -> None:
    before = copy.deepcopy(client)
    held = [RoleDivision(e["roleId"], e["divisionId"]) for e in client["roleDivisions"]]
    result = planning.plan_roles(
        missing=missing,
        requirement=requirement,
        allow_roles=allow,
        division=division,
        home_division_id=HOME,
        org_roles=ORG_ROLES,
        client_role_divisions=held,
        licensed=licensed,
        admin_role_ids=admin,
    )
    if not isinstance(result, RolePlan):
        return
    body = remediation.apply_roles(client, result.add)
    original = client["roleDivisions"]
    added = body["roleDivisions"][len(original) :]
    allowed_ids = {r.id for r in ORG_ROLES if r.name in allow}
    assert client == before
    assert body["roleDivisions"][: len(original)] == original
    assert {k: v for k, v in body.items() if k != "roleDivisions"} == {
        k: v for k, v in client.items() if k != "roleDivisions"
    }
    assert added
    assert all(e["roleId"] in allowed_ids for e in added)
    assert all(e not in original for e in added)
    assert len({(e["roleId"], e["divisionId"]) for e in added}) == len(added)
    assert admin is not None
    assert all(e["roleId"] in admin for e in added)


@settings(database=None, max_examples=200, deadline=None)
@given(client=clients, add=st.lists(st.builds(RoleDivision, st.sampled_from(ROLE_IDS), st.sampled_from([HOME, "*"]))))
def test_apply_roles_never_removes_anything(client: dict[str, Any], add: list[RoleDivision]) -> None:
    body = remediation.apply_roles(client, add)
    pairs = {(e["roleId"], e["divisionId"]) for e in body["roleDivisions"]}
    assert all((e["roleId"], e["divisionId"]) in pairs for e in client["roleDivisions"])
    assert all((a.role_id, a.division_id) in pairs for a in add)
    assert len(body["roleDivisions"]) == len(client["roleDivisions"]) + len(
        {(a.role_id, a.division_id) for a in add} - {(e["roleId"], e["divisionId"]) for e in client["roleDivisions"]}
    )


NOW = 1_700_000_000.0
ROLE_PLAN = RolePlan(
    add=(RoleDivision("r-mv", HOME),), role_names=("Messaging Viewer",), covers=frozenset({"m:i:v"}), division_id=HOME
)
SCOPE_PLAN = ScopePlan(add=("messaging:readonly",))
PROPAGATING = Refusal(RefusalReason.ALREADY_GRANTED, "held")
NOT_LISTED = Refusal(RefusalReason.NOT_ALLOW_LISTED, "no")
MISSING = [Outcome.MISSING_PERMISSION]


def decide(**overrides: Any) -> Decision:
    kwargs: dict[str, Any] = {
        "mode": RegrantMode.REMEDIATE,
        "dry_run": False,
        "outcomes": MISSING,
        "plans": [ROLE_PLAN],
        "recent_attempt_times": [],
        "now": NOW,
        "max_per_hour": 4,
        "consecutive_failures": 0,
    }
    kwargs.update(overrides)
    return remediation.decide(**kwargs)


@pytest.mark.parametrize(
    ("overrides", "action", "would", "hold"),
    [
        pytest.param({}, Action.REMEDIATE, Action.REMEDIATE, None, id="remediate-a-role-plan"),
        pytest.param(
            {"plans": [SCOPE_PLAN], "outcomes": [Outcome.MISSING_SCOPE]},
            Action.REMEDIATE,
            Action.REMEDIATE,
            None,
            id="remediate-a-scope-plan",
        ),
        pytest.param({"mode": RegrantMode.OFF}, Action.NONE, Action.NONE, None, id="mode-off"),
        pytest.param(
            {"mode": RegrantMode.REISSUE}, Action.REISSUE, Action.REISSUE, None, id="reissue-mode-only-re-mints"
        ),
        pytest.param(
            {"mode": RegrantMode.REISSUE, "plans": [NOT_LISTED]},
            Action.REISSUE,
            Action.REISSUE,
            None,
            id="reissue-mode-whatever-the-plan",
        ),
        pytest.param(
            {"mode": RegrantMode.REISSUE, "plans": [SCOPE_PLAN], "outcomes": [Outcome.MISSING_SCOPE]},
            Action.NONE,
            Action.NONE,
            None,
            id="reissue-cannot-fix-scopes",
        ),
        pytest.param({"plans": [PROPAGATING]}, Action.REISSUE, Action.REISSUE, None, id="already-granted-re-mints"),
        pytest.param(
            {"managed_by": ManagedBy.TERRAFORM}, Action.NONE, Action.NONE, None, id="terraform-managed-never-edited"
        ),
        pytest.param(
            {"managed_by": ManagedBy.TERRAFORM, "plans": [SCOPE_PLAN], "outcomes": [Outcome.MISSING_SCOPE]},
            Action.NONE,
            Action.NONE,
            None,
            id="terraform-managed-scopes-neither",
        ),
        pytest.param(
            {"managed_by": ManagedBy.TERRAFORM, "plans": [PROPAGATING]},
            Action.REISSUE,
            Action.REISSUE,
            None,
            id="terraform-managed-may-still-re-mint",
        ),
        pytest.param({"plans": [NOT_LISTED]}, Action.NONE, Action.NONE, None, id="refused-does-nothing"),
        pytest.param({"plans": [], "outcomes": [Outcome.OK]}, Action.NONE, Action.NONE, None, id="all-ok"),
        pytest.param(
            {"plans": [], "outcomes": [Outcome.SERVER_ERROR]},
            Action.NONE,
            Action.NONE,
            None,
            id="transport-is-not-a-regrant-matter",
        ),
        pytest.param({"dry_run": True}, Action.DRY_RUN, Action.REMEDIATE, None, id="dry-run"),
        pytest.param(
            {"dry_run": True, "consecutive_failures": 9, "recent_attempt_times": [NOW] * 9},
            Action.DRY_RUN,
            Action.REMEDIATE,
            None,
            id="dry-run-ignores-guards",
        ),
        pytest.param(
            {"consecutive_failures": 3},
            Action.HOLD,
            Action.REMEDIATE,
            HoldReason.TOO_MANY_FAILURES,
            id="too-many-failures",
        ),
        pytest.param(
            {"consecutive_failures": 2}, Action.REMEDIATE, Action.REMEDIATE, None, id="two-failures-still-acts"
        ),
        pytest.param(
            {"consecutive_failures": 1, "max_failures": 1},
            Action.HOLD,
            Action.REMEDIATE,
            HoldReason.TOO_MANY_FAILURES,
            id="custom-max-failures",
        ),
        pytest.param(
            {"recent_attempt_times": [NOW - 100, NOW - 200, NOW - 300, NOW - 400]},
            Action.HOLD,
            Action.REMEDIATE,
            HoldReason.RATE_CAP,
            id="hourly-cap",
        ),
        pytest.param(
            {"recent_attempt_times": [NOW - 3600, NOW - 3700, NOW - 200, NOW - 300]},
            Action.REMEDIATE,
            Action.REMEDIATE,
            None,
            id="old-attempts-leave-the-window",
        ),
        pytest.param(
            {"plans": [PROPAGATING], "recent_attempt_times": [NOW - 1] * 4},
            Action.HOLD,
            Action.REISSUE,
            HoldReason.RATE_CAP,
            id="re-mints-share-the-cap",
        ),
    ],
)
def test_decide(overrides: dict[str, Any], action: Action, would: Action, hold: HoldReason | None) -> None:
    decision = decide(**overrides)
    assert (decision.action, decision.would, decision.hold) == (action, would, hold)
    assert decision.detail or action in (Action.REMEDIATE, Action.REISSUE)


def test_rate_cap_says_when_it_lifts() -> None:
    times = [NOW - 3000, NOW - 100, NOW - 2000, NOW - 50, NOW - 10]
    decision = decide(recent_attempt_times=times, max_per_hour=4)
    # Five attempts in the window, cap four: two must leave, the second oldest at NOW - 2000 + 1 h.
    assert decision.retry_at == NOW - 2000 + 3600
