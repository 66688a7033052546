"""Tenant inheritance and where an inherited value was written.

Covers: ``Family.origin`` as a table (a tenant's own value, a parent's, a grandparent's, a
default, a missing one; comparisons of two settings at the most specific place that wrote one
of them; the hosts at the tenant that named them); and through the loader, a wrong value that
many tenants inherit (from ``defaults`` or a parent) is one problem at the place it is written,
while a tenant's own wrong value stays its own; an inheritance cycle is told at each tenant on
it, not at a tenant that only leads into it.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.config import inheritance
from grantwarden.config import loading as configfile

TENANTS: list[dict[str, Any]] = [
    {"name": "root", "region": "us-east-1", "regrant": {"mode": "x"}, "refresh": {"at_fraction": 0.05}},
    {"name": "mid", "parent": "root", "probe_interval": 2},
    {"name": "leaf", "parent": "mid", "regrant": {"dry_run": True}},
    {"name": "own", "api_base_url": "http://h", "login_base_url": "http://h", "probe_timeout": 1},
]
FAMILY = inheritance.Family(TENANTS, [[], [0], [1, 0], []], {"probe_timeout": 10, "regrant": {"max_per_hour": 9}})


@pytest.mark.parametrize(
    ("index", "loc", "kind", "origin"),
    [
        pytest.param(0, ("regrant", "mode"), "enum", ("tenants", 0, "regrant", "mode"), id="own"),
        pytest.param(2, ("regrant", "mode"), "enum", ("tenants", 0, "regrant", "mode"), id="grandparent"),
        pytest.param(
            2, ("regrant", "dry_run"), "bool", ("tenants", 2, "regrant", "dry_run"), id="own-beside-inherited"
        ),
        pytest.param(2, ("probe_interval",), "x", ("tenants", 1, "probe_interval"), id="parent"),
        pytest.param(2, ("regrant", "max_per_hour"), "x", ("defaults", "regrant", "max_per_hour"), id="defaults"),
        pytest.param(3, ("regrant", "max_per_hour"), "x", ("defaults", "regrant", "max_per_hour"), id="no-parent"),
        pytest.param(2, ("org_id",), "missing", ("tenants", 2, "org_id"), id="never-inherited"),
        pytest.param(2, ("region",), "x", ("tenants", 0, "region"), id="hosts-from-an-ancestor"),
        pytest.param(
            2,
            ("probe_timeout",),
            "timeout_not_below_interval",
            ("tenants", 1, "probe_timeout"),
            id="timeout-at-the-parent-that-set-the-interval",
        ),
        pytest.param(
            3,
            ("probe_timeout",),
            "timeout_not_below_interval",
            ("tenants", 3, "probe_timeout"),
            id="timeout-own",
        ),
        pytest.param(
            2,
            ("refresh", "jitter_fraction"),
            "jitter_not_below_fraction",
            ("tenants", 0, "refresh", "jitter_fraction"),
            id="jitter-where-at-fraction-was-set",
        ),
        pytest.param(2, ("login_base_url",), "tenant_hosts", ("tenants", 0), id="hosts-at-the-tenant-naming-them"),
        pytest.param(3, ("login_base_url",), "tenant_hosts", ("tenants", 3), id="hosts-own"),
    ],
)
def test_origin_is_where_the_failing_value_was_written(
    index: int, loc: tuple[Any, ...], kind: str, origin: tuple[Any, ...]
) -> None:
    assert FAMILY.origin(index, loc, kind) == origin


def tenant(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "org_id": f"org-{name}",
        "credentials": {"client_id": f"client-{name}", "client_secret": {"env": "S"}},
        **({"region": "us-east-1"} if "parent" not in fields else {}),
        **fields,
    }


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.load_mapping(raw, source="gw.yaml", environ={})
    return caught.value.lines()


def test_a_wrong_value_in_a_parent_is_one_problem_at_the_parent() -> None:
    children = [tenant(f"child-{i}", parent="acme") for i in range(20)]
    raw = {"tenants": [tenant("acme", regrant={"mode": "yolo", "colour": 1}), *children]}
    assert problems(raw) == [
        "gw.yaml: tenants[0].regrant.mode: Input should be 'off', 'reissue' or 'remediate'",
        "gw.yaml: tenants[0].regrant.colour: unknown setting (check its spelling and indentation)",
    ]


def test_an_unknown_blueprint_named_by_a_parent_is_one_problem_at_the_parent() -> None:
    raw = {
        "blueprints": {"core": {}, "edge": {}},
        "tenants": [tenant("acme", blueprint="cor"), tenant("acme-eu", parent="acme")],
    }
    assert problems(raw) == ["gw.yaml: tenants[0].blueprint: unknown blueprint 'cor'; defined: 'core', 'edge'"]


def test_a_childs_own_wrong_value_stays_its_own() -> None:
    raw = {"tenants": [tenant("acme", regrant={"mode": "yolo"}), tenant("acme-eu", parent="acme", probe_timeout="x")]}
    assert problems(raw) == [
        "gw.yaml: tenants[0].regrant.mode: Input should be 'off', 'reissue' or 'remediate'",
        "gw.yaml: tenants[1].probe_timeout: a duration is a number of seconds or a string such as 500ms, 30s, 5m, 2h",
    ]


def test_defaults_that_contradict_a_built_in_default_are_one_problem_in_defaults() -> None:
    raw = {"defaults": {"probe_interval": "5s"}, "tenants": [tenant(f"t{i}") for i in range(10)]}
    assert problems(raw) == [
        "gw.yaml: defaults.probe_timeout: probe_timeout (10s) must be shorter than probe_interval (5s)"
    ]


def test_hosts_named_twice_by_a_parent_are_one_problem_at_the_parent() -> None:
    parent = tenant("acme", api_base_url="http://127.0.0.1:1", login_base_url="http://127.0.0.1:1")
    raw = {"tenants": [parent, tenant("acme-eu", parent="acme"), tenant("acme-us", parent="acme")]}
    assert [line.split(": give region")[0] for line in problems(raw)] == [
        "gw.yaml: tenants[0]: region is given with api_base_url and login_base_url"
    ]


def test_a_cycle_is_told_at_each_tenant_on_it_and_not_at_one_leading_into_it() -> None:
    raw = {
        "tenants": [
            tenant("a", parent="b", region="us-east-1"),
            tenant("b", parent="a", region="us-east-1"),
            tenant("c", parent="a", region="us-east-1"),
        ]
    }
    assert problems(raw) == [
        "gw.yaml: tenants[0].parent: inheritance cycle: 'a' -> 'b' -> 'a'",
        "gw.yaml: tenants[1].parent: inheritance cycle: 'b' -> 'a' -> 'b'",
    ]
