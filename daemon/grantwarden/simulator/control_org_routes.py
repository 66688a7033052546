"""The ``/__sim/`` knobs on orgs over HTTP: trusts, IP allow-lists, the UI person, role edits.

The same functions as ``control_orgs``, for a simulator in another process; answers and refusals
as in ``control_routes`` (``{"ok": true}``; 404 for an unknown id, else 400 ``{"error": ...}``).
``GET /__sim/audits`` lists the audit trail (optionally ``?org_id=``) as ``AuditLogMessage``s,
without the API's permission and look-back rules.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, audit, control_orgs, world
from grantwarden.simulator.control_routes import ControlRequestError, json_body, ok, refusing

TRUST = "/__sim/trusts/{trustor_org_id}/{trustee_org_id}"


def instant(value: Any) -> float | None:
    """An ISO-8601 moment (or null) from a control body."""
    if value is None:
        return None
    parsed = datetime.datetime.fromisoformat(str(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)).timestamp()


def role_refs(value: Any) -> list[control_orgs.RoleRef]:
    """``["Role", {"role": "Role", "division": "Home"}]``: names in all divisions, or pairs."""
    if not isinstance(value, list):
        raise ControlRequestError("roles is a list of role names or {role, division} objects")
    refs: list[control_orgs.RoleRef] = []
    for item in value:
        if isinstance(item, dict):
            refs.append((str(item["role"]), str(item.get("division", "*"))))
        else:
            refs.append(str(item))
    return refs


class OrgControlRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        routes: list[api_routes.Route] = [
            ("POST", "/__sim/trusts", self.create_trust),
            ("POST", TRUST, self.change_trust),
            ("DELETE", TRUST, self.delete_trust),
            ("POST", "/__sim/orgs/{org_id}/ip-allowlist", self.ip_allowlist),
            ("POST", "/__sim/remote-address", self.remote_address),
            ("POST", "/__sim/orgs/{org_id}/ui-user", self.ui_user),
            ("POST", "/__sim/orgs/{org_id}/roles/{role}", self.edit_role),
            ("GET", "/__sim/audits", self.audits),
        ]
        return [(method, path, refusing(handler)) for method, path, handler in routes]

    async def create_trust(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        control_orgs.create_trust(
            self.sim,
            str(body["trustor_org_id"]),
            str(body["trustee_org_id"]),
            enabled=bool(body.get("enabled", True)),
            date_expired=instant(body.get("date_expired")),
        )
        return ok()

    async def change_trust(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        pair = (self.sim, request.match_info["trustor_org_id"], request.match_info["trustee_org_id"])
        action = body.get("action")
        if action in ("enable", "disable"):
            control_orgs.set_trust_enabled(*pair, action == "enable")
        elif action == "expire":
            control_orgs.set_trust_expiry(*pair, instant(body.get("date_expired")))
        elif action == "set_member":
            control_orgs.set_trust_member(*pair, str(body["member"]), role_refs(body.get("roles")))
        elif action == "remove_role":
            control_orgs.remove_trust_role(*pair, str(body["member"]), str(body["role"]))
        elif action == "remove_member":
            control_orgs.remove_trust_member(*pair, str(body["member"]))
        else:
            raise ControlRequestError("action is enable, disable, expire, set_member, remove_role or remove_member")
        return ok()

    async def delete_trust(self, request: web.Request) -> web.StreamResponse:
        control_orgs.delete_trust(self.sim, request.match_info["trustor_org_id"], request.match_info["trustee_org_id"])
        return ok()

    async def ip_allowlist(self, request: web.Request) -> web.StreamResponse:
        cidrs = (await json_body(request)).get("cidrs", [])
        if not isinstance(cidrs, list):
            raise ControlRequestError("cidrs is a list of addresses or CIDR ranges")
        control_orgs.set_ip_allowlist(self.sim, request.match_info["org_id"], [str(c) for c in cidrs])
        return ok()

    async def remote_address(self, request: web.Request) -> web.StreamResponse:
        address = (await json_body(request)).get("address")
        control_orgs.set_remote_address(self.sim, None if address is None else str(address))
        return ok()

    async def ui_user(self, request: web.Request) -> web.StreamResponse:
        user = (await json_body(request)).get("user")
        control_orgs.set_ui_user(self.sim, request.match_info["org_id"], None if user is None else str(user))
        return ok()

    async def edit_role(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        add, remove = body.get("add", []), body.get("remove", [])
        if not isinstance(add, list) or not isinstance(remove, list):
            raise ControlRequestError("add and remove are lists of domain:entity:action patterns")
        control_orgs.edit_role(
            self.sim,
            request.match_info["org_id"],
            request.match_info["role"],
            add=[str(p) for p in add],
            remove=[str(p) for p in remove],
        )
        return ok()

    async def audits(self, request: web.Request) -> web.StreamResponse:
        entries = self.sim.audits.entries(request.query.get("org_id"))
        return web.json_response([audit.render(entry) for entry in entries])
