"""The gate every API request passes: token, region, expiry, address, budget, grant type, scope, policy, permission.

The order is the platform's as far as it is observable (platform.md §4, §17.10: "What a faithful
simulator must reproduce" 1, 5, 7, 11, 12, 13; platform.md §13, §15):

    no bearer → 401 authentication.required    unknown/expired/revoked/idle/foreign region → 401 bad.credentials
    the org's IP allow-list leaves out the caller's address → 401 ip.not.authorized
    over the token's budget → 429 + Retry-After
    client credentials on a user-only operation → 400 not.a.user; a user on a client-only one → 400 not.a.client
    a trusted user whose trust is disabled, expired or gone → 401 bad.credentials (an assumption)
    user grant: token scopes (∩ the org's approval when enforced) lack every acceptable scope
        → 403 app.not.authorized.for.scope
    org security policy on the path → 403 authz.policy.denied
    permissions (ALL / ANY) → 403 missing.permissions / missing.any.permissions

A trusted user's token acts in the trustor org with the trust member's trustor roles; lacking
one gives the generic 403s (platform.md §13: **L**, inferred). Division checks of single
objects are left to the handler, which knows the object. This is the hot path: dict lookups and
memoised permission answers only.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from grantwarden.simulator import (
    audit,
    errors,
    grants,
    ipallow,
    model,
    operations,
    permissions,
    requestlog,
    rights,
    trust,
    world,
)

# Set by the application's middleware: the region served and the path without its region prefix.
REGION = web.RequestKey("sim.region", str)
PATH = web.RequestKey("sim.path", str)


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    token: model.Token
    org: model.Org
    client: model.OAuthClient
    holdings: rights.Holdings
    user: model.User | None
    home_org: model.Org  # the user's home org: the trustee org for a trusted user, else ``org``

    def actor(self, remote_ip: str) -> audit.Actor:
        """Who this caller is in the audit trail of a change it makes."""
        user = self.user
        if user is None:
            return audit.Actor(self.org.id, None, None, self.client.id, remote_ip)
        return audit.Actor(self.home_org.id, user.id, user.name, self.client.id, remote_ip)

    def ref(self) -> dict[str, str]:
        """A ``DomainEntityRef`` of the caller (``createdBy``/``modifiedBy``)."""
        if self.user is not None:
            return {"id": self.user.id, "selfUri": f"/api/v2/users/{self.user.id}"}
        return {"id": self.client.id, "selfUri": f"/api/v2/oauth/clients/{self.client.id}"}


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
    if org.ip_allowlist:
        address = ipallow.address_of(sim, request)
        if not ipallow.allows(org.ip_allowlist, address):
            raise errors.ip_not_authorized(address)
    budget = sim.token_budget(org)
    retry_after = sim.token_windows.hit(value, budget, now)
    if retry_after is not None:
        # the namespace is one of the SDK's Limit.namespace values (platform.md §5 calls it platform-api)
        limit = {"key": "token.rate.per.minute", "namespace": "platform.api", "value": budget}
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
    home = org
    if token.kind == "client":
        if operation.user_only:
            raise errors.not_a_user()
        version = grants.for_client_token(client, token, now=sim.clock.now(), live=sim.tokens_see_grants(org))
        holdings = grants.holdings(org, version)
    else:
        if operation.client_only:
            raise errors.not_a_client()
        home, user, holdings = user_holdings(sim, token, org)
        scopes = approved_scopes(org, token)
        if not any(scope in scopes for scope in operation.scopes):
            raise errors.scope_not_authorized(operation.scopes)
    if org.policies:
        path = request[PATH]
        denied = [rule.policy_id for rule in org.policies if path.startswith(rule.path_prefix)]
        if denied:
            raise errors.policy_denied(denied)
    if operation.requirement is not None:
        refused = permissions.check(holdings, operation.requirement)
        if refused is not None:
            raise errors.refusal(refused)
    return Caller(token, org, client, holdings, user, home)


def user_holdings(
    sim: world.World, token: model.Token, org: model.Org
) -> tuple[model.Org, model.User, rights.Holdings]:
    """A user token's home org, user and holdings in ``org`` (through a trust when elsewhere)."""
    home = sim.orgs.get(token.home)
    user = home.users.get(token.user_id or "") if home is not None else None
    if home is None or user is None:
        raise errors.bad_credentials()
    if home is org:
        return home, user, grants.user_holdings(org, user)
    held = trust.holdings_for(org, sim.trusts.get(org.id, home.id), home, user, sim.clock.now())
    if held is None:
        raise errors.bad_credentials()
    return home, user, held
