"""Agentless outbound messages: the platform's client-credentials-only operation (platform.md §4.2).

``POST /api/v2/conversations/messages/agentless`` "requires a non-user context": a user token
gets 400 ``not.a.client`` (the gate checks that). For a client-credentials token holding
``conversation:message:create`` this validates a ``SendAgentlessOutboundMessageRequest``
(``fromAddress`` and ``toAddressMessengerType`` required, as the spec says; a recipient and a
text or template) and answers the queued message as ``SendAgentlessOutboundMessageResponse``.
Nothing is delivered anywhere. Pure: ids derive from the org and the time.
"""

from __future__ import annotations

from typing import Any

from grantwarden.simulator import errors, model

MESSENGER_TYPES = ("sms", "whatsapp", "open", "webmessaging", "apple")
MAX_TEXT = 4000  # invalid.webmessaging.text.body: "under 4000 characters" (OAS)


def _text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise errors.bad_request(f"{field} must be a non-empty string", code="constraint.validation", field=field)
    return value


def validated(body: object) -> tuple[str, str, str]:
    """From address, to address and messenger type of a valid send request; 400s otherwise."""
    if not isinstance(body, dict):
        raise errors.malformed()
    sender = _text(body, "fromAddress")
    kind = _text(body, "toAddressMessengerType")
    if sender is None or kind is None:
        missing = "fromAddress" if sender is None else "toAddressMessengerType"
        raise errors.bad_request(f"{missing} may not be null", code="constraint.validation", field=missing)
    if kind not in MESSENGER_TYPES:
        raise errors.invalid_value(kind, "toAddressMessengerType", MESSENGER_TYPES)
    recipient = _text(body, "toAddress") or _text(body, "externalContactId")
    if recipient is None:
        raise errors.bad_request("toAddress or externalContactId is required", code="constraint.validation")
    if kind == "whatsapp" and not recipient.isdigit():
        message = "WhatsApp address must only contain numeric characters of destination phone number."
        raise errors.PlatformError(400, "invalid.whatsapp.address", message)
    text = _text(body, "textBody")
    if text is None and not isinstance(body.get("messagingTemplate"), dict):
        raise errors.bad_request("textBody or messagingTemplate is required", code="constraint.validation")
    if text is not None and len(text) >= MAX_TEXT:
        raise errors.bad_request("textBody is too long", code="max.length.exceeded", field="textBody")
    return sender, recipient, kind


def send(org: model.Org, body: object, *, now: float) -> dict[str, Any]:
    sender, recipient, kind = validated(body)
    message_id = model.stable_id(org.id, "agentless", now, recipient)
    conversation_id = model.stable_id(org.id, "agentless-conversation", now, recipient)
    sent = model.iso(now)
    return {
        "id": message_id,
        "conversationId": conversation_id,
        "fromAddress": sender,
        "toAddress": recipient,
        "messengerType": kind,
        "useExistingActiveConversation": False,
        "message": {
            "id": message_id,
            "timestamp": sent,
            "fromAddress": sender,
            "toAddress": recipient,
            "direction": "outbound",
            "messengerType": kind,
            "status": "queued",
            "conversationId": conversation_id,
            "selfUri": f"/api/v2/conversations/messages/{conversation_id}/messages/{message_id}",
        },
        "timestamp": sent,
        "selfUri": f"/api/v2/conversations/messages/agentless/{message_id}",
    }
