"""``grantwarden authorize`` end to end against the simulator on loopback, with a scripted browser.

Covers: the loopback flow stores a refresh token (0600) and names the org, user and client, and
warns about scopes the client lacks; the URL carries PKCE S256, state and the configured scopes;
a redirect with another state is refused and nothing is stored; a wrong PKCE verifier is refused by
the platform; denied consent; paste mode; an expired code; a wrong secret (invalid_client); a token
response without a refresh token; no redirect within the wait; a token acting in another org is
stored with a warning, and so is one that may not read ``tokens/me``; a busy port, a non-loopback
redirect URI: use --paste; a failing token endpoint; ``main`` reports configuration
problems with exit 2 and runs the whole flow in paste mode; no token, code or secret is printed.
``Harness`` is shared with ``test_usergrant``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import io
import os
import random
import socket
import stat
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TextIO, cast

import aiohttp
import pytest
from aiohttp import web

from grantwarden.app import authorizing
from grantwarden.base import redaction
from grantwarden.base.clock import LoopClock, ManualClock
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, transport
from grantwarden.simulator import control, emitting, faults, scenarios, testing
from grantwarden.worker import refreshing, statefile, tokenbox, usergrant

DEMO = scenarios.DEMO_SCENARIO
DESKTOP = "acme-agent-desktop"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure(sim: testing.Simulator, state_dir: Path, **desktop: Any) -> tuple[configfile.Loaded, dict[str, str]]:
    """The grantwarden config of the demo world, the desktop tenant on a free loopback port."""
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    sim.world.clients[sim.tenant(DESKTOP).client_id].redirect_uris = (redirect,)
    config, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    for tenant in config["tenants"]:
        if tenant["name"] == DESKTOP:
            tenant["credentials"]["redirect_uri"] = redirect
            tenant.update(desktop)
    return configfile.load_mapping(config, source="grantwarden.yaml", environ=env), env


@dataclasses.dataclass
class Harness:
    sim: testing.Simulator
    clock: ManualClock
    loaded: configfile.Loaded
    client: remote_client.Client
    redactor: redaction.Redactor
    browser: aiohttp.ClientSession
    secret: str
    environ: dict[str, str]  # the daemon's environment: where the minter reads the client secret
    out: io.StringIO = dataclasses.field(default_factory=io.StringIO)
    err: io.StringIO = dataclasses.field(default_factory=io.StringIO)

    @property
    def tenant(self) -> settings.Tenant:
        found = self.loaded.settings.tenant(DESKTOP)
        assert found is not None
        return found

    @property
    def state_dir(self) -> Path:
        return self.loaded.settings.state_dir

    @property
    def client_id(self) -> str:
        return self.tenant.credentials.client_id

    def state(self) -> statefile.State | None:
        return statefile.read(self.state_dir, DESKTOP)

    def flow(self, **overrides: Any) -> authorizing.Flow:
        given: dict[str, Any] = {"secret": self.secret, "client": self.client, "clock": self.clock}
        given |= {"out": self.out, "err": self.err}
        tenant = overrides.pop("tenant", self.tenant)
        return authorizing.Flow(tenant, **(given | overrides))

    async def browse(self, url: str) -> None:
        """A browser where the person consents: follows the redirect to the loopback listener."""
        async with self.browser.get(url) as page:
            assert page.status == 200, await page.text()

    async def authorize(self, flow: authorizing.Flow | None = None, **run: Any) -> int:
        run = {"paste": False, "opener": self.browse, "stdin": io.StringIO(), **run}
        return await (flow or self.flow()).run(self.state_dir, self.loaded.source, **run)

    def refreshes(self) -> list[dict[str, Any]]:
        """Refresh-grant requests the platform received, oldest first."""
        return [e for e in self.sim.requests(kind="token") if e["grant_type"] == "refresh_token"]

    def daemon(self, seed: int = 7) -> tuple[tokenbox.TokenBox, refreshing.Refresher]:
        """A fresh token box and refresh loop on the tenant's minter: what a daemon start builds."""
        endpoints = transport.Endpoints(api_base_url=self.tenant.api_url, login_base_url=self.tenant.login_url)
        mint = usergrant.minter(
            self.tenant, client=self.client, endpoints=endpoints, gate=gate.Gate(), state_dir=self.state_dir,
            environ=self.environ, redactor=self.redactor, config_path=self.loaded.source,
        )  # fmt: skip
        box = tokenbox.TokenBox(
            tenant=DESKTOP, mint=mint, clock=self.clock, rng=random.Random(seed), refresh=settings.RefreshSettings(),
            metrics=None,
        )  # fmt: skip
        return box, refreshing.Refresher(box=box, clock=self.clock)


@pytest.fixture(name="harness")
async def harness_fixture(tmp_path: Path) -> AsyncIterator[Harness]:
    clock = ManualClock()
    async with testing.running(DEMO, clock=clock) as sim, aiohttp.ClientSession() as session:
        loaded, env = configure(sim, tmp_path / "state")
        redactor = redaction.Redactor()
        client = remote_client.Client(session=session, clock=clock, redactor=redactor, timeout_s=5.0)
        secret = sim.secret(sim.tenant(DESKTOP).client_id)
        yield Harness(sim, clock, loaded, client, redactor, session, secret, dict(env))


async def test_the_loopback_flow_stores_a_refresh_token_and_names_org_user_and_client(harness: Harness) -> None:
    assert await harness.authorize() == authorizing.EXIT_STORED
    state = harness.state()
    assert state is not None
    assert state.refresh_token in harness.sim.world.tokens.refresh
    assert (state.org_id, state.user_name) == (harness.tenant.org_id, "Avery Agent")
    assert state.scopes == ("messaging:readonly", "organization:readonly", "user-basic-info")
    assert stat.S_IMODE(os.stat(statefile.path_for(harness.state_dir, DESKTOP)).st_mode) == 0o600
    out = harness.out.getvalue()
    assert f"org Acme ({harness.tenant.org_id}) as user Avery Agent ({state.user_id})" in out
    assert f"OAuth client Acme agent desktop ({harness.client_id})" in out
    assert "webdeployments:readonly" in harness.err.getvalue()  # requested, but the client lacks it


async def test_the_authorize_url_carries_pkce_s256_state_and_the_configured_scopes(harness: Harness) -> None:
    seen: list[str] = []

    async def remember(url: str) -> None:
        seen.append(url)
        await harness.browse(url)

    assert await harness.authorize(opener=remember) == 0
    parts = urllib.parse.urlsplit(seen[0])
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == harness.tenant.login_url + "/oauth/authorize"
    assert query["scope"] == " ".join(harness.tenant.credentials.scopes)
    assert (query["response_type"], query["code_challenge_method"]) == ("code", "S256")
    assert len(query["state"]) >= 32
    assert len(query["code_challenge"]) == 43
    assert seen[0] in harness.out.getvalue()


async def test_a_redirect_with_another_state_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    async def forged(url: str) -> None:
        await harness.browse(url.replace("state=", "state=x"))

    assert await harness.authorize(opener=forged) == authorizing.EXIT_REFUSED
    assert "state does not match" in harness.err.getvalue()
    assert harness.state() is None
    assert not [e for e in harness.sim.requests(kind="token") if e["grant_type"] == "authorization_code"]


async def test_a_wrong_pkce_verifier_is_refused_by_the_platform(harness: Harness) -> None:
    _, challenge = usergrant.pkce_pair()
    flow = harness.flow(pkce=lambda: (usergrant.pkce_pair()[0], challenge))  # a verifier of another pair
    assert await harness.authorize(flow) == authorizing.EXIT_REFUSED
    assert "invalid_grant: code_verifier does not match the code challenge" in harness.err.getvalue()
    assert harness.state() is None


async def test_denied_consent_exits_1_and_stores_nothing(harness: Harness) -> None:
    control.set_consent_denied(harness.sim.world, True)
    assert await harness.authorize() == authorizing.EXIT_REFUSED
    assert "consent was denied (access_denied)" in harness.err.getvalue()
    assert harness.state() is None


async def test_paste_mode_reads_the_address_the_browser_was_sent_to(harness: Harness) -> None:
    stdin = io.StringIO()

    async def person(url: str) -> None:  # opens the link elsewhere, copies the address it ends on
        async with harness.browser.get(url, allow_redirects=False) as reply:
            stdin.write(reply.headers["Location"] + "\n")
        stdin.seek(0)

    assert await harness.authorize(paste=True, opener=person, stdin=stdin) == authorizing.EXIT_STORED
    assert "paste that whole address here" in harness.out.getvalue()
    assert harness.state() is not None


async def test_an_expired_code_is_refused_with_advice_to_be_quicker(harness: Harness) -> None:
    async def slow(url: str) -> None:
        await harness.browse(url)
        await harness.clock.advance(61)  # codes live 60 s

    assert await harness.authorize(opener=slow) == authorizing.EXIT_REFUSED
    assert "expired" in harness.err.getvalue()
    assert "within a minute" in harness.err.getvalue()


async def test_a_wrong_secret_is_reported_as_invalid_client(harness: Harness) -> None:
    assert await harness.authorize(harness.flow(secret="not-the-secret")) == authorizing.EXIT_REFUSED
    assert "(invalid_client)" in harness.err.getvalue()
    assert "region" in harness.err.getvalue()


async def test_no_redirect_within_the_wait_gives_up_with_exit_1(harness: Harness) -> None:
    async def nobody(url: str) -> None:
        return None

    run = asyncio.ensure_future(harness.authorize(harness.flow(wait_s=300), opener=nobody))
    await harness.clock.advance(299)
    assert not run.done()
    await harness.clock.advance(1)
    assert await run == authorizing.EXIT_REFUSED
    assert "no redirect reached" in harness.err.getvalue()


async def test_other_requests_to_the_listener_get_404_and_do_not_count(harness: Harness) -> None:
    async def noisy(url: str) -> None:
        uri = harness.tenant.credentials.redirect_uri or ""
        for stray in (uri.replace("/callback", "/favicon.ico"), uri + "?hello=1"):
            async with harness.browser.get(stray) as reply:
                assert reply.status == 404
        await harness.browse(url)

    assert await harness.authorize(opener=noisy) == authorizing.EXIT_STORED


async def test_a_token_acting_in_another_org_is_stored_with_a_warning(harness: Harness, tmp_path: Path) -> None:
    loaded, _ = configure(harness.sim, tmp_path / "other", org_id="4b70ee8c-24d8-43ad-9464-520f6b20fa1f")
    harness.loaded = loaded
    assert await harness.authorize() == authorizing.EXIT_STORED
    assert "not in org 4b70ee8c-24d8-43ad-9464-520f6b20fa1f" in harness.err.getvalue()
    assert "wrong_org" in harness.err.getvalue()


async def test_a_redirect_uri_off_loopback_needs_paste(harness: Harness) -> None:
    tenant = harness.tenant.model_copy(
        update={"credentials": harness.tenant.credentials.model_copy(update={"redirect_uri": "https://app.example/cb"})}
    )
    flow = authorizing.Flow(tenant, secret=harness.secret, client=harness.client, clock=harness.clock,
                            out=harness.out, err=harness.err)  # fmt: skip
    assert await harness.authorize(flow) == authorizing.EXIT_CONFIG
    assert "use --paste" in harness.err.getvalue()


async def test_a_token_response_without_a_refresh_token_stores_nothing(harness: Harness) -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "at-no-refresh-0123456789", "token_type": "bearer", "expires_in": 60})

    app = web.Application()
    app.router.add_post("/oauth/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        tenant = harness.tenant.model_copy(update={"api_base_url": url, "login_base_url": url})
        flow = authorizing.Flow(tenant, secret=harness.secret, client=harness.client, clock=harness.clock,
                                out=harness.out, err=harness.err)  # fmt: skip

        async def person(authorize_url: str) -> None:
            state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))["state"]
            stdin.write(f"http://127.0.0.1:1/callback?code=c0de&state={state}\n")
            stdin.seek(0)

        stdin = io.StringIO()
        assert await harness.authorize(flow, paste=True, opener=person, stdin=stdin) == authorizing.EXIT_REFUSED
    finally:
        await runner.cleanup()
    assert "no refresh_token" in harness.err.getvalue()
    assert "confidential" in harness.err.getvalue()
    assert harness.state() is None


async def test_a_busy_redirect_port_suggests_paste(harness: Harness) -> None:
    parts = urllib.parse.urlsplit(harness.tenant.credentials.redirect_uri or "")
    with socket.socket() as squatter:
        squatter.bind((parts.hostname or "", parts.port or 0))
        squatter.listen()
        assert await harness.authorize() == authorizing.EXIT_REFUSED
    assert "cannot listen on 127.0.0.1" in harness.err.getvalue()
    assert "use --paste" in harness.err.getvalue()


async def test_a_token_that_cannot_read_tokens_me_is_stored_with_a_warning(harness: Harness, tmp_path: Path) -> None:
    loaded, _ = configure(harness.sim, tmp_path / "narrow")
    desktop = next(t for t in loaded.settings.tenants if t.name == DESKTOP)
    narrow = desktop.credentials.model_copy(update={"scopes": ["messaging:readonly"]})  # no user-basic-info
    flow = harness.flow(tenant=desktop.model_copy(update={"credentials": narrow}))
    harness.loaded = loaded
    assert await harness.authorize(flow) == authorizing.EXIT_STORED
    state = harness.state()
    assert state is not None
    assert (state.org_id, state.user_id, state.scopes) == (None, None, ())
    assert "could not ask which org the token acts in" in harness.err.getvalue()
    assert "app.not.authorized.for.scope" in harness.err.getvalue()


async def test_a_failing_token_endpoint_is_reported_and_nothing_is_stored(harness: Harness) -> None:
    harness.sim.world.faults.set(faults.Fault(prefix="/oauth/token", action=faults.Action.STATUS, status=503))
    assert await harness.authorize() == authorizing.EXIT_REFUSED
    assert "the code exchange failed: POST /oauth/token answered 503" in harness.err.getvalue()
    assert harness.state() is None


async def test_nothing_secret_is_printed(harness: Harness) -> None:
    codes: list[str] = []

    async def browse(url: str) -> None:
        async with harness.browser.get(url, allow_redirects=False) as reply:
            codes.append(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(reply.headers["Location"]).query))["code"])
        await harness.browse(url)

    assert await harness.authorize(opener=browse) == 0
    state = harness.state()
    assert state is not None
    printed = harness.out.getvalue() + harness.err.getvalue()
    for secret in (state.refresh_token, harness.secret, *codes, *harness.sim.world.tokens.access):
        assert secret not in printed


def test_main_refuses_an_unknown_tenant_with_exit_2(tmp_path: Path) -> None:
    loaded = configfile.load_mapping(
        {"tenants": [{"name": "acme", "org_id": "o-1", "region": "us-east-1", "credentials": {"client_id": "c",
         "client_secret": "s"}}]}, source="gw.yaml")  # fmt: skip
    err = io.StringIO()
    code = authorizing.main(loaded, "nobody", paste=True, out=io.StringIO(), err=err, stdin=io.StringIO(), environ={})
    assert code == authorizing.EXIT_CONFIG
    assert err.getvalue() == "gw.yaml: tenants: no tenant 'nobody' (authorization_code tenants: none)\n"
    code = authorizing.main(loaded, "acme", paste=True, out=io.StringIO(), err=err, stdin=io.StringIO(), environ={})
    assert code == authorizing.EXIT_CONFIG
    assert "gw.yaml: tenants[0].credentials.grant: tenant acme uses client_credentials" in err.getvalue()


@contextlib.contextmanager
def threaded_simulator() -> Iterator[testing.Simulator]:
    """The demo world on real time, served from its own thread and loop (``main`` runs its own)."""
    started, found = threading.Event(), []

    async def serve() -> None:
        async with testing.running(DEMO, clock=LoopClock()) as sim:
            stop = asyncio.Event()
            found.append((sim, asyncio.get_running_loop(), stop))
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    sim, loop, stop = found[0]
    try:
        yield sim
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


class PastingPerson:
    """Reads the link ``main`` printed, "opens" it, and pastes the address the browser is sent to."""

    def __init__(self, out: io.StringIO) -> None:
        self.out = out

    def readline(self) -> str:
        url = next(word for word in self.out.getvalue().split() if "/oauth/authorize?" in word)
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("GET", f"{parts.path}?{parts.query}")
            reply = connection.getresponse()
            reply.read()
            return f"{reply.getheader('Location')}\n"
        finally:
            connection.close()


def test_main_runs_the_whole_flow_in_paste_mode(tmp_path: Path) -> None:
    with threaded_simulator() as sim:
        loaded, env = configure(sim, tmp_path / "state")
        out, err = io.StringIO(), io.StringIO()
        code = authorizing.main(
            loaded, DESKTOP, paste=True, out=out, err=err, stdin=cast(TextIO, PastingPerson(out)), environ=env
        )
    assert code == authorizing.EXIT_STORED, err.getvalue()
    state = statefile.read(tmp_path / "state", DESKTOP)
    assert state is not None
    assert state.user_name == "Avery Agent"
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700


async def test_main_reports_an_unset_secret_with_exit_2(harness: Harness) -> None:
    err = io.StringIO()
    loaded = harness.loaded  # main returns before it starts a loop of its own
    code = authorizing.main(loaded, DESKTOP, paste=True, out=io.StringIO(), err=err, stdin=io.StringIO(), environ={})
    assert code == authorizing.EXIT_CONFIG
    assert "tenant acme-agent-desktop: credentials.client_secret: environment variable" in err.getvalue()
