"""Opaque tokens, authorization codes and rotating refresh tokens (platform.md §1.2-§1.5).

Access tokens are random strings looked up in a dict: the platform's are opaque and inspected
only through ``GET /api/v2/tokens/me``. Codes live 60 s and work once; PKCE (S256 only) is
verified at redemption. Each refresh returns a new refresh token; the old one keeps working
for ``grace`` seconds after its successor was issued (0 by default: at once it is dead).
Errors are the login host's ``OAuthError``s. Time is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from grantwarden.simulator import errors, model


def new_value() -> str:
    return secrets.token_urlsafe(32)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class TokenStore:
    def __init__(self) -> None:
        self.access: dict[str, model.Token] = {}
        self.codes: dict[str, model.AuthCode] = {}
        self.refresh: dict[str, model.RefreshToken] = {}

    def mint(
        self,
        client: model.OAuthClient,
        org: model.Org,
        *,
        now: float,
        grants: model.ClientGrants | None,
        user_id: str | None = None,
        scopes: tuple[str, ...] = (),
        home_org_id: str | None = None,
    ) -> model.Token:
        """A token acting in ``org``; a trusted user's token names its home org too."""
        token = model.Token(
            value=new_value(),
            kind="client" if user_id is None else "user",
            org_id=org.id,
            client_id=client.id,
            region=org.region,
            issued_at=now,
            expires_at=now + client.validity_seconds,
            last_used=now,
            grants=grants,
            user_id=user_id,
            scopes=scopes,
            home_org_id=home_org_id if home_org_id != org.id else None,
        )
        self.access[token.value] = token
        return token

    def issue_code(
        self,
        client: model.OAuthClient,
        *,
        user_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        challenge: str | None,
        expires_at: float,
        target_org_id: str | None = None,
    ) -> model.AuthCode:
        code = model.AuthCode(
            new_value(), client.id, user_id, redirect_uri, scopes, challenge, expires_at, target_org_id=target_org_id
        )
        self.codes[code.value] = code
        return code

    def redeem_code(
        self, value: str, *, client_id: str, redirect_uri: str | None, verifier: str | None, now: float
    ) -> model.AuthCode:
        code = self.codes.get(value)
        if code is None or code.client_id != client_id:
            raise errors.invalid_grant("authorization code is invalid")
        if code.used or now >= code.expires_at:
            self.codes.pop(value, None)
            raise errors.invalid_grant("authorization code has expired or was already used")
        if redirect_uri != code.redirect_uri:
            raise errors.invalid_grant("redirect_uri does not match the authorization request")
        if code.challenge is not None:
            if not verifier or not 43 <= len(verifier) <= 128:
                raise errors.invalid_grant("code_verifier is missing or malformed")
            if s256(verifier) != code.challenge:
                raise errors.invalid_grant("code_verifier does not match the code challenge")
        code.used = True
        return code

    def issue_refresh(
        self, client_id: str, user_id: str, scopes: tuple[str, ...], *, target_org_id: str | None = None
    ) -> model.RefreshToken:
        refresh = model.RefreshToken(new_value(), client_id, user_id, scopes, target_org_id=target_org_id)
        self.refresh[refresh.value] = refresh
        return refresh

    def rotate(self, value: str, *, client_id: str, now: float, grace: float) -> model.RefreshToken:
        """Retire ``value`` (after ``grace``) and return it; its successor is issued by the caller."""
        refresh = self.refresh.get(value)
        if refresh is None or refresh.revoked or refresh.client_id != client_id:
            raise errors.invalid_grant("refresh token is invalid")
        if refresh.superseded_at is not None and now > refresh.superseded_at + grace:
            del self.refresh[value]
            raise errors.invalid_grant("refresh token is invalid")
        if refresh.superseded_at is None:
            refresh.superseded_at = now
        if grace <= 0:
            del self.refresh[value]
        return refresh

    def revoke(self, value: str) -> None:
        self.access.pop(value, None)

    def revoke_client(self, client_id: str) -> int:
        """Invalidate every token of a client; returns how many access tokens went."""
        doomed = [v for v, t in self.access.items() if t.client_id == client_id]
        for value in doomed:
            del self.access[value]
        for refresh in self.refresh.values():
            if refresh.client_id == client_id:
                refresh.revoked = True
        return len(doomed)

    def forget(self) -> None:
        self.access.clear()
        self.codes.clear()
        self.refresh.clear()
