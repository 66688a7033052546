"""fleet: which tenants a replica runs, and what a change to each of them means.

Covers: the shard from the config, the environment or the StatefulSet pod name, and otherwise
a clear error; the identity key changes with the org, the hosts, the grant, the client, a secret
reference or a literal secret's value, and the admin credentials, and with nothing else; the
settings key changes with the interval, timeout, concurrency, refresh and re-grant settings and
the blueprint (its name or what it holds), and tenants that run alike share one key object; a
server-level secret must always resolve, a tenant's only in strict mode, and a tenant's that does
not is a warning naming the path and the variable, never a value.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.app import fleet
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings

BASE: dict[str, Any] = {
    "name": "acme",
    "org_id": "org-1",
    "region": "eu-west-1",
    "credentials": {"client_id": "client-1", "client_secret": {"env": "ACME_SECRET"}},
    "admin_credentials": {"client_id": "admin-1", "client_secret": {"file": "/run/secrets/admin"}},
}


def load(*tenants: dict[str, Any], **top: Any) -> configfile.Loaded:
    return configfile.load_mapping({"tenants": list(tenants), **top}, source="gw.yaml", environ={})


def one(**changes: Any) -> settings.Tenant:
    return load({**BASE, **changes}).settings.tenants[0]


def shard_settings(index: int | None, count: int) -> settings.Settings:
    return settings.Settings(sharding=settings.ShardingSettings(index=index, count=count))


@pytest.mark.parametrize(
    ("index", "count", "environ", "expected"),
    [
        pytest.param(None, 1, {}, (0, 1), id="one-shard"),
        pytest.param(2, 4, {"POD_NAME": "grantwarden-0"}, (2, 4), id="config-wins"),
        pytest.param(None, 3, {"POD_NAME": "grantwarden-2"}, (2, 3), id="statefulset-ordinal"),
        pytest.param(None, 3, {"HOSTNAME": "grantwarden-1"}, (1, 3), id="hostname"),
    ],
)
def test_the_shard_comes_from_the_config_or_the_pod_name(
    index: int | None, count: int, environ: dict[str, str], expected: tuple[int, int]
) -> None:
    assert fleet.resolve_shard(shard_settings(index, count), environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({}, "needs sharding.index", id="no-hint"),
        pytest.param({"POD_NAME": "grantwarden"}, "needs sharding.index", id="no-ordinal"),
        pytest.param({"POD_NAME": "grantwarden-5"}, "ordinal 5, but sharding.count is 3", id="ordinal-too-big"),
    ],
)
def test_an_unknown_shard_is_an_error_that_says_what_to_set(environ: dict[str, str], message: str) -> None:
    with pytest.raises(fleet.ShardError, match=message):
        fleet.resolve_shard(shard_settings(None, 3), environ)


@pytest.mark.parametrize(
    ("changes", "identity", "how"),
    [
        pytest.param({"org_id": "org-2"}, True, False, id="org"),
        pytest.param({"region": "us-east-1"}, True, False, id="region"),
        pytest.param(
            {"region": None, "api_base_url": "http://127.0.0.1:1", "login_base_url": "http://127.0.0.1:1"},
            True,
            False,
            id="base-urls",
        ),
        pytest.param(
            {"credentials": {"client_id": "client-2", "client_secret": {"env": "ACME_SECRET"}}},
            True,
            False,
            id="client",
        ),
        pytest.param(
            {"credentials": {"client_id": "client-1", "client_secret": {"env": "OTHER"}}}, True, False, id="secret-ref"
        ),
        pytest.param(
            {"credentials": {"client_id": "client-1", "client_secret": "literal-one"}}, True, False, id="to-literal"
        ),
        pytest.param({"admin_credentials": None}, True, False, id="admin-dropped"),
        pytest.param(
            {"admin_credentials": {"client_id": "admin-2", "client_secret": {"file": "/run/secrets/admin"}}},
            True,
            False,
            id="admin-client",
        ),
        pytest.param({"probe_interval": "2m"}, False, True, id="interval"),
        pytest.param({"probe_timeout": "3s"}, False, True, id="timeout"),
        pytest.param({"probe_concurrency": 8}, False, True, id="concurrency"),
        pytest.param({"refresh": {"at_fraction": 0.5}}, False, True, id="refresh"),
        pytest.param({"regrant": {"mode": "off"}}, False, True, id="regrant"),
    ],
)
def test_who_a_tenant_is_and_how_it_runs_are_told_apart(changes: dict[str, Any], identity: bool, how: bool) -> None:
    before, after = one(), one(**changes)
    blueprint = settings.Blueprint()
    assert (fleet.identity_key(before) != fleet.identity_key(after)) is identity
    assert (fleet.settings_key(before, blueprint) != fleet.settings_key(after, blueprint)) is how


def test_a_literal_secrets_new_value_is_a_new_identity_and_no_value_is_kept() -> None:
    first = one(credentials={"client_id": "client-1", "client_secret": "literal-one"})
    second = one(credentials={"client_id": "client-1", "client_secret": "literal-two"})
    assert fleet.identity_key(first) != fleet.identity_key(second)
    assert len(fleet.identity_key(first)) == fleet.DIGEST_BYTES
    assert b"literal-one" not in fleet.identity_key(first)


def test_the_blueprint_is_a_setting_by_name_and_by_content() -> None:
    tenant = one()
    plain = settings.Blueprint()
    fewer = settings.Blueprint(probes=["organization"])
    assert fleet.settings_key(tenant, plain) != fleet.settings_key(tenant, fewer)
    renamed = tenant.model_copy(update={"blueprint": "other"})
    assert fleet.settings_key(tenant, plain) != fleet.settings_key(renamed, plain)
    assert fleet.identity_key(tenant) == fleet.identity_key(renamed)


def test_tenants_that_run_alike_share_one_settings_key_object() -> None:
    tenants = [{**BASE, "name": f"t{i}", "org_id": f"org-{i}"} for i in range(50)]
    cfg = load(*tenants).settings
    specs = fleet.specs(cfg, 0, 1)
    assert len({id(spec.settings) for spec in specs}) == 1
    assert len({spec.key for spec in specs}) == 50


@pytest.mark.parametrize(
    ("strict", "environ", "problems"),
    [
        pytest.param(False, {"ADMIN_TOKEN": "x"}, [], id="a-tenant-secret-waits-in-that-tenant"),
        pytest.param(True, {"ADMIN_TOKEN": "x"}, ["tenants[0].credentials.client_secret"], id="strict-refuses"),
        pytest.param(False, {"ACME_SECRET": "x"}, ["server.admin_token"], id="server-secret-always"),
    ],
)
def test_server_secrets_must_resolve_and_tenant_secrets_only_when_strict(
    strict: bool, environ: dict[str, str], problems: list[str]
) -> None:
    loaded = load({**BASE, "admin_credentials": None}, server={"admin_token": {"env": "ADMIN_TOKEN"}})
    if not problems:
        fleet.check_secrets(loaded, environ, strict=strict)
        return
    with pytest.raises(configfile.ConfigError) as caught:
        fleet.check_secrets(loaded, environ, strict=strict)
    assert [problem.path for problem in caught.value.problems] == problems
    assert "is not set or empty" in caught.value.problems[0].why


def test_an_unresolvable_tenant_secret_is_a_warning_naming_the_reference_never_a_value() -> None:
    loaded = load(BASE, {**BASE, "name": "beta", "org_id": "org-2", "admin_credentials": None})
    warnings = fleet.tenant_secret_warnings(loaded, {"ACME_SECRET": "the-value"})
    assert warnings == [
        "gw.yaml: tenants[0].admin_credentials.client_secret: cannot read secret file /run/secrets/admin "
        "(No such file or directory) (that tenant waits in needs_attention; the others run)",
    ]
    assert not any("the-value" in warning for warning in warnings)
