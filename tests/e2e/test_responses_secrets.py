"""No secret in any answer or log line: the whole daemon, its HTTP surface and its logs, scanned.

Covers design.md §2.3 and platform.md §2.5: the daemon runs the demo world on a ManualClock through failures
(wrong org, unlicensed, rate limits, a user grant without consent, an invalid client secret, a
5xx, revoked tokens and the 401 re-mint) and a verified re-grant; then every endpoint answers
(``/``, ``/status``, ``/status/{tenant}`` for each tenant and an unknown one, ``/metrics``,
``/healthz``, ``/readyz``, reconcile 202, 401 without and with a wrong token, 404), and so does the
token hand-off (design.md §2.8) wherever its answer is not a token itself: 401 without and with a
wrong bearer token, 404, 503 for the wrong-org tenant, 400, 413, a refusal report whose body
echoes a token, and the names of the files of its file sink. All its log output, rendered as in
production (JSON at debug level, stdlib records included, ``token_handed_out`` among them), is
searched for every client secret, every access and refresh token the simulator issued, the admin
and hand-off bearer tokens and each ``Basic base64(id:secret)`` string, whole or any 12-character
piece of one.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import prometheus_client
import pytest
import structlog

from grantwarden.app import runtime
from grantwarden.base import logs, redaction
from grantwarden.base.clock import ManualClock
from grantwarden.config import loading as configfile
from grantwarden.policy import labels
from grantwarden.simulator import control, emitting, faults, testing
from grantwarden.surface import server
from tests.e2e import support

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "admin-token-Zq8vN3xW5yR1tK7m"
HANDOFF_TOKEN = "handoff-bearer-Pw2dK9sL4mQ7"
WRONG_SECRET = "configured-but-wrong-secret-8Hf2Lp"
PIECE = 12  # a leak of this many consecutive characters of a secret counts as a leak


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """logs.configure changes process-wide state; put structlog and the root logger back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def pieces(secret: str) -> set[str]:
    return {secret[i : i + PIECE] for i in range(max(1, len(secret) - PIECE + 1))}


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets of which ``text`` holds the whole or a piece."""
    return sorted({name for name, secret in secrets.items() if any(piece in text for piece in pieces(secret))})


async def fetch(http: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, str]:
    async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        headers = "\n".join(f"{key}: {value}" for key, value in response.headers.items())
        return response.status, headers + "\n\n" + await response.text()


async def test_no_endpoint_and_no_log_line_reveals_a_secret_or_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    stream = io.StringIO()
    redactor = redaction.Redactor()
    logs.configure(level="debug", fmt="json", redactor=redactor, stream=stream, clock=clock)
    async with testing.running(support.DEMO, clock=clock) as sim:
        monkeypatch.setenv("GW_SECRETS_ADMIN", ADMIN_TOKEN)
        monkeypatch.setenv("GW_SECRETS_HANDOFF", HANDOFF_TOKEN)
        sock, token_files = tmp_path / "handoff.sock", tmp_path / "tokens"
        token_files.mkdir()
        edit = {
            "server": {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_SECRETS_ADMIN"}},
            "handoff": {
                "listen": f"unix:{sock}",
                "bearer_token": {"env": "GW_SECRETS_HANDOFF"},
                "files": {"directory": str(token_files)},
            },
        }
        loaded = support.demo_config(sim, monkeypatch, tmp_path, edit=edit)
        # demo_config exported the real secret; acme-ca gets a wrong one: invalid_client, every mint
        monkeypatch.setenv(emitting.env_name("acme-ca"), WRONG_SECRET)
        configfile.resolve_secrets(loaded, environ=os.environ)

        issued: set[str] = set()

        def remember_tokens() -> None:
            issued.update(sim.world.tokens.access)
            issued.update(sim.world.tokens.refresh)

        started: asyncio.Future[tuple[runtime.Daemon, server.Running]] = asyncio.get_running_loop().create_future()
        options = runtime.Options(
            clock=clock,
            environ=dict(os.environ),
            redactor=redactor,
            registry=prometheus_client.CollectorRegistry(),
            install_signals=False,
            watchdog_interval_s=3600.0,
            seed=5,
            on_started=lambda daemon, http: started.set_result((daemon, http)),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(loaded, options, stop), name="daemon")
        daemon, http_server = await started
        answers: dict[str, tuple[int, str]] = {}
        try:
            control.set_fault(sim.world, faults.Fault("/api/v2/organizations/me", faults.Action.STATUS, status=503))
            await clock.advance(61)
            remember_tokens()
            control.clear_faults(sim.world)
            control.revoke_tokens(sim.world, sim.tenant("acme").client_id)  # the next request: 401, re-mint
            for _ in range(4):
                await clock.advance(60)
                remember_tokens()
            statuses = daemon.statuses()
            assert statuses["acme-eu"].state is labels.State.HEALTHY, "through a verified re-grant"
            assert statuses["acme-ca"].token_last_error is not None
            assert statuses["acme-apac"].state is labels.State.NEEDS_ATTENTION

            base = http_server.url
            bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with aiohttp.ClientSession() as http:
                for path in ["/", "/status", "/metrics", "/healthz", "/readyz", "/status/nobody"]:
                    answers[f"GET {path}"] = await fetch(http, "GET", base + path)
                for name in statuses:
                    answers[f"GET /status/{name}"] = await fetch(http, "GET", f"{base}/status/{name}")
                reconcile = f"{base}/tenants/acme-eu/reconcile"
                answers["POST reconcile"] = await fetch(http, "POST", reconcile, headers=bearer)
                answers["POST reconcile, no token"] = await fetch(http, "POST", reconcile)
                answers["POST reconcile, wrong token"] = await fetch(
                    http, "POST", reconcile, headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}x"}
                )
                answers["POST reconcile, unknown"] = await fetch(
                    http, "POST", f"{base}/tenants/nobody/reconcile", headers=bearer
                )
                await clock.advance(5)
                remember_tokens()
                answers["GET /status after reconcile"] = await fetch(http, "GET", base + "/status")
            handed = await handoff_answers(sock, answers)
            remember_tokens()
            answers["token file names"] = (200, "\n".join(sorted(p.name for p in token_files.iterdir())))
        finally:
            stop.set()
            while not task.done():
                await clock.advance(1.0)
        assert await task == 0

        secrets = {f"secret of {c.id}": c.secret for c in sim.world.clients.values()}
        secrets |= {f"Basic of {c.id}": redaction.basic_credentials(c.id, c.secret) for c in sim.world.clients.values()}
        secrets |= {f"token {i}": token for i, token in enumerate(sorted(issued))}
        secrets["admin token"] = ADMIN_TOKEN
        secrets["hand-off bearer token"] = HANDOFF_TOKEN
        secrets["acme-ca's configured secret"] = WRONG_SECRET
        secrets["Basic of acme-ca's configured secret"] = redaction.basic_credentials(
            sim.tenant("acme-ca").client_id, WRONG_SECRET
        )

    statuses_seen = {key: status for key, (status, _) in answers.items()}
    assert handed >= 2, "the hand-off did hand tokens out (their answers are the one place a token may be)"
    assert statuses_seen["handoff: no bearer"] == statuses_seen["handoff: wrong bearer"] == 401
    assert statuses_seen["handoff: wrong org"] == 503
    assert statuses_seen["handoff: refusal echoing a token"] == 200
    assert statuses_seen["handoff: too large"] == 413
    assert "acme.json" in answers["token file names"][1]
    assert statuses_seen["POST reconcile"] == 202
    assert statuses_seen["POST reconcile, no token"] == 401
    assert statuses_seen["POST reconcile, wrong token"] == 401
    assert statuses_seen["POST reconcile, unknown"] == 404
    assert statuses_seen["GET /status/nobody"] == 404
    assert statuses_seen["GET /readyz"] == 200
    # acme (twice: revoked, re-minted), acme-eu, acme-apac, acme-latam and three admin identities
    assert len(issued) >= 8, "the scan looks for the tokens that were really issued"
    found = {key: leaks(text, secrets) for key, (_, text) in answers.items()}
    assert {key: names for key, names in found.items() if names} == {}
    output = stream.getvalue()
    for event in ("regrant_applied", "token_refresh_failed", "http_request", "token_handed_out", "refusal_reported"):
        assert f'"event": "{event}"' in output, "the log output holds the lines worth scanning"
    assert leaks(output, secrets) == []


async def handoff_answers(sock: Path, answers: dict[str, tuple[int, str]]) -> int:
    """Every hand-off answer that is not a token itself goes into ``answers``; the tokens handed out
    are counted and checked to be the tenants' own."""
    bearer = {"Authorization": f"Bearer {HANDOFF_TOKEN}"}
    handed = 0
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as http:
        base = "http://localhost"
        for name in ("acme", "acme-eu"):
            async with http.get(f"{base}/v1/tenants/{name}/token", headers=bearer) as response:
                assert response.status == 200, await response.text()
                token = (await response.json())["access_token"]
                handed += 1
        echo = {"code": "not.authorized", "message": f"refused: Bearer {token}", "token": token}
        report = {
            "method": "GET",
            "path": "/api/v2/x",
            "status": 403,
            "headers": {"Authorization": token},
            "body": echo,
        }
        for key, method, path, kwargs in (
            ("handoff: no bearer", "GET", "/v1/tenants/acme/token", {}),
            ("handoff: wrong bearer", "GET", "/v1/tenants/acme/token", {"headers": {"Authorization": "Bearer no"}}),
            ("handoff: unknown tenant", "GET", "/v1/tenants/nobody/token", {"headers": bearer}),
            ("handoff: wrong org", "GET", "/v1/tenants/acme-apac/token", {"headers": bearer}),
            ("handoff: bad min_valid", "GET", "/v1/tenants/acme/token?min_valid=-1", {"headers": bearer}),
            (
                "handoff: refusal echoing a token",
                "POST",
                "/v1/tenants/acme/refusals",
                {"headers": bearer, "json": report},
            ),
            ("handoff: too large", "POST", "/v1/tenants/acme/refusals", {"headers": bearer, "data": b"x" * 70_000}),
        ):
            answers[key] = await fetch(http, method, base + path, **kwargs)
    return handed
