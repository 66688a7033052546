"""One identity's view of its tenant's platform: every API call the worker makes, 401s handled.

A ``TenantApi`` carries what every call of one tenant shares: its endpoints, its Retry-After gate
(one floor for the tenant, platform.md §5), the request timeout, and the token box of the identity
it acts as. The tenant's own client is one instance; its ``admin_credentials`` are a second one
over the same endpoints and gate (``as_identity``). Probing, planning and re-granting call its
methods and never see a token.

Every method is ``authenticated`` (kopf's ``@authenticated`` in ``kopf/_cogs/clients/auth.py``):
the box's token goes in; a 401 drops that token, mints once and retries once. A fresh token
refused as well (design.md §3) makes the box back off before minting for that credential again
(``TokenBox.refused``), and the 401 goes to the caller to classify (``unauthorized``). While the
box backs off, every token is one minted after a refusal, so its 401 is the next refusal at once:
one mint per round, not two. A 401 ``ip.not.authorized`` is no token's fault (the org's IP
allowlist refuses the address, platform.md §15): it goes to the caller at once, the token kept,
nothing minted, the box neither told of a refusal nor of a success. What this module must not
do: classify answers, retry anything but a 401 (429 and 409 retries are the callers'
decisions), or log.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, transport
from grantwarden.worker import tokenbox

_P = ParamSpec("_P")
_T = TypeVar("_T")


def authenticated(
    call: Callable[Concatenate[TenantApi, str, _P], Awaitable[_T]],
) -> Callable[Concatenate[TenantApi, _P], Awaitable[_T]]:
    """``call(api, token, ...)`` with the identity's token; a 401: drop it, mint once, retry once.

    get ─► call ──401──► invalidate ─► get (mints) ─► call ──401──► refused (backoff), raise
             │└─ ok: accepted                           └─ ok: accepted
             └─ 401 ip.not.authorized: raise (no mint)
    """

    @functools.wraps(call)
    async def with_token(api: TenantApi, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        box = api.box
        token = await box.get()
        try:
            result = await call(api, token.value, *args, **kwargs)
        except errors.IpNotAuthorized:
            raise  # the address is refused, not the token: a new one would be refused the same
        except errors.Unauthorized as exc:
            if box.refusals:  # backing off after refusals: this fresh token is refused too
                box.refused(token, exc)
                raise
            box.invalidate(token)
        else:
            box.accepted()
            return result
        token = await box.get()
        try:
            result = await call(api, token.value, *args, **kwargs)
        except errors.IpNotAuthorized:
            raise
        except errors.Unauthorized as exc:
            box.refused(token, exc)
            raise
        box.accepted()
        return result

    return with_token


class TenantApi:
    """The platform calls of one identity (the tenant's client, or its admin) in one tenant's org."""

    __slots__ = ("_client", "_endpoints", "_timeout_s", "box", "gate")

    def __init__(
        self,
        *,
        client: remote_client.Client,
        endpoints: transport.Endpoints,
        gate: gate.Gate,
        box: tokenbox.TokenBox,
        timeout_s: float,
    ) -> None:
        self._client = client
        self._endpoints = endpoints
        self._timeout_s = timeout_s
        self.gate = gate
        self.box = box

    def retime(self, timeout_s: float) -> None:
        """The request timeout from the next call on (a reload changed ``probe_timeout``)."""
        self._timeout_s = timeout_s

    def as_identity(self, box: tokenbox.TokenBox) -> TenantApi:
        """The same org, endpoints, timeout and gate, acting with another identity's tokens."""
        return TenantApi(
            client=self._client, endpoints=self._endpoints, gate=self.gate, box=box, timeout_s=self._timeout_s
        )

    # The two calls of every probe return the client's coroutine unawaited, as ``Client._send`` does.
    @authenticated
    def tokens_me(self, token: str) -> Awaitable[models.TokenInfo]:
        """Who the token acts as, and in which org (platform.md §3.1)."""
        return self._client.tokens_me(self._endpoints, token, gate=self.gate, timeout_s=self._timeout_s)

    @authenticated
    def get(self, token: str, path: str, *, read: bool = True) -> Awaitable[remote_client.ApiReply]:
        """GET ``path``; ``read=False`` (a probe) keeps only the status and the correlation id."""
        return self._client.get(self._endpoints, path, token, gate=self.gate, timeout_s=self._timeout_s, read=read)

    @authenticated
    async def licensed_permissions(self, token: str) -> frozenset[str]:
        return await self._client.licensed_permissions(
            self._endpoints, token, gate=self.gate, timeout_s=self._timeout_s
        )

    @authenticated
    async def all_roles(self, token: str) -> list[dict[str, Any]]:
        return await self._client.all_roles(self._endpoints, token, gate=self.gate, timeout_s=self._timeout_s)

    @authenticated
    async def home_division(self, token: str) -> dict[str, Any]:
        return await self._client.home_division(self._endpoints, token, gate=self.gate, timeout_s=self._timeout_s)

    @authenticated
    async def get_oauth_client(self, token: str, client_id: str) -> tuple[models.OAuthClient, dict[str, Any]]:
        """The client as a model and as the raw dict a re-grant must PUT back whole (platform.md §2.3)."""
        return await self._client.get_oauth_client(
            self._endpoints, token, client_id, gate=self.gate, timeout_s=self._timeout_s
        )

    @authenticated
    async def put_oauth_client(
        self, token: str, client_id: str, body: Mapping[str, Any]
    ) -> tuple[models.OAuthClient, errors.Reply]:
        """Replace the client with ``body`` (PUT replaces: the whole object, platform.md §2.3)."""
        return await self._client.put_oauth_client(
            self._endpoints, token, client_id, body, gate=self.gate, timeout_s=self._timeout_s
        )

    @authenticated
    async def users_me(self, token: str) -> models.NamedEntity:
        """The signed-in user of a user-grant token (a trust member, platform.md §13)."""
        return await self._client.users_me(self._endpoints, token, gate=self.gate, timeout_s=self._timeout_s)

    @authenticated
    async def trustee_user_roles(self, token: str, trustee_org_id: str, user_id: str) -> models.UserAuthorization:
        """A trust member's trustor roles, read in the trustor org (platform.md §13)."""
        return await self._client.trustee_user_roles(
            self._endpoints, token, trustee_org_id, user_id, gate=self.gate, timeout_s=self._timeout_s
        )

    @authenticated
    async def trustee_groups(self, token: str, trustee_org_id: str) -> list[str]:
        return await self._client.trustee_groups(
            self._endpoints, token, trustee_org_id, gate=self.gate, timeout_s=self._timeout_s
        )

    @authenticated
    async def audit_query(self, token: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One page of the realtime audit query (platform.md §11.1)."""
        return await self._client.audit_query(self._endpoints, token, body, gate=self.gate, timeout_s=self._timeout_s)
