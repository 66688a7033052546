"""The org's authentication settings API (platform.md §15): ``GET/PATCH /api/v2/organizations/authentication/settings``.

Reads and writes the org-wide IP allow-list (checked by ``ipallow.validated``) and the other
settings of ``OrgAuthSettings`` as last written. Kept apart from ``ipallow``, the rule that
``guarding`` applies to every request: these routes pass the gate themselves, so the rule must
not know them. Called by ``app``, which mounts ``SettingsRoutes.table()``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, errors, guarding, ipallow, model, operations, world

_BOOLEANS = ("multifactorAuthenticationRequired", "domainAllowlistEnabled", "universalLogout")
_LISTS = ("domainAllowlist", "inactivityTimeoutExclusions")


def settings_json(org: model.Org) -> dict[str, Any]:
    """``OrgAuthSettings``: the allow-list, and the other settings as last written."""
    body: dict[str, Any] = {
        "multifactorAuthenticationRequired": False,
        "domainAllowlistEnabled": False,
        "domainAllowlist": [],
        ipallow.FIELD: list(org.ip_allowlist),
        "inactivityTimeoutExclusions": [],
        "universalLogout": False,
        "tokenStorageLocation": "persistent",
    }
    body.update(org.auth_settings)
    return body


def _others(body: dict[str, Any]) -> dict[str, object]:
    changed: dict[str, object] = {}
    for key, value in body.items():
        if key in _BOOLEANS and isinstance(value, bool):
            changed[key] = value
        elif key in _LISTS and isinstance(value, list) and all(isinstance(v, str) for v in value):
            changed[key] = list(value)
        elif key == "tokenStorageLocation" and value in ("persistent", "session"):
            changed[key] = value
        elif key != ipallow.FIELD:
            raise errors.PlatformError(
                400, "invalid.property", f"Value [{key}] is not a valid property for object [OrgAuthSettings]"
            )
    return changed


class SettingsRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        path = "/api/v2/organizations/authentication/settings"
        return [("GET", path, self.read), ("PATCH", path, self.patch)]

    async def read(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORG_AUTH_SETTINGS)
        return web.json_response(settings_json(caller.org))

    async def patch(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORG_AUTH_SETTINGS_PATCH)
        body = await api_routes.json_object(request)
        others = _others(body)
        if ipallow.FIELD in body:
            caller.org.ip_allowlist = ipallow.validated(body[ipallow.FIELD], ipallow.address_of(self.sim, request))
        caller.org.auth_settings.update(others)
        return web.json_response(settings_json(caller.org))
