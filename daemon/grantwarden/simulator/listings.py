"""The objects behind the probe endpoints, in the SDK's model shapes, as precomputed JSON bytes.

Every org gets a small, deterministic estate (messaging integrations, supported content,
settings, a web deployment and its configuration, queues per division) with ids derived from
the org id, so a seed reproduces it. Listings follow the SDK entity listings
(``MessagingIntegrationEntityListing``: entities, pageSize, pageNumber, total, pageCount,
selfUri, firstUri, lastUri, nextUri/previousUri; the web-deployment listings are cursor-style
with entities, total, selfUri). Rendered bytes are cached (LRU) because probes are the hot path.
"""

from __future__ import annotations

import collections
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from grantwarden.simulator import model

_CACHE_SIZE = 8192


class Cache:
    """Rendered listing bytes by key (org, listing, paging, visibility); least recently used go."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._items: collections.OrderedDict[tuple[object, ...], bytes] = collections.OrderedDict()

    def get(self, key: tuple[object, ...], build: Callable[[], Any]) -> bytes:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        rendered = json.dumps(build()).encode()
        self._items[key] = rendered
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return rendered


def paged(entities: Sequence[dict[str, Any]], *, path: str, page_size: int, page_number: int) -> dict[str, Any]:
    total = len(entities)
    page_count = math.ceil(total / page_size)
    start = (page_number - 1) * page_size
    listing: dict[str, Any] = {
        "entities": list(entities[start : start + page_size]),
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": f"{path}?pageSize={page_size}&pageNumber=1",
        "selfUri": f"{path}?pageSize={page_size}&pageNumber={page_number}",
        "lastUri": f"{path}?pageSize={page_size}&pageNumber={max(page_count, 1)}",
    }
    if page_number < page_count:
        listing["nextUri"] = f"{path}?pageSize={page_size}&pageNumber={page_number + 1}"
    if page_number > 1:
        listing["previousUri"] = f"{path}?pageSize={page_size}&pageNumber={page_number - 1}"
    return listing


def cursored(entities: Sequence[dict[str, Any]], *, path: str) -> dict[str, Any]:
    return {"entities": list(entities), "total": len(entities), "selfUri": path}


def _ref(entity_id: str, uri: str, name: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": entity_id, "selfUri": uri}
    if name is not None:
        ref["name"] = name
    return ref


def _stamps(org: model.Org) -> dict[str, Any]:
    admin = model.stable_id(org.id, "user", "admin")
    return {
        "dateCreated": model.iso(org.date_created),
        "dateModified": model.iso(org.date_created),
        "createdBy": _ref(admin, f"/api/v2/users/{admin}"),
    }


def supported_content(org: model.Org) -> list[dict[str, Any]]:
    base = "/api/v2/conversations/messaging/supportedcontent"
    media = {"allow": {"inbound": [{"type": "image/*"}, {"type": "video/mpeg"}], "outbound": [{"type": "image/*"}]}}
    items = [("Default supported content", media), ("Images only", {"allow": {"inbound": [{"type": "image/*"}]}})]
    return [
        {
            "id": (sid := model.stable_id(org.id, "sc", i)),
            "name": name,
            "mediaTypes": types,
            "version": 1,
            **_stamps(org),
            "selfUri": f"{base}/{sid}",
        }
        for i, (name, types) in enumerate(items)
    ]


def messaging_settings(org: model.Org) -> list[dict[str, Any]]:
    sid = model.stable_id(org.id, "setting", 0)
    return [
        {
            "id": sid,
            "name": "Default messaging setting",
            "version": "1",
            **_stamps(org),
            "content": {"story": {"mention": {"inbound": "Enabled"}, "reply": {"inbound": "Enabled"}}},
            "selfUri": f"/api/v2/conversations/messaging/settings/{sid}",
        }
    ]


def messaging_integrations(org: model.Org) -> list[dict[str, Any]]:
    content = supported_content(org)[0]
    setting = messaging_settings(org)[0]
    kinds = [
        ("Web Messenger", "webmessaging", "Active"),
        ("WhatsApp", "whatsapp", "Active"),
        ("Open Messaging", "open", "Inactive"),
    ]
    result = []
    for i, (label, messenger, status) in enumerate(kinds):
        iid = model.stable_id(org.id, "integration", i)
        result.append(
            {
                "id": iid,
                "name": f"{org.name} {label}",
                "status": status,
                "messengerType": messenger,
                "supportedContent": _ref(content["id"], content["selfUri"], content["name"]),
                "messagingSetting": _ref(setting["id"], setting["selfUri"], setting["name"]),
                "recipient": _ref(
                    model.stable_id(org.id, "recipient", i),
                    "/api/v2/routing/message/recipients/" + model.stable_id(org.id, "recipient", i),
                ),
                "version": 1,
                **_stamps(org),
                "selfUri": f"/api/v2/conversations/messaging/integrations/{messenger}/{iid}",
            }
        )
    return result


def message_recipients(org: model.Org) -> list[dict[str, Any]]:
    return [
        {
            "id": entity["recipient"]["id"],
            "name": entity["name"],
            "messengerType": entity["messengerType"],
            "dateCreated": entity["dateCreated"],
            "dateModified": entity["dateModified"],
            "selfUri": entity["recipient"]["selfUri"],
        }
        for entity in messaging_integrations(org)
    ]


def web_deployment_configurations(org: model.Org) -> list[dict[str, Any]]:
    cid = model.stable_id(org.id, "wdconfig", 0)
    stamps = _stamps(org)
    return [
        {
            "id": cid,
            "name": f"{org.name} Messenger configuration",
            "version": "3",
            "description": "",
            "languages": ["en-us"],
            "defaultLanguage": "en-us",
            "status": "Active",
            "dateCreated": stamps["dateCreated"],
            "dateModified": stamps["dateModified"],
            "datePublished": stamps["dateModified"],
            "lastModifiedUser": stamps["createdBy"],
            "selfUri": f"/api/v2/webdeployments/configurations/{cid}",
        }
    ]


def web_deployments(org: model.Org) -> list[dict[str, Any]]:
    config = web_deployment_configurations(org)[0]
    did = model.stable_id(org.id, "wdeployment", 0)
    return [
        {
            "id": did,
            "name": f"{org.name} website",
            "description": "",
            "allowAllDomains": False,
            "allowedDomains": [f"www.{org.third_party_org_name}.example"],
            "status": "Active",
            "configuration": {"id": config["id"], "name": config["name"], "version": config["version"]},
            "dateCreated": config["dateCreated"],
            "dateModified": config["dateModified"],
            "lastModifiedUser": config["lastModifiedUser"],
            "selfUri": f"/api/v2/webdeployments/deployments/{did}",
        }
    ]


def queue(org: model.Org, q: model.Queue) -> dict[str, Any]:
    division = org.divisions[q.division_id]
    return {
        "id": q.id,
        "name": q.name,
        "division": {
            "id": division.id,
            "name": division.name,
            "selfUri": f"/api/v2/authorization/divisions/{division.id}",
        },
        "description": "",
        "memberCount": 3,
        "userMemberCount": 3,
        "joinedMemberCount": 2,
        "acwSettings": {"wrapupPrompt": "OPTIONAL", "timeoutMs": 30000},
        "skillEvaluationMethod": "ALL",
        "autoAnswerOnly": False,
        "enableTranscription": False,
        "enableManualAssignment": False,
        "dateCreated": model.iso(org.date_created),
        "dateModified": model.iso(org.date_created),
        # Queue.createdBy/modifiedBy are user ids (strings) in the SDK model, not references
        "createdBy": model.stable_id(org.id, "user", "admin"),
        "modifiedBy": model.stable_id(org.id, "user", "admin"),
        "selfUri": f"/api/v2/routing/queues/{q.id}",
    }


def default_queues(org_id: str, divisions: Sequence[model.Division]) -> tuple[model.Queue, ...]:
    return tuple(model.Queue(model.stable_id(org_id, "queue", d.id), f"Support - {d.name}", d.id) for d in divisions)
