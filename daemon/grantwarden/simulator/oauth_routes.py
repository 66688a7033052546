"""The login host: ``POST /oauth/token`` and ``GET /oauth/authorize`` (platform.md §1.1-§1.5).

Token requests are form-urlencoded only, authenticated by Basic or ``client_secret_post``
(PKCE redemptions may send only ``client_id``). A client is known only on its own region's
login path; anywhere else, as with a wrong secret, the answer is the real capture
``invalid_client`` / "authentication failed". Disabled and inactive clients cannot mint.
Minting is rate limited per client per minute and globally per second. ``/oauth/authorize``
auto-consents as the org's test user (or refuses with ``access_denied`` when consent denial is
on) and redirects to the registered ``redirect_uri`` with ``code`` and ``state``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import urllib.parse
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from grantwarden.simulator import errors, grants, guarding, model, requestlog, world
from grantwarden.simulator.api_routes import Route

FORM = "application/x-www-form-urlencoded"
SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.invalid_client() from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise errors.invalid_client()
    return client_id, secret


class OAuthRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[Route]:
        return [("POST", "/oauth/token", self.token), ("GET", "/oauth/authorize", self.authorize)]

    # -- helpers ------------------------------------------------------------------------------

    def client_here(self, request: web.Request, client_id: str) -> model.OAuthClient | None:
        """The client, if it exists on this region's login host."""
        client = self.sim.clients.get(client_id)
        if client is None or self.sim.orgs[client.org_id].region != request[guarding.REGION]:
            return None
        return client

    def authenticated(self, request: web.Request, form: Mapping[str, str]) -> model.OAuthClient:
        given = basic_credentials(request)
        if given is None and "client_secret" in form:
            given = (form.get("client_id", ""), form["client_secret"])
        if given is None:
            raise errors.invalid_client()
        client = self.client_here(request, given[0])
        if client is None or not secrets.compare_digest(client.secret, given[1]) or client.state != "active":
            raise errors.invalid_client()
        request[requestlog.CLIENT_ID] = client.id
        return client

    def charge_mint(self, client: model.OAuthClient) -> None:
        now = self.sim.clock.now()
        retry = self.sim.client_mint_windows.hit(client.id, self.sim.settings.mints_per_client_per_minute, now)
        if retry is not None:
            raise errors.rate_limited(retry)

    def issue(
        self, client: model.OAuthClient, *, user_id: str | None = None, scopes: tuple[str, ...] = ()
    ) -> web.Response:
        org = self.sim.orgs[client.org_id]
        now = self.sim.clock.now()
        version = grants.effective(client, now) if user_id is None else None
        token = self.sim.tokens.mint(client, org, now=now, grants=version, user_id=user_id, scopes=scopes)
        body: dict[str, Any] = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": client.validity_seconds,
        }
        if user_id is not None:
            body["refresh_token"] = self.sim.tokens.issue_refresh(client.id, user_id, scopes).value
        return web.json_response(body, headers=_NO_STORE)

    # -- POST /oauth/token --------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != FORM:
            raise errors.invalid_request(f"the token endpoint accepts {FORM} only")
        retry = self.sim.global_mint_windows.hit("all", self.sim.settings.mints_per_second, self.sim.clock.now())
        if retry is not None:
            raise errors.rate_limited(retry)
        form = {key: str(value) for key, value in (await request.post()).items()}
        grant_type = form.get("grant_type", "")
        request[requestlog.GRANT_TYPE] = grant_type
        if not grant_type:
            raise errors.invalid_request("grant_type is required")
        if grant_type == "client_credentials":
            return self.client_credentials(request, form)
        if grant_type == "authorization_code":
            return self.authorization_code(request, form)
        if grant_type == "refresh_token":
            return self.refresh_token(request, form)
        raise errors.OAuthError(400, "unsupported_grant_type", f"grant type {grant_type} is not supported")

    def client_credentials(self, request: web.Request, form: Mapping[str, str]) -> web.StreamResponse:
        client = self.authenticated(request, form)
        if client.grant_type != model.CLIENT_CREDENTIALS:
            raise errors.OAuthError(400, "unauthorized_client", "client is not authorized for this grant type")
        self.charge_mint(client)
        return self.issue(client)

    def authorization_code(self, request: web.Request, form: Mapping[str, str]) -> web.StreamResponse:
        public = basic_credentials(request) is None and "client_secret" not in form
        if public:  # PKCE: the client proves itself with the verifier instead of a secret
            client = self.client_here(request, form.get("client_id", ""))
            if client is None or client.state != "active" or not form.get("code_verifier"):
                raise errors.invalid_client()
            request[requestlog.CLIENT_ID] = client.id
        else:
            client = self.authenticated(request, form)
        if client.grant_type != model.CODE:
            raise errors.OAuthError(400, "unauthorized_client", "client is not authorized for this grant type")
        self.charge_mint(client)  # before redeeming: a 429 must not burn the code
        code = self.sim.tokens.redeem_code(
            form.get("code", ""),
            client_id=client.id,
            redirect_uri=form.get("redirect_uri"),
            verifier=form.get("code_verifier"),
            now=self.sim.clock.now(),
        )
        return self.issue(client, user_id=code.user_id, scopes=code.scopes)

    def refresh_token(self, request: web.Request, form: Mapping[str, str]) -> web.StreamResponse:
        client = self.authenticated(request, form)  # refresh needs a confidential client (platform.md §1.4)
        self.charge_mint(client)  # before rotating: a 429 must not destroy the refresh token
        old = self.sim.tokens.rotate(
            form.get("refresh_token", ""),
            client_id=client.id,
            now=self.sim.clock.now(),
            grace=self.sim.settings.refresh_grace_seconds,
        )
        return self.issue(client, user_id=old.user_id, scopes=old.scopes)

    # -- GET /oauth/authorize -----------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        client = self.client_here(request, query.get("client_id", ""))
        if client is None:
            raise errors.OAuthError(400, "invalid_client", "client not found")
        request[requestlog.CLIENT_ID] = client.id
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:  # never redirect to an unregistered URI
            raise errors.invalid_request("redirect_uri is not registered for this client")
        state = query.get("state")
        problem = self.refusal(client, query)
        if problem is not None:
            raise web.HTTPFound(redirect(redirect_uri, {"error": problem, "state": state}))
        org = self.sim.orgs[client.org_id]
        allowed = grants.effective(client, self.sim.clock.now()).scope
        requested = query.get("scope", "").replace(",", " ").split()
        scopes = tuple(s for s in requested if s in allowed) if requested else allowed
        code = self.sim.tokens.issue_code(
            client,
            user_id=org.test_user_id or "",
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=query.get("code_challenge"),
            expires_at=self.sim.clock.now() + self.sim.settings.code_lifetime_seconds,
        )
        raise web.HTTPFound(redirect(redirect_uri, {"code": code.value, "state": state}))

    def refusal(self, client: model.OAuthClient, query: Mapping[str, str]) -> str | None:
        """Why authorization is refused (an ``error`` for the redirect), or None."""
        if query.get("response_type") != "code":
            return "unsupported_response_type"
        if client.grant_type != model.CODE or client.state != "active":
            return "unauthorized_client"
        if "code_challenge" in query and query.get("code_challenge_method", "plain") != "S256":
            return "invalid_request"  # S256 only (platform.md §1.1, code_challenge_methods_supported)
        org = self.sim.orgs[client.org_id]
        if self.sim.settings.deny_consent or org.test_user_id not in org.users:
            return "access_denied"
        return None


def redirect(uri: str, params: Mapping[str, str | None]) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
