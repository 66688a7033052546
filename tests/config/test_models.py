"""The settings models: finding a tenant by name, enumerations as YAML writes them, checks in one pass.

Covers: ``Settings.tenant`` finds every tenant by its name and answers None for a name that is
not configured; a copy with other tenants (``model_copy``) finds its own tenants, not the
original's; settings read from the same mapping compare equal whether or not a tenant was looked
up in one of them. Every enumerated setting of every model is a ``Choice``: one with an ``off``
member takes YAML 1.1's false for it (``mode: off``), others refuse a boolean, and the JSON
Schema says which boolean is taken. Checks that compare two settings run beside the other
checks of their model (one pass), name both values and the error kind the loader places by.
``credentials.trust`` needs a user grant and another org; ``grants.managed_by`` comes from the
blueprint unless the tenant says otherwise; ``sharing_client_with`` names the other tenants of
a client, indexed once.
"""

from __future__ import annotations

import enum
import json
import typing
from typing import Any

import pydantic
import pytest

from grantwarden.config import models as settings
from grantwarden.config import schema, values
from grantwarden.policy import labels


def tenant(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "org_id": f"org-{name}",
        "region": "us-east-1",
        "blueprint": "default",
        "credentials": {"client_id": f"client-{name}", "client_secret": {"env": "SECRET"}},
        "probe_interval": 60,
        "probe_timeout": 10,
        "probe_concurrency": 4,
        "refresh": {},
        "regrant": {},
    }


def configured(*names: str) -> settings.Settings:
    return settings.Settings.model_validate({"tenants": [tenant(name) for name in names]})


def test_every_tenant_is_found_by_its_name_and_an_unknown_name_is_none() -> None:
    cfg = configured(*(f"t{i}" for i in range(50)))
    assert all(cfg.tenant(t.name) is t for t in cfg.tenants)
    assert cfg.tenant("t50") is None
    assert settings.Settings().tenant("t0") is None


def test_a_copy_with_other_tenants_finds_its_own() -> None:
    cfg = configured("acme", "acme-eu")
    assert cfg.tenant("acme") is not None
    other = cfg.model_copy(update={"tenants": configured("globex").tenants})
    assert other.tenant("acme") is None
    assert other.tenant("globex") is other.tenants[0]
    assert cfg.tenant("acme") is cfg.tenants[0], "the original is unchanged"


def test_settings_from_the_same_mapping_are_equal_after_a_lookup() -> None:
    first, second = configured("acme", "acme-eu"), configured("acme", "acme-eu")
    assert first.tenant("acme-eu") is not None
    assert first == second
    assert first != configured("acme")


def enumerated_fields(model: type[pydantic.BaseModel]) -> list[tuple[str, Any]]:
    """(model.field, annotation) of every field of ``model`` and the models below it whose
    type is an enumeration (alone or in an Optional)."""
    found, pending, seen = [], [model], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, field in current.model_fields.items():
            for kind in [field.annotation, *typing.get_args(field.annotation)]:
                if isinstance(kind, type) and issubclass(kind, enum.Enum):
                    found.append((f"{current.__name__}.{name}", field))
                elif isinstance(kind, type) and issubclass(kind, pydantic.BaseModel):
                    pending.append(kind)
                for inner in typing.get_args(kind):
                    if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
                        pending.append(inner)
    return found


def test_every_enumerated_setting_is_a_choice() -> None:
    fields = enumerated_fields(settings.Settings)
    assert {name for name, _ in fields} >= {"RegrantSettings.mode", "Credentials.grant"}
    for name, field in fields:
        assert any(isinstance(marker, type(typing.get_args(values.Choice)[1])) for marker in field.metadata), name


@pytest.mark.parametrize(
    ("written", "mode"),
    [
        pytest.param(False, labels.RegrantMode.OFF, id="yaml-1.1-false"),
        pytest.param("off", labels.RegrantMode.OFF, id="quoted"),
        pytest.param("reissue", labels.RegrantMode.REISSUE, id="other-member"),
    ],
)
def test_regrant_mode_takes_off_however_yaml_spells_it(written: object, mode: labels.RegrantMode) -> None:
    assert settings.RegrantSettings.model_validate({"mode": written}).mode is mode


@pytest.mark.parametrize(
    ("model", "raw", "field"),
    [
        pytest.param(settings.RegrantSettings, {"mode": True}, "mode", id="no-on-member"),
        pytest.param(
            settings.Credentials, {"grant": False, "client_id": "c", "client_secret": "s"}, "grant", id="no-off-member"
        ),
    ],
)
def test_a_boolean_that_spells_no_member_is_refused(
    model: type[pydantic.BaseModel], raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(raw)
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_a_choice_with_an_on_member_takes_true_for_it() -> None:
    class Switch(enum.StrEnum):
        OFF = "off"
        ON = "on"

    class Model(pydantic.BaseModel):
        switch: values.Choice[Switch]

    assert [Model.model_validate({"switch": flag}).switch for flag in (False, True)] == [Switch.OFF, Switch.ON]


def test_the_json_schema_says_which_boolean_spells_a_member() -> None:
    mode = json.loads(schema.render())["$defs"]["RegrantSettings"]["properties"]["mode"]
    assert mode["anyOf"][0] == {"$ref": "#/$defs/RegrantMode"}
    assert (mode["anyOf"][1]["const"], mode["anyOf"][1]["type"]) == (False, "boolean")
    assert "$ref" in json.loads(schema.render())["$defs"]["Credentials"]["properties"]["grant"]


def test_the_json_schema_requires_the_tenants_list() -> None:
    assert json.loads(schema.render())["required"] == ["tenants"]


def test_checks_that_compare_settings_run_beside_the_other_checks_of_their_model() -> None:
    raw = tenant("acme") | {
        "probe_interval": 5,
        "probe_timeout": 10,
        "probe_concurrency": 0,
        "refresh": {"at_fraction": 0.05},
    }
    raw["api_base_url"] = "http://127.0.0.1:1"
    with pytest.raises(pydantic.ValidationError) as caught:
        settings.Tenant.model_validate(raw)
    errors = {error["loc"]: (error["type"], error["msg"]) for error in caught.value.errors()}
    assert errors == {
        ("login_base_url",): (
            "tenant_hosts",
            "region is given with api_base_url: give region for Genesys Cloud's own hosts, or api_base_url and "
            "login_base_url for another host (the simulator, a proxy), not both",
        ),
        ("probe_timeout",): (
            "timeout_not_below_interval",
            "probe_timeout (10s) must be shorter than probe_interval (5s)",
        ),
        ("probe_concurrency",): ("greater_than_equal", "Input should be greater than or equal to 1"),
        ("refresh", "jitter_fraction"): (
            "jitter_not_below_fraction",
            "jitter_fraction (0.1) must be smaller than at_fraction (0.05)",
        ),
    }


def test_a_tenants_own_probe_interval_has_the_floor_of_the_defaults() -> None:
    with pytest.raises(pydantic.ValidationError, match="probe_interval must be at least 1s"):
        settings.Tenant.model_validate(tenant("acme") | {"probe_interval": 0.5, "probe_timeout": 0.1})


def code_tenant(**credentials: Any) -> dict[str, Any]:
    base = tenant("acme")
    base["credentials"] = {
        "grant": "authorization_code",
        "client_id": "c",
        "client_secret": "s",
        "redirect_uri": "http://127.0.0.1:1/cb",
        **credentials,
    }
    return base


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        pytest.param(code_tenant(trust={"home_org_id": "org-partner"}), None, id="a-user-grant-through-a-trust"),
        pytest.param(
            {**tenant("acme"), "credentials": {"client_id": "c", "client_secret": "s", "trust": {"home_org_id": "o"}}},
            "trust needs grant authorization_code",
            id="client-credentials-cannot",
        ),
        pytest.param(code_tenant(trust={"home_org_id": "org-acme"}), "names the tenant's own org_id", id="own-org"),
        pytest.param(code_tenant(trust={"home_org_id": "not an id"}), "String should match pattern", id="bad-id"),
        pytest.param(code_tenant(trust={}), "home_org_id", id="missing-home"),
    ],
)
def test_credentials_trust(written: dict[str, Any], problem: str | None) -> None:
    if problem is None:
        found = settings.Tenant.model_validate(written)
        assert found.credentials.trust == settings.Trust(home_org_id="org-partner")
        return
    with pytest.raises(pydantic.ValidationError, match=problem):
        settings.Tenant.model_validate(written)


@pytest.mark.parametrize(
    ("blueprint", "own", "expected"),
    [
        pytest.param({}, None, labels.ManagedBy.GRANTWARDEN, id="default"),
        pytest.param({"managed_by": "terraform"}, None, labels.ManagedBy.TERRAFORM, id="from-the-blueprint"),
        pytest.param(
            {"managed_by": "terraform"}, {"managed_by": "grantwarden"}, labels.ManagedBy.GRANTWARDEN, id="own"
        ),
        pytest.param({}, {"managed_by": "terraform"}, labels.ManagedBy.TERRAFORM, id="own-terraform"),
        pytest.param({}, {}, labels.ManagedBy.GRANTWARDEN, id="own-unset"),
    ],
)
def test_managed_by(blueprint: dict[str, Any], own: dict[str, Any] | None, expected: labels.ManagedBy) -> None:
    written = {**tenant("acme"), **({"grants": own} if own is not None else {})}
    assert settings.Tenant.model_validate(written).managed_by(settings.Blueprint(grants=blueprint)) is expected


def test_managed_by_refuses_an_unknown_manager() -> None:
    with pytest.raises(pydantic.ValidationError, match="'grantwarden' or 'terraform'"):
        settings.Grants.model_validate({"managed_by": "pulumi"})


def test_sharing_client_with_names_the_other_tenants_of_a_client() -> None:
    written = [tenant("a"), tenant("b"), {**tenant("c"), "credentials": tenant("a")["credentials"]}]
    cfg = settings.Settings.model_validate({"tenants": written})
    assert (cfg.sharing_client_with("a"), cfg.sharing_client_with("b"), cfg.sharing_client_with("c")) == (
        ("c",),
        (),
        ("a",),
    )
    assert cfg.sharing_client_with("nobody") == ()
    other = cfg.model_copy(update={"tenants": cfg.tenants[:2]})
    assert other.sharing_client_with("a") == (), "a copy with other tenants indexes its own"
