"""The login host's ``POST /oauth/token`` (platform.md §1.1-§1.5, platform.md §12-E4).

Token requests are form-urlencoded only, authenticated by Basic or ``client_secret_post``
(PKCE redemptions may send only ``client_id``). A client is known only on its own region's
login path; anywhere else, as with a wrong secret, the answer is the real capture
``invalid_client`` / "authentication failed" — and so for a disabled, inactive or deleted
client (an assumption: that answer is unknown). Minting is rate limited per client per minute
and globally per second. Grants: client credentials (no org parameter: never a trustor org),
authorization code (+PKCE; a code from ``/oauth/authorize?target=`` yields a trustor-org token),
refresh token (a trustor-org refresh needs the trust still to let the user in) and SAML2 bearer
(``saml``). ``GET /oauth/authorize`` is ``authorize``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from grantwarden.simulator import authorize, errors, grants, model, requestlog, saml, trust, world
from grantwarden.simulator.api_routes import Route

FORM = "application/x-www-form-urlencoded"
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
        return [("POST", "/oauth/token", self.token)]

    # -- helpers ------------------------------------------------------------------------------

    def client_here(self, request: web.Request, client_id: str) -> model.OAuthClient | None:
        return authorize.client_here(self.sim, request, client_id)

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
        self,
        client: model.OAuthClient,
        *,
        user_id: str | None = None,
        scopes: tuple[str, ...] = (),
        target_org_id: str | None = None,
        refresh: bool = True,
    ) -> web.Response:
        """A token of ``client`` (for ``user_id`` acting in ``target_org_id``, or in its own org)."""
        home = self.sim.orgs[client.org_id]
        org = self.sim.orgs[target_org_id or home.id]
        now = self.sim.clock.now()
        version = grants.effective(client, now) if user_id is None else None
        token = self.sim.tokens.mint(
            client, org, now=now, grants=version, user_id=user_id, scopes=scopes, home_org_id=home.id
        )
        body: dict[str, Any] = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": client.validity_seconds,
        }
        if user_id is not None and refresh:
            issued = self.sim.tokens.issue_refresh(client.id, user_id, scopes, target_org_id=token.org_id)
            body["refresh_token"] = issued.value
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
        if grant_type == saml.GRANT_TYPE:
            return self.saml2_bearer(request, form)
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
        return self.issue(client, user_id=code.user_id, scopes=code.scopes, target_org_id=code.target_org_id)

    def refresh_token(self, request: web.Request, form: Mapping[str, str]) -> web.StreamResponse:
        client = self.authenticated(request, form)  # refresh needs a confidential client (platform.md §1.4)
        self.charge_mint(client)  # before rotating: a 429 must not destroy the refresh token
        old = self.sim.tokens.rotate(
            form.get("refresh_token", ""),
            client_id=client.id,
            now=self.sim.clock.now(),
            grace=self.sim.settings.refresh_grace_seconds,
        )
        target = old.target_org_id
        if target is not None and target != client.org_id:
            home = self.sim.orgs[client.org_id]
            found = self.sim.trusts.get(target, home.id)
            if not trust.is_member(found, home, old.user_id, self.sim.clock.now()):
                raise errors.invalid_grant("the organization no longer trusts this user")  # an assumption
        return self.issue(client, user_id=old.user_id, scopes=old.scopes, target_org_id=target)

    def saml2_bearer(self, request: web.Request, form: Mapping[str, str]) -> web.StreamResponse:
        """A user grant: the assertion's user, the client's scopes, no refresh token (assumption)."""
        client = self.authenticated(request, form)
        if client.grant_type != saml.CLIENT_TYPE:
            raise errors.OAuthError(400, "unauthorized_client", "client is not authorized for this grant type")
        org, now = self.sim.orgs[client.org_id], self.sim.clock.now()
        person = saml.user_for(org, form.get("orgName", ""), form.get("assertion", ""), now=now)
        self.charge_mint(client)
        scopes = grants.effective(client, now).scope
        return self.issue(client, user_id=person.id, scopes=scopes, refresh=False)
