"""The platform's own audit trail: who changed an OAuth client, a role or a trust, and how.

Every change the simulator makes to a client (create, update, delete, secret regeneration), a
role or a trust is recorded as an ``AuditLogMessage`` (platform.md §11.4) under service
``PeoplePermissions``, whether it came through the API (the caller's client, user and address)
or through a control knob ("a person in the UI": a configurable user, ``client.id`` empty, as
in the real UI-made capture). ``select`` answers a realtime query: only the caller's org, the
last 14 days whatever the interval says, filters ANDed. Pure records and rules; the routes are
in ``audit_routes``. Entries older than the look-back are dropped as new ones arrive.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

from grantwarden.simulator import model

SERVICE = "PeoplePermissions"
LOOKBACK_SECONDS = 14 * 86400.0  # "only retrieve 14 days worth of audits" (platform.md §11.1)
UI_REMOTE_IP = "198.51.100.7"  # the UI person's browser (a documentation address)
FILTER_PROPERTIES = ("UserId", "TrusteeOrganizationId", "ClientId", "Action", "EntityType", "EntityId")

# GET /api/v2/audits/query/realtime/servicemapping: what this simulator records.
SERVICE_MAPPING: dict[str, tuple[str, ...]] = {
    "OAuthClient": ("Create", "Update", "Delete"),
    "Role": ("Update",),
    "OrganizationAuthorizationTrust": ("Create", "Update", "Delete", "MemberAdd", "MemberUpdate", "MemberRemove"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a user (maybe of a trustee org), the client used, the address."""

    home_org_id: str
    user_id: str | None = None
    user_name: str | None = None
    client_id: str = ""  # "": the UI
    remote_ip: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    property: str
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    id: str
    org_id: str  # where the change happened
    event_date: float
    actor: Actor
    action: str
    entity_type: str
    entity_id: str
    entity_name: str
    changes: tuple[Change, ...] = ()
    context: tuple[tuple[str, str], ...] = ()


def diff(prop: str, old: Iterable[str], new: Iterable[str]) -> list[Change]:
    """One ``Change`` if the values differ (as sets of strings), else none."""
    before, after = tuple(old), tuple(new)
    return [] if set(before) == set(after) else [Change(prop, before, after)]


class Log:
    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._count = 0

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        *,
        org_id: str,
        now: float,
        actor: Actor,
        action: str,
        entity: tuple[str, str, str],  # type, id, name
        changes: Sequence[Change] = (),
        context: dict[str, str] | None = None,
    ) -> Entry:
        self._count += 1
        entry = Entry(
            model.stable_id("audit", org_id, self._count),
            org_id,
            now,
            actor,
            action,
            *entity,
            changes=tuple(changes),
            context=tuple(sorted((context or {}).items())),
        )
        horizon = now - LOOKBACK_SECONDS
        if self._entries and self._entries[0].event_date < horizon:
            self._entries = [e for e in self._entries if e.event_date >= horizon]
        self._entries.append(entry)
        return entry

    def entries(self, org_id: str | None = None) -> list[Entry]:
        return [e for e in self._entries if org_id is None or e.org_id == org_id]


def matches(entry: Entry, prop: str, value: str) -> bool:
    actor = entry.actor
    found = {
        "UserId": actor.user_id or "",
        # a trustee user acting in this org: its home org is another (platform.md §11.4)
        "TrusteeOrganizationId": actor.home_org_id if actor.home_org_id != entry.org_id else "",
        "ClientId": actor.client_id,
        "Action": entry.action,
        "EntityType": entry.entity_type,
        "EntityId": entry.entity_id,
    }[prop]
    return found == value


def select(
    log: Log,
    *,
    org_id: str,
    start: float,
    end: float,
    now: float,
    service: str | None,
    filters: Sequence[tuple[str, str]],
    descending: bool,
) -> list[Entry]:
    """A realtime query: this org's entries in [start, end) and in the last 14 days."""
    start = max(start, now - LOOKBACK_SECONDS)
    chosen = [
        e
        for e in log.entries(org_id)
        if start <= e.event_date < end
        and (service is None or service == SERVICE)
        and all(matches(e, prop, value) for prop, value in filters)
    ]
    chosen.sort(key=lambda e: e.event_date, reverse=descending)
    return chosen


def _words(entity_type: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", entity_type).lower().replace("o auth", "oauth")


def render(entry: Entry) -> dict[str, Any]:
    """The ``AuditLogMessage`` (message texts follow the one known "access token created" pattern)."""
    actor = entry.actor
    verb = {"Create": "created", "Update": "updated", "Delete": "deleted"}.get(entry.action, entry.action)
    text = f"{_words(entry.entity_type)} {verb}"
    body: dict[str, Any] = {
        "id": entry.id,
        "userHomeOrgId": actor.home_org_id,
        "client": {"id": actor.client_id},
        "remoteIp": [actor.remote_ip] if actor.remote_ip else [],
        "serviceName": SERVICE,
        "level": "USER",
        "eventDate": model.iso(entry.event_date),
        "message": {
            "localizableMessageCode": f"{entry.entity_type}{entry.action}_SUCCESS".upper(),
            "message": text,
            "messageWithParams": text,
            "messageParams": {},
        },
        "action": entry.action,
        "entity": {"id": entry.entity_id, "name": entry.entity_name},
        "entityType": entry.entity_type,
        "status": "SUCCESS",
        "transactionInitiator": True,
        "propertyChanges": [
            {"property": c.property, "oldValues": list(c.old), "newValues": list(c.new)} for c in entry.changes
        ],
        "context": dict(entry.context),
    }
    if actor.user_id is not None:
        body["user"] = {"id": actor.user_id, "name": actor.user_name or "", "selfUri": f"/api/v2/users/{actor.user_id}"}
    return body


def service_mapping() -> dict[str, Any]:
    entities = [{"name": name, "actions": list(actions)} for name, actions in SERVICE_MAPPING.items()]
    return {"services": [{"name": SERVICE, "entities": entities}]}
