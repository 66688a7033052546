"""The org-wide IP allow-list (platform.md §15): its rule, and its settings API.

When an org's ``ipAddressAllowlist`` is non-empty, every API call acting in that org from an
address outside it answers 401 ``ip.not.authorized`` "Requests originating from this IP address
are not authorized: [<addr>]" (``guarding`` asks ``allows``). The address is the request's remote
address (loopback in tests), or ``World.remote_address`` when a test pretends to be elsewhere.
``GET/PATCH /api/v2/organizations/authentication/settings`` read and change it with the help
page's rules (at most 150 entries, IPv4, no private addresses, the editor's own address inside);
the control knob (``control_orgs.set_ip_allowlist``) skips them, so a test can list a range that
leaves out 127.0.0.1. The token endpoint is not restricted (an assumption: unknown).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, errors, guarding, model, operations, world

MAX_ENTRIES = 150  # "max 150 CIDRs" (help page, platform.md §15)
FIELD = "ipAddressAllowlist"
_BOOLEANS = ("multifactorAuthenticationRequired", "domainAllowlistEnabled", "universalLogout")
_LISTS = ("domainAllowlist", "inactivityTimeoutExclusions")


def network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR or a single address as a network; ValueError when it is neither."""
    return ipaddress.ip_network(cidr.strip(), strict=False)


def allows(allowlist: tuple[str, ...], address: str | None) -> bool:
    if not allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network(cidr) for cidr in allowlist)


def address_of(sim: world.World, request: web.Request) -> str:
    return sim.remote_address or request.remote or "unknown"


def validated(value: Any, editor: str) -> tuple[str, ...]:
    """An allow-list sent to the API, checked as the help page describes (codes: assumptions)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise errors.bad_request(f"{FIELD} must be a list of strings", code="constraint.validation", field=FIELD)
    if len(value) > MAX_ENTRIES:
        raise errors.bad_request(f"{FIELD} holds at most {MAX_ENTRIES} entries", code="constraint.validation")
    for cidr in value:
        try:
            net = network(cidr)
        except ValueError:
            raise errors.invalid_value(cidr, FIELD, ["IPv4 addresses", "IPv4 CIDR ranges"]) from None
        if net.version != 4 or not net.is_global:
            raise errors.bad_request(
                f"Only public IPv4 addresses can be allowed: [{cidr}]", code="constraint.validation", field=FIELD
            )
    chosen = tuple(dict.fromkeys(cidr.strip() for cidr in value))
    if chosen and not allows(chosen, editor):
        # declared on the older PUT /organizations/ipaddressauthentication (platform.md §15)
        message = "IP address whitelisting cannot be configured from outside of the allowed ranges."
        raise errors.PlatformError(400, "invalid.ip.address", message)
    return chosen


def settings_json(org: model.Org) -> dict[str, Any]:
    """``OrgAuthSettings``: the allow-list, and the other settings as last written."""
    body: dict[str, Any] = {
        "multifactorAuthenticationRequired": False,
        "domainAllowlistEnabled": False,
        "domainAllowlist": [],
        FIELD: list(org.ip_allowlist),
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
        elif key != FIELD:
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
        try:
            body = await request.json()
        except ValueError:
            raise errors.malformed() from None
        if not isinstance(body, dict):
            raise errors.malformed()
        others = _others(body)
        if FIELD in body:
            caller.org.ip_allowlist = validated(body[FIELD], address_of(self.sim, request))
        caller.org.auth_settings.update(others)
        return web.json_response(settings_json(caller.org))
