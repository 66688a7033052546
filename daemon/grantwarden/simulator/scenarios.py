"""Scenario files: a world described in YAML (built-in ones in ``worlds/``, or any file).

Top level: ``seed``, ``default_region``, ``platform`` (the ``world.Settings`` knobs), ``roles``
(role templates created in every org), ``orgs`` (by key; see ``scenario_orgs``), ``trusts``
(org trusts; see ``scenario_access``), ``blueprint`` (what the emitted grantwarden config
declares) and ``tenants`` (how grantwarden is meant to be configured against this world: which
org each tenant expects, which client and admin client it uses, and ``trust: true`` for a user
acting in that org through a trust). ``worlds/demo.yaml`` (``--scenario demo``) documents every
key in its comments, ``worlds/trust.yaml`` the trust keys. Every problem is a ``ScenarioError``
naming the file and the path inside it.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from grantwarden.base.clock import Clock
from grantwarden.simulator import model, tenancy, world
from grantwarden.simulator.reading import Reader, ScenarioError, join
from grantwarden.simulator.scenario_access import AccessReader
from grantwarden.simulator.scenario_orgs import OrgReader, role_patterns

# Built-in worlds ship inside the package (importlib.resources), so ``--scenario demo`` works
# from any directory once grantwarden is installed, and in the container image.
WORLDS = importlib.resources.files(__package__) / "worlds"
DEMO_SCENARIO = WORLDS / "demo.yaml"
TOP_KEYS = ("seed", "default_region", "platform", "roles", "orgs", "trusts", "blueprint", "tenants")
TENANT_KEYS = ("name", "org", "client", "admin", "region", "grant", "redirect_uri", "scopes", "parent", "note", "trust")
TENANT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def builtin_names() -> list[str]:
    """The names ``--scenario`` accepts besides a file path (``demo``)."""
    return sorted(entry.name.removesuffix(".yaml") for entry in WORLDS.iterdir() if entry.name.endswith(".yaml"))


def resolve(name_or_path: str | Path | Traversable) -> Path | Traversable:
    """A built-in world's name (``demo``) becomes its packaged file; anything else is a path."""
    if isinstance(name_or_path, str) and name_or_path in builtin_names():
        return WORLDS / f"{name_or_path}.yaml"
    return Path(name_or_path) if isinstance(name_or_path, str) else name_or_path


def load(path: str | Path | Traversable, *, clock: Clock) -> world.World:
    """Read a scenario (a built-in name or a file) into a new world on ``clock``; raises ``ScenarioError``."""
    where = resolve(path)
    source = str(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    return loads(text, source=source, clock=clock)


def loads(text: str, *, source: str, clock: Clock) -> world.World:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ScenarioError(source, "", f"{where}{problem}") from None
    return build(raw, source=source, clock=clock)


def build(raw: Any, *, source: str, clock: Clock) -> world.World:
    r = Reader(source)
    top = r.mapping(raw, "", allowed=TOP_KEYS)
    sim = world.World(
        clock=clock,
        seed=r.integer(top.get("seed"), "seed", 0, minimum=0),
        default_region=r.choice(top.get("default_region"), "default_region", sorted(world.REGIONS), "us-east-1"),
        settings=settings(r, top.get("platform")),
    )
    templates = {
        name: role_patterns(r, value, join("roles", name))
        for name, value in r.mapping(top.get("roles"), "roles").items()
    }
    orgs_reader = OrgReader(r, sim, templates)
    org_specs = r.mapping(top.get("orgs"), "orgs")
    if not org_specs:
        r.fail("orgs", "a scenario needs at least one org")
    orgs = {key: orgs_reader.org(key, spec, join("orgs", key)) for key, spec in org_specs.items()}
    access = AccessReader(orgs_reader, orgs)
    for key, spec in org_specs.items():
        access.org(key, spec, join("orgs", key))
    access.trusts(top.get("trusts"))
    sim.blueprint = blueprint(r, top.get("blueprint"))
    sim.tenants = tenants(r, top.get("tenants"), orgs, orgs_reader.clients, sim)
    return sim


def settings(r: Reader, value: Any) -> world.Settings:
    """``platform``: each ``world.Settings`` field, read by the type of its default."""
    fields = dataclasses.fields(world.Settings)
    spec = r.mapping(value, "platform", allowed=[f.name for f in fields])
    values: dict[str, Any] = {}
    for field in fields:
        raw, path, default = spec.get(field.name), join("platform", field.name), field.default
        if isinstance(default, bool):
            values[field.name] = r.flag(raw, path, default)
        elif isinstance(default, int):
            values[field.name] = r.integer(raw, path, default)
        elif isinstance(default, float):
            values[field.name] = r.number(raw, path, default)
    return world.Settings(**values)


def blueprint(r: Reader, value: Any) -> tenancy.Blueprint:
    default = tenancy.Blueprint()
    spec = r.mapping(value, "blueprint", allowed=("name", "probes", "roles", "division", "scopes"))
    return tenancy.Blueprint(
        name=r.text(spec.get("name"), "blueprint.name", default.name),
        probes=tuple(r.strings(spec.get("probes"), "blueprint.probes")) or default.probes,
        roles=tuple(r.strings(spec.get("roles"), "blueprint.roles")) or default.roles,
        division=r.text(spec.get("division"), "blueprint.division", default.division),
        scopes=tuple(r.strings(spec.get("scopes"), "blueprint.scopes")) or default.scopes,
    )


def tenants(
    r: Reader, value: Any, orgs: dict[str, model.Org], clients: dict[str, model.OAuthClient], sim: world.World
) -> list[tenancy.TenantSpec]:
    found: list[tenancy.TenantSpec] = []
    for i, raw in enumerate(r.seq(value, "tenants")):
        path = join("tenants", i)
        spec = r.mapping(raw, path, allowed=TENANT_KEYS)
        name = r.text(spec.get("name"), join(path, "name"))
        if not TENANT_NAME.match(name) or any(t.name == name for t in found):
            r.fail(join(path, "name"), "must be unique, lowercase letters, digits and dashes")
        org_key = r.text(spec.get("org"), join(path, "org"))
        if org_key not in orgs:
            r.fail(join(path, "org"), f"unknown org {org_key!r}")
        client = _client(r, spec.get("client"), join(path, "client"), clients)
        admin = _client(r, spec.get("admin"), join(path, "admin"), clients) if spec.get("admin") else None
        code = client.grant_type == model.CODE
        grant = r.choice(
            spec.get("grant"), join(path, "grant"), (tenancy.CLIENT_CREDENTIALS, tenancy.AUTHORIZATION_CODE),
            tenancy.AUTHORIZATION_CODE if code else tenancy.CLIENT_CREDENTIALS,
        )  # fmt: skip
        redirect = spec.get("redirect_uri") or (client.redirect_uris[0] if client.redirect_uris else None)
        if grant == tenancy.AUTHORIZATION_CODE and not redirect:
            r.fail(join(path, "redirect_uri"), "an authorization_code tenant needs a redirect_uri")
        parent = spec.get("parent")
        if parent is not None and not any(t.name == parent for t in found):
            r.fail(join(path, "parent"), f"unknown parent {parent!r} (parents come first)")
        home = trust_home(r, spec.get("trust"), join(path, "trust"), orgs[org_key], client, grant, sim)
        found.append(
            tenancy.TenantSpec(
                name=name,
                org_id=orgs[org_key].id,
                client_id=client.id,
                region=r.choice(spec.get("region"), join(path, "region"), sorted(world.REGIONS), orgs[org_key].region),
                admin_client_id=admin.id if admin else None,
                grant=grant,
                redirect_uri=str(redirect) if grant == tenancy.AUTHORIZATION_CODE else None,
                scopes=tuple(r.strings(spec.get("scopes"), join(path, "scopes")) or client.configured.scope),
                parent=parent,
                note=str(spec.get("note") or ""),
                trust_home_org_id=home,
            )
        )
    return found


def trust_home(
    r: Reader, value: Any, path: str, org: model.Org, client: model.OAuthClient, grant: str, sim: world.World
) -> str | None:
    """``trust: true``: the tenant's user acts in ``org`` through a trust from the client's org."""
    if not r.flag(value, path, False):
        return None
    if grant != tenancy.AUTHORIZATION_CODE or client.org_id == org.id:
        r.fail(path, "a trust tenant logs in with an authorization_code client of the trustee org")
    if sim.trusts.get(org.id, client.org_id) is None:
        r.fail(path, f"org {org.name!r} does not trust the client's org (declare it under trusts)")
    return client.org_id


def _client(r: Reader, value: Any, path: str, clients: dict[str, model.OAuthClient]) -> model.OAuthClient:
    key = r.text(value, path)
    if key not in clients:
        r.fail(path, f"unknown client {key!r}")
    return clients[key]
