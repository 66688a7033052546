"""The org-authorization read API (platform.md §7, platform.md §13): who trusts whom, with which roles.

Trustor side (the caller's org lets others in): ``/orgauthorization/trustees[/{trusteeOrgId}]``,
``…/trustees/{id}/users|groups`` and ``…/users|groups/{id}/roles`` (a ``UserAuthorization`` of the
member's trustor roles), each with its ``authorization:orgTrustee*:view`` permission. Trustee side
(the caller's org is let in): ``/orgauthorization/trustors`` and ``…/trustors/{trustorOrgId}/users
|groups``; the latter need ``orgTrusteeUser:view`` / ``orgTrusteeGroup:view`` *in the trustor org*
(the blog's words), i.e. through the caller's own trust membership, else 403
``missing.trustor.permissions`` "Missing required permission(s)" (a client-credentials caller is
never a member). An unknown or foreign pairing is 404 ``not.found``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from grantwarden.simulator import (
    api_routes,
    errors,
    guarding,
    identity_routes,
    listings,
    model,
    operations,
    permissions,
    trust,
    world,
)

BASE = "/api/v2/orgauthorization"


def org_user(sim: world.World, org_id: str, user_id: str) -> dict[str, Any]:
    """An ``OrgUser`` (no ``selfUri`` in that model): id and name (the org's administrator when unknown)."""
    person = sim.orgs[org_id].users.get(user_id)
    return {"id": user_id, "name": person.name if person else world.ADMIN_NAME}


def trustee_json(sim: world.World, entry: trust.Trust) -> dict[str, Any]:
    return {
        "id": entry.trustee_id,
        "enabled": entry.enabled,
        "usesDefaultRole": False,
        "hasFullAccess": False,
        "isTrustedUser": False,
        "dateCreated": model.iso(entry.date_created),
        **({"dateExpired": model.iso(entry.date_expired)} if entry.date_expired is not None else {}),
        "createdBy": org_user(sim, entry.trustor_id, entry.created_by),
        "organization": identity_routes.organization(sim.orgs[entry.trustee_id]),
        "selfUri": f"{BASE}/trustees/{entry.trustee_id}",
    }


def trustor_json(sim: world.World, entry: trust.Trust) -> dict[str, Any]:
    return {
        "id": entry.trustor_id,
        "enabled": entry.enabled,
        "dateCreated": model.iso(entry.date_created),
        "createdBy": org_user(sim, entry.trustor_id, entry.created_by),
        "organization": identity_routes.organization(sim.orgs[entry.trustor_id]),
        "selfUri": f"{BASE}/trustors/{entry.trustor_id}",
    }


def member_json(sim: world.World, entry: trust.Trust, member: trust.Member) -> dict[str, Any] | None:
    home = sim.orgs[entry.trustee_id]
    details = {"dateCreated": model.iso(member.date_created), **_creator(sim, entry)}
    if member.kind == "user":
        person = home.users.get(member.id)
        if person is None:
            return None
        found = identity_routes.user(home, person)
        del found["selfUri"]  # TrustUser has none
        return {**found, "trustUserDetails": details}
    group = home.groups.get(member.id)
    if group is None:
        return None
    return {
        "id": group.id,
        "name": group.name,
        "memberCount": len(group.member_ids),
        "state": "active",
        "version": 1,
        "type": "official",
        "rulesVisible": False,
        "visibility": "public",
        **details,
    }


def _creator(sim: world.World, entry: trust.Trust) -> dict[str, Any]:
    return {"createdBy": org_user(sim, entry.trustor_id, entry.created_by)}


def authorization_json(trustor: model.Org, version: model.ClientGrants) -> dict[str, Any]:
    """``UserAuthorization``: a member's trustor roles, their permissions and policies."""
    roles = [trustor.roles[rd.role_id] for rd in version.role_divisions if rd.role_id in trustor.roles]
    unique = list({role.id: role for role in roles}.values())
    held = permissions.holdings_of(trustor, version.role_divisions)
    return {
        "roles": [{"id": role.id, "name": role.name} for role in unique],
        "unusedRoles": [],
        "permissions": identity_routes.permission_list(held),
        "permissionPolicies": [
            {
                "id": model.stable_id(role.id, policy.domain, policy.entity),
                "domain": policy.domain,
                "entityName": policy.entity,
                "policyName": f"{policy.domain}:{policy.entity}",
                "actionSet": sorted(policy.actions),
                "allowConditions": False,
            }
            for role in unique
            for policy in role.policies
        ],
    }


class TrustRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        one = BASE + "/trustees/{trustee_org_id}"
        return [
            ("GET", BASE + "/trustees", self.trustees),
            ("GET", one, self.trustee),
            ("GET", one + "/users", self.members("user", operations.ORGAUTH_TRUSTEE_USERS)),
            ("GET", one + "/groups", self.members("group", operations.ORGAUTH_TRUSTEE_GROUPS)),
            ("GET", one + "/users/{member_id}/roles", self.roles("user", operations.ORGAUTH_TRUSTEE_USERS)),
            ("GET", one + "/groups/{member_id}/roles", self.roles("group", operations.ORGAUTH_TRUSTEE_GROUPS)),
            ("GET", BASE + "/trustors", self.trustors),
            ("GET", BASE + "/trustors/{trustor_org_id}/users", self.trustor_members("user")),
            ("GET", BASE + "/trustors/{trustor_org_id}/groups", self.trustor_members("group")),
        ]

    def pairing(self, trustor_id: str, trustee_id: str) -> trust.Trust:
        found = self.sim.trusts.get(trustor_id, trustee_id)
        if found is None:
            raise errors.not_found()
        return found

    def listing(self, request: web.Request, entities: list[dict[str, Any]]) -> web.StreamResponse:
        size, number = api_routes.page_params(request)
        path = request[guarding.PATH]
        return web.json_response(listings.paged(entities, path=path, page_size=size, page_number=number))

    async def trustees(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORGAUTH_TRUSTEES)
        return self.listing(request, [trustee_json(self.sim, t) for t in self.sim.trusts.of_trustor(caller.org.id)])

    async def trustee(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORGAUTH_TRUSTEES)
        entry = self.pairing(caller.org.id, request.match_info["trustee_org_id"])
        return web.json_response(trustee_json(self.sim, entry))

    async def trustors(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORGAUTH_TRUSTORS)
        return self.listing(request, [trustor_json(self.sim, t) for t in self.sim.trusts.of_trustee(caller.org.id)])

    def member_list(self, entry: trust.Trust, kind: trust.MemberKind) -> list[dict[str, Any]]:
        found = [member_json(self.sim, entry, m) for m in entry.members.values() if m.kind == kind]
        return [item for item in found if item is not None]

    def members(self, kind: trust.MemberKind, op: operations.Operation) -> api_routes.Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            caller = guarding.admit(self.sim, request, op)
            entry = self.pairing(caller.org.id, request.match_info["trustee_org_id"])
            return self.listing(request, self.member_list(entry, kind))

        return handle

    def roles(self, kind: trust.MemberKind, op: operations.Operation) -> api_routes.Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            caller = guarding.admit(self.sim, request, op)
            entry = self.pairing(caller.org.id, request.match_info["trustee_org_id"])
            member = entry.members.get(request.match_info["member_id"])
            if member is None or member.kind != kind:
                raise errors.not_found()
            return web.json_response(authorization_json(caller.org, member.configured))

        return handle

    def trustor_members(self, kind: trust.MemberKind) -> api_routes.Handler:
        needed = "authorization:orgTrusteeUser:view" if kind == "user" else "authorization:orgTrusteeGroup:view"

        async def handle(request: web.Request) -> web.StreamResponse:
            caller = guarding.admit(self.sim, request, operations.ORGAUTH_TRUSTOR_MEMBERS)
            entry = self.pairing(request.match_info["trustor_org_id"], caller.org.id)
            trustor = self.sim.orgs[entry.trustor_id]
            held = None
            if caller.user is not None and caller.home_org is caller.org:
                held = trust.holdings_for(trustor, entry, caller.org, caller.user, self.sim.clock.now())
            if held is None or not held.holds(needed):
                raise errors.missing_trustor_permissions()
            return self.listing(request, self.member_list(entry, kind))

        return handle
