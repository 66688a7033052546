"""``--emit-config``: the grantwarden configuration that matches a running simulator.

Writes design.md §2.2 YAML: the world's blueprint, one tenant per ``TenantSpec`` with
``api_base_url`` = ``login_base_url`` = the simulator's base URL (plus ``/regions/{region}``
outside the default region), secrets as ``{env: NAME}`` references, and for user-grant tenants
``credentials.grant: authorization_code``, ``redirect_uri``, ``scopes`` and a ``state_dir``; a
tenant acting through an org trust (a scenario tenant with ``trust: true``) also gets
``credentials.trust: {home_org_id: <trustee org>}``. The secrets themselves go to ``FILE.env``
(``NAME=value`` lines, mode 0600), never into the YAML.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from grantwarden.simulator import tenancy, world


def env_name(tenant: str, *, admin: bool = False) -> str:
    stem = re.sub(r"[^A-Z0-9]+", "_", tenant.upper()).strip("_")
    return f"GW_{stem}_{'ADMIN_' if admin else ''}SECRET"


def tenant_url(sim: world.World, base_url: str, region: str) -> str:
    base = base_url.rstrip("/")
    return base if region == sim.default_region else f"{base}/regions/{region}"


def render(sim: world.World, base_url: str, *, state_dir: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The configuration mapping and the environment (secret values) it refers to."""
    bp = sim.blueprint
    env: dict[str, str] = {}
    tenants: list[dict[str, Any]] = []
    for spec in sim.tenants:
        url = tenant_url(sim, base_url, spec.region)
        credentials: dict[str, Any] = {"client_id": spec.client_id, "client_secret": {"env": env_name(spec.name)}}
        env[env_name(spec.name)] = sim.clients[spec.client_id].secret
        if spec.grant == tenancy.AUTHORIZATION_CODE:
            credentials = {
                "grant": spec.grant,
                **credentials,
                "redirect_uri": spec.redirect_uri,
                "scopes": list(spec.scopes),
            }
            if spec.trust_home_org_id:
                credentials["trust"] = {"home_org_id": spec.trust_home_org_id}
        entry: dict[str, Any] = {"name": spec.name}
        if spec.parent:
            entry["parent"] = spec.parent
        entry.update({"org_id": spec.org_id, "api_base_url": url, "login_base_url": url, "blueprint": bp.name})
        entry["credentials"] = credentials
        if spec.admin_client_id:
            name = env_name(spec.name, admin=True)
            entry["admin_credentials"] = {"client_id": spec.admin_client_id, "client_secret": {"env": name}}
            env[name] = sim.clients[spec.admin_client_id].secret
        tenants.append(entry)
    config: dict[str, Any] = {
        "blueprints": {
            bp.name: {
                "probes": list(bp.probes),
                "grants": {"roles": list(bp.roles), "division": bp.division, "scopes": list(bp.scopes)},
            }
        },
        "tenants": tenants,
        "state_dir": state_dir,
    }
    return config, env


def write(sim: world.World, base_url: str, path: str | Path) -> Path:
    """Write ``path`` (the YAML) and ``path.env`` (its secrets); returns the env file's path."""
    target = Path(path)
    state_dir = str((target.parent / "grantwarden-state").resolve())
    config, env = render(sim, base_url, state_dir=state_dir)
    header = (
        "# grantwarden configuration for the embedded simulator at "
        f"{base_url}\n# Secrets are in {target.name}.env (export them before running grantwarden).\n"
    )
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10,000 tenants in a second
    target.write_text(header + yaml.dump(config, Dumper=dumper, sort_keys=False, width=120), encoding="utf-8")
    env_path = target.with_name(target.name + ".env")
    descriptor = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(f"{name}={value}\n" for name, value in env.items())
    return env_path
