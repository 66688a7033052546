"""A small in-memory fake of one identity's tenant API (``worker.api.TenantApi``), no HTTP.

The shells (prober, planner, executor, actor) take a ``TenantApi``; their unit tests give them a
``FakeApi`` instead: the same methods, answering from an org held in memory (its roles, licensed
permissions, the tenant's OAuth client as stored, which probes the client may call), with a
script of one-off answers per call (``then(name, answer, ...)``: an exception is raised, anything
else returned) and a log of the calls made. Its token box is a real one with an instant mint, so
``box.get()`` and re-mints behave as in the daemon; the 401 retry itself is ``test_api``'s.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Mapping
from typing import Any

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import catalog, errorbody
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, oauth
from grantwarden.worker import tokenbox

ORG = "org-1"
CLIENT = "client-1"
ADMIN_CLIENT = "admin-1"
HOME = "home-div"
VIEWER = {
    "id": "r-mv",
    "name": "Messaging Viewer",
    "permissionPolicies": [{"domain": "messaging", "entityName": "*", "actionSet": ["view"]}],
}
WEB_VIEWER = {
    "id": "r-wdv",
    "name": "Web Deployments Viewer",
    "permissionPolicies": [{"domain": "webDeployments", "entityName": "*", "actionSet": ["view"]}],
}
INTEGRATIONS = catalog.BUILTIN["messaging-integrations"]
SETTINGS = catalog.BUILTIN["messaging-settings"]
DEPLOYMENTS = catalog.BUILTIN["webdeployments-deployments"]


def reply(
    status: int, body: Mapping[str, Any] | None = None, *, path: str = "/api/v2/x", method: str = "GET"
) -> errors.Reply:
    text = json.dumps(body or {}).encode()
    retry_after = float(body["retryAfter"]) if body and "retryAfter" in body else None
    return errors.Reply(method=method, path=path, status=status, retry_after=retry_after, facts=errorbody.parse(text))


def missing_permission(permission: str, path: str = "/api/v2/x") -> errors.Forbidden:
    """The platform's 403 for a permission the client lacks (platform.md §4.2)."""
    message = f"Unable to perform the requested action. You are missing the following permission(s): {permission}."
    return errors.Forbidden(reply(403, {"code": "missing.permissions", "message": message, "status": 403}, path=path))


def conflict() -> errors.Conflict:
    return errors.Conflict(reply(409, {"code": "request.conflict", "message": "Conflict", "status": 409}, method="PUT"))


def rate_limited(seconds: float = 3.0) -> errors.RateLimited:
    body = {"code": "too.many.requests.retry.after", "status": 429, "retryAfter": seconds}
    return errors.RateLimited(reply(429, body, method="PUT"))


def bad_client_role() -> errors.BadRequest:
    body = {"code": "bad.client.role", "message": "The caller does not have all the roles", "status": 400}
    return errors.BadRequest(reply(400, body, method="PUT"))


def server_error() -> errors.ServerError:
    return errors.ServerError(reply(503, {"message": "unavailable", "status": 503}))


def token_box(clock: clock_mod.Clock, *, lifetime: int = 3600, tenant: str = "acme") -> tokenbox.TokenBox:
    """A real token box whose mint answers at once with a new token each time."""
    minted = 0

    async def mint() -> oauth.TokenGrant:
        nonlocal minted
        minted += 1
        return oauth.TokenGrant(
            access_token=f"{tenant}-{minted}", token_type="bearer", expires_in=lifetime, received_at=clock.now()
        )

    return tokenbox.TokenBox(
        tenant=tenant, mint=mint, clock=clock, rng=random.Random(1), refresh=settings.RefreshSettings(), metrics=None
    )


class FakeApi:
    """``TenantApi``'s methods over an org in memory."""

    def __init__(self, clock: clock_mod.Clock, *, org_id: str = ORG, client_id: str = CLIENT) -> None:
        self.box = token_box(clock, tenant=client_id)
        self.gate = gate.Gate()
        self.org_id = org_id
        self.client_id = client_id
        self.calls: list[tuple[Any, ...]] = []
        self.scripts: dict[str, list[Any]] = {}
        self.roles: list[dict[str, Any]] = [VIEWER, WEB_VIEWER]
        self.licensed: frozenset[str] = frozenset({"messaging:integration:view", "messaging:setting:view"})
        # What this identity holds: an editor must hold every role of the client it edits (platform.md §2.4).
        self.held: list[dict[str, str]] = [
            {"roleId": VIEWER["id"], "divisionId": "*"},
            {"roleId": "r-other", "divisionId": HOME},
        ]
        self.clients: dict[str, dict[str, Any]] = {
            CLIENT: {
                "id": CLIENT,
                "name": "the integration",
                "authorizedGrantType": "CLIENT-CREDENTIALS",
                "roleDivisions": [{"roleId": "r-other", "divisionId": HOME}],
                "scope": [],
                "description": "kept verbatim",
                "someFutureField": {"nested": [1, 2]},
            }
        }
        self.forbidden: dict[str, str] = {}  # probe path → the permission its 403 names
        self.after_put: Callable[[dict[str, Any]], None] = lambda body: None  # the platform's reaction

    def then(self, name: str, *answers: Any) -> None:
        """The next calls of ``name`` answer these, in order; exceptions are raised."""
        self.scripts.setdefault(name, []).extend(answers)

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == name]

    async def tokens_me(self) -> models.TokenInfo:
        self.calls.append(("tokens_me",))
        info = {"organization": {"id": self.org_id}, "OAuthClient": {"id": self.client_id, "roleDivisions": self.held}}
        return self._scripted("tokens_me", lambda: models.TokenInfo.model_validate(info))

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        self.calls.append(("get", path))

        def answer() -> remote_client.ApiReply:
            if path in self.forbidden:
                raise missing_permission(self.forbidden[path], path)
            return remote_client.ApiReply(200, None, errors.Reply(method="GET", path=path, status=200))

        return self._scripted(f"get {path}", answer)

    async def licensed_permissions(self) -> frozenset[str]:
        self.calls.append(("licensed_permissions",))
        return self._scripted("licensed_permissions", lambda: self.licensed)

    async def all_roles(self) -> list[dict[str, Any]]:
        self.calls.append(("all_roles",))
        return self._scripted("all_roles", lambda: copy.deepcopy(self.roles))

    async def home_division(self) -> dict[str, Any]:
        self.calls.append(("home_division",))
        return self._scripted("home_division", lambda: {"id": HOME, "name": "Home"})

    async def get_oauth_client(self, client_id: str) -> tuple[models.OAuthClient, dict[str, Any]]:
        self.calls.append(("get_oauth_client", client_id))
        raw = copy.deepcopy(self.clients[client_id])
        return self._scripted("get_oauth_client", lambda: (models.OAuthClient.model_validate(raw), raw))

    async def put_oauth_client(
        self, client_id: str, body: Mapping[str, Any]
    ) -> tuple[models.OAuthClient, errors.Reply]:
        self.calls.append(("put_oauth_client", client_id, copy.deepcopy(dict(body))))

        def answer() -> tuple[models.OAuthClient, errors.Reply]:
            self.clients[client_id] = copy.deepcopy(dict(body))
            self.after_put(self.clients[client_id])
            done = errors.Reply(
                method="PUT", path=f"/api/v2/oauth/clients/{client_id}", status=200, correlation_id="c-1"
            )
            return models.OAuthClient.model_validate(body), done

        return self._scripted("put_oauth_client", answer)

    def _scripted(self, name: str, default: Callable[[], Any]) -> Any:
        script = self.scripts.get(name)
        if not script:
            return default()
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()
        return answer
