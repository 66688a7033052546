"""Permission evaluation, pure: wildcard policies, divisions, licences, ALL/ANY refusal codes.

Covers: wildcard entity and action matching; holdings per division and "*"; unlicensed
permissions never held; check (ALL → missing.permissions with the full list, ANY →
missing.any.permissions); check_object (missing.division.permission, and the ANY form with
several permissions); check_divisions (missing.any.division.permissions); listing visibility.
"""

from __future__ import annotations

import pytest

from grantwarden.simulator import catalog, model, permissions, rights
from grantwarden.simulator.permissions import Code, Kind, Requirement


def role(name: str, *patterns: str) -> model.Role:
    return model.Role(f"id-{name}", name, rights.policies_from(patterns))


@pytest.mark.parametrize(
    ("pattern", "permission", "granted"),
    [
        pytest.param("messaging:integration:view", "messaging:integration:view", True, id="exact"),
        pytest.param("messaging:integration:view", "messaging:integration:add", False, id="other-action"),
        pytest.param("messaging:*:view", "messaging:setting:view", True, id="wildcard-entity"),
        pytest.param("messaging:integration:*", "messaging:integration:delete", True, id="wildcard-action"),
        pytest.param("messaging:*:*", "messaging:supportedContent:edit", True, id="wildcard-both"),
        pytest.param("messaging:*:*", "webDeployments:deployment:view", False, id="other-domain"),
        pytest.param("routing:queue:view", "routing:queues:view", False, id="entity-is-not-a-prefix"),
    ],
)
def test_a_policy_grants_by_domain_entity_and_action_with_wildcards(
    pattern: str, permission: str, granted: bool
) -> None:
    assert rights.role_grants(role("r", pattern), permission) is granted


def test_patterns_of_one_entity_become_one_policy_with_an_action_set() -> None:
    (policy,) = rights.policies_from(["oauth:client:view", "oauth:client:edit"])
    assert (policy.domain, policy.entity, policy.actions) == ("oauth", "client", frozenset({"view", "edit"}))


def test_a_malformed_permission_is_refused() -> None:
    with pytest.raises(ValueError, match="domain:entity:action"):
        rights.split("messaging:view")


def test_holdings_are_the_divisions_paired_with_the_granting_roles() -> None:
    viewer, queues = role("viewer", "messaging:*:view"), role("queues", "routing:queue:view")
    held = rights.Holdings([(viewer, "home"), (queues, "emea")], catalog.ALL_PERMISSIONS)
    assert held.divisions("messaging:setting:view") == frozenset({"home"})
    assert held.holds("routing:queue:view", "emea")
    assert not held.holds("routing:queue:view", "home")
    assert held.role_ids == frozenset({"id-viewer", "id-queues"})


def test_holding_a_role_in_every_division_holds_it_in_any() -> None:
    held = rights.Holdings([(role("q", "routing:queue:view"), "*")], catalog.ALL_PERMISSIONS)
    assert held.holds("routing:queue:view", "any-division-at-all")


def test_an_unlicensed_permission_is_never_held_whatever_the_role_says() -> None:
    licensed = catalog.ALL_PERMISSIONS - {"webDeployments:configuration:view"}
    held = rights.Holdings([(role("wd", "webDeployments:*:view"), "*")], licensed)
    assert held.holds("webDeployments:deployment:view")
    assert not held.holds("webDeployments:configuration:view")


ALL_TWO = Requirement(Kind.ALL, ("a:b:view", "a:c:view"))
ANY_TWO = Requirement(Kind.ANY, ("a:b:view", "a:c:view"))
ANY_ONE = Requirement(Kind.ANY, ("a:b:view",))


def holding(*pairs: tuple[str, str]) -> rights.Holdings:
    universe = frozenset({"a:b:view", "a:c:view"})
    return rights.Holdings([(role(p, p), division) for p, division in pairs], universe)


@pytest.mark.parametrize(
    ("requirement", "held", "expected"),
    [
        pytest.param(ALL_TWO, [("a:b:view", "d1"), ("a:c:view", "d1")], None, id="all-held"),
        pytest.param(ALL_TWO, [("a:b:view", "d1")], Code.MISSING_PERMISSIONS, id="all-one-missing"),
        pytest.param(ANY_TWO, [("a:c:view", "d1")], None, id="any-one-held"),
        pytest.param(ANY_TWO, [], Code.MISSING_ANY_PERMISSIONS, id="any-none-held"),
    ],
)
def test_check_answers_all_and_any_with_their_codes(
    requirement: Requirement, held: list[tuple[str, str]], expected: Code | None
) -> None:
    refusal = permissions.check(holding(*held), requirement)
    assert (refusal.code if refusal else None) == expected
    if refusal is not None:
        assert refusal.permissions == requirement.permissions  # the message lists the full requirement


@pytest.mark.parametrize(
    ("requirement", "held", "expected"),
    [
        pytest.param(ANY_ONE, [("a:b:view", "d1")], None, id="held-in-the-division"),
        pytest.param(ANY_ONE, [("a:b:view", "*")], None, id="held-everywhere"),
        pytest.param(ANY_ONE, [("a:b:view", "d2")], Code.MISSING_DIVISION_PERMISSION, id="held-elsewhere"),
        pytest.param(ANY_ONE, [], Code.MISSING_ANY_PERMISSIONS, id="not-held-at-all"),
        pytest.param(ANY_TWO, [("a:c:view", "d2")], Code.MISSING_ANY_DIVISION_PERMISSIONS, id="any-of-two-elsewhere"),
        pytest.param(ALL_TWO, [("a:b:view", "d1"), ("a:c:view", "d2")], Code.MISSING_DIVISION_PERMISSION, id="all"),
    ],
)
def test_check_object_refuses_a_permission_held_only_in_other_divisions(
    requirement: Requirement, held: list[tuple[str, str]], expected: Code | None
) -> None:
    refusal = permissions.check_object(holding(*held), requirement, "d1")
    assert (refusal.code if refusal else None) == expected


def test_a_division_refusal_names_the_permission_and_the_division() -> None:
    refusal = permissions.check_object(holding(("a:b:view", "d2")), ANY_ONE, "d1")
    assert refusal == permissions.Refusal(Code.MISSING_DIVISION_PERMISSION, ("a:b:view",), ("d1",))


def test_asking_for_divisions_without_the_permission_there_is_missing_any_division_permissions() -> None:
    held = holding(("a:b:view", "d2"))
    assert permissions.check_divisions(held, ANY_ONE, ["d2"]) is None
    refusal = permissions.check_divisions(held, ANY_ONE, ["d1", "d3"])
    assert refusal == permissions.Refusal(Code.MISSING_ANY_DIVISION_PERMISSIONS, ("a:b:view",), ("d1", "d3"))


def test_a_listing_shows_the_divisions_where_any_required_permission_is_held() -> None:
    held = holding(("a:b:view", "d1"), ("a:c:view", "d2"))
    assert permissions.visible_divisions(held, ANY_TWO) == frozenset({"d1", "d2"})


def test_expanding_a_role_lists_the_catalogue_permissions_it_grants() -> None:
    expanded = permissions.expand(role("wd", "webDeployments:*:view"), catalog.ALL_PERMISSIONS)
    assert expanded == ["webDeployments:configuration:view", "webDeployments:deployment:view"]
