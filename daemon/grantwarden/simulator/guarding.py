"""The gate every API request passes: token, region, expiry, budget, grant type, scope, policy, permission.

The order is the platform's as far as it is observable (platform.md §4, §17.10: "What a faithful
simulator must reproduce" 1, 5, 7, 11, 12, 13):

    no bearer → 401 authentication.required    unknown/expired/revoked/idle/foreign region → 401 bad.credentials
    over the token's budget → 429 + Retry-After
    client credentials on a user-only operation → 400 not.a.user
    user grant: token scopes (∩ the org's approval when enforced) lack every acceptable scope
        → 403 app.not.authorized.for.scope
    org security policy on the path → 403 authz.policy.denied
    permissions (ALL / ANY) → 403 missing.permissions / missing.any.permissions

Division checks of single objects are left to the handler, which knows the object. This is the
hot path: dict lookups and memoised permission answers only.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from grantwarden.simulator import errors, grants, model, operations, permissions, requestlog, world

# Set by the application's middleware: the region served and the path without its region prefix.
REGION = web.RequestKey("sim.region", str)
PATH = web.RequestKey("sim.path", str)


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    token: model.Token
    org: model.Org
    client: model.OAuthClient
    holdings: permissions.Holdings
    user: model.User | None


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise errors.authentication_required()
    return value


def authenticate(sim: world.World, request: web.Request, *, preserve_idle: bool = False) -> model.Token:
    """The live token of this request, charged against its budget; refusals as the platform's."""
    value = bearer(request)
    token = sim.tokens.access.get(value)
    if token is None:
        raise errors.bad_credentials()
    request[requestlog.CLIENT_ID] = token.client_id
    request[requestlog.ORG_ID] = token.org_id
    if token.region != request[REGION]:
        raise errors.bad_credentials()  # a token is unknown outside its region (platform.md §7)
    now = sim.clock.now()
    org = sim.orgs[token.org_id]
    client = sim.clients.get(token.client_id)
    idle = org.idle_timeout_seconds
    if (
        now >= token.expires_at
        or client is None
        or client.state == "disabled"
        or (idle is not None and now - token.last_used >= idle)
    ):
        sim.tokens.revoke(value)
        raise errors.bad_credentials()
    budget = sim.token_budget(org)
    retry_after = sim.token_windows.hit(value, budget, now)
    if retry_after is not None:
        limit = {"key": "token.rate.per.minute", "namespace": "platform-api", "value": budget}
        raise errors.rate_limited(retry_after, limit=limit)
    if not preserve_idle:
        token.last_used = now
    return token


def approved_scopes(org: model.Org, token: model.Token) -> tuple[str, ...]:
    """A user token's scopes as the org lets the app use them (platform.md §2.1)."""
    if not org.enforce_app_authorization:
        return token.scopes
    approval = org.app_authorizations.get(token.client_id)
    if approval is None or approval.state != "Authorized":
        return ()
    return tuple(scope for scope in token.scopes if scope in approval.scopes)


def admit(
    sim: world.World, request: web.Request, operation: operations.Operation, *, preserve_idle: bool = False
) -> Caller:
    token = authenticate(sim, request, preserve_idle=preserve_idle)
    org = sim.orgs[token.org_id]
    client = sim.clients[token.client_id]
    user: model.User | None = None
    if token.kind == "client":
        if operation.user_only:
            raise errors.not_a_user()
        version = grants.for_client_token(client, token, now=sim.clock.now(), live=sim.tokens_see_grants(org))
        holdings = grants.holdings(org, version)
    else:
        user = org.users.get(token.user_id or "")
        if user is None:
            raise errors.bad_credentials()
        scopes = approved_scopes(org, token)
        if not any(scope in scopes for scope in operation.scopes):
            raise errors.scope_not_authorized(operation.scopes)
        holdings = grants.user_holdings(org, user)
    if org.policies:
        path = request[PATH]
        denied = [rule.policy_id for rule in org.policies if path.startswith(rule.path_prefix)]
        if denied:
            raise errors.policy_denied(denied)
    if operation.requirement is not None:
        refused = permissions.check(holdings, operation.requirement)
        if refused is not None:
            raise errors.refusal(refused)
    return Caller(token, org, client, holdings, user)
