"""--emit-config: the grantwarden configuration matching a simulator, and its env file.

Covers: one tenant per scenario tenant with api_base_url = login_base_url = the simulator (with
/regions/{region} outside the default region); secrets only as {env: NAME} references, their
values in FILE.env (mode 0600); the user-grant tenant's grant, redirect_uri and scopes; the
blueprint and state_dir; a trust tenant's credentials.trust.home_org_id (only where the
scenario asks for it); and that grantwarden's own configuration loader accepts the demo's result.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import emitting, scenarios, world

from .conftest import DEMO

BASE = "http://127.0.0.1:18080"


def emitted(tmp_path: Path) -> tuple[dict[str, Any], dict[str, str], str, world.World]:
    sim = scenarios.load(DEMO, clock=ManualClock())
    target = tmp_path / "gw.yaml"
    env_path = emitting.write(sim, BASE, target)
    env = dict(line.split("=", 1) for line in env_path.read_text().splitlines())
    return yaml.safe_load(target.read_text()), env, target.read_text(), sim


def test_tenants_point_at_the_simulator_with_region_prefixes(tmp_path: Path) -> None:
    config, _, _, _ = emitted(tmp_path)
    urls = {t["name"]: (t["api_base_url"], t["login_base_url"]) for t in config["tenants"]}
    assert urls["acme"] == (BASE, BASE)
    assert urls["acme-eu"] == (f"{BASE}/regions/eu-west-1",) * 2
    assert urls["acme-apac"] == (BASE, BASE)  # the primary's credentials, hence the primary's host
    assert urls["acme-ca"] == (f"{BASE}/regions/ca-central-1",) * 2


def test_secrets_are_env_references_with_values_in_a_private_env_file(tmp_path: Path) -> None:
    config, env, text, sim = emitted(tmp_path)
    acme = config["tenants"][0]
    assert acme["credentials"]["client_secret"] == {"env": "GW_ACME_SECRET"}
    assert acme["admin_credentials"]["client_secret"] == {"env": "GW_ACME_ADMIN_SECRET"}
    assert env["GW_ACME_SECRET"] == sim.clients[acme["credentials"]["client_id"]].secret
    assert all(value not in text for value in env.values())
    assert stat.S_IMODE((tmp_path / "gw.yaml.env").stat().st_mode) == 0o600


def test_the_user_grant_tenant_has_its_grant_redirect_and_scopes(tmp_path: Path) -> None:
    config, _, _, _ = emitted(tmp_path)
    desktop = next(t for t in config["tenants"] if t["name"] == "acme-agent-desktop")
    credentials = desktop["credentials"]
    assert credentials["grant"] == "authorization_code"
    assert credentials["redirect_uri"] == "http://127.0.0.1:8765/callback"
    assert "webdeployments:readonly" in credentials["scopes"]
    assert config["state_dir"] == str((tmp_path / "grantwarden-state").resolve())


def test_the_blueprint_allow_lists_the_demo_roles_and_scopes(tmp_path: Path) -> None:
    config, _, _, _ = emitted(tmp_path)
    blueprint = config["blueprints"]["messaging-core"]
    assert blueprint["grants"] == {
        "roles": ["Messaging Viewer", "Web Deployments Viewer"],
        "division": "home",
        "scopes": ["messaging:readonly", "webdeployments:readonly"],
    }
    assert len(blueprint["probes"]) == 6
    assert {t["blueprint"] for t in config["tenants"]} == {"messaging-core"}


def test_grantwardens_configuration_loader_accepts_the_emitted_file(tmp_path: Path) -> None:
    from grantwarden.config import loading as configfile  # the contract between simulator and daemon is the file format

    _, env, _, _ = emitted(tmp_path)
    loaded = configfile.load(tmp_path / "gw.yaml", environ=env)
    assert [t.name for t in loaded.settings.tenants][:2] == ["acme", "acme-eu"]
    assert loaded.settings.tenants[1].api_url == f"{BASE}/regions/eu-west-1"


def test_only_a_trust_tenant_gets_credentials_trust(tmp_path: Path) -> None:
    config, _, _, _ = emitted(tmp_path)
    demo = {t["name"]: t for t in config["tenants"]}
    assert [name for name, t in demo.items() if "trust" in t["credentials"]] == ["acme-via-partner"]
    sim = scenarios.load("trust", clock=ManualClock())
    trusted, _ = emitting.render(sim, BASE, state_dir=str(tmp_path))
    tenants = {t["name"]: t for t in trusted["tenants"]}
    via = tenants["customer-via-partner"]
    assert via["org_id"] == sim.tenants[1].org_id
    assert via["credentials"]["grant"] == "authorization_code"
    assert via["credentials"]["trust"] == {"home_org_id": sim.clients[via["credentials"]["client_id"]].org_id}
    assert via["credentials"]["trust"]["home_org_id"] != via["org_id"]
    assert "trust" not in tenants["customer"]["credentials"]
