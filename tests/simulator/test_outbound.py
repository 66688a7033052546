"""POST /api/v2/conversations/messages/agentless: the client-only operation (platform.md §4.2).

Covers: a user token gets 400 not.a.client with the platform's message (before its scopes or
permissions are looked at); a client-credentials token without conversation:message:create gets
403 missing.permissions; with it, a valid request answers the queued message; invalid requests
(missing fromAddress, unknown messenger type, no recipient, non-numeric WhatsApp address, no
text) are 400s with the spec's codes.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.simulator import control

from .conftest import Api

PATH = "/api/v2/conversations/messages/agentless"
SEND = {"fromAddress": "+13175550100", "toAddress": "+13175550199", "toAddressMessengerType": "sms", "textBody": "hi"}


async def sender(api: Api) -> str:
    acme = api.sim.tenant("acme")
    control.add_role(api.sim.world, acme.client_id, "Everything")  # conversation:*:*
    return await api.mint(acme.client_id)


async def test_a_user_token_is_not_a_client(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")  # no conversations scope either: not.a.client comes first
    token = await api.user_token(desktop.client_id, desktop.redirect_uri or "")
    reply = await api.call("POST", PATH, token=token, json=SEND)
    assert (reply.status, reply.code) == (400, "not.a.client")
    assert reply.json["message"] == (
        "This request requires a non-user context. User token cannot be used for requests to this resource."
    )


async def test_a_client_needs_conversation_message_create(api: Api) -> None:
    reply = await api.call("POST", PATH, token=await api.mint(api.sim.tenant("acme").client_id), json=SEND)
    assert (reply.status, reply.code) == (403, "missing.permissions")
    assert reply.json["message"].endswith("[conversation:message:create]")


async def test_a_client_sends_an_agentless_message(api: Api) -> None:
    reply = await api.call("POST", PATH, token=await sender(api), json=SEND)
    assert reply.status == 200, reply.text
    assert (reply.json["messengerType"], reply.json["toAddress"], reply.json["message"]["status"]) == (
        "sms",
        "+13175550199",
        "queued",
    )
    assert reply.json["message"]["direction"] == "outbound"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"fromAddress": None}, "constraint.validation", id="no-from"),
        pytest.param({"toAddressMessengerType": "pigeon"}, "invalid.value", id="unknown-type"),
        pytest.param({"toAddress": None}, "constraint.validation", id="no-recipient"),
        pytest.param(
            {"toAddressMessengerType": "whatsapp", "toAddress": "+1 317"}, "invalid.whatsapp.address", id="wa"
        ),
        pytest.param({"textBody": None}, "constraint.validation", id="no-text"),
    ],
)
async def test_an_invalid_request_is_refused(api: Api, change: dict[str, Any], code: str) -> None:
    body = {k: v for k, v in {**SEND, **change}.items() if v is not None}
    reply = await api.call("POST", PATH, token=await sender(api), json=body)
    assert (reply.status, reply.code) == (400, code)
