"""Who may reach an org from outside, in a scenario: groups, IP allow-lists, app approvals, trusts.

Read after every org exists, because these name users, groups and clients of other orgs:

    orgs.KEY.groups          {GROUP_KEY: {name, members: [USER_KEY, ...]}}
    orgs.KEY.ip_allowlist    [CIDR, ...]: any address or range (the API's rules do not apply here)
    orgs.KEY.app_authorizations  {CLIENT_KEY: {state, scopes}}
    trusts                   [{trustor: ORG_KEY, trustee: ORG_KEY, enabled, date_expired (ISO),
                               users: {USER_KEY: [ROLE, ...]}, groups: {GROUP_KEY: [ROLE, ...]}}]

A trust member's role is a trustor-org role name, granted in all divisions as ``roleIds`` is
(platform.md §13), or ``{role, division}`` for one division. Every problem is a
``ScenarioError`` naming the path.
"""

from __future__ import annotations

import datetime
from typing import Any

from grantwarden.simulator import ipallow, model, trust, world
from grantwarden.simulator.reading import Reader, join
from grantwarden.simulator.scenario_orgs import CREATED, OrgReader

TRUST_KEYS = ("trustor", "trustee", "enabled", "date_expired", "users", "groups")


class AccessReader:
    def __init__(self, orgs_reader: OrgReader, orgs: dict[str, model.Org]) -> None:
        self.orgs_reader, self.orgs = orgs_reader, orgs
        self.reader: Reader = orgs_reader.reader
        self.sim: world.World = orgs_reader.sim

    def org(self, key: str, spec: dict[str, Any], path: str) -> None:
        org = self.orgs[key]
        self.groups(org, spec.get("groups"), join(path, "groups"))
        cidrs = self.reader.strings(spec.get("ip_allowlist"), join(path, "ip_allowlist"))
        for i, cidr in enumerate(cidrs):
            try:
                ipallow.network(cidr)
            except ValueError:
                self.reader.fail(join(join(path, "ip_allowlist"), i), f"{cidr!r} is not an IP address or CIDR range")
        org.ip_allowlist = tuple(cidrs)
        self.app_authorizations(org, spec.get("app_authorizations"), join(path, "app_authorizations"))

    def groups(self, org: model.Org, value: Any, path: str) -> None:
        r = self.reader
        for key, raw in r.mapping(value, path).items():
            here = join(path, key)
            spec = r.mapping(raw, here, allowed=("name", "members"))
            members = []
            for i, user_key in enumerate(r.strings(spec.get("members"), join(here, "members"))):
                user_id = model.stable_id(org.id, "user", user_key)
                if user_id not in org.users:
                    r.fail(join(join(here, "members"), i), f"unknown user {user_key!r}")
                members.append(user_id)
            group_id = model.stable_id(org.id, "group", key)
            org.groups[group_id] = model.Group(
                group_id, r.text(spec.get("name"), join(here, "name"), key), tuple(members)
            )

    def app_authorizations(self, org: model.Org, value: Any, path: str) -> None:
        """Approvals may name clients of any org (external apps)."""
        r = self.reader
        for key, raw in r.mapping(value, path).items():
            here = join(path, key)
            client = self.orgs_reader.clients.get(key)
            if client is None:
                r.fail(here, f"unknown client {key!r}")
            spec = r.mapping(raw, here, allowed=("state", "scopes"))
            state = r.choice(spec.get("state"), join(here, "state"), model.APP_AUTHORIZATION_STATES, "Authorized")
            scopes = tuple(r.strings(spec.get("scopes"), join(here, "scopes")))
            org.app_authorizations[client.id] = model.AppAuthorization(state, scopes)

    def trusts(self, value: Any) -> None:
        r = self.reader
        for i, raw in enumerate(r.seq(value, "trusts")):
            path = join("trusts", i)
            spec = r.mapping(raw, path, allowed=TRUST_KEYS)
            trustor, trustee = (self._org_key(spec.get(k), join(path, k)) for k in ("trustor", "trustee"))
            if trustor.region != trustee.region:
                r.fail(join(path, "trustee"), "a trust pairs two orgs of one region")
            made = trust.Trust(
                trustor.id,
                trustee.id,
                enabled=r.flag(spec.get("enabled"), join(path, "enabled"), True),
                date_created=CREATED,
                created_by=world.admin_id(trustor),
                date_expired=self._instant(spec.get("date_expired"), join(path, "date_expired")),
            )
            try:
                self.sim.trusts.add(made)
            except ValueError as exc:
                r.fail(join(path, "trustee"), str(exc))
            self.members(made, trustor, trustee, spec, path)

    def members(
        self, made: trust.Trust, trustor: model.Org, trustee: model.Org, spec: dict[str, Any], path: str
    ) -> None:
        r = self.reader
        for kind, field in (("user", "users"), ("group", "groups")):
            for key, roles in r.mapping(spec.get(field), join(path, field)).items():
                here = join(join(path, field), key)
                member_id = model.stable_id(trustee.id, kind, key)
                if member_id not in (trustee.users if kind == "user" else trustee.groups):
                    r.fail(here, f"org {trustee.name!r} has no {kind} {key!r}")
                pairs = self.orgs_reader.role_refs(trustor, roles, here, default_division=model.ALL_DIVISIONS)
                made.members[member_id] = trust.new_member(
                    member_id, "user" if kind == "user" else "group", pairs, CREATED
                )

    def _org_key(self, value: Any, path: str) -> model.Org:
        key = self.reader.text(value, path)
        if key not in self.orgs:
            self.reader.fail(path, f"unknown org {key!r}")
        return self.orgs[key]

    def _instant(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, datetime.datetime):  # YAML reads an unquoted timestamp as one
            moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
            return moment.timestamp()
        try:
            parsed = datetime.datetime.fromisoformat(self.reader.text(value, path))
        except ValueError:
            self.reader.fail(path, "must be an ISO-8601 date and time")
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)).timestamp()
