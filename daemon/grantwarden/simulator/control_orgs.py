"""Knobs on orgs for tests: org trusts, the IP allow-list, the UI person, role edits.

What an admin does in the UI (platform.md §13, E5), done at once and audited as the org's
UI person (``World.ui_actor``; ``set_ui_user`` picks who that is): create, enable, disable,
expire or delete a trust; give a trustee user or group trustor roles (names in all divisions,
as ``roleIds``, or ``(role, division)`` pairs) or take one away; set an org's IP allow-list
without the API's rules (so a test can list 203.0.113.0/24 and leave out 127.0.0.1); pretend
every request comes from another address; edit a role's permissions (every holder sees it).
Raises ``control.ControlError`` for unknown ids or impossible values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from grantwarden.simulator import audit, catalog, control, grants, ipallow, model, rights, trust, world

TRUST = "OrganizationAuthorizationTrust"
RoleRef = str | tuple[str, str]  # a role name or id (all divisions), or (role, division)


def person(org: model.Org, ref: str) -> model.User:
    """A user of ``org`` by id, scenario key, name or e-mail."""
    for user in org.users.values():
        if ref in (user.id, user.name, user.email) or user.id == model.stable_id(org.id, "user", ref):
            return user
    raise control.ControlError(f"org {org.id} has no user {ref!r}")


def set_ui_user(sim: world.World, org_id: str, user: str | None) -> None:
    """Whose UI changes the knobs stand for in ``org_id``'s audit trail (None: its administrator)."""
    target = control.org(sim, org_id)
    if user is None:
        sim.ui_users.pop(org_id, None)
    else:
        sim.ui_users[org_id] = person(target, user).id


def set_ip_allowlist(sim: world.World, org_id: str, cidrs: Sequence[str]) -> None:
    target = control.org(sim, org_id)
    for cidr in cidrs:
        try:
            ipallow.network(cidr)
        except ValueError:
            raise control.ControlError(f"{cidr!r} is not an IP address or CIDR range") from None
    target.ip_allowlist = tuple(dict.fromkeys(c.strip() for c in cidrs))


def set_remote_address(sim: world.World, address: str | None) -> None:
    """Treat every request as coming from ``address`` (None: the real remote address)."""
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise control.ControlError(f"{address!r} is not an IP address") from None
    sim.remote_address = address


def _trust(sim: world.World, trustor_id: str, trustee_id: str) -> trust.Trust:
    found = sim.trusts.get(trustor_id, trustee_id)
    if found is None:
        raise control.ControlError(f"unknown trust: org {trustor_id!r} does not trust org {trustee_id!r}")
    return found


def _audit(sim: world.World, entry: trust.Trust, action: str, changes: Sequence[audit.Change], **context: str) -> None:
    trustee = sim.orgs[entry.trustee_id]
    sim.audits.record(
        org_id=entry.trustor_id,
        now=sim.clock.now(),
        actor=sim.ui_actor(entry.trustor_id),
        action=action,
        entity=(TRUST, trustee.id, trustee.name),
        changes=changes,
        context=context,
    )


def create_trust(
    sim: world.World, trustor_id: str, trustee_id: str, *, enabled: bool = True, date_expired: float | None = None
) -> trust.Trust:
    control.org(sim, trustor_id)
    control.org(sim, trustee_id)
    creator = sim.ui_actor(trustor_id).user_id or ""
    made = trust.Trust(trustor_id, trustee_id, enabled, sim.clock.now(), creator, date_expired)
    try:
        sim.trusts.add(made)
    except ValueError as exc:
        raise control.ControlError(str(exc)) from None
    _audit(sim, made, "Create", [audit.Change("enabled", (), (str(enabled).lower(),))])
    return made


def set_trust_enabled(sim: world.World, trustor_id: str, trustee_id: str, enabled: bool) -> None:
    entry = _trust(sim, trustor_id, trustee_id)
    changes = audit.diff("enabled", [str(entry.enabled).lower()], [str(enabled).lower()])
    entry.enabled = enabled
    if changes:
        _audit(sim, entry, "Update", changes)


def set_trust_expiry(sim: world.World, trustor_id: str, trustee_id: str, date_expired: float | None) -> None:
    entry = _trust(sim, trustor_id, trustee_id)
    shown = [] if date_expired is None else [model.iso(date_expired)]
    old = [] if entry.date_expired is None else [model.iso(entry.date_expired)]
    entry.date_expired = date_expired
    _audit(sim, entry, "Update", audit.diff("dateExpired", old, shown))


def delete_trust(sim: world.World, trustor_id: str, trustee_id: str) -> None:
    entry = _trust(sim, trustor_id, trustee_id)
    sim.trusts.remove(trustor_id, trustee_id)
    _audit(sim, entry, "Delete", [audit.Change("enabled", (str(entry.enabled).lower(),), ())])


def _member_ref(home: model.Org, ref: str) -> tuple[str, trust.MemberKind]:
    """A trustee user (by id, key, name, e-mail) or group (by id or name)."""
    for group in home.groups.values():
        if ref in (group.id, group.name) or group.id == model.stable_id(home.id, "group", ref):
            return group.id, "group"
    return person(home, ref).id, "user"


def _role_divisions(trustor: model.Org, roles: Sequence[RoleRef]) -> tuple[model.RoleDivision, ...]:
    found = []
    for ref in roles:
        name, division = (ref, model.ALL_DIVISIONS) if isinstance(ref, str) else ref
        role = trustor.roles.get(name) or trustor.role_named(name)
        if role is None:
            raise control.ControlError(f"org {trustor.id} has no role {name!r}")
        matches = [
            d.id for d in trustor.divisions.values() if division in (d.id, d.name) or (division == "home" and d.home)
        ]
        if division != model.ALL_DIVISIONS and not matches:
            raise control.ControlError(f"org {trustor.id} has no division {division!r}")
        found.append(
            model.RoleDivision(role.id, model.ALL_DIVISIONS if division == model.ALL_DIVISIONS else matches[0])
        )
    return tuple(dict.fromkeys(found))


def _change_member(
    sim: world.World, entry: trust.Trust, member_id: str, kind: trust.MemberKind, pairs: tuple[model.RoleDivision, ...]
) -> None:
    now, existing = sim.clock.now(), entry.members.get(member_id)
    before = [] if existing is None else [f"{rd.role_id}:{rd.division_id}" for rd in existing.configured.role_divisions]
    if existing is None:
        entry.members[member_id] = trust.new_member(member_id, kind, pairs, now)
    else:
        grants.record(existing, pairs, (), effective_at=now)
        grants.prune(existing, now)
    changes = audit.diff("roleDivisions", before, [f"{rd.role_id}:{rd.division_id}" for rd in pairs])
    action = "MemberAdd" if existing is None else "MemberUpdate"
    _audit(sim, entry, action, changes, memberId=member_id, memberType=kind.capitalize())


def set_trust_member(sim: world.World, trustor_id: str, trustee_id: str, member: str, roles: Sequence[RoleRef]) -> None:
    """Add a trustee user or group to a trust, or replace its trustor roles."""
    entry = _trust(sim, trustor_id, trustee_id)
    member_id, kind = _member_ref(sim.orgs[trustee_id], member)
    _change_member(sim, entry, member_id, kind, _role_divisions(sim.orgs[trustor_id], roles))


def remove_trust_role(sim: world.World, trustor_id: str, trustee_id: str, member: str, role: str) -> None:
    """Drift: take one trustor role (in every division) away from a trust member."""
    entry = _trust(sim, trustor_id, trustee_id)
    member_id, kind = _member_ref(sim.orgs[trustee_id], member)
    found = entry.members.get(member_id)
    if found is None:
        raise control.ControlError(f"{member!r} is not a member of this trust")
    (gone,) = _role_divisions(sim.orgs[trustor_id], [role])
    kept = tuple(rd for rd in found.configured.role_divisions if rd.role_id != gone.role_id)
    _change_member(sim, entry, member_id, kind, kept)


def remove_trust_member(sim: world.World, trustor_id: str, trustee_id: str, member: str) -> None:
    entry = _trust(sim, trustor_id, trustee_id)
    member_id, kind = _member_ref(sim.orgs[trustee_id], member)
    found = entry.members.pop(member_id, None)
    if found is None:
        raise control.ControlError(f"{member!r} is not a member of this trust")
    before = [f"{rd.role_id}:{rd.division_id}" for rd in found.configured.role_divisions]
    _audit(
        sim,
        entry,
        "MemberRemove",
        audit.diff("roleDivisions", before, []),
        memberId=member_id,
        memberType=kind.capitalize(),
    )


def edit_role(sim: world.World, org_id: str, role: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
    """Change a role's permission patterns; every client, user and trust member holding it is affected."""
    target = control.org(sim, org_id)
    found = target.roles.get(role) or target.role_named(role)
    if found is None:
        raise control.ControlError(f"org {org_id} has no role {role!r}")
    before = sorted(f"{p.domain}:{p.entity}:{a}" for p in found.policies for a in p.actions)
    for pattern in add:
        try:
            policy = rights.policies_from([pattern])[0]
        except ValueError as exc:
            raise control.ControlError(str(exc)) from None
        if not any(policy.grants(p) for p in catalog.ALL_PERMISSIONS):
            raise control.ControlError(f"{pattern!r} matches no permission of the platform")
    missing = [p for p in remove if p not in before]
    if missing:
        raise control.ControlError(f"role {found.name!r} has no pattern {missing[0]!r}")
    after = sorted({*(p for p in before if p not in remove), *add})
    found.policies = rights.policies_from(after)
    forget_holdings(sim)
    actor = sim.ui_actor(org_id)
    changes = audit.diff("permissionPolicies", before, after)
    sim.audits.record(
        org_id=org_id,
        now=sim.clock.now(),
        actor=actor,
        action="Update",
        entity=("Role", found.id, found.name),
        changes=changes,
    )


def forget_holdings(sim: world.World) -> None:
    """Drop memoised permission answers after a role changed (they are per subject and version)."""
    for client in sim.clients.values():
        for version in client.versions:
            version.holdings = None
    for token in sim.tokens.access.values():
        if token.grants is not None:
            token.grants.holdings = None
    for org in sim.orgs.values():
        for user in org.users.values():
            user.holdings = None
    for entry in sim.trusts:
        for member in entry.members.values():
            for version in member.versions:
                version.holdings = None
