"""api: every call of one identity goes out with its token, and a 401 is retried once, no more.

Covers, against an in-memory client (no HTTP): each method sends the identity's current token,
the tenant's endpoints, gate and timeout, and returns the client's answer; a table of answer
sequences for the 401 rule (ok; 401 then ok: one re-mint and one retry with the new token; 401
twice: the 401 to the caller and the credential backing off; another refusal: no re-mint);
within that backoff nothing is sent and the error says the credential was refused; afterwards a
fresh token refused again is the next refusal at once (one mint a round); a success ends the
refusals; the admin identity shares the tenant's endpoints and gate but uses its own tokens; a
401 ``ip.not.authorized`` goes to the caller at once, the token kept and nothing minted; the new
calls (users/me, a trust member's roles, the trust's groups, the audit query) go the same way.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, transport
from grantwarden.worker import api, tokenbox
from tests.worker import fakes

ENDPOINTS = transport.Endpoints("https://api.example.test", "https://login.example.test")
OAUTH_CLIENT = {"id": fakes.CLIENT, "name": "the integration", "authorizedGrantType": "CLIENT-CREDENTIALS"}
UNAUTHORIZED = 401
IP_REFUSED = 4011  # a 401 ip.not.authorized, in the scripts below


class Client:
    """``remote.client.Client``'s API calls in memory: answers from a script of statuses."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # the next answers; 200 when empty

    def _answer(self, call: str, token: str, **seen: Any) -> None:
        self.sent.append({"call": call, "token": token, **seen})
        status = self.statuses.pop(0) if self.statuses else 200
        if status == UNAUTHORIZED:
            raise errors.Unauthorized(fakes.reply(401, {"code": "bad.credentials", "status": 401}))
        if status == IP_REFUSED:
            message = "Requests originating from this IP address are not authorized: [203.0.113.9]"
            body = {"code": "ip.not.authorized", "status": 401, "message": message}
            raise errors.for_reply(fakes.reply(401, body))
        if status == 403:
            raise fakes.missing_permission("messaging:integration:view")

    async def tokens_me(self, endpoints: Any, token: str, *, gate: gate.Gate, timeout_s: float) -> models.TokenInfo:
        self._answer("tokens_me", token, endpoints=endpoints, gate=gate, timeout_s=timeout_s)
        return models.TokenInfo.model_validate({"organization": {"id": fakes.ORG}})

    async def get(
        self, endpoints: Any, path: str, token: str, *, gate: gate.Gate, timeout_s: float, read: bool
    ) -> remote_client.ApiReply:
        self._answer("get", token, endpoints=endpoints, gate=gate, timeout_s=timeout_s, path=path, read=read)
        return remote_client.ApiReply(200, None, errors.Reply(method="GET", path=path, status=200))

    async def licensed_permissions(self, endpoints: Any, token: str, **seen: Any) -> frozenset[str]:
        self._answer("licensed_permissions", token, endpoints=endpoints, **seen)
        return frozenset({"a:b:c"})

    async def all_roles(self, endpoints: Any, token: str, **seen: Any) -> list[dict[str, Any]]:
        self._answer("all_roles", token, endpoints=endpoints, **seen)
        return [fakes.VIEWER]

    async def home_division(self, endpoints: Any, token: str, **seen: Any) -> dict[str, Any]:
        self._answer("home_division", token, endpoints=endpoints, **seen)
        return {"id": fakes.HOME}

    async def get_oauth_client(self, endpoints: Any, token: str, client_id: str, **seen: Any) -> Any:
        self._answer("get_oauth_client", token, endpoints=endpoints, client_id=client_id, **seen)
        return models.OAuthClient.model_validate(OAUTH_CLIENT), dict(OAUTH_CLIENT)

    async def put_oauth_client(self, endpoints: Any, token: str, client_id: str, body: Any, **seen: Any) -> Any:
        self._answer("put_oauth_client", token, endpoints=endpoints, client_id=client_id, body=body, **seen)
        return models.OAuthClient.model_validate(body), errors.Reply(method="PUT", path="/x", status=200)

    async def users_me(self, endpoints: Any, token: str, **seen: Any) -> models.NamedEntity:
        self._answer("users_me", token, endpoints=endpoints, **seen)
        return models.NamedEntity(id="u-1", name="Pat Partner")

    async def trustee_user_roles(self, endpoints: Any, token: str, trustee: str, user: str, **seen: Any) -> Any:
        self._answer("trustee_user_roles", token, endpoints=endpoints, trustee=trustee, user=user, **seen)
        return models.UserAuthorization.model_validate({"roles": [{"id": "r-1", "name": "Messaging Viewer"}]})

    async def trustee_groups(self, endpoints: Any, token: str, trustee: str, **seen: Any) -> list[str]:
        self._answer("trustee_groups", token, endpoints=endpoints, trustee=trustee, **seen)
        return ["Partner support"]

    async def audit_query(self, endpoints: Any, token: str, body: Any, **seen: Any) -> list[dict[str, Any]]:
        self._answer("audit_query", token, endpoints=endpoints, body=body, **seen)
        return []


def tenant_api(clock: clock_mod.ManualClock, client: Client, box: tokenbox.TokenBox | None = None) -> api.TenantApi:
    return api.TenantApi(
        client=client,  # type: ignore[arg-type]  # the API calls, in memory
        endpoints=ENDPOINTS,
        gate=gate.Gate(),
        box=box or fakes.token_box(clock),
        timeout_s=7.0,
    )


CALLS = [
    pytest.param("tokens_me", (), {}, id="tokens_me"),
    pytest.param("get", ("/api/v2/organizations/me",), {"path": "/api/v2/organizations/me", "read": True}, id="get"),
    pytest.param("licensed_permissions", (), {}, id="licensed_permissions"),
    pytest.param("all_roles", (), {}, id="all_roles"),
    pytest.param("home_division", (), {}, id="home_division"),
    pytest.param("get_oauth_client", (fakes.CLIENT,), {"client_id": fakes.CLIENT}, id="get_oauth_client"),
    pytest.param("put_oauth_client", (fakes.CLIENT, OAUTH_CLIENT), {"body": OAUTH_CLIENT}, id="put_oauth_client"),
    pytest.param("users_me", (), {}, id="users_me"),
    pytest.param("trustee_user_roles", ("org-2", "u-1"), {"trustee": "org-2", "user": "u-1"}, id="trustee_user_roles"),
    pytest.param("trustee_groups", ("org-2",), {"trustee": "org-2"}, id="trustee_groups"),
    pytest.param("audit_query", ({"interval": "a/b"},), {"body": {"interval": "a/b"}}, id="audit_query"),
]


@pytest.mark.parametrize(("method", "args", "seen"), CALLS)
async def test_every_call_carries_the_identitys_token_and_the_tenants_endpoints_gate_and_timeout(
    method: str, args: tuple[Any, ...], seen: dict[str, Any]
) -> None:
    clock = clock_mod.ManualClock()
    client = Client()
    tenant = tenant_api(clock, client)
    await getattr(tenant, method)(*args)
    (sent,) = client.sent
    assert tenant.box.token is not None
    assert sent["token"] == tenant.box.token.value
    assert (sent["call"], sent["endpoints"], sent["gate"], sent["timeout_s"]) == (method, ENDPOINTS, tenant.gate, 7.0)
    assert {key: sent[key] for key in seen} == seen


@pytest.mark.parametrize(
    ("statuses", "raised", "tokens", "refusals"),
    [
        pytest.param([200], None, ["acme-1"], 0, id="ok-one-token-one-request"),
        pytest.param([401, 200], None, ["acme-1", "acme-2"], 0, id="401-then-ok-one-remint-one-retry"),
        pytest.param([401, 401], errors.Unauthorized, ["acme-1", "acme-2"], 1, id="second-401-to-the-caller"),
        pytest.param([403], errors.Forbidden, ["acme-1"], 0, id="403-no-remint-no-retry"),
        pytest.param([401, 403], errors.Forbidden, ["acme-1", "acme-2"], 0, id="401-then-403-no-third-attempt"),
        pytest.param([IP_REFUSED], errors.IpNotAuthorized, ["acme-1"], 0, id="ip-not-authorized-no-remint"),
        pytest.param(
            [401, IP_REFUSED], errors.IpNotAuthorized, ["acme-1", "acme-2"], 0, id="401-then-ip-refused-not-a-refusal"
        ),
    ],
)
async def test_a_401_drops_the_token_mints_once_and_retries_once(
    statuses: list[int], raised: type[Exception] | None, tokens: list[str], refusals: int
) -> None:
    clock = clock_mod.ManualClock()
    client = Client()
    client.statuses = list(statuses)
    tenant = tenant_api(clock, client)
    if raised is None:
        await tenant.tokens_me()
    else:
        with pytest.raises(raised):
            await tenant.tokens_me()
    assert [sent["token"] for sent in client.sent] == tokens, "each request with the token in hand, then a fresh one"
    assert tenant.box.refusals == refusals
    assert (tenant.box.retry_at is not None) == bool(refusals), "only a refused fresh token backs off"


async def test_a_refused_credential_backs_off_then_mints_once_a_round_until_a_request_succeeds() -> None:
    clock = clock_mod.ManualClock(start=0.0)
    client = Client()
    client.statuses = [401, 401]
    tenant = tenant_api(clock, client)
    with pytest.raises(errors.Unauthorized):
        await tenant.get("/x")
    first_retry = tenant.box.retry_at
    assert first_retry is not None
    assert 0.5 <= first_retry <= 1.0  # the first backoff: 1 s with equal jitter

    with pytest.raises(tokenbox.TokenUnavailableError) as backing_off:  # within the backoff: nothing sent
        await tenant.get("/x")
    assert backing_off.value.refused, "the API refused the credential's tokens, not the token endpoint"
    assert len(client.sent) == 2

    await clock.advance(first_retry - clock.now())
    client.statuses = [401]
    with pytest.raises(errors.Unauthorized):  # one fresh token, refused at once: the next refusal
        await tenant.get("/x")
    assert [sent["token"] for sent in client.sent] == ["acme-1", "acme-2", "acme-3"]
    assert tenant.box.refusals == 2
    assert tenant.box.retry_at is not None
    assert 1.0 <= tenant.box.retry_at - clock.now() <= 2.0  # the second: 2 s with equal jitter

    await clock.advance(tenant.box.retry_at - clock.now())
    await tenant.get("/x")
    assert [sent["token"] for sent in client.sent][-1] == "acme-4"
    assert tenant.box.refusals == 0, "a request that succeeds ends the refusals"


async def test_the_admin_identity_shares_the_tenants_endpoints_and_gate_with_its_own_tokens() -> None:
    clock = clock_mod.ManualClock()
    client = Client()
    tenant = tenant_api(clock, client)
    admin = tenant.as_identity(fakes.token_box(clock, tenant="admin"))
    await tenant.all_roles()
    await admin.all_roles()
    assert admin.gate is tenant.gate, "one Retry-After floor for the tenant (platform.md §5)"
    assert [(sent["token"], sent["endpoints"], sent["gate"]) for sent in client.sent] == [
        ("acme-1", ENDPOINTS, tenant.gate),
        ("admin-1", ENDPOINTS, tenant.gate),
    ]


async def test_an_address_the_ip_allowlist_refuses_keeps_the_token_and_mints_nothing() -> None:
    clock = clock_mod.ManualClock()
    client = Client()
    tenant = tenant_api(clock, client)
    token = await tenant.box.get()
    client.statuses = [IP_REFUSED, IP_REFUSED, IP_REFUSED]
    for _ in range(3):
        with pytest.raises(errors.IpNotAuthorized) as refused:
            await tenant.get("/api/v2/organizations/me")
    assert refused.value.reply.facts.code == "ip.not.authorized"
    assert tenant.box.token == token, "the same token: the address is refused, not the token"
    assert (tenant.box.refusals, tenant.box.retry_at) == (0, None), "no backoff: the token endpoint was not asked"
    assert [sent["token"] for sent in client.sent] == ["acme-1"] * 3
