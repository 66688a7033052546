"""OAuth client state and lifecycle (platform.md §1.5, platform.md §12): create, states, delete.

Covers: POST /oauth/clients (oauth:client:add; the secret returned once; a new client only
active: 400 bad.client.state; the caller must hold the roles it grants); state on every client;
PUT to disabled kills the tokens and the client cannot mint (invalid_client, assumption); a
disabled client cannot be edited (400 bad.client.state "Client is disabled."); inactive: no new
tokens, existing ones keep working (assumption); DELETE needs oauth:client:delete and an inactive
client (else 400 cannot.delete.client with the platform's message), answers 204, then 404
client.not.found "Client was not found.", its tokens 401 and its login invalid_client.
"""

from __future__ import annotations

from typing import Any

from grantwarden.simulator import control, control_orgs

from .conftest import Api, Reply

CC = {"grant_type": "client_credentials"}


async def admin(api: Api, *extra: str) -> str:
    acme = api.sim.tenant("acme")
    if extra:
        control_orgs.edit_role(api.sim.world, acme.org_id, "OAuth Client Admin", add=list(extra))
    return await api.mint(acme.admin_client_id or "")


async def put(api: Api, token: str, client_id: str, **changes: Any) -> Reply:
    current = (await api.get(f"/api/v2/oauth/clients/{client_id}", token)).json
    return await api.call("PUT", f"/api/v2/oauth/clients/{client_id}", token=token, json={**current, **changes})


def viewer(api: Api) -> str:
    found = api.sim.world.orgs[api.sim.tenant("acme").org_id].role_named("Messaging Viewer")
    assert found is not None
    return found.id


async def test_a_created_client_returns_its_secret_once_and_can_mint(api: Api) -> None:
    token = await admin(api, "oauth:client:add")
    body = {
        "name": "made by api",
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": viewer(api)}],
    }
    made = await api.call("POST", "/api/v2/oauth/clients", token=token, json=body)
    assert made.status == 200, made.text
    assert (made.json["state"], made.json["createdBy"]["id"]) == ("active", api.sim.tenant("acme").admin_client_id)
    minted = await api.token_request(CC, client_id=made.json["id"], secret=made.json["secret"])
    assert minted.status == 200
    assert "secret" not in (await api.get(f"/api/v2/oauth/clients/{made.json['id']}", token)).json


async def test_creation_has_the_platforms_refusals(api: Api) -> None:
    base = {"name": "x", "authorizedGrantType": "CLIENT-CREDENTIALS", "roleDivisions": [{"roleId": viewer(api)}]}
    plain = await admin(api)
    refused = await api.call("POST", "/api/v2/oauth/clients", token=plain, json=base)
    assert (refused.status, refused.code) == (403, "missing.any.permissions")
    token = await admin(api, "oauth:client:add")
    inactive = await api.call("POST", "/api/v2/oauth/clients", token=token, json={**base, "state": "inactive"})
    assert (inactive.code, inactive.json["message"]) == (
        "bad.client.state",
        "New clients can only have an active state",
    )
    roleless = await api.call("POST", "/api/v2/oauth/clients", token=token, json={**base, "roleDivisions": []})
    assert roleless.code == "missing.client.roles"
    everything = api.sim.world.orgs[api.sim.tenant("acme").org_id].role_named("Everything")
    assert everything is not None
    not_held = await api.call(
        "POST", "/api/v2/oauth/clients", token=token, json={**base, "roleDivisions": [{"roleId": everything.id}]}
    )
    assert not_held.code == "bad.client.role"
    nameless = await api.call("POST", "/api/v2/oauth/clients", token=token, json={"authorizedGrantType": "CODE"})
    assert nameless.code == "constraint.validation"


async def test_every_client_has_a_state_and_disabling_it_by_put_kills_its_tokens(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api)
    listing = (await api.get("/api/v2/oauth/clients", token)).json["entities"]
    assert {c["state"] for c in listing} == {"active"}
    victim = await api.mint(acme.client_id)
    assert (await put(api, token, acme.client_id, state="disabled")).status == 200
    assert (await api.get("/api/v2/tokens/me", victim)).code == "bad.credentials"
    minted = await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))
    assert (minted.status, minted.json) == (
        401,
        {
            "error": "invalid_client",
            "description": "authentication failed",
            "error_description": "authentication failed",
        },
    )


async def test_a_disabled_client_cannot_be_edited(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api)
    current = (await api.get(f"/api/v2/oauth/clients/{acme.client_id}", token)).json
    control.set_client_state(api.sim.world, acme.client_id, "disabled")
    reply = await api.call(
        "PUT", f"/api/v2/oauth/clients/{acme.client_id}", token=token, json={**current, "state": "active"}
    )
    assert (reply.status, reply.code, reply.json["message"]) == (400, "bad.client.state", "Client is disabled.")


async def test_an_inactive_client_keeps_its_tokens_but_cannot_mint(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api)
    held = await api.mint(acme.client_id)
    assert (await put(api, token, acme.client_id, state="inactive")).json["state"] == "inactive"
    assert (await api.get("/api/v2/tokens/me", held)).status == 200
    minted = await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))
    assert (minted.status, minted.code) == (401, "invalid_client")
    assert (await put(api, token, acme.client_id, state="active")).status == 200  # restored
    assert (await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))).status == 200


async def test_delete_needs_an_inactive_client(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api, "oauth:client:delete")
    reply = await api.call("DELETE", f"/api/v2/oauth/clients/{acme.client_id}", token=token)
    assert (reply.status, reply.code) == (400, "cannot.delete.client")
    assert reply.json["message"] == "Clients must be marked as inactive to be eligible for deletion."
    control.set_client_state(api.sim.world, acme.client_id, "disabled")
    assert (
        await api.call("DELETE", f"/api/v2/oauth/clients/{acme.client_id}", token=token)
    ).code == "cannot.delete.client"


async def test_a_deleted_client_is_gone_with_its_tokens(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api, "oauth:client:delete")
    held, secret = await api.mint(acme.client_id), api.sim.secret(acme.client_id)
    await put(api, token, acme.client_id, state="inactive")
    deleted = await api.call("DELETE", f"/api/v2/oauth/clients/{acme.client_id}", token=token)
    assert (deleted.status, deleted.text) == (204, "")
    again = await api.get(f"/api/v2/oauth/clients/{acme.client_id}", token)
    assert (again.status, again.code, again.json["message"]) == (404, "client.not.found", "Client was not found.")
    assert (await api.call("DELETE", f"/api/v2/oauth/clients/{acme.client_id}", token=token)).code == "client.not.found"
    assert (await api.get("/api/v2/tokens/me", held)).code == "bad.credentials"
    minted = await api.token_request(CC, client_id=acme.client_id, secret=secret)
    assert (minted.status, minted.code) == (401, "invalid_client")


async def test_delete_needs_oauth_client_delete(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await admin(api)
    control.set_client_state(api.sim.world, acme.client_id, "inactive")
    reply = await api.call("DELETE", f"/api/v2/oauth/clients/{acme.client_id}", token=token)
    assert (reply.status, reply.json["message"]) == (
        403,
        "Unable to perform the requested action. You must have at least one of the following permissions assigned: "
        "[oauth:client:delete]",
    )
