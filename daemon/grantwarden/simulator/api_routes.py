"""API routes of the probe endpoints (design.md §2.6, platform.md §6), and the shared route helpers.

The probe listings are precomputed bytes per org and page; queues are divisioned, so the listing
shows only the divisions where the caller holds ``routing:queue:view`` and a single queue
elsewhere answers ``missing.division.permission``. ``POST /conversations/messages/agentless``
is the platform's client-only operation: a user token gets 400 ``not.a.client`` (platform.md
§4.2); a client-credentials token with ``conversation:message:create`` gets the queued message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from grantwarden.simulator import errors, guarding, listings, model, operations, outbound, permissions, world

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]
Builder = Callable[[model.Org], list[dict[str, Any]]]

JSON = "application/json"


def page_params(request: web.Request, *, default_size: int = 25) -> tuple[int, int]:
    values = []
    for name, default in (("pageSize", default_size), ("pageNumber", 1)):
        raw = request.query.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise errors.invalid_query_param(name, raw or "") from None
        if value < 1:
            raise errors.invalid_query_param(name, str(raw))
        values.append(value)
    return min(values[0], 500), values[1]


async def json_body(request: web.Request) -> Any:
    """The request's JSON body; the platform's 400 ``bad.request`` when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        raise errors.malformed() from None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise errors.malformed()
    return body


def ok(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON)


def listed(request: web.Request, name: str) -> list[str]:
    """A list query parameter, repeated or comma-separated: ``?id=a,b&id=c``."""
    return [item for value in request.query.getall(name, []) for item in value.split(",") if item]


class ApiRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[Route]:
        probes: list[tuple[str, operations.Operation, Builder, bool]] = [
            (
                "/api/v2/conversations/messaging/integrations",
                operations.MESSAGING_INTEGRATIONS,
                listings.messaging_integrations,
                True,
            ),
            (
                "/api/v2/conversations/messaging/supportedcontent",
                operations.MESSAGING_SUPPORTED_CONTENT,
                listings.supported_content,
                True,
            ),
            (
                "/api/v2/conversations/messaging/settings",
                operations.MESSAGING_SETTINGS,
                listings.messaging_settings,
                True,
            ),
            (
                "/api/v2/routing/message/recipients",
                operations.ROUTING_MESSAGE_RECIPIENTS,
                listings.message_recipients,
                True,
            ),
            (
                "/api/v2/webdeployments/deployments",
                operations.WEBDEPLOYMENTS_DEPLOYMENTS,
                listings.web_deployments,
                False,
            ),
            (
                "/api/v2/webdeployments/configurations",
                operations.WEBDEPLOYMENTS_CONFIGURATIONS,
                listings.web_deployment_configurations,
                False,
            ),
        ]
        routes: list[Route] = [
            ("GET", "/api/v2/conversations/messaging/facebook/app", self.facebook_app),
            ("POST", "/api/v2/conversations/messages/agentless", self.agentless),
            ("GET", "/api/v2/routing/queues", self.queues),
            ("GET", "/api/v2/routing/queues/{queue_id}", self.queue),
        ]
        routes += [("GET", path, self.listing(path, op, build, numbered)) for path, op, build, numbered in probes]
        return routes

    async def facebook_app(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.MESSAGING_FACEBOOK_APP)
        return web.json_response({"id": model.stable_id(caller.org.id, "facebook-app")})

    def listing(self, path: str, op: operations.Operation, build: Builder, numbered: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            caller = guarding.admit(self.sim, request, op)
            org = caller.org
            if not numbered:
                return ok(self.sim.listings.get((path, org.id), lambda: listings.cursored(build(org), path=path)))
            size, number = page_params(request)
            key = (path, org.id, size, number)
            return ok(
                self.sim.listings.get(
                    key, lambda: listings.paged(build(org), path=path, page_size=size, page_number=number)
                )
            )

        return handle

    async def queues(self, request: web.Request) -> web.StreamResponse:
        op = operations.ROUTING_QUEUES
        caller = guarding.admit(self.sim, request, op)
        assert op.requirement is not None
        size, number = page_params(request)
        asked = tuple(d for value in request.query.getall("divisionId", []) for d in value.split(",") if d)
        if asked:
            refused = permissions.check_divisions(caller.holdings, op.requirement, asked)
            if refused is not None:
                raise errors.refusal(refused)
        visible = permissions.visible_divisions(caller.holdings, op.requirement)
        org = caller.org
        shown = [
            listings.queue(org, q)
            for q in org.queues
            if (model.ALL_DIVISIONS in visible or q.division_id in visible) and (not asked or q.division_id in asked)
        ]
        path = "/api/v2/routing/queues"
        return web.json_response(listings.paged(shown, path=path, page_size=size, page_number=number))

    async def queue(self, request: web.Request) -> web.StreamResponse:
        op = operations.ROUTING_QUEUE
        caller = guarding.admit(self.sim, request, op)
        assert op.requirement is not None
        found = next((q for q in caller.org.queues if q.id == request.match_info["queue_id"]), None)
        if found is None:
            raise errors.not_found()
        refused = permissions.check_object(caller.holdings, op.requirement, found.division_id)
        if refused is not None:
            raise errors.refusal(refused)
        return web.json_response(listings.queue(caller.org, found))

    async def agentless(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.CONVERSATIONS_AGENTLESS)
        body = await json_body(request)
        return web.json_response(outbound.send(caller.org, body, now=self.sim.clock.now()))
