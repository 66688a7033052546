"""What exists on the simulated platform: the permission catalogue and the scope names.

An org's licensed permissions are this catalogue minus what the scenario leaves unlicensed, and
``GET /api/v2/authorization/permissions`` pages through it by domain. There are more than 25
domains on purpose: ``webDeployments`` sorts onto the second page at the default page size, so a
client that reads only page one mistakes a licensed permission for an unlicensed one (platform.md
§10: it is paged). Scope names are the platform's (platform.md §2.2); PUT of a client with
any other scope answers ``auth.invalid.scope``.
"""

from __future__ import annotations

import dataclasses

# domain -> entity -> actions; a trailing "@" marks a division-aware permission.
_CATALOGUE: dict[str, dict[str, tuple[str, ...]]] = {
    "alerting": {"alert": ("view", "edit"), "rule": ("view", "add", "edit")},
    "analytics": {"conversationDetail": ("view",), "conversationAggregate": ("view",)},
    "architect": {"flow": ("view@", "add@", "edit@", "publish@"), "datatable": ("view@",)},
    "audits": {"audit": ("view",)},
    "authorization": {
        "role": ("view", "add", "edit", "delete"),
        "division": ("view", "add", "edit"),
        "orgTrustee": ("view", "add", "edit", "delete"),
        "orgTrustor": ("view", "add", "delete"),
        "orgTrusteeUser": ("view", "add", "edit", "delete"),
        "orgTrusteeGroup": ("view", "add", "edit", "delete"),
        "audit": ("view",),
    },
    "billing": {"subscription": ("view",)},
    "coaching": {"appointment": ("view", "add", "edit")},
    "contentmanagement": {"document": ("view", "add"), "workspace": ("view",)},
    "conversation": {
        "communication": ("view", "disconnect"),
        "message": ("view", "create"),
        "threadingTimeline": ("view",),
        "webchat": ("create",),
    },
    "directory": {
        "user": ("view@", "add@", "edit@"),
        "group": ("view", "add", "edit"),
        "organization": ("admin",),
    },
    "externalContacts": {"contact": ("view@", "add@", "edit@"), "externalOrganization": ("view@",)},
    "gamification": {"profile": ("view",)},
    "integrations": {"integration": ("view", "add", "edit", "delete"), "credential": ("view",)},
    "journey": {"actionmap": ("view", "add"), "session": ("view",)},
    "knowledge": {"knowledgebase": ("view", "add", "edit")},
    "learning": {"module": ("view", "add")},
    "messaging": {
        "integration": ("view", "add", "edit", "delete"),
        "supportedContent": ("view", "add", "edit", "delete"),
        "setting": ("view", "add", "edit"),
        "identityResolutionWhatsApp": ("view",),
    },
    "oauth": {"client": ("view", "add", "edit", "delete", "authorize"), "token": ("delete",)},
    "outbound": {"campaign": ("view@", "add@", "edit@"), "contactList": ("view@",)},
    "processautomation": {"trigger": ("view", "add", "edit")},
    "quality": {"evaluation": ("view@", "add@"), "evaluationForm": ("view",)},
    "recording": {"recording": ("view@", "delete@"), "annotation": ("view",)},
    "reporting": {"dashboard": ("view",)},
    "routing": {
        "queue": ("view@", "add@", "edit@", "delete@", "join@"),
        "skill": ("manage",),
        "message": ("manage",),
        "email": ("manage",),
        "wrapupCode": ("view@",),
    },
    "scripter": {"script": ("view@", "add@", "edit@")},
    "sms": {"phoneNumber": ("view", "add")},
    "speechAndTextAnalytics": {"program": ("view",), "topic": ("view",)},
    "telephony": {"plugin": ("all",), "extensionPool": ("view", "edit")},
    "usage": {"client": ("view",), "organization": ("view",)},
    "webDeployments": {
        "deployment": ("view", "add", "edit", "delete"),
        "configuration": ("view", "add", "edit", "delete"),
    },
    "wfm": {"schedule": ("view@", "edit@"), "agentSchedule": ("view",)},
}


@dataclasses.dataclass(frozen=True, slots=True)
class PermissionDef:
    domain: str
    entity: str
    action: str
    division_aware: bool

    @property
    def name(self) -> str:
        return f"{self.domain}:{self.entity}:{self.action}"

    @property
    def label(self) -> str:
        return f"{self.action.capitalize()} {self.entity}"


def _build() -> dict[str, PermissionDef]:
    found: dict[str, PermissionDef] = {}
    for domain, entities in _CATALOGUE.items():
        for entity, actions in entities.items():
            for raw in actions:
                definition = PermissionDef(domain, entity, raw.rstrip("@"), raw.endswith("@"))
                found[definition.name] = definition
    return found


PERMISSIONS: dict[str, PermissionDef] = _build()
ALL_PERMISSIONS: frozenset[str] = frozenset(PERMISSIONS)
DOMAINS: tuple[str, ...] = tuple(sorted(_CATALOGUE))

# platform.md §2.2: every domain scope has a ":readonly" form, except where noted.
_SCOPE_WORDS = """
ai-studio alerting analytics architect assistants audits authorization billing business-rules
case-management coaching content-management conversations data-privacy devices dialog
employee-engagement employee-performance external-contacts fax gamification gdpr geolocation
greetings groups identity-providers infrastructureascode integrations journey knowledge
language-understanding learning license locations logcapture messaging messaging-platform
oauth organization organization-authorization outbound presence process-automation quality
recordings response-management routing scim screen-monitoring scripts social-media
speech-and-text-analytics stations telephony textbots usage user-recordings users users-rules
voicemail web-chat webdeployments widgets workforce-management workitems
"""
_SCOPE_DOMAINS = _SCOPE_WORDS.split()
SCOPES: frozenset[str] = frozenset(
    [
        *_SCOPE_DOMAINS,
        *(f"{d}:readonly" for d in _SCOPE_DOMAINS),
        *("user-basic-info", "notifications", "search:readonly", "upload", "data-extensions"),
    ]
)
