"""Authorization-code tenants: access tokens from the stored, rotating refresh token.

platform.md §1.4: a refresh (``grant_type=refresh_token``, Basic with the client secret: confidential
clients only) returns a new refresh token every time, and refresh tokens "may be revoked without
notice". So every mint reads the tenant's state file afresh (``grantwarden authorize`` or a ``check``
run may have written a newer token), refreshes, and stores the new refresh token BEFORE the access
token is handed out: a token never used before it is on disk cannot be lost by a crash.

    file {B, prev A}     refresh(B) ──► C      save {C, prev B}      return access token
                                          ▲ killed here: the file still says B; the platform's
                                            grace for a superseded token (unknown, platform.md §1.4) covers it

The previous token stays until its successor has worked once, and is tried once when the current
one is refused. A token refused with ``invalid_grant`` is remembered by its hash and never sent
again while the file holds it: the box's retries fail locally, without requests, until a person
re-authorizes. Also here: what ``authorizing`` and re-consent messages share (PKCE, the authorize
URL, the redirect checks, the command line). Called by ``minting``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import ipaddress
import secrets
import shlex
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.policy import labels
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, oauth, transport
from grantwarden.worker import minting, statefile

AUTHORIZE_PATH = "/oauth/authorize"
NOTHING = "nothing was stored"


class ConsentError(Exception):
    """Why a consent gave no refresh token, in one line; ``config``: the configuration is at fault."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


def reconsent_command(config_path: str, tenant_name: str) -> str:
    """The command a person runs to sign in again, or to consent to scopes added to the client."""
    return f"grantwarden authorize --config {shlex.quote(config_path)} --tenant {shlex.quote(tenant_name)}"


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE verifier (86 chars of [A-Za-z0-9_-], within 43–128) and its S256 challenge
    (platform.md §1.1, §1.2)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def consenting_tenant(tenants: Sequence[settings.Tenant], name: str) -> settings.Tenant:
    """The tenant ``authorize`` may act for, or ``ConsentError`` naming the path in the file."""
    found = next((i for i, tenant in enumerate(tenants) if tenant.name == name), None)
    code = labels.GrantType.AUTHORIZATION_CODE
    if found is None:
        known = ", ".join(t.name for t in tenants if t.credentials.grant is code) or "none"
        raise ConsentError(f"tenants: no tenant {name!r} (authorization_code tenants: {known})", config=True)
    if (grant := tenants[found].credentials.grant) is not code:
        where = f"tenants[{found}].credentials.grant"
        raise ConsentError(f"{where}: tenant {name} uses {grant}; authorize is for {code} tenants only", config=True)
    return tenants[found]


def authorize_url(tenant: settings.Tenant, scopes: Sequence[str], state: str, code_challenge: str) -> str:
    """``/oauth/authorize`` on the tenant's login host (platform.md §1.1); without scopes, all of
    the client's are asked. A tenant acting through an org trust asks with ``target=<org_id>``, so
    the trusted user's token acts in the trustor org without the org picker (platform.md §13)."""
    redirect_uri = tenant.credentials.redirect_uri
    if redirect_uri is None:
        raise ValueError(f"tenant {tenant.name} has no redirect_uri: not an authorization_code tenant")
    query = {"response_type": "code", "client_id": tenant.credentials.client_id, "redirect_uri": redirect_uri}
    if scopes:
        query["scope"] = " ".join(scopes)
    if tenant.credentials.trust is not None:
        query["target"] = tenant.org_id
    query |= {"state": state, "code_challenge": code_challenge, "code_challenge_method": "S256"}
    return f"{tenant.login_url}{AUTHORIZE_PATH}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"


def check_redirect(params: Mapping[str, str], state: str) -> str:
    """The authorization code the redirect carries, or ``ConsentError`` saying why there is none."""
    if not secrets.compare_digest(params.get("state", "").encode(), state.encode()):
        raise ConsentError(f"the redirect's state does not match this request (a stale or forged link); {NOTHING}")
    error = params.get("error")
    if error == "access_denied":
        raise ConsentError(f"consent was denied (access_denied); {NOTHING}")
    if error:
        detail = f": {params['error_description']}" if params.get("error_description") else ""
        raise ConsentError(f"the login host refused the authorization ({error}{detail}); {NOTHING}")
    if not params.get("code"):
        raise ConsentError(f"the redirect carries neither a code nor an error; {NOTHING}")
    return params["code"]


def pasted(line: str) -> dict[str, str]:
    """The query of the address the browser was sent to, as pasted (the whole URL, or its query)."""
    text = line.strip()
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(text).query if "://" in text else text.lstrip("?")))
    if not params:
        raise ConsentError(f"paste the whole address the browser was sent to (with code= and state=); {NOTHING}")
    return params


def loopback(redirect_uri: str) -> tuple[str, int, str]:
    """Host, port and path to listen on, or ``ConsentError`` when the URI is not http on loopback."""
    parts = urllib.parse.urlsplit(redirect_uri)
    host, port = parts.hostname or "", 0
    try:
        port = parts.port or 80
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme != "http" or not local:
        where = "http on a loopback address (127.0.0.1, [::1], localhost)"
        raise ConsentError(
            f"redirect_uri {redirect_uri} is not {where}, where this can listen: use --paste", config=True
        )
    return host, port, parts.path or "/"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass(eq=False)
class Minter:
    tenant: settings.Tenant
    client: remote_client.Client
    endpoints: transport.Endpoints
    gate: gate.Gate
    state_dir: Path
    redactor: redaction.Redactor | None
    config_path: str
    environ: Mapping[str, str]  # where the client secret's ``{env: NAME}`` is looked up
    refused: set[str] = dataclasses.field(default_factory=set)  # hashes of tokens refused with invalid_grant
    unsaved: tuple[statefile.State, str] | None = None  # (rotated state the disk refused, token it replaces)
    stored: str | None = None  # the refresh token this minter last saved: the one its access token came from
    grants: int = 0  # grants stored by someone else that this minter went on with (the hand-off re-checks identity)

    async def changed_on_disk(self) -> bool:
        """Whether someone else stored a new grant since this minter's last mint (a re-consent).

        The access token in hand was minted from the old grant, with the old scopes; the caller
        drops it so that the next request mints from the new one.
        """
        if self.stored is None:
            return False
        with contextlib.suppress(statefile.StateFileError):
            current = await asyncio.to_thread(statefile.read, self.state_dir, self.tenant.name)
            return current is not None and current.refresh_token != self.stored
        return False

    async def __call__(self) -> oauth.TokenGrant:
        for _ in range(2):  # a second pass only when another writer replaced the file mid-refresh
            state = await self._load()
            refreshed = await self._refresh(state)
            if refreshed is not None and await self._store(state, *refreshed):
                return refreshed[0]
        raise self._failed("saw its state file replaced twice during a refresh; trying again later", sent=True)

    async def _load(self) -> statefile.State:
        if self.unsaved is not None:  # saved before any request; dropped if another writer came first
            pending, replaces = self.unsaved
            await self._save(pending, expected=replaces)
            self.unsaved = None
        try:
            state = await asyncio.to_thread(statefile.read, self.state_dir, self.tenant.name, redactor=self.redactor)
        except statefile.StateFileError as exc:
            raise self._failed(f"has an unusable {exc}: run `{self._command}`", TokenProblem.INVALID_GRANT) from None
        if state is None:
            raise self._failed(f"has no stored authorization: run `{self._command}`", TokenProblem.INVALID_GRANT)
        self.refused &= {_digest(token) for token in state.tokens()}  # forget tokens no longer on disk
        if self.stored is not None and state.refresh_token != self.stored:
            self.grants += 1  # a person signed in again (or another writer rotated it): maybe another org
        return state

    async def _refresh(self, state: statefile.State) -> tuple[oauth.TokenGrant, str] | None:
        """A grant and the token it used: the current one, else once the previous one.

        None: both were refused as another writer (a ``check`` run, a replica) rotated them first.
        """
        try:
            secret = self.tenant.credentials.client_secret.reveal(self.environ)
        except SecretUnavailableError as exc:
            what = "has a credentials.client_secret that cannot be resolved, so no token was requested"
            raise self._failed(f"{what}: {exc}", TokenProblem.SECRET_UNAVAILABLE) from None
        candidates = [token for token in state.tokens() if _digest(token) not in self.refused]
        if not candidates:
            what = "has a stored refresh token the platform refused before, unchanged on disk (no request sent)"
            raise self._failed(f"{what}: sign in again with `{self._command}`", TokenProblem.INVALID_GRANT)
        description = ""
        for token in candidates:
            try:
                grant = await self.client.refresh(
                    self.endpoints, self.tenant.credentials.client_id, secret, gate=self.gate, refresh_token=token
                )
            except errors.InvalidGrant as exc:
                self.refused.add(_digest(token))
                description = f": {exc.error_description}" if exc.error_description else ""
            else:
                return grant, token
        if await self._replaced(state):
            return None
        what = f"had its stored refresh token refused by the platform (invalid_grant{description})"
        raise self._failed(f"{what}: sign in again with `{self._command}`", TokenProblem.INVALID_GRANT, sent=True)

    async def _replaced(self, state: statefile.State) -> bool:
        with contextlib.suppress(statefile.StateFileError):
            current = await asyncio.to_thread(statefile.read, self.state_dir, self.tenant.name)
            return current is not None and current.refresh_token != state.refresh_token
        return False

    async def _store(self, state: statefile.State, grant: oauth.TokenGrant, used: str) -> bool:
        """Save the rotated token; False when another writer replaced the file meanwhile."""
        rotated = grant.refresh_token or used  # no new one: the platform kept the old one valid
        new = state.model_copy(
            update={
                "refresh_token": rotated,
                "previous_refresh_token": used if rotated != used else None,
                "updated_at": statefile.stamp(grant.received_at),
            }
        )
        try:
            saved = await self._save(new, expected=state.refresh_token)
        except minting.MintFailedError:
            self.unsaved = (new, state.refresh_token)
            self.stored = rotated
            raise
        if saved:
            self.stored = rotated
        return saved

    async def _save(self, state: statefile.State, *, expected: str | None) -> bool:
        try:
            return await asyncio.to_thread(statefile.save, self.state_dir, self.tenant.name, state, expected=expected)
        except OSError as exc:
            where = statefile.path_for(self.state_dir, self.tenant.name)
            what = f"cannot store its rotated refresh token in {where}: {exc.strerror}"
            raise self._failed(what, sent=True) from None

    @property
    def _command(self) -> str:
        return reconsent_command(self.config_path, self.tenant.name)

    def _failed(
        self, what: str, problem: TokenProblem = TokenProblem.UNEXPECTED, *, sent: bool = False
    ) -> minting.MintFailedError:
        return minting.MintFailedError(f"tenant {self.tenant.name} {what}", problem=problem, sent=sent)


def minter(
    tenant: settings.Tenant,
    *,
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: gate.Gate,
    state_dir: Path,
    environ: Mapping[str, str],
    redactor: redaction.Redactor | None = None,
    config_path: str = "FILE",
) -> Minter:
    """The token box's mint for an authorization-code tenant: one per tenant and process.

    ``redactor`` learns the tokens read from disk; ``config_path`` completes the command to run.
    """
    return Minter(tenant, client, endpoints, gate, Path(state_dir), redactor, config_path, environ)
