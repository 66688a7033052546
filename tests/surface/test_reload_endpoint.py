"""``POST /-/reload`` and what a reload and a Retry-After look like on ``/status`` and the page.

Covers: the route does not exist without an admin token; without exactly the admin's bearer
token it is 401 and nothing is reloaded (``reload_refused`` logged, no token in it); with it the
backend reloads once and the answer is 202 with what changed, 422 ``config_invalid`` with the
problems for an invalid file, 409 ``reload_conflict`` for a valid file it refused or while the
daemon stops, each valid against deploy/openapi.yaml; ``/status`` carries the daemon's ``reload``
block (ok, or the problems, and when); the page opens with a failed reload and its problems
(escaped), and marks a tenant waiting out a Retry-After, healthy or not, with how long and which
request got the 429, in ``/status`` too.
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from grantwarden.policy import labels
from grantwarden.remote import gate
from grantwarden.worker import status as health
from tests.surface.test_server import (
    ADMIN,
    HOSTILE,
    NOW,
    FakeBackend,
    Serve,
    assert_matches,
    bearer,
    call,
    fleet,
    tenant,
)

SOURCE = "/etc/grantwarden/config.yaml"
APPLIED = health.ReloadRecord(
    source=SOURCE,
    loaded_at=NOW,
    attempted_at=NOW,
    added=("new",),
    removed=("old",),
    changed=("moved",),
    reconfigured=("acme", "alpha"),
    unchanged=2,
)
PROBLEM = f"{SOURCE}: line 3: tenants[0].name: String should match pattern"


def failed(*, refused: bool = False, problems: tuple[str, ...] = (PROBLEM,)) -> health.ReloadRecord:
    return health.ReloadRecord(
        source=SOURCE, loaded_at=NOW - 3600, attempted_at=NOW - 60, ok=False, problems=problems, refused=refused
    )


async def test_reload_does_not_exist_without_an_admin_token(serve: Serve, http: Any) -> None:
    backend = fleet()
    running = await serve(backend, admin_token=None)
    answer = await call(http, running, "/-/reload", "POST", headers=bearer(ADMIN))
    assert (answer.status, answer.json()["error"]) == (404, "not_found")
    assert (await call(http, running, "/-/reload")).status == 404
    assert backend.reloads == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param(bearer("wrong"), id="wrong-token"),
        pytest.param({"Authorization": f"Basic {ADMIN}"}, id="wrong-scheme"),
    ],
)
async def test_reload_without_the_right_bearer_token_is_401_and_reloads_nothing(
    serve: Serve, http: Any, headers: dict[str, str]
) -> None:
    backend = fleet()
    with capture_logs() as logs:
        answer = await call(http, await serve(backend), "/-/reload", "POST", headers=headers)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert backend.reloads == 0
    assert [e["reason"] for e in logs if e["event"] == "reload_refused"] == ["missing or wrong bearer token"]
    assert ADMIN not in repr(logs)


async def test_an_applied_reload_answers_202_with_what_changed(serve: Serve, http: Any) -> None:
    backend = fleet()
    backend.outcome = APPLIED
    with capture_logs() as logs:
        answer = await call(http, await serve(backend), "/-/reload", "POST", headers=bearer(ADMIN))
    assert answer.status == 202
    assert answer.json() == {
        "reload": "applied",
        "at": "2027-01-15T08:00:00Z",
        "source": SOURCE,
        "added": ["new"],
        "removed": ["old"],
        "changed": ["moved"],
        "reconfigured": ["acme", "alpha"],
        "unchanged": 2,
    }
    assert_matches("ReloadOutcome", answer.json())
    assert backend.reloads == 1
    assert "reload_requested" in [e["event"] for e in logs]


@pytest.mark.parametrize(
    ("outcome", "status", "name"),
    [
        pytest.param(failed(), 422, "config_invalid", id="invalid-file"),
        pytest.param(failed(refused=True), 409, "reload_conflict", id="valid-but-refused"),
        pytest.param(None, 409, "reload_conflict", id="stopping"),
    ],
)
async def test_a_reload_not_applied_says_why_and_that_the_old_configuration_runs(
    serve: Serve, http: Any, outcome: health.ReloadRecord | None, status: int, name: str
) -> None:
    backend = fleet()
    backend.outcome = outcome
    answer = await call(http, await serve(backend), "/-/reload", "POST", headers=bearer(ADMIN))
    assert (answer.status, answer.json()["error"]) == (status, name)
    assert answer.json()["problems"] == (list(outcome.problems) if outcome else [])
    assert "configuration that runs is kept" in answer.json()["message"]
    assert_matches("Error", answer.json())


async def test_status_carries_the_reload_block_ok_or_the_problems(serve: Serve, http: Any) -> None:
    backend = fleet()
    running = await serve(backend)
    first = (await call(http, running, "/status")).json()
    assert first["reload"] == {
        "ok": True,
        "attempted_at": None,
        "loaded_at": "2027-01-15T07:00:00Z",
        "source": SOURCE,
        "problems": [],
    }
    backend.record = failed()
    body = (await call(http, running, "/status")).json()
    assert body["reload"] == {
        "ok": False,
        "attempted_at": "2027-01-15T07:59:00Z",
        "loaded_at": "2027-01-15T07:00:00Z",
        "source": SOURCE,
        "problems": [PROBLEM],
    }
    assert_matches("Envelope", body)


async def test_a_failed_reload_opens_the_page_with_its_problems_escaped(serve: Serve, http: Any) -> None:
    backend = fleet()
    running = await serve(backend)
    assert "Configuration reload failed" not in (await call(http, running, "/")).text
    backend.record = failed(problems=(PROBLEM, HOSTILE))
    page = (await call(http, running, "/")).text
    banner = page.index("Configuration reload failed")
    assert banner < page.index('id="needs_attention"'), "before every tenant: they run on the previous file"
    assert "tenants[0].name: String should match pattern" in page
    assert "<script>alert" not in page
    assert "keeps running" in page


def waiting(name: str, state: labels.State, seconds: float, request: str) -> health.TenantStatus:
    status = tenant(name, state)
    status.floor = limit = gate.Gate()
    limit.hold(now=NOW, seconds=seconds)
    status.saw_rate_limit(NOW, request, seconds)
    status.last_cycle_at = NOW - 40
    return status


async def test_a_tenant_waiting_out_a_retry_after_is_marked_on_the_page_and_in_status(serve: Serve, http: Any) -> None:
    calm = tenant("calm")
    backend = FakeBackend.of(
        calm,
        waiting("acme-ca", labels.State.HEALTHY, 55, "webdeployments-configurations"),
        waiting("beta", labels.State.DEGRADED, 20, "token"),
    )
    running = await serve(backend)
    page = (await call(http, running, "/")).text
    assert "waiting out a Retry-After, 55 s more (429 on webdeployments-configurations)" in page
    assert "waiting out a Retry-After, 20 s more (429 on token)" in page
    assert "2 waiting out a Retry-After" in page
    body = (await call(http, running, "/status")).json()
    limited = {t["tenant"]: t["rate_limited"] for t in body["tenants"]}
    ca = limited["acme-ca"]
    assert (ca["waiting_s"], ca["last_probe"]) == (55.0, "webdeployments-configurations")
    assert ca["waiting_until"] == "2027-01-15T08:00:55Z"
    assert (limited["calm"]["waiting_s"], limited["calm"]["waiting_until"]) == (0.0, None)
    assert_matches("Envelope", body)
