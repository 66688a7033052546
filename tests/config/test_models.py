"""The settings models: finding a tenant by name.

Covers: ``Settings.tenant`` finds every tenant by its name and answers None for a name that is
not configured; a copy with other tenants (``model_copy``) finds its own tenants, not the
original's; settings read from the same mapping compare equal whether or not a tenant was looked
up in one of them.
"""

from __future__ import annotations

from typing import Any

from grantwarden.config import models as settings


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
