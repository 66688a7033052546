"""Who changed what: the realtime audit query for an entity, and the change that explains a regression.

When a probe that passed starts failing for a permission, the likeliest cause is that someone
changed the OAuth client (or, for a trust tenant, the trust): a role removed, the client
disabled. The platform audits those changes under service ``PeoplePermissions`` (platform.md
platform.md §11.3) and answers ``POST /api/v2/audits/query/realtime`` for the last 14 days (platform.md
platform.md §11.1, §11.5) with ``AuditLogMessage`` records (platform.md §11.4). ``query`` builds the
request, ``parse`` reads the records without failing on any shape, ``culprit`` picks the change
since the probe last passed (a removal first), and ``describe`` says it in one sentence: entity,
action, old and new values (role ids named where known), who (user or client, home org,
address) and when. Which property names an ``Update`` carries is not documented (platform.md
platform.md §11.3): every property is shown as it came. Pure: ``now`` is passed in. Called by ``worker.inquiry``.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SERVICE = "PeoplePermissions"
OAUTH_CLIENT = "OAuthClient"
TRUST = "OrganizationAuthorizationTrust"
PERMISSION = "audits:audit:view"  # platform.md §11.1: ALL, with the scope audits:readonly
SCOPE = "audits:readonly"
LOOKBACK_S = 14 * 86400.0


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One ``AuditLogMessage``, reduced to what a finding names."""

    at: float | None  # eventDate, epoch seconds
    when: str  # eventDate as the platform wrote it
    action: str
    entity_type: str
    entity_id: str
    entity_name: str = ""
    user_id: str | None = None
    user_name: str | None = None
    client_id: str | None = None
    home_org_id: str | None = None
    remote_ip: str | None = None
    properties: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()  # (property, old, new)

    @property
    def removes(self) -> bool:
        return any(set(old) - set(new) for _, old, new in self.properties)


def query(*, entity_type: str, entity_id: str, now: float, page_size: int = 25) -> dict[str, Any]:
    """The ``AuditRealtimeQueryRequest`` for one entity over the 14 days the realtime query reaches."""
    start, end = _iso(now - LOOKBACK_S), _iso(now + 1.0)
    return {
        "interval": f"{start}/{end}",
        "serviceName": SERVICE,
        "filters": [{"property": "EntityType", "value": entity_type}, {"property": "EntityId", "value": entity_id}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
        "pageNumber": 1,
        "pageSize": page_size,
    }


def parse(entities: Iterable[Any]) -> tuple[Change, ...]:
    """The records of a query answer that name an action and an entity; anything else is skipped."""
    found = []
    for item in entities:
        change = _change(item) if isinstance(item, Mapping) else None
        if change is not None:
            found.append(change)
    return tuple(found)


def culprit(changes: Sequence[Change], *, since: float | None) -> Change | None:
    """The newest change at or after ``since`` (when the probe last passed), a removal first."""
    recent = [c for c in changes if since is None or c.at is None or c.at >= since]
    recent.sort(key=lambda c: c.at if c.at is not None else float("inf"), reverse=True)
    return next((c for c in recent if c.removes), recent[0] if recent else None)


def describe(change: Change, *, names: Mapping[str, str] | None = None, org_id: str = "") -> str:
    """ "The audit trail shows OAuthClient X updated at T by user U (u-1) from 1.2.3.4: roleDivisions ..."."""
    names = names or {}
    entity = f"{change.entity_type} {change.entity_id}" + (f" ({change.entity_name})" if change.entity_name else "")
    verb = {"Create": "created", "Update": "updated", "Delete": "deleted"}.get(change.action, change.action)
    text = f"the audit trail shows {entity} {verb} at {change.when} by {_who(change, org_id)}"
    details = [_property(prop, old, new, names) for prop, old, new in change.properties]
    return text + (": " + "; ".join(details) if details else " (no property changes recorded)")


def _who(change: Change, org_id: str) -> str:
    if change.user_id:
        who = f"user {change.user_name} ({change.user_id})" if change.user_name else f"user {change.user_id}"
        if change.home_org_id and org_id and change.home_org_id != org_id:
            who += f" of org {change.home_org_id}"
    elif change.client_id:
        who = f"OAuth client {change.client_id}"
    else:
        who = "an unnamed caller"
    if change.client_id and change.user_id:
        who += f" through OAuth client {change.client_id}"
    return who + (f" from {change.remote_ip}" if change.remote_ip else "")


def _property(prop: str, old: Sequence[str], new: Sequence[str], names: Mapping[str, str]) -> str:
    removed = [_named(v, names) for v in old if v not in new]
    added = [_named(v, names) for v in new if v not in old]
    parts = []
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if added:
        parts.append(f"added {', '.join(added)}")
    before = ", ".join(_named(v, names) for v in old) or "nothing"
    after = ", ".join(_named(v, names) for v in new) or "nothing"
    return f"{prop} {' and '.join(parts) or 'changed'} (old: {before}; new: {after})"


def _named(value: str, names: Mapping[str, str]) -> str:
    """A ``roleId:divisionId`` value with its role named; any other value as it is."""
    role, sep, division = value.partition(":")
    if sep and role in names:
        return f"'{names[role]}' in division {division}"
    return f"'{names[value]}'" if value in names else value


def _change(item: Mapping[str, Any]) -> Change | None:
    action, entity_type = _text(item.get("action")), _text(item.get("entityType"))
    if not action or not entity_type:
        return None
    entity, user, client = _mapping(item, "entity"), _mapping(item, "user"), _mapping(item, "client")
    addresses = item.get("remoteIp")
    ips = [ip for ip in addresses if isinstance(ip, str) and ip] if isinstance(addresses, list) else []
    when = _text(item.get("eventDate"))
    return Change(
        at=_epoch(when),
        when=when or "an unknown time",
        action=action,
        entity_type=entity_type,
        entity_id=_text(entity.get("id")),
        entity_name=_text(entity.get("name")),
        user_id=_text(user.get("id")) or None,
        user_name=_text(user.get("name")) or None,
        client_id=_text(client.get("id")) or None,
        home_org_id=_text(item.get("userHomeOrgId")) or None,
        remote_ip=ips[0] if ips else None,
        properties=tuple(_properties(item.get("propertyChanges"))),
    )


def _properties(value: Any) -> Iterable[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    for change in value if isinstance(value, list) else ():
        if isinstance(change, Mapping) and (prop := _text(change.get("property"))):
            yield prop, _strings(change.get("oldValues")), _strings(change.get("newValues"))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _mapping(item: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = item.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _epoch(text: str) -> float | None:
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
