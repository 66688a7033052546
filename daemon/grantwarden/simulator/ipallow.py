"""The org-wide IP allow-list (platform.md §15): its rule, and what a list written to it may hold.

When an org's ``ipAddressAllowlist`` is non-empty, every API call acting in that org from an
address outside it answers 401 ``ip.not.authorized`` "Requests originating from this IP address
are not authorized: [<addr>]" (``guarding`` asks ``allows``). The address is the request's remote
address (loopback in tests), or ``World.remote_address`` when a test pretends to be elsewhere.
``validated`` holds the help page's rules for a list sent to the settings API (at most 150
entries, IPv4, no private addresses, the editor's own address inside; ``ipallow_routes`` serves
it); the control knob (``control_orgs.set_ip_allowlist``) skips them, so a test can list a range
that leaves out 127.0.0.1. The token endpoint is not restricted (an assumption: unknown). No
routes here: ``guarding`` asks this module on every request, so it must not import the gate.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from grantwarden.simulator import errors, world

MAX_ENTRIES = 150  # "max 150 CIDRs" (help page, platform.md §15)
FIELD = "ipAddressAllowlist"


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
