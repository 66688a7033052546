"""``grantwarden authorize``: a person signs in once, and a user-grant tenant gets its refresh token.

The daemon can refresh a user grant but never start one: the first refresh token needs a person's
consent (design.md §2.1). The code grant uses PKCE S256 (platform.md §1.2; the verifier never
leaves this process) and is redeemed with Basic auth, since refreshing needs a confidential
client anyway (platform.md §1.4); the response carries the refresh token (platform.md §1.3), and
``GET /api/v2/tokens/me`` names the org and client (platform.md §3.1).
Flow: URL → print (and open a browser) → ONE redirect on the loopback ``redirect_uri``, or a pasted
one → check ``state`` → exchange → ask who it is → store (``statefile``) → tell the person. Never
prints a token, code, verifier or secret; the listener keeps no access log (its URLs carry the
code). ``cli`` calls ``main``; tests drive ``Flow`` with a scripted browser. Exit codes: 0 stored;
1 refused, denied, mismatched or timed out; 2 invalid configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import secrets
import webbrowser
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.policy import identity
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, oauth, transport
from grantwarden.worker import statefile, usergrant
from grantwarden.worker.usergrant import NOTHING, ConsentError

EXIT_STORED, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2
WAIT_S = 300.0  # how long the loopback listener waits for the browser to come back

Opener = Callable[[str], Awaitable[None]]  # shows the authorize URL to the person: a browser, or a test


def main(
    loaded: configfile.Loaded,
    tenant_name: str,
    *,
    paste: bool,
    out: TextIO,
    err: TextIO,
    stdin: TextIO,
    environ: Mapping[str, str],
    no_browser: bool = False,
) -> int:
    """``grantwarden authorize --config FILE --tenant NAME [--no-browser] [--paste]``."""
    try:
        tenant = usergrant.consenting_tenant(loaded.settings.tenants, tenant_name)
        secret = tenant.credentials.client_secret.reveal(environ)
    except (ConsentError, SecretUnavailableError) as exc:
        where = "" if isinstance(exc, ConsentError) else f"tenant {tenant_name}: credentials.client_secret: "
        err.write(f"{loaded.source}: {where}{exc}\n")
        return EXIT_CONFIG
    opener = None if paste or no_browser else _browser

    async def run() -> int:
        clock = clocks.LoopClock()
        async with aiohttp.ClientSession() as session:
            client = remote_client.Client(session=session, clock=clock, redactor=redaction.Redactor())
            flow = Flow(tenant, secret=secret, client=client, clock=clock, out=out, err=err)
            return await flow.run(loaded.settings.state_dir, loaded.source, paste=paste, opener=opener, stdin=stdin)

    return asyncio.run(run())


async def _browser(url: str) -> None:
    await asyncio.to_thread(webbrowser.open, url)  # when there is none, the printed URL is enough


class Listener:
    """Receives ONE redirect on the loopback ``redirect_uri``; every other request gets a 404."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self.host, self.port, path = usergrant.loopback(redirect_uri)
        self.params: dict[str, str] | None = None
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_get(path, self._callback)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)  # no log: URLs carry the code

    async def __aenter__(self) -> Listener:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConsentError(f"cannot listen on {self.host}:{self.port} ({exc.strerror}): use --paste") from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()

    async def wait(self, clock: clocks.Clock, wait_s: float) -> dict[str, str]:
        await clock.sleep(wait_s, wakeup=(self.arrived,))
        if self.params is None:
            raise ConsentError(f"no redirect reached {self.redirect_uri} within {wait_s:g} s; {NOTHING}")
        return self.params

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        if self.params is not None or not {"code", "error"} & query.keys():
            return web.Response(status=404, text="not an authorization response for grantwarden\n")
        self.params = query
        said = html.escape(f"was refused ({query['error']})" if "error" in query else "has reached grantwarden")
        page = f"<!doctype html><title>grantwarden</title><p>The authorization {said}. You can close this window."
        response = web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write_eof()  # the page is out before the command moves on and stops listening
        self.arrived.set()
        return response


@dataclasses.dataclass
class Flow:
    """One ``authorize`` run: the tenant, its client secret, and where to talk and to print."""

    tenant: settings.Tenant
    secret: str = dataclasses.field(repr=False)
    client: remote_client.Client
    clock: clocks.Clock
    out: TextIO
    err: TextIO
    pkce: Callable[[], tuple[str, str]] = usergrant.pkce_pair
    wait_s: float = WAIT_S
    gate: gate.Gate = dataclasses.field(default_factory=gate.Gate)

    @property
    def endpoints(self) -> transport.Endpoints:
        return transport.Endpoints(api_base_url=self.tenant.api_url, login_base_url=self.tenant.login_url)

    async def run(self, state_dir: Path, config_path: str, *, paste: bool, opener: Opener | None, stdin: TextIO) -> int:
        """Everything after the configuration was read; the exit code, having said why."""
        verifier, challenge = self.pkce()
        state = secrets.token_urlsafe(32)
        url = usergrant.authorize_url(self.tenant, self.tenant.credentials.scopes, state, challenge)
        try:
            params = await self._redirect(url, paste=paste, opener=opener, stdin=stdin)
            grant = await self._exchange(usergrant.check_redirect(params, state), verifier)
            info, facts = await self._identify(grant.access_token)
            path = self._store(state_dir, grant, facts)
        except ConsentError as exc:
            self.err.write(f"grantwarden authorize: {exc}\n")
            return EXIT_CONFIG if exc.config else EXIT_REFUSED
        self._report(path, info, facts, usergrant.reconsent_command(config_path, self.tenant.name))
        return EXIT_STORED

    async def _redirect(self, url: str, *, paste: bool, opener: Opener | None, stdin: TextIO) -> dict[str, str]:
        uri = self.tenant.credentials.redirect_uri or ""
        intro = f"Sign in for tenant {self.tenant.name} (org {self.tenant.org_id}) and allow access:\n\n  {url}\n\n"
        if paste:
            self._say(f"{intro}The browser then goes to {uri}?code=…; paste that whole address here:\n")
            if opener is not None:
                await opener(url)
            return usergrant.pasted(stdin.readline())
        async with Listener(uri) as listener:
            self._say(f"{intro}Waiting up to {self.wait_s:g} s for the browser to come back to {uri} …\n")
            if opener is not None:
                await opener(url)
            return await listener.wait(self.clock, self.wait_s)

    async def _exchange(self, code: str, verifier: str) -> oauth.TokenGrant:
        client_id, uri = self.tenant.credentials.client_id, self.tenant.credentials.redirect_uri or ""
        try:
            grant = await self.client.exchange_code(
                self.endpoints, client_id, self.secret, gate=self.gate, code=code, redirect_uri=uri,
                code_verifier=verifier,
            )  # fmt: skip
        except errors.InvalidGrant as exc:
            why = f"invalid_grant: {exc.error_description}" if exc.error_description else "invalid_grant"
            raise ConsentError(
                f"the login host refused the code ({why}): expired, used already, or a PKCE verifier mismatch; "
                f"{NOTHING}: run the command again and sign in within a minute"
            ) from None
        except errors.InvalidClient:
            raise ConsentError(
                f"{self.tenant.login_url} refuses OAuth client {client_id} (invalid_client): a wrong secret, or not "
                f"the client's region, the only one that knows it (platform.md §1.1); {NOTHING}"
            ) from None
        except errors.RemoteError as exc:
            raise ConsentError(f"the code exchange failed: {exc}; {NOTHING}") from None
        if not grant.refresh_token:
            raise ConsentError(
                f"the token response has no refresh_token: OAuth client {client_id} must be a confidential "
                f"Code Authorization client (platform.md §1.3, §1.4); {NOTHING}"
            )
        return grant

    async def _identify(self, token: str) -> tuple[models.TokenInfo | str, dict[str, Any]]:
        """Who the token acts for (``tokens/me``, or why not), and the facts the state file keeps."""
        try:
            info = await self.client.tokens_me(self.endpoints, token, gate=self.gate)
        except errors.RemoteError as exc:
            return str(exc), {}
        facts: dict[str, Any] = {"org_id": info.organization.id, "scopes": info.authorized_scope}
        with contextlib.suppress(errors.RemoteError):  # users/me needs user-basic-info too (platform.md §6)
            reply = await self.client.get(
                self.endpoints, "/api/v2/users/me", token, gate=self.gate, timeout_s=remote_client.DEFAULT_TIMEOUT_S
            )
            user = reply.data if isinstance(reply.data, dict) else {}
            facts |= {f"user_{key}": user[key] for key in ("id", "name") if isinstance(user.get(key), str)}
        return info, facts

    def _store(self, state_dir: Path, grant: oauth.TokenGrant, facts: dict[str, Any]) -> Path:
        stamp = statefile.stamp(grant.received_at)
        state = statefile.State(refresh_token=grant.refresh_token or "", updated_at=stamp, **facts)
        path = statefile.path_for(state_dir, self.tenant.name)
        try:
            statefile.save(state_dir, self.tenant.name, state)
        except OSError as exc:
            raise ConsentError(f"cannot write {path}: {exc.strerror}; {NOTHING}") from None
        return path

    def _report(self, path: Path, info: models.TokenInfo | str, facts: dict[str, Any], again: str) -> None:
        tenant = self.tenant
        self._say(f"Stored the refresh token of tenant {tenant.name} in {path}.\n")
        if isinstance(info, str):
            self.err.write(f"warning: could not ask which org the token acts in ({info}); the daemon will check\n")
            return
        user = facts.get("user_id")
        who = f"user {facts.get('user_name', '?')} ({user})" if user else "a user it did not name"
        org, client, home = info.organization, info.oauth_client, info.home_organization
        via = f", through OAuth client {client.name or '?'} ({client.id})" if client else ""
        if home is not None and home.id != org.id:  # a trusted user (platform.md §13)
            who += f" of org {home.name or '?'} ({home.id}), through the org trust from org {org.id} to it"
        self._say(f"It acts in org {org.name or '?'} ({org.id}) as {who}{via}.\n")
        self._say(f"Granted scopes: {', '.join(info.authorized_scope) or 'none reported'}.\n")
        if missing := [scope for scope in tenant.credentials.scopes if scope not in info.authorized_scope]:
            self.err.write(
                f"warning: scopes requested but not granted: {', '.join(missing)}; add them to OAuth client "
                f"{tenant.credentials.client_id} (org {tenant.org_id} may have to approve them), then run `{again}`\n"
            )
        trust = tenant.credentials.trust
        mismatch = identity.judge(
            org_id=tenant.org_id,
            home_org_id=trust.home_org_id if trust is not None else None,
            acts_in=org.id,
            home=home.id if home is not None else None,
        )
        if mismatch is not None:
            member = f" as a member of the trust to org {trust.home_org_id}" if trust is not None else ""
            self.err.write(
                f"warning: {mismatch.message}, which tenant {tenant.name} does not accept: the daemon will report "
                f"wrong_org; sign in to org {tenant.org_id}{member} and run `{again}`\n"
            )

    def _say(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
