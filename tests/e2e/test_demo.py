"""``grantwarden demo`` end to end: the real command for 40 s of real time, watched through its /status.

The one long test of the suite (design.md §2.1 promises the demo; a person's first look must not
break). One run of ``python -m grantwarden demo --duration 40 --listen 127.0.0.1:PORT`` is shared by
every test here; while it runs, /status is read every second and /metrics once the story is over.

Covers: exit code 0 and a banner naming the status page and /metrics; acme healthy; acme-eu
detected (messaging:integration:view missing), re-granted with Messaging Viewer and verified,
then healthy; acme-apac needs_attention with wrong_org and acme-latam with unlicensed, each with
its fix printed; acme-ca rate limited (429 in the output, in /status and in
grantwarden_rate_limited_total) and never taken for an authorisation problem; the user-grant
tenant signed in, its missing scope added to the client, a person's re-consent, and where it
stands afterwards; the partner's consultant signed in with target= and healthy in acme through
the org trust; acme's integration takes its token from the hand-off, meets a 403 once a role is
removed, reports it, and its call passes again after the re-grant (design.md §2.8); the printed
summary agrees with /status; no secret in the output or in /status.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from grantwarden.base.clock import LoopClock
from grantwarden.simulator import emitting, scenarios

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ROOT = Path(__file__).parent.parent.parent
DURATION_S = 40
TENANTS = ["acme", "acme-eu", "acme-apac", "acme-latam", "acme-ca", "acme-agent-desktop", "acme-via-partner"]


@dataclasses.dataclass
class DemoRun:
    code: int
    out: str
    err: str
    snapshots: list[dict[str, dict[str, Any]]]  # every /status read, by tenant
    bodies: list[str]  # every /status and /metrics body as received
    metrics: str

    @property
    def final(self) -> dict[str, dict[str, Any]]:
        """The last /status that listed every tenant (the daemon empties it while it stops)."""
        return next(s for s in reversed(self.snapshots) if set(s) == set(TENANTS))

    def lines(self, tenant: str) -> list[str]:
        """The story's lines about ``tenant``, without their time stamps."""
        found = []
        for line in self.out.splitlines():
            if line.startswith("[") and "s] " in line:
                name, _, text = line.split("s] ", 1)[1].partition(" ")
                if name == tenant:
                    found.append(text.strip())
        return found

    def summary_row(self, tenant: str) -> list[str]:
        table = self.out.split("finding / fix", 1)[1]
        row = next(line for line in table.splitlines() if line.split(" ", 1)[0] == tenant)
        return row.split(None, 2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return None  # not listening yet, or already stopped


@pytest.fixture(scope="module")
def demo() -> DemoRun:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "grantwarden",
        "demo",
        "--duration",
        str(DURATION_S),
        "--listen",
        f"127.0.0.1:{port}",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    snapshots: list[dict[str, dict[str, Any]]] = []
    bodies: list[str] = []
    metrics = ""
    while True:
        try:
            process.wait(timeout=1.0)  # the pace of the polling, and the end of it
            break
        except subprocess.TimeoutExpired:
            pass
        if (body := _get(f"{base}/status")) is not None:
            bodies.append(body)
            snapshots.append({t["tenant"]: t for t in json.loads(body)["tenants"]})
            if len(snapshots[-1]) == len(TENANTS) and (text := _get(f"{base}/metrics")) is not None:
                metrics = text
                bodies.append(text)
    out, err = process.communicate()
    return DemoRun(process.returncode, out, err, snapshots, bodies, metrics)


def outcomes(tenant: dict[str, Any], key: str) -> set[str]:
    field = "result" if key == "regrants" else "outcome"
    return {entry[field] for entry in tenant[key]}


def test_the_demo_exits_0_after_its_duration_and_names_where_to_look(demo: DemoRun) -> None:
    assert demo.code == 0, demo.err
    assert "/status" in demo.out
    assert "/metrics" in demo.out
    assert len(demo.snapshots) >= DURATION_S // 2, "the status page answers while the demo runs"
    assert "Traceback" not in demo.err


def test_the_primary_org_is_healthy(demo: DemoRun) -> None:
    acme = demo.final["acme"]
    assert acme["state"] == "healthy"
    assert outcomes(acme, "probes") == {"ok"}
    assert "healthy: every probe passes" in demo.lines("acme")


def test_the_secondary_org_is_detected_regranted_and_verified(demo: DemoRun) -> None:
    eu = demo.final["acme-eu"]
    assert eu["state"] == "healthy"
    assert {"planned", "applied", "verified"} <= outcomes(eu, "regrants")
    applied = next(r for r in eu["regrants"] if r["result"] == "applied")
    assert any(added.startswith("Messaging Viewer") for added in applied["added"])
    lines = demo.lines("acme-eu")
    detected = next(i for i, line in enumerate(lines) if "messaging:integration:view" in line)
    verified = next(i for i, line in enumerate(lines) if line.startswith("re-grant verified: added Messaging Viewer"))
    assert detected < verified < lines.index("healthy: every probe passes")


@pytest.mark.parametrize(
    ("tenant", "outcome", "advice"),
    [
        pytest.param("acme-apac", "wrong_org", "own OAuth client", id="wrong-org"),
        pytest.param("acme-latam", "unlicensed", "license", id="unlicensed"),
    ],
)
def test_what_grantwarden_cannot_fix_needs_attention_with_its_fix_printed(
    demo: DemoRun, tenant: str, outcome: str, advice: str
) -> None:
    status = demo.final[tenant]
    assert status["state"] == "needs_attention"
    assert outcome in outcomes(status, "findings")
    assert "applied" not in outcomes(status, "regrants"), "never acted on"
    fixes = [line for line in demo.lines(tenant) if line.startswith("fix: ")]
    assert len(fixes) == 1
    assert advice in fixes[0]
    assert fixes[0].removeprefix("fix: ") == status["findings"][0]["fix"]


def test_the_rate_limited_org_waits_and_is_not_taken_for_an_authorisation_problem(demo: DemoRun) -> None:
    assert any(line.startswith("rate limited: 429") for line in demo.lines("acme-ca"))
    counts = [s["acme-ca"]["rate_limited"]["count"] for s in demo.snapshots if "acme-ca" in s]
    assert counts[-1] > 0, "the 429s are in /status"
    assert counts == sorted(counts)
    assert 'grantwarden_rate_limited_total{tenant="acme-ca"}' in demo.metrics
    final = demo.final["acme-ca"]
    assert final["state"] == "healthy", "a 429 is waited out, never taken for an authorisation problem"
    assert outcomes(final, "findings") <= {"rate_limited"}
    assert outcomes(final, "probes") <= {"ok", "rate_limited"}


def test_the_user_grant_tenant_gets_its_scope_and_a_person_consents_again(demo: DemoRun) -> None:
    lines = demo.lines("acme-agent-desktop")
    assert lines[0].startswith("signed in as Avery Agent")
    assert "not granted: webdeployments:readonly" in lines[0]
    desktop = demo.final["acme-agent-desktop"]
    applied = [r for r in desktop["regrants"] if r["result"] == "applied"]
    assert [r["added"] for r in applied] == [["scope webdeployments:readonly"]]
    reconsent = next(line for line in lines if line.startswith("a person consents again"))
    assert "webdeployments:readonly" in reconsent.split("granted ", 1)[1]
    # Between the scope's addition and the re-consent a person had to act, with the command to run.
    attention = lines.index(next(line for line in lines if line.startswith("needs attention:")))
    assert "not authorized for any of the scopes" in lines[attention]
    assert "grantwarden authorize" in lines[attention + 1]
    assert attention < lines.index(reconsent)
    # The daemon notices the newer consent, mints from it and verifies with the new scope.
    assert desktop["state"] == "healthy"
    assert outcomes(desktop, "probes") == {"ok"}


def test_the_partner_consultant_acts_in_acme_through_the_org_trust(demo: DemoRun) -> None:
    world = scenarios.load(scenarios.DEMO_SCENARIO, clock=LoopClock())
    spec = next(t for t in world.tenants if t.name == "acme-via-partner")
    lines = demo.lines("acme-via-partner")
    assert lines[0].startswith("signed in as Pat Partner")
    assert f"target={spec.org_id}" in lines[0]
    assert f"the token acts in org {spec.org_id} through the org trust" in lines[0]
    partner = demo.final["acme-via-partner"]
    assert (partner["state"], partner["identity_org_id"]) == ("healthy", spec.org_id)
    assert outcomes(partner, "probes") == {"ok"}


def test_the_printed_summary_agrees_with_the_status_page(demo: DemoRun) -> None:
    for tenant in TENANTS:
        name, state, _ = demo.summary_row(tenant)
        assert (name, state) == (tenant, demo.final[tenant]["state"])


def test_no_secret_of_the_scenario_is_printed_or_served(demo: DemoRun) -> None:
    world = scenarios.load(scenarios.DEMO_SCENARIO, clock=LoopClock())
    _, env = emitting.render(world, "http://127.0.0.1:1", state_dir="/nonexistent")
    secrets = set(env.values())
    assert secrets
    for text in (demo.out, demo.err, *demo.bodies):
        assert not [secret for secret in secrets if secret in text]


def test_acmes_integration_takes_its_token_from_the_handoff_and_its_reported_403_is_repaired(demo: DemoRun) -> None:
    told = [line.removeprefix("integration").strip() for line in demo.lines("acme") if line.startswith("integration")]
    assert told[0].startswith("took its token from the hand-off: org 2a3a43e5-e89c-406e-badf-e79288bd4ab0")
    assert told[1] == "GET /api/v2/conversations/messaging/settings → 200"
    assert told[2].startswith("(the demo removes Messaging Viewer")
    assert told[3] == (
        "GET /api/v2/conversations/messaging/settings → 403 missing.permissions; "
        "reported it: missing_permission, grantwarden is diagnosing"
    )
    assert told[4:] == ["GET /api/v2/conversations/messaging/settings → 200"], "passes again after the re-grant"
    assert any(line.startswith("re-grant verified: added Messaging Viewer") for line in demo.lines("acme"))
    refusal = demo.final["acme"]["handoff"]["last_refusal"]
    assert (refusal["operation"], refusal["outcome"]) == (
        "traffic:get-conversations-messaging-settings",
        "missing_permission",
    )
    assert demo.final["acme"]["handoff"]["last_handed_out_at"] is not None
