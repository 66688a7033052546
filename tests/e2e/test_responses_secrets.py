"""No secret in any answer or log line: the whole daemon, its HTTP surface and its logs, scanned.

Covers design.md §2.3 and platform.md §2.5: the daemon runs the demo world on a ManualClock through failures
(wrong org, unlicensed, rate limits, a user grant without consent, an invalid client secret, a
5xx, revoked tokens and the 401 re-mint) and a verified re-grant; then every endpoint answers
(``/``, ``/status``, ``/status/{tenant}`` for each tenant and an unknown one, ``/metrics``,
``/healthz``, ``/readyz``, reconcile 202, 401 without and with a wrong token, 404) and all its log
output, rendered as in production (JSON at debug level, stdlib records included), is searched for
every client secret, every access and refresh token the simulator issued, the admin token and each
``Basic base64(id:secret)`` string, whole or any 12-character piece of one.
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
        edit = {"server": {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_SECRETS_ADMIN"}}}
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
        finally:
            stop.set()
            while not task.done():
                await clock.advance(1.0)
        assert await task == 0

        secrets = {f"secret of {c.id}": c.secret for c in sim.world.clients.values()}
        secrets |= {f"Basic of {c.id}": redaction.basic_credentials(c.id, c.secret) for c in sim.world.clients.values()}
        secrets |= {f"token {i}": token for i, token in enumerate(sorted(issued))}
        secrets["admin token"] = ADMIN_TOKEN
        secrets["acme-ca's configured secret"] = WRONG_SECRET
        secrets["Basic of acme-ca's configured secret"] = redaction.basic_credentials(
            sim.tenant("acme-ca").client_id, WRONG_SECRET
        )

    statuses_seen = {key: status for key, (status, _) in answers.items()}
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
    for event in ("regrant_applied", "token_refresh_failed", "http_request"):
        assert f'"event": "{event}"' in output, "the log output holds the lines worth scanning"
    assert leaks(output, secrets) == []
