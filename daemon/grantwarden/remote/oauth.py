"""The token endpoint: client credentials, authorization code (with PKCE) and refresh grants.

platform.md §1.2: ``POST {login}/oauth/token``, form-urlencoded, client authenticated with
``Authorization: Basic base64(id:secret)``; a public PKCE client (no secret) sends its
``client_id`` in the form instead. Every secret sent or received is registered with the
redactor before anything can print it, and a success body that cannot be used is reported
without its text: it holds tokens. The token box (``grantwarden.worker.tokenbox``) decides when to
call these; the 401-re-mint-retry loop lives in ``grantwarden.worker.api``, not here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.policy import errorbody
from grantwarden.remote import errors, gate, models, transport

TOKEN_PATH = "/oauth/token"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TokenGrant:
    """A minted token; ``expires_in`` counts from ``received_at`` (never from a clock in the token).

    The token strings are left out of ``repr`` so a grant can be logged or shown by accident
    without harm.
    """

    access_token: str = dataclasses.field(repr=False)
    token_type: str
    expires_in: int
    received_at: float
    refresh_token: str | None = dataclasses.field(default=None, repr=False)

    @property
    def expires_at(self) -> float:
        return self.received_at + self.expires_in


class TokenEndpoint:
    """Mints tokens for any tenant: endpoints, credentials and gate come with each call."""

    def __init__(
        self,
        *,
        transport: transport.Transport,
        clock: clocks.Clock,
        redactor: redaction.Redactor,
        timeout_s: float,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._redactor = redactor
        self._timeout_s = timeout_s

    async def mint_client_credentials(
        self,
        endpoints: transport.Endpoints,
        client_id: str,
        client_secret: str,
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> TokenGrant:
        """A client-credentials token: no scope, no org parameter (the client's org is implied)."""
        form = {"grant_type": "client_credentials"}
        return await self._grant(endpoints, client_id, client_secret, form, gate=gate, timeout_s=timeout_s)

    async def exchange_code(
        self,
        endpoints: transport.Endpoints,
        client_id: str,
        client_secret: str | None,
        *,
        gate: gate.Gate,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
        timeout_s: float | None = None,
    ) -> TokenGrant:
        """Redeem an authorization code (``grantwarden authorize``); the grant has a refresh token."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        self._redactor.add(code)
        self._redactor.add(code_verifier)
        return await self._grant(endpoints, client_id, client_secret, form, gate=gate, timeout_s=timeout_s)

    async def refresh(
        self,
        endpoints: transport.Endpoints,
        client_id: str,
        client_secret: str | None,
        *,
        gate: gate.Gate,
        refresh_token: str,
        timeout_s: float | None = None,
    ) -> TokenGrant:
        """A new access token from a refresh token.

        The platform rotates refresh tokens: store the returned one. When a response carries
        none, ``refresh_token`` is None and the caller keeps the one it has.
        """
        self._redactor.add(refresh_token)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._grant(endpoints, client_id, client_secret, form, gate=gate, timeout_s=timeout_s)

    async def _grant(
        self,
        endpoints: transport.Endpoints,
        client_id: str,
        client_secret: str | None,
        form: Mapping[str, str],
        *,
        gate: gate.Gate,
        timeout_s: float | None,
    ) -> TokenGrant:
        headers: dict[str, str] = {}
        if client_secret is None:
            form = {**form, "client_id": client_id}
        else:
            self._redactor.add(client_secret, client_id=client_id)
            headers["Authorization"] = "Basic " + redaction.basic_credentials(client_id, client_secret)
        received = await self._transport.send(
            "POST",
            endpoints.login(TOKEN_PATH),
            gate=gate,
            timeout_s=self._timeout_s if timeout_s is None else timeout_s,
            headers=headers,
            form=form,
            token_endpoint=True,
        )
        return self._parse(received)

    def _parse(self, received: transport.Received) -> TokenGrant:
        try:
            data = self._transport.json(received)
            if isinstance(data, dict):
                for key in ("access_token", "refresh_token"):
                    if isinstance(data.get(key), str):
                        self._redactor.add(data[key])
            token = self._transport.model(received, models.TokenResponse, data)
        except errors.MalformedResponse as exc:
            # A token response is secret through and through: its body is never kept.
            sealed = dataclasses.replace(exc.reply, body_text="", facts=errorbody.ErrorFacts())
            raise errors.MalformedResponse(sealed, exc.problem) from None
        return TokenGrant(
            access_token=token.access_token,
            token_type=token.token_type,
            expires_in=token.expires_in,
            refresh_token=token.refresh_token,
            received_at=self._clock.now(),
        )
