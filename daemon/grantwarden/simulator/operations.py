"""What each simulated API operation requires: permissions (ALL/ANY), scopes, grant context.

One ``Operation`` per endpoint, straight from the platform's declarations (platform.md §2.4, §3,
§6): a client-credentials token needs ``requirement`` through its roles; a user-grant token
needs one of ``scopes`` first and then the user's permissions. ``user_only`` operations answer a
client-credentials token with 400 ``not.a.user``, ``client_only`` ones a user token with 400
``not.a.client`` (platform.md §4.2). Kept as data, so adding an endpoint is one entry here plus its
handler.
"""

from __future__ import annotations

import dataclasses

from grantwarden.simulator.permissions import Kind, Requirement


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    name: str
    scopes: tuple[str, ...]
    requirement: Requirement | None = None
    user_only: bool = False
    client_only: bool = False


def _all(*permissions: str) -> Requirement:
    return Requirement(Kind.ALL, permissions)


def _any(*permissions: str) -> Requirement:
    return Requirement(Kind.ANY, permissions)


_MESSAGING = ("messaging", "messaging:readonly")
_WEBDEPLOYMENTS = ("webdeployments", "webdeployments:readonly")
_ROUTING = ("routing", "routing:readonly")
_AUTHORIZATION = ("authorization", "authorization:readonly")
_ORGAUTH = ("organization-authorization", "organization-authorization:readonly")
_OAUTH = ("oauth", "oauth:readonly")

TOKENS_ME = Operation("tokens-me", ("user-basic-info",))
ORGANIZATION_ME = Operation("organizations-me", ("organization", "organization:readonly"))
USERS_ME = Operation("users-me", ("user-basic-info",), user_only=True)

MESSAGING_INTEGRATIONS = Operation("messaging-integrations", _MESSAGING, _all("messaging:integration:view"))
MESSAGING_SUPPORTED_CONTENT = Operation(
    "messaging-supportedcontent", _MESSAGING, _all("messaging:supportedContent:view")
)
MESSAGING_SETTINGS = Operation("messaging-settings", _MESSAGING, _all("messaging:setting:view"))
# The odd one (platform.md §6): a GET that needs an "add" permission.
MESSAGING_FACEBOOK_APP = Operation("messaging-facebook-app", _MESSAGING, _all("messaging:integration:add"))
WEBDEPLOYMENTS_DEPLOYMENTS = Operation(
    "webdeployments-deployments", _WEBDEPLOYMENTS, _all("webDeployments:deployment:view")
)
WEBDEPLOYMENTS_CONFIGURATIONS = Operation(
    "webdeployments-configurations", _WEBDEPLOYMENTS, _all("webDeployments:configuration:view")
)
# Queues are divisioned: the listing filters by division, a single queue checks its division.
ROUTING_QUEUES = Operation("routing-queues", _ROUTING, _any("routing:queue:view"))
ROUTING_QUEUE = Operation("routing-queue", _ROUTING, _any("routing:queue:view"))
# The other odd one (platform.md §6): a GET that needs "manage".
ROUTING_MESSAGE_RECIPIENTS = Operation("routing-message-recipients", _ROUTING, _all("routing:message:manage"))

# platform.md §4.2: "User token cannot be used"; ALL conversation:message:create, scope conversations (OAS).
CONVERSATIONS_AGENTLESS = Operation(
    "conversations-messages-agentless", ("conversations",), _all("conversation:message:create"), client_only=True
)

OAUTH_CLIENTS = Operation("oauth-clients", _OAUTH, _any("oauth:client:view"))
OAUTH_CLIENT = Operation("oauth-client", _OAUTH, _any("oauth:client:view"))
OAUTH_CLIENT_POST = Operation("oauth-client-post", ("oauth",), _any("oauth:client:add"))
OAUTH_CLIENT_PUT = Operation("oauth-client-put", ("oauth",), _any("oauth:client:edit"))
OAUTH_CLIENT_DELETE = Operation("oauth-client-delete", ("oauth",), _any("oauth:client:delete"))
OAUTH_CLIENT_SECRET = Operation("oauth-client-secret", ("oauth",), _any("oauth:client:edit"))
AUTHORIZATION_ROLES = Operation("authorization-roles", _AUTHORIZATION, _any("authorization:role:view"))
AUTHORIZATION_PERMISSIONS = Operation("authorization-permissions", _AUTHORIZATION)
AUTHORIZATION_HOME_DIVISION = Operation("authorization-home-division", _AUTHORIZATION)

# Org trust (platform.md §13); the trustor-side lists check the trustor org's grants too.
ORGAUTH_TRUSTEES = Operation("orgauthorization-trustees", _ORGAUTH, _any("authorization:orgTrustee:view"))
ORGAUTH_TRUSTORS = Operation("orgauthorization-trustors", _ORGAUTH, _any("authorization:orgTrustor:view"))
ORGAUTH_TRUSTEE_USERS = Operation("orgauthorization-trustee-users", _ORGAUTH, _any("authorization:orgTrusteeUser:view"))
ORGAUTH_TRUSTEE_GROUPS = Operation(
    "orgauthorization-trustee-groups", _ORGAUTH, _any("authorization:orgTrusteeGroup:view")
)
# /trustors/{trustorOrgId}/users|groups: the permission is needed in the trustor org, through the
# caller's own trust (blog, platform.md §13); the handler checks it (missing.trustor.permissions).
ORGAUTH_TRUSTOR_MEMBERS = Operation("orgauthorization-trustor-members", _ORGAUTH)

# Audits (platform.md §11.1): ALL audits:audit:view, the one scope audits:readonly.
AUDITS = Operation("audits-realtime", ("audits:readonly",), _all("audits:audit:view"))

# The org IP allow-list (platform.md §15).
ORG_AUTH_SETTINGS = Operation(
    "organizations-authentication-settings",
    ("organization", "organization:readonly"),
    _any("directory:organization:admin"),
)
ORG_AUTH_SETTINGS_PATCH = Operation(
    "organizations-authentication-settings-patch", ("organization",), _any("directory:organization:admin")
)
