"""The ``/__sim/`` control API: JSON over HTTP onto the same functions as ``control``.

For a simulator running in another process (``grantwarden simulate``, the demo, benchmarks);
the knobs on trusts, allow-lists and roles are served by ``control_org_routes``.
Served at the root only, never under a region prefix, and never subject to faults. Answers
``{"ok": true, ...}``; a bad request is 400 and an unknown id 404, with ``{"error": "..."}``.
The request log here lists what reached the platform; it never holds a token or a secret.
"""

from __future__ import annotations

import typing
from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, control, faults, requestlog, world


class ControlRequestError(Exception):
    """A malformed control request (400)."""


def ok(**extra: Any) -> web.Response:
    return web.json_response({"ok": True, **extra})


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ControlRequestError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlRequestError("the body is a JSON object")
    return body


def refusing(handler: api_routes.Handler) -> api_routes.Handler:
    """Control refusals as ``{"error": ...}``: 404 for an unknown id, else 400."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except control.ControlError as exc:
            status = 404 if str(exc).startswith("unknown") else 400
            return web.json_response({"error": str(exc)}, status=status)
        except KeyError as exc:
            return web.json_response({"error": f"missing field {exc}"}, status=400)
        except (ControlRequestError, TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return handle


class ControlRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [(method, path, refusing(handler)) for method, path, handler in self.routes()]

    def routes(self) -> list[api_routes.Route]:
        return [
            ("GET", "/__sim/state", self.state),
            ("POST", "/__sim/clients/{client_id}/drift", self.drift),
            ("GET", "/__sim/faults", self.list_faults),
            ("POST", "/__sim/faults", self.set_fault),
            ("DELETE", "/__sim/faults", self.clear_faults),
            ("POST", "/__sim/propagation", self.propagation),
            ("POST", "/__sim/ratelimits", self.ratelimits),
            ("POST", "/__sim/restart", self.restart),
            ("POST", "/__sim/consent", self.consent),
            ("POST", "/__sim/refresh-grace", self.refresh_grace),
            ("POST", "/__sim/orgs/{org_id}/app-authorizations", self.app_authorization),
            ("POST", "/__sim/orgs/{org_id}/policies", self.policy),
            ("DELETE", "/__sim/orgs/{org_id}/policies", self.clear_policies),
            ("POST", "/__sim/orgs/{org_id}/idle-timeout", self.idle_timeout),
            ("GET", "/__sim/requests", self.requests),
            ("POST", "/__sim/requests/clear", self.clear_requests),
        ]

    async def state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(control.snapshot(self.sim))

    async def drift(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        client_id, action = request.match_info["client_id"], body.get("action")
        if action == "remove_role":
            control.remove_role(self.sim, client_id, str(body["role"]))
        elif action == "add_role":
            control.add_role(self.sim, client_id, str(body["role"]), str(body.get("division", "home")))
        elif action in ("disable", "enable", "deactivate"):
            state = {"disable": "disabled", "enable": "active", "deactivate": "inactive"}[action]
            control.set_client_state(self.sim, client_id, state)
        elif action == "revoke_tokens":
            return ok(revoked=control.revoke_tokens(self.sim, client_id))
        else:
            raise ControlRequestError("action is remove_role, add_role, disable, enable, deactivate or revoke_tokens")
        return ok()

    async def list_faults(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(control.snapshot(self.sim)["faults"])

    async def set_fault(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        action = body.pop("action", None)
        control.set_fault(self.sim, faults.Fault(action=faults.Action(action) if action else None, **body))
        return ok()

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        control.clear_faults(self.sim, request.query.get("prefix"))
        return ok()

    async def propagation(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        control.set_propagation(
            self.sim,
            body.get("delay_seconds"),
            org_id=body.get("org_id"),
            existing_tokens_see_grants=body.get("existing_tokens_see_grants"),
        )
        return ok()

    async def ratelimits(self, request: web.Request) -> web.StreamResponse:
        control.set_rate_limits(self.sim, **await json_body(request))
        return ok()

    async def restart(self, request: web.Request) -> web.StreamResponse:
        control.restart(self.sim)
        return ok()

    async def consent(self, request: web.Request) -> web.StreamResponse:
        control.set_consent_denied(self.sim, bool((await json_body(request)).get("deny", False)))
        return ok()

    async def refresh_grace(self, request: web.Request) -> web.StreamResponse:
        control.set_refresh_grace(self.sim, float((await json_body(request))["seconds"]))
        return ok()

    async def app_authorization(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        control.set_app_authorization(
            self.sim,
            request.match_info["org_id"],
            str(body["client_id"]),
            state=str(body.get("state", "Authorized")),
            scopes=[str(s) for s in body.get("scopes", [])],
            enforce=body.get("enforce"),
        )
        return ok()

    async def policy(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        control.set_policy(self.sim, request.match_info["org_id"], str(body["path_prefix"]), str(body["policy_id"]))
        return ok()

    async def clear_policies(self, request: web.Request) -> web.StreamResponse:
        control.clear_policies(self.sim, request.match_info["org_id"])
        return ok()

    async def idle_timeout(self, request: web.Request) -> web.StreamResponse:
        seconds = (await json_body(request)).get("seconds")
        control.set_idle_timeout(self.sim, request.match_info["org_id"], None if seconds is None else float(seconds))
        return ok()

    async def requests(self, request: web.Request) -> web.StreamResponse:
        kind = request.query.get("kind")
        if kind is not None and kind not in typing.get_args(requestlog.Kind):
            raise ControlRequestError("kind is token, api or control")
        return web.json_response(self.sim.requests.entries(kind=typing.cast(requestlog.Kind | None, kind)))

    async def clear_requests(self, request: web.Request) -> web.StreamResponse:
        self.sim.requests.clear()
        return ok()
