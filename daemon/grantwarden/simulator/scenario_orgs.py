"""One org of a scenario file: divisions, licences, roles, users, clients, queues, org knobs.

Role templates (the scenario's top-level ``roles``) are created in every org with ids of that
org, because role ids differ per org and only names travel (platform.md §10). A role is a
list of ``domain:entity:action`` patterns, wildcards allowed, each matching the catalogue. A
role reference is a name (home division) or ``{role: NAME, division: home | "*" | NAME}``.
Client secrets default to a value derived from the seed, so a scenario reproduces exactly.
Groups, IP allow-lists, app approvals and trusts are read afterwards by ``scenario_access``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from grantwarden.simulator import catalog, grants, listings, model, rights, world
from grantwarden.simulator.reading import Reader, join

CREATED = 1_700_000_000.0  # when every scenario entity "was created": fixed, so output is stable

ORG_KEYS = (
    *("id", "name", "third_party_org_name", "region", "divisions", "unlicensed", "roles", "users", "clients"),
    *("queues", "token_requests_per_minute", "propagation_delay_seconds", "existing_tokens_see_grants"),
    *("idle_timeout_seconds", "enforce_app_authorization", "app_authorizations", "policies", "groups"),
    "ip_allowlist",
)
CLIENT_KEYS = (
    *("id", "secret", "name", "description", "grant", "roles", "scope", "redirect_uris", "validity_seconds"),
    "state",
)
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def derived_secret(seed: int, key: str) -> str:
    digest = hashlib.sha256(f"grantwarden-sim/{seed}/{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def role_patterns(reader: Reader, value: Any, path: str) -> tuple[rights.Policy, ...]:
    patterns = reader.strings(value, path)
    for i, pattern in enumerate(patterns):
        try:
            policies = rights.policies_from([pattern])
        except ValueError:
            reader.fail(join(path, i), "is not domain:entity:action")
        if not any(policies[0].grants(p) for p in catalog.ALL_PERMISSIONS):
            reader.fail(join(path, i), f"{pattern!r} matches no permission of the platform")
    return rights.policies_from(patterns)


class OrgReader:
    """Builds one org (and its clients) into a world; ``clients`` maps scenario keys to ids."""

    def __init__(self, reader: Reader, sim: world.World, templates: dict[str, tuple[rights.Policy, ...]]):
        self.reader, self.sim, self.templates = reader, sim, templates
        self.clients: dict[str, model.OAuthClient] = {}

    def org(self, key: str, raw: Any, path: str) -> model.Org:
        r = self.reader
        spec = r.mapping(raw, path, allowed=ORG_KEYS)
        org_id = r.text(spec.get("id"), join(path, "id"), model.stable_id(self.sim.seed, "org", key))
        if not _ID.match(org_id) or org_id in self.sim.orgs:
            r.fail(join(path, "id"), "must be a unique id of letters, digits and dashes")
        region = r.choice(spec.get("region"), join(path, "region"), sorted(world.REGIONS), self.sim.default_region)
        names = r.strings(spec.get("divisions"), join(path, "divisions")) or ["Home"]
        divisions = [
            model.Division(model.stable_id(org_id, "division", n), n, home=(i == 0)) for i, n in enumerate(names)
        ]
        unlicensed = r.strings(spec.get("unlicensed"), join(path, "unlicensed"))
        for i, permission in enumerate(unlicensed):
            if permission not in catalog.ALL_PERMISSIONS:
                r.fail(join(join(path, "unlicensed"), i), f"unknown permission {permission!r}")
        roles = dict(self.templates)
        for name, value in r.mapping(spec.get("roles"), join(path, "roles")).items():
            roles[name] = role_patterns(r, value, join(join(path, "roles"), name))
        org = model.Org(
            id=org_id,
            name=r.text(spec.get("name"), join(path, "name"), key),
            third_party_org_name=r.text(spec.get("third_party_org_name"), join(path, "third_party_org_name"), key),
            region=region,
            divisions={d.id: d for d in divisions},
            home_division_id=divisions[0].id,
            licensed=catalog.ALL_PERMISSIONS - frozenset(unlicensed),
            roles={
                (rid := model.stable_id(org_id, "role", name)): model.Role(rid, name, policies)
                for name, policies in roles.items()
            },
            date_created=CREATED,
        )
        self.knobs(org, spec, path)
        self.sim.add_org(org)
        self.users(org, spec.get("users"), join(path, "users"))
        for client_key, client_raw in r.mapping(spec.get("clients"), join(path, "clients")).items():
            self.client(org, client_key, client_raw, join(join(path, "clients"), client_key))
        self.queues(org, spec.get("queues"), join(path, "queues"))
        return org

    def knobs(self, org: model.Org, spec: dict[str, Any], path: str) -> None:
        r = self.reader
        org.token_requests_per_minute = r.optional_integer(
            spec.get("token_requests_per_minute"), join(path, "token_requests_per_minute")
        )
        org.propagation_delay_seconds = r.optional_number(
            spec.get("propagation_delay_seconds"), join(path, "propagation_delay_seconds")
        )
        see = spec.get("existing_tokens_see_grants")
        org.existing_tokens_see_grants = (
            None if see is None else r.flag(see, join(path, "existing_tokens_see_grants"), True)
        )
        org.idle_timeout_seconds = r.optional_number(
            spec.get("idle_timeout_seconds"), join(path, "idle_timeout_seconds"), minimum=1.0
        )
        org.enforce_app_authorization = r.flag(
            spec.get("enforce_app_authorization"), join(path, "enforce_app_authorization"), False
        )
        for i, raw in enumerate(r.seq(spec.get("policies"), join(path, "policies"))):
            here = join(join(path, "policies"), i)
            rule = r.mapping(raw, here, allowed=("path_prefix", "policy_id"))
            org.policies.append(
                model.PolicyRule(
                    r.text(rule.get("path_prefix"), join(here, "path_prefix")),
                    r.text(rule.get("policy_id"), join(here, "policy_id")),
                )
            )

    def role_refs(
        self, org: model.Org, value: Any, path: str, *, default_division: str = "home"
    ) -> tuple[model.RoleDivision, ...]:
        """Role references: a name (in ``default_division``) or ``{role, division}``."""
        r = self.reader
        found: list[model.RoleDivision] = []
        for i, raw in enumerate(r.seq(value, path)):
            here = join(path, i)
            ref = {"role": raw} if isinstance(raw, str) else r.mapping(raw, here, allowed=("role", "division"))
            role = org.role_named(r.text(ref.get("role"), join(here, "role")))
            if role is None:
                r.fail(
                    here,
                    f"unknown role {ref.get('role')!r}; org roles: {', '.join(x.name for x in org.roles.values())}",
                )
            division = r.text(ref.get("division"), join(here, "division"), default_division)
            if division == "home":
                division_id = org.home_division_id
            elif division == model.ALL_DIVISIONS:
                division_id = division
            else:
                match = [d.id for d in org.divisions.values() if division in (d.name, d.id)]
                if not match:
                    r.fail(join(here, "division"), f"unknown division {division!r}")
                division_id = match[0]
            found.append(model.RoleDivision(role.id, division_id))
        return tuple(dict.fromkeys(found))

    def users(self, org: model.Org, value: Any, path: str) -> None:
        r = self.reader
        for key, raw in r.mapping(value, path).items():
            here = join(path, key)
            spec = r.mapping(raw, here, allowed=("name", "email", "roles", "test_user"))
            person = model.User(
                id=model.stable_id(org.id, "user", key),
                org_id=org.id,
                name=r.text(spec.get("name"), join(here, "name"), key),
                email=r.text(spec.get("email"), join(here, "email"), f"{key}@{org.third_party_org_name}.example"),
                role_divisions=self.role_refs(org, spec.get("roles"), join(here, "roles")),
            )
            org.users[person.id] = person
            if org.test_user_id is None or r.flag(spec.get("test_user"), join(here, "test_user"), False):
                org.test_user_id = person.id

    def client(self, org: model.Org, key: str, raw: Any, path: str) -> None:
        r = self.reader
        spec = r.mapping(raw, path, allowed=CLIENT_KEYS)
        client_id = r.text(spec.get("id"), join(path, "id"), model.stable_id(self.sim.seed, "client", key))
        if key in self.clients or not _ID.match(client_id) or client_id in self.sim.clients:
            r.fail(path, "a client key and id must be unique, ids of letters, digits and dashes")
        grant_type = r.choice(
            spec.get("grant"), join(path, "grant"), sorted(model.GRANT_TYPES), model.CLIENT_CREDENTIALS
        )
        role_divisions = self.role_refs(org, spec.get("roles"), join(path, "roles"))
        scope = r.strings(spec.get("scope"), join(path, "scope"))
        if grant_type == model.CLIENT_CREDENTIALS and not role_divisions:
            r.fail(join(path, "roles"), "a client-credentials client needs roles (missing.client.roles)")
        if grant_type != model.CLIENT_CREDENTIALS and not scope:
            r.fail(join(path, "scope"), "a user-grant client needs scopes (missing.client.scope)")
        for i, name in enumerate(scope):
            if name not in catalog.SCOPES:
                r.fail(join(join(path, "scope"), i), f"unknown scope {name!r}")
        client = model.OAuthClient(
            id=client_id,
            org_id=org.id,
            name=r.text(spec.get("name"), join(path, "name"), key),
            secret=r.text(spec.get("secret"), join(path, "secret"), derived_secret(self.sim.seed, key)),
            grant_type=grant_type,
            versions=grants.initial(role_divisions, scope),
            description=str(spec.get("description") or ""),
            redirect_uris=tuple(r.strings(spec.get("redirect_uris"), join(path, "redirect_uris"))),
            validity_seconds=r.integer(
                spec.get("validity_seconds"),
                join(path, "validity_seconds"),
                model.DEFAULT_VALIDITY_SECONDS,
                minimum=model.MIN_VALIDITY_SECONDS,
            ),
            state=r.choice(spec.get("state"), join(path, "state"), model.CLIENT_STATES, "active"),
            date_created=CREATED,
            date_modified=CREATED,
        )
        self.sim.add_client(client)
        self.clients[key] = client

    def queues(self, org: model.Org, value: Any, path: str) -> None:
        r = self.reader
        if value is None:
            org.queues = listings.default_queues(org.id, list(org.divisions.values()))
            return
        found: list[model.Queue] = []
        for i, raw in enumerate(r.seq(value, path)):
            here = join(path, i)
            spec = r.mapping(raw, here, allowed=("name", "division"))
            name = r.text(spec.get("name"), join(here, "name"))
            division = r.text(spec.get("division"), join(here, "division"), "home")
            match = [
                d.id for d in org.divisions.values() if division in (d.name, d.id) or (division == "home" and d.home)
            ]
            if not match:
                r.fail(join(here, "division"), f"unknown division {division!r}")
            found.append(model.Queue(model.stable_id(org.id, "queue", name), name, match[0]))
        org.queues = tuple(found)
