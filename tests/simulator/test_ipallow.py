"""The org IP allow-list (platform.md §15): the 401, the settings API and its rules.

Covers: with an org's list non-empty and the caller outside it, every API call acting in that org
answers 401 ip.not.authorized "Requests originating from this IP address are not authorized:
[127.0.0.1]" (other orgs unaffected; the token endpoint still mints: an assumption); inside the
list, or with the list cleared, calls pass; GET/PATCH /organizations/authentication/settings
with directory:organization:admin (403 otherwise) and the organization scopes; PATCH refusing
private or malformed entries, more than 150, and a list that leaves out the editor's address.
"""

from __future__ import annotations

from grantwarden.simulator import control, control_orgs

from .conftest import Api

SETTINGS = "/api/v2/organizations/authentication/settings"
ME = "/api/v2/organizations/me"


async def admin_token(api: Api) -> str:
    acme = api.sim.tenant("acme")
    control.add_role(api.sim.world, acme.admin_client_id or "", "Everything")  # directory:*:* included
    return await api.mint(acme.admin_client_id or "")


async def test_outside_the_allow_list_every_api_call_is_ip_not_authorized(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    control_orgs.set_ip_allowlist(api.sim.world, acme.org_id, ["203.0.113.0/24"])
    for path in (ME, "/api/v2/tokens/me", "/api/v2/conversations/messaging/integrations"):
        reply = await api.get(path, token)
        assert reply.status == 401, path
        assert {k: reply.json[k] for k in ("code", "message", "status")} == {
            "code": "ip.not.authorized",
            "message": "Requests originating from this IP address are not authorized: [127.0.0.1]",
            "status": 401,
        }
    eu = api.sim.tenant("acme-eu")  # another org: no list, no refusal
    assert (await api.get(ME, await api.mint(eu.client_id), region=eu.region)).status == 200


async def test_the_token_endpoint_still_mints_under_an_allow_list(api: Api) -> None:
    acme = api.sim.tenant("acme")
    control_orgs.set_ip_allowlist(api.sim.world, acme.org_id, ["203.0.113.0/24"])
    token = await api.mint(acme.client_id)  # asserts 200
    assert (await api.get(ME, token)).code == "ip.not.authorized"


async def test_inside_the_list_or_with_it_cleared_calls_pass(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    control_orgs.set_ip_allowlist(api.sim.world, acme.org_id, ["203.0.113.0/24", "127.0.0.0/8"])
    assert (await api.get(ME, token)).status == 200
    control_orgs.set_ip_allowlist(api.sim.world, acme.org_id, ["203.0.113.0/24"])
    control_orgs.set_remote_address(api.sim.world, "203.0.113.9")
    assert (await api.get(ME, token)).status == 200
    control_orgs.set_remote_address(api.sim.world, None)
    assert (await api.get(ME, token)).status == 401
    control_orgs.set_ip_allowlist(api.sim.world, acme.org_id, [])
    assert (await api.get(ME, token)).status == 200


async def test_the_settings_show_the_allow_list(api: Api) -> None:
    token = await admin_token(api)
    settings = (await api.get(SETTINGS, token)).json
    assert settings["ipAddressAllowlist"] == []
    assert settings["multifactorAuthenticationRequired"] is False


async def test_reading_the_settings_needs_directory_organization_admin(api: Api) -> None:
    reply = await api.get(SETTINGS, await api.mint(api.sim.tenant("acme").client_id))
    assert (reply.status, reply.code) == (403, "missing.any.permissions")
    assert reply.json["message"].endswith("[directory:organization:admin]")


async def test_patch_sets_a_public_list_that_holds_the_editors_address(api: Api) -> None:
    token = await admin_token(api)
    control_orgs.set_remote_address(api.sim.world, "52.1.2.3")
    reply = await api.call("PATCH", SETTINGS, token=token, json={"ipAddressAllowlist": ["52.1.0.0/16", "34.8.9.10"]})
    assert reply.status == 200, reply.text
    assert reply.json["ipAddressAllowlist"] == ["52.1.0.0/16", "34.8.9.10"]
    assert (await api.get(ME, token)).status == 200  # 52.1.2.3 is inside
    control_orgs.set_remote_address(api.sim.world, None)
    assert (await api.get(ME, token)).code == "ip.not.authorized"


async def test_patch_refuses_what_the_help_page_forbids(api: Api) -> None:
    token = await admin_token(api)
    cases = {
        "private": (["10.0.0.0/8"], "constraint.validation"),
        "documentation": (["203.0.113.0/24"], "constraint.validation"),
        "ipv6": (["2001:4860::/32"], "constraint.validation"),
        "garbage": (["not-an-address"], "invalid.value"),
        "too many": ([f"52.1.{i}.0/24" for i in range(151)], "constraint.validation"),
        "editor outside": (["52.1.0.0/16"], "invalid.ip.address"),  # the caller is 127.0.0.1
    }
    for name, (cidrs, code) in cases.items():
        reply = await api.call("PATCH", SETTINGS, token=token, json={"ipAddressAllowlist": cidrs})
        assert (reply.status, reply.code) == (400, code), name
    outside = await api.call("PATCH", SETTINGS, token=token, json={"ipAddressAllowlist": ["52.1.0.0/16"]})
    assert outside.json["message"] == "IP address whitelisting cannot be configured from outside of the allowed ranges."
    assert (await api.get(ME, token)).status == 200  # nothing was stored


async def test_patch_changes_only_what_it_names(api: Api) -> None:
    token = await admin_token(api)
    reply = await api.call("PATCH", SETTINGS, token=token, json={"multifactorAuthenticationRequired": True})
    assert (reply.json["multifactorAuthenticationRequired"], reply.json["ipAddressAllowlist"]) == (True, [])
    unknown = await api.call("PATCH", SETTINGS, token=token, json={"colour": "blue"})
    assert (unknown.status, unknown.code) == (400, "invalid.property")


async def test_patch_needs_the_organization_write_scope(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")  # organization:readonly only
    token = await api.user_token(desktop.client_id, desktop.redirect_uri or "")
    assert (await api.get(SETTINGS, token)).status == 200  # the test user holds Everything
    reply = await api.call("PATCH", SETTINGS, token=token, json={"ipAddressAllowlist": []})
    assert (reply.status, reply.json["message"]) == (403, "App not authorized to use scope [organization]")
