"""The user-grant minter against the simulator on ManualClock, and the consent protocol's pieces.

Covers: no stored authorization, a corrupt file or an unset secret fail locally (no request); each refresh stores
the rotated token (previous kept) before the access token is handed out; 48 simulated hours of
refreshes with the token box and refresh loop, the daemon recreated at random points, never
losing the grant; a kill between receiving and persisting a token, then a clean recovery within
the platform's grace; a refused current token falls back once to the unconfirmed previous one;
invalid_grant is remembered, so no token request leaves until the state file changes; a disk
that refuses the write keeps the token in memory and saves it before the next request; a file
replaced by ``authorize`` mid-refresh wins, and a refresh beaten by another process continues from
the winner's token; no token reaches a log line. Pure pieces: the
authorize URL, PKCE, the reconsent command, the redirect checks, loopback URIs, tenant choice.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import random
import urllib.parse
from typing import Any

import pytest
from structlog.testing import capture_logs

from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.policy.tokens import TokenProblem
from grantwarden.simulator import control, faults
from grantwarden.worker import minting, statefile, tokenbox, usergrant
from tests.app.test_authorizing import Harness, harness_fixture  # noqa: F401 -- the fixture is shared

DAY_S = 24 * 3600


class Killed(BaseException):
    """The process dies: nothing catches this, nothing in memory survives."""


def live_refresh_tokens(h: Harness) -> set[str]:
    """The desktop client's refresh tokens the platform still accepts without any grace."""
    return {
        value
        for value, token in h.sim.world.tokens.refresh.items()
        if token.client_id == h.client_id and not token.revoked and token.superseded_at is None
    }


def mint_failure(exc: BaseException) -> minting.MintFailedError:
    assert isinstance(exc, tokenbox.TokenUnavailableError)
    assert isinstance(exc.cause, minting.MintFailedError)
    return exc.cause


async def test_without_a_stored_authorization_the_mint_fails_locally(harness: Harness) -> None:
    box, _ = harness.daemon()
    with pytest.raises(tokenbox.TokenUnavailableError) as caught:
        await box.get()
    failure = mint_failure(caught.value)
    assert failure.problem is TokenProblem.INVALID_GRANT
    assert str(failure) == (
        "tenant acme-agent-desktop has no stored authorization: "
        "run `grantwarden authorize --config grantwarden.yaml --tenant acme-agent-desktop`"
    )
    assert harness.sim.requests(kind="token") == []


async def test_a_corrupt_state_file_or_an_unset_secret_fails_locally_and_says_what_to_do(harness: Harness) -> None:
    assert await harness.authorize() == 0
    path = statefile.path_for(harness.state_dir, "acme-agent-desktop")
    good = path.read_bytes()
    path.write_bytes(good[:40])
    box, _ = harness.daemon()
    with pytest.raises(tokenbox.TokenUnavailableError) as caught:
        await box.get()
    failure = mint_failure(caught.value)
    assert failure.problem is TokenProblem.INVALID_GRANT
    assert f"has an unusable state file {path}: not valid JSON" in str(failure)
    path.write_bytes(good)
    del harness.environ[harness.tenant.credentials.client_secret.env or ""]  # the daemon's environment lacks it
    with pytest.raises(tokenbox.TokenUnavailableError) as caught:
        await box.refresh(force=True)
    failure = mint_failure(caught.value)
    assert failure.problem is TokenProblem.SECRET_UNAVAILABLE
    variable = harness.tenant.credentials.client_secret.env or ""
    assert "has a credentials.client_secret that cannot be resolved, so no token was requested" in str(failure)
    assert variable in str(failure)
    assert harness.refreshes() == []


async def test_a_refresh_stores_the_rotated_token_and_keeps_the_previous(harness: Harness) -> None:
    assert await harness.authorize() == 0
    consented = harness.state()
    assert consented is not None
    box, _ = harness.daemon()
    token = await box.get()
    state = harness.state()
    assert state is not None
    assert state.previous_refresh_token == consented.refresh_token
    assert live_refresh_tokens(harness) == {state.refresh_token}
    assert (state.org_id, state.user_name, state.scopes) == (consented.org_id, "Avery Agent", consented.scopes)
    assert harness.sim.world.tokens.access[token.value].user_id == state.user_id
    await box.refresh(force=True)  # the current one worked: the one before it is forgotten
    again = harness.state()
    assert again is not None
    assert again.previous_refresh_token == state.refresh_token


async def test_the_access_token_is_not_handed_out_before_its_refresh_token_is_stored(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await harness.authorize() == 0

    def full(*args: Any, **kwargs: Any) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statefile, "save", full)
    box, _ = harness.daemon()
    with pytest.raises(tokenbox.TokenUnavailableError) as caught:
        await box.get()
    assert "cannot store its rotated refresh token" in str(mint_failure(caught.value))
    assert box.token is None


async def test_48_hours_of_rotation_with_restarts_never_lose_the_grant(harness: Harness) -> None:
    harness.sim.world.clients[harness.client_id].validity_seconds = 1800  # ~2 refreshes an hour
    assert await harness.authorize() == 0
    rng = random.Random(48)
    box, refresher = harness.daemon(seed=0)
    end, restarts, seen = harness.clock.now() + 2 * DAY_S, 0, set()
    with capture_logs() as logs:
        while harness.clock.now() < end:
            wait = box.next_wakeup() - harness.clock.now()
            if rng.random() < 0.3:  # the daemon restarts somewhere before its next refresh
                await harness.clock.advance(wait * rng.random())
                box, refresher = harness.daemon(seed=restarts)
                restarts += 1
                await box.get()
            else:
                await harness.clock.advance(wait)
                await refresher.tick()
            assert box.token is not None
            assert box.failures == 0
            state = harness.state()
            assert state is not None
            assert live_refresh_tokens(harness) == {state.refresh_token}  # every rotation is on disk
            seen |= {box.token.value, *state.tokens()}
    refreshes = harness.refreshes()
    assert len(refreshes) > 120
    assert restarts > 30
    assert {entry["status"] for entry in refreshes} == {200}
    printed = repr(logs)
    assert not [token for token in seen if token in printed]


async def test_a_kill_between_receiving_and_storing_recovers_within_the_grace(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    control.set_refresh_grace(harness.sim.world, 300)
    assert await harness.authorize() == 0
    box, _ = harness.daemon()
    await box.get()
    stored = harness.state()
    assert stored is not None
    real_save = statefile.save

    def die(*args: Any, **kwargs: Any) -> bool:
        raise Killed

    monkeypatch.setattr(statefile, "save", die)
    with pytest.raises(Killed):
        await box.refresh(force=True)  # the platform rotated; the new token died with the process
    monkeypatch.setattr(statefile, "save", real_save)
    assert harness.state() == stored
    assert stored.refresh_token not in live_refresh_tokens(harness)  # superseded, in its grace

    await harness.clock.advance(60)
    box, refresher = harness.daemon(seed=1)
    await box.get()
    recovered = harness.state()
    assert recovered is not None
    assert recovered.previous_refresh_token == stored.refresh_token
    for _ in range(5):
        await harness.clock.advance(box.next_wakeup() - harness.clock.now())
        await refresher.tick()
    assert box.failures == 0
    assert [entry["status"] for entry in harness.refreshes()] == [200] * 8


async def test_a_refused_current_token_falls_back_once_to_the_unconfirmed_previous(harness: Harness) -> None:
    control.set_refresh_grace(harness.sim.world, 300)
    assert await harness.authorize() == 0
    box, _ = harness.daemon()
    await box.get()
    stored = harness.state()
    assert stored is not None
    del harness.sim.world.tokens.refresh[stored.refresh_token]  # the platform lost the newest one
    await box.refresh(force=True)
    state = harness.state()
    assert state is not None
    assert state.previous_refresh_token == stored.previous_refresh_token
    assert [entry["status"] for entry in harness.refreshes()] == [200, 400, 200]


async def test_invalid_grant_sends_nothing_more_until_the_state_file_changes(harness: Harness) -> None:
    assert await harness.authorize() == 0
    box, refresher = harness.daemon()
    await box.get()
    control.revoke_tokens(harness.sim.world, harness.client_id)  # e.g. the user's password changed
    with capture_logs() as logs:
        with pytest.raises(tokenbox.TokenUnavailableError) as caught:
            await box.refresh(force=True)
        failure = mint_failure(caught.value)
        assert failure.problem is TokenProblem.INVALID_GRANT
        assert "invalid_grant: refresh token is invalid" in str(failure)
        asked = len(harness.refreshes())
        assert asked == 3  # the first refresh, then the current token and the previous one, once each
        for _ in range(40):  # hours of backoff retries and forced cycles (POST /tenants/{t}/reconcile)
            await harness.clock.advance(box.next_wakeup() - harness.clock.now())
            await refresher.tick()
            with pytest.raises(tokenbox.TokenUnavailableError) as again:
                await box.refresh(force=True)
            assert "no request sent" in str(mint_failure(again.value))
        assert len(harness.refreshes()) == asked
        assert box.failures > 40
    assert await harness.authorize() == 0  # a person signs in again
    await box.refresh(force=True)
    assert box.failures == 0
    assert len(harness.refreshes()) == asked + 1
    assert [e for e in logs if e["event"] == "token_refresh_failed"]


async def test_a_disk_that_refuses_the_write_keeps_the_token_until_it_is_stored(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await harness.authorize() == 0  # rotation without grace: a lost token is a lost grant
    box, _ = harness.daemon()
    await box.get()
    real_save = statefile.save

    def full(*args: Any, **kwargs: Any) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statefile, "save", full)
    for _ in range(3):
        with pytest.raises(tokenbox.TokenUnavailableError) as caught:
            await box.refresh(force=True)
        assert "No space left on device" in str(mint_failure(caught.value))
    assert len(harness.refreshes()) == 2  # one rotation, then nothing until it is on disk
    monkeypatch.setattr(statefile, "save", real_save)
    await box.refresh(force=True)
    state = harness.state()
    assert state is not None
    assert live_refresh_tokens(harness) == {state.refresh_token}
    assert [entry["status"] for entry in harness.refreshes()] == [200, 200, 200]


async def test_a_file_replaced_by_authorize_during_a_refresh_wins(harness: Harness) -> None:
    assert await harness.authorize() == 0
    box, _ = harness.daemon()
    await box.get()
    faults_table = harness.sim.world.faults
    faults_table.set(faults.Fault(prefix="/oauth/token", latency_seconds=5, times=1))
    refresh = asyncio.ensure_future(box.refresh(force=True))
    await harness.clock.settle()
    assert await harness.authorize() == 0  # a person re-consents while the refresh is in flight
    fresh = harness.state()
    assert fresh is not None
    await harness.clock.advance(5)
    await refresh
    state = harness.state()
    assert state is not None
    assert state.previous_refresh_token == fresh.refresh_token  # the refresh was redone from the new one
    assert state.refresh_token in live_refresh_tokens(harness)
    assert [entry["status"] for entry in harness.refreshes()] == [200, 200, 200]


async def test_a_refresh_beaten_by_another_process_continues_from_its_token(harness: Harness) -> None:
    assert await harness.authorize() == 0  # rotation without grace: the loser's token is refused
    box, _ = harness.daemon()
    await box.get()
    harness.sim.world.faults.set(faults.Fault(prefix="/oauth/token", latency_seconds=5, times=1))
    refresh = asyncio.ensure_future(box.refresh(force=True))
    await harness.clock.settle()
    check, _ = harness.daemon(seed=2)  # `grantwarden check` beside the daemon mints from the same file
    await check.get()
    winner = harness.state()
    assert winner is not None
    await harness.clock.advance(5)
    await refresh
    assert box.failures == 0
    state = harness.state()
    assert state is not None
    assert state.previous_refresh_token == winner.refresh_token
    assert [entry["status"] for entry in harness.refreshes()] == [200, 200, 400, 400, 200]


def test_the_authorize_url_asks_for_the_code_flow_with_pkce(harness_config: configfile.Loaded) -> None:
    tenant = harness_config.settings.tenants[0]
    url = usergrant.authorize_url(tenant, ["messaging:readonly", "user-basic-info"], "st", "ch")
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.mypurecloud.ie/oauth/authorize"
    assert "scope=messaging%3Areadonly%20user-basic-info" in parts.query
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "response_type": "code",
        "client_id": "desk-1",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "messaging:readonly user-basic-info",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
    }
    assert "scope" not in usergrant.authorize_url(tenant, [], "st", "ch")
    assert "target" not in dict(urllib.parse.parse_qsl(parts.query)), "no trust: the org picker is not skipped"


def test_a_trust_tenant_asks_with_target_its_org(harness_config: configfile.Loaded) -> None:
    tenant = harness_config.settings.tenants[0]
    credentials = tenant.credentials.model_copy(update={"trust": settings.Trust(home_org_id="org-partner")})
    trusted = tenant.model_copy(update={"credentials": credentials})
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(usergrant.authorize_url(trusted, [], "st", "ch")).query))
    assert query["target"] == tenant.org_id, "the token acts in the tenant's org, the trustor (platform.md §13)"


@pytest.fixture
def harness_config() -> configfile.Loaded:
    credentials = {"grant": "authorization_code", "client_id": "desk-1", "client_secret": "s",
                   "redirect_uri": "http://127.0.0.1:8765/callback"}  # fmt: skip
    tenants = [
        {"name": "desk", "org_id": "o-1", "region": "eu-west-1", "credentials": credentials},
        {"name": "cc", "org_id": "o-2", "region": "eu-west-1", "credentials": {"client_id": "c", "client_secret": "s"}},
    ]
    return configfile.load_mapping({"tenants": tenants}, source="gw.yaml")


def test_pkce_pairs_are_fresh_s256_pairs_of_the_allowed_length() -> None:
    verifier, challenge = usergrant.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected
    assert usergrant.pkce_pair()[0] != verifier


def test_the_reconsent_command_is_safe_to_paste_into_a_shell() -> None:
    assert (
        usergrant.reconsent_command("/etc/gw.yaml", "acme")
        == "grantwarden authorize --config /etc/gw.yaml --tenant acme"
    )
    assert (
        usergrant.reconsent_command("my gw.yaml", "acme") == "grantwarden authorize --config 'my gw.yaml' --tenant acme"
    )


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        pytest.param({"code": "c", "state": "other"}, "state does not match", id="another-state"),
        pytest.param({"code": "c"}, "state does not match", id="no-state"),
        pytest.param({"error": "access_denied", "state": "s"}, "consent was denied (access_denied)", id="denied"),
        pytest.param(
            {"error": "invalid_scope", "error_description": "bad", "state": "s"}, "(invalid_scope: bad)", id="error"
        ),
        pytest.param({"state": "s"}, "neither a code nor an error", id="empty"),
        pytest.param({"code": "c", "state": "ş"}, "state does not match", id="non-ascii-state"),
    ],
)
def test_a_redirect_without_a_usable_code_says_why(params: dict[str, str], problem: str) -> None:
    with pytest.raises(usergrant.ConsentError) as caught:
        usergrant.check_redirect(params, "s")
    assert problem in str(caught.value)
    assert "nothing was stored" in str(caught.value)
    assert not caught.value.config


def test_a_redirect_with_the_state_and_a_code_gives_the_code() -> None:
    assert usergrant.check_redirect({"code": "c0de", "state": "s"}, "s") == "c0de"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("http://127.0.0.1:8765/callback?code=c0de&state=s\n", id="whole-url"),
        pytest.param("  ?code=c0de&state=s  ", id="query"),
        pytest.param("code=c0de&state=s", id="bare-query"),
    ],
)
def test_a_pasted_address_gives_its_query(line: str) -> None:
    assert usergrant.pasted(line) == {"code": "c0de", "state": "s"}


def test_a_pasted_line_without_a_query_is_refused() -> None:
    with pytest.raises(usergrant.ConsentError, match="paste the whole address"):
        usergrant.pasted("http://127.0.0.1:8765/callback\n")


@pytest.mark.parametrize(
    ("uri", "listen"),
    [
        pytest.param("http://127.0.0.1:8765/callback", ("127.0.0.1", 8765, "/callback"), id="ipv4"),
        pytest.param("http://[::1]:9000/cb", ("::1", 9000, "/cb"), id="ipv6"),
        pytest.param("http://localhost", ("localhost", 80, "/"), id="localhost-defaults"),
        pytest.param("http://127.3.4.5:1/x", ("127.3.4.5", 1, "/x"), id="any-127"),
    ],
)
def test_loopback_redirect_uris_tell_where_to_listen(uri: str, listen: tuple[str, int, str]) -> None:
    assert usergrant.loopback(uri) == listen


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("https://127.0.0.1:8765/callback", id="https"),
        pytest.param("http://app.example/callback", id="not-loopback"),
        pytest.param("http://10.0.0.1:8765/callback", id="lan"),
        pytest.param("http://127.0.0.1:port/callback", id="bad-port"),
    ],
)
def test_other_redirect_uris_need_paste(uri: str) -> None:
    with pytest.raises(usergrant.ConsentError, match="use --paste") as caught:
        usergrant.loopback(uri)
    assert caught.value.config


def test_only_a_known_authorization_code_tenant_may_consent(harness_config: configfile.Loaded) -> None:
    tenants = harness_config.settings.tenants
    assert usergrant.consenting_tenant(tenants, "desk").name == "desk"
    with pytest.raises(usergrant.ConsentError, match=r"^tenants: no tenant 'x' \(authorization_code tenants: desk\)$"):
        usergrant.consenting_tenant(tenants, "x")
    with pytest.raises(usergrant.ConsentError, match=r"^tenants\[1\]\.credentials\.grant: tenant cc uses client_cred"):
        usergrant.consenting_tenant(tenants, "cc")
