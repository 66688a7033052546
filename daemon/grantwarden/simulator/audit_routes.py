"""The realtime audit query API (platform.md §11.1-E1.2) over the simulator's own trail.

``POST /api/v2/audits/query/realtime`` takes an ``AuditRealtimeQueryRequest``: ``interval``
(required, ISO-8601 ``start/end``), ``serviceName``, ``filters`` (``UserId``,
``TrusteeOrganizationId``, ``ClientId``, ``Action``, ``EntityType``, ``EntityId``; ANDed),
``sort`` (``Timestamp`` ascending|descending), ``pageNumber``, ``pageSize`` (default 25, at
most 500: assumptions) and answers ``AuditRealtimeQueryResultsResponse`` with the caller's org's
entries of the last 14 days. ``GET …/servicemapping`` lists what is recorded. Both need ALL
``audits:audit:view`` and the scope ``audits:readonly``.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, audit, errors, guarding, operations, world

PATH = "/api/v2/audits/query/realtime"
MAX_PAGE_SIZE = 500
_SORT_ORDERS = ("ascending", "descending")


def moment(text: str) -> float:
    try:
        parsed = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.invalid_date() from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def interval(value: Any) -> tuple[float, float]:
    if value is None:
        raise errors.bad_request("interval may not be null", code="constraint.validation", field="interval")
    start, sep, end = str(value).partition("/")
    if not sep:
        raise errors.invalid_date()
    first, last = moment(start), moment(end)
    if first >= last:
        raise errors.bad_request("interval must start before it ends", code="constraint.validation", field="interval")
    return first, last


def filters(value: Any) -> list[tuple[str, str]]:
    found = []
    for item in value or []:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise errors.bad_request("a filter has a property and a value", code="constraint.validation")
        prop = item.get("property")
        if prop not in audit.FILTER_PROPERTIES:
            raise errors.invalid_value(str(prop), "AuditQueryFilter.property", audit.FILTER_PROPERTIES)
        found.append((str(prop), item["value"]))
    return found


def descending(value: Any) -> bool:
    order = "ascending"
    for item in value or []:
        if not isinstance(item, dict) or item.get("name") != "Timestamp":
            name = item.get("name") if isinstance(item, dict) else item
            raise errors.invalid_value(str(name), "AuditQuerySort.name", ["Timestamp"])
        order = item.get("sortOrder", "ascending")
        if order not in _SORT_ORDERS:
            raise errors.invalid_value(str(order), "AuditQuerySort.sortOrder", _SORT_ORDERS)
    return order == "descending"


def paging(body: dict[str, Any]) -> tuple[int, int]:
    size, number = body.get("pageSize", 25), body.get("pageNumber", 1)
    for name, value, top in (("pageSize", size, MAX_PAGE_SIZE), ("pageNumber", number, None)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (top is not None and value > top):
            raise errors.bad_request(f"{name} must be a whole number from 1", code="constraint.validation", field=name)
    return size, number


class AuditRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [("POST", PATH, self.query), ("GET", PATH + "/servicemapping", self.service_mapping)]

    async def query(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUDITS)
        body = await api_routes.json_object(request)
        start, end = interval(body.get("interval"))
        service = body.get("serviceName")
        chosen = audit.select(
            self.sim.audits,
            org_id=caller.org.id,
            start=start,
            end=end,
            now=self.sim.clock.now(),
            service=str(service) if service else None,
            filters=filters(body.get("filters")),
            descending=descending(body.get("sort")),
        )
        size, number = paging(body)
        page = chosen[(number - 1) * size : number * size]
        return web.json_response(
            {
                "entities": [audit.render(entry) for entry in page],
                "pageSize": size,
                "pageNumber": number,
                "total": len(chosen),
                "pageCount": math.ceil(len(chosen) / size),
            }
        )

    async def service_mapping(self, request: web.Request) -> web.StreamResponse:
        guarding.admit(self.sim, request, operations.AUDITS)
        return web.json_response(audit.service_mapping())
