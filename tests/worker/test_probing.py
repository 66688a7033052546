"""probing: a tenant's probes run at most ``probe_concurrency`` at a time, every one of them.

Covers: with five endpoint probes and a concurrency of 2 (then 4, then 8), the identity check
runs first and alone, no more than the concurrency are ever in flight, the next starts as soon
as one finishes, and every probe gets its record; a stop noticed in one lane ends the pass with
the one stop signal and cancels the other lanes' requests; while a refused credential backs off,
the pass reads as that refusal (unauthorized, the API's 401) and never as a token-endpoint problem
(which would suggest a new secret or another region); a 429 is waited out up to the pass's
patience and told when long, a longer one is not waited for and is told as such, and while the
tenant's floor is further off than that, the other probes are not sent and read rate_limited; a
reconfigured prober runs the new probe list at the new concurrency from its next pass; the
identity check accepts a trusted user's token only for a tenant that declares that trust
(``policy.identity``), and nothing else is probed after an identity it does not accept or an
address the IP allowlist refuses.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import catalog, diagnosis, labels
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, oauth
from grantwarden.simulator import tenancy
from grantwarden.worker import probing, tokenbox
from tests.worker import fakes

ORG = "org-1"


class SlowPlatform:
    """The tenant's API, answering probes when told to; records how many were in flight at most."""

    def __init__(self, box: tokenbox.TokenBox) -> None:
        self.box = box
        self.gate = gate.Gate()
        self.in_flight = 0
        self.most = 0
        self.started: list[str] = []
        self.release = asyncio.Queue[None]()

    async def tokens_me(self) -> models.TokenInfo:
        assert self.in_flight == 0, "the identity check runs before any other probe"
        return models.TokenInfo.model_validate({"organization": {"id": ORG}})

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        self.started.append(path)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await self.release.get()
        self.in_flight -= 1
        return remote_client.ApiReply(200, None, errors.Reply(method="GET", path=path, status=200))


class NoRateLimits:
    def rate_limited(self, probe: str, retry_after: float | None) -> None:
        raise AssertionError("no 429 here")


async def mint() -> oauth.TokenGrant:
    return oauth.TokenGrant(access_token="t", token_type="bearer", expires_in=3600, received_at=0.0)


@pytest.mark.parametrize("concurrency", [2, 4, 8])
async def test_probes_run_at_most_the_concurrency_at_once_and_all_of_them(concurrency: int) -> None:
    clock = clock_mod.ManualClock()
    box = tokenbox.TokenBox(
        tenant="t", mint=mint, clock=clock, rng=random.Random(1), refresh=settings.RefreshSettings(), metrics=None
    )
    platform = SlowPlatform(box)
    probes = tuple(catalog.BUILTIN[name] for name in tenancy.DEFAULT_PROBES)
    prober = probing.Prober(
        org_id=ORG,
        probes=probes,
        api=platform,  # type: ignore[arg-type]  # the two calls a prober makes
        clock=clock,
        concurrency=concurrency,
        rate_limits=NoRateLimits(),
    )
    endpoint_probes = len(probes) - 1
    running = asyncio.ensure_future(prober.run())
    for answered in range(endpoint_probes):
        await clock.settle()
        assert platform.in_flight == min(concurrency, endpoint_probes - answered)
        platform.release.put_nowait(None)
    observed = await running
    assert platform.most == min(concurrency, endpoint_probes)
    assert len(platform.started) == endpoint_probes
    assert set(observed.records) == {p.name for p in probes}


class StopsAtTheGate(fakes.FakeApi):
    """One probe's request meets the tenant's stop at the gate; the others hang until cancelled."""

    def __init__(self, clock: clock_mod.Clock) -> None:
        super().__init__(clock)
        self.cancelled = 0

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        if path == fakes.SETTINGS.path:
            raise gate.StoppedError("the tenant is stopping; the request was not sent")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


async def test_a_stop_in_one_lane_ends_the_pass_and_cancels_the_other_lanes() -> None:
    clock = clock_mod.ManualClock()
    api = StopsAtTheGate(clock)
    probes = (fakes.INTEGRATIONS, fakes.DEPLOYMENTS, fakes.SETTINGS)
    prober = probing.Prober(
        org_id=fakes.ORG, probes=probes, api=api, clock=clock, concurrency=3, rate_limits=NoRateLimits()
    )  # type: ignore[arg-type]
    stopped = False
    try:
        await prober.run()
    except* gate.StoppedError:
        stopped = True
    assert stopped, "the stop reaches the tenant's loop as it was raised"
    assert api.cancelled == 2


class Noted:
    """Rate limits as the reporter hears of them."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, float | None]] = []

    def rate_limited(self, probe: str, retry_after: float | None) -> None:
        self.heard.append((probe, retry_after))


def unauthorized() -> errors.Unauthorized:
    return errors.Unauthorized(fakes.reply(401, {"code": "bad.credentials", "message": "Invalid login credentials."}))


async def test_a_refused_credential_backing_off_reads_as_the_refusal_not_as_a_token_endpoint_problem() -> None:
    clock = clock_mod.ManualClock()
    api = fakes.FakeApi(clock)
    api.box.refused(await api.box.get(), unauthorized())  # a fresh token refused: the box backs off
    prober = probing.Prober(
        org_id=fakes.ORG, probes=(fakes.INTEGRATIONS,), api=api, clock=clock, concurrency=1, rate_limits=Noted()
    )  # type: ignore[arg-type]
    observed = await prober.run()
    assert observed.token_problem is None, "the token endpoint is fine: it is the API that refuses"
    assert observed.verdicts["token"].outcome is labels.Outcome.UNAUTHORIZED
    assert observed.records["token"].http_status == 401
    assert api.calls == [], "nothing is sent during the backoff"
    result = diagnosis.diagnose(
        tenant="acme",
        org_id=fakes.ORG,
        client_id=fakes.CLIENT,
        grant_type=labels.GrantType.CLIENT_CREDENTIALS,
        mode=labels.RegrantMode.REMEDIATE,
        identity_org_id=None,
        token_problem=observed.token_problem,
        verdicts=observed.verdicts,
        plans={},
    )
    [finding] = result.findings
    assert "rejects the token" in finding.summary
    assert "invalid_client" not in finding.summary + finding.fix
    assert "secret" not in finding.fix, "no new secret is suggested for a credential the API refuses"


class Told:
    def __init__(self) -> None:
        self.lines: list[tuple[str, float, bool]] = []

    def __call__(self, request: str, seconds: float, waiting: bool) -> None:
        self.lines.append((request, seconds, waiting))


@pytest.mark.parametrize(
    ("retry_after", "max_wait", "told", "outcome"),
    [
        pytest.param(3.0, 60.0, [], labels.Outcome.OK, id="a-short-wait-untold"),
        pytest.param(30.0, 60.0, [(fakes.INTEGRATIONS.name, 30.0, True)], labels.Outcome.OK, id="a-long-wait-told"),
        pytest.param(
            30.0, 10.0, [(fakes.INTEGRATIONS.name, 30.0, False)], labels.Outcome.RATE_LIMITED, id="past-max-wait"
        ),
        pytest.param(
            90.0, 60.0, [(fakes.INTEGRATIONS.name, 90.0, False)], labels.Outcome.RATE_LIMITED, id="past-a-minute"
        ),
    ],
)
async def test_a_429_is_waited_out_up_to_the_passs_patience_and_a_long_wait_is_told(
    retry_after: float, max_wait: float, told: list[tuple[str, float, bool]], outcome: labels.Outcome
) -> None:
    clock = clock_mod.ManualClock()
    api = fakes.FakeApi(clock)
    limited = fakes.rate_limited(retry_after)
    api.then(f"get {fakes.INTEGRATIONS.path}", limited)
    tell = Told()
    prober = probing.Prober(
        org_id=fakes.ORG,
        probes=(fakes.INTEGRATIONS,),
        api=api,  # type: ignore[arg-type]
        clock=clock,
        concurrency=1,
        rate_limits=Noted(),
        patience=probing.Patience(max_wait_s=max_wait, tell=tell),
    )
    observed = await prober.run()
    assert observed.verdicts[fakes.INTEGRATIONS.name].outcome is outcome
    assert tell.lines == told


class HeldApi(fakes.FakeApi):
    """The first probe's 429 raises the tenant's floor, as the transport does on a real 429."""

    def __init__(self, clock: clock_mod.ManualClock, seconds: float) -> None:
        super().__init__(clock)
        self.clock = clock
        self.seconds = seconds

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        if path == fakes.INTEGRATIONS.path:
            self.calls.append(("get", path))
            self.gate.hold(now=self.clock.now(), seconds=self.seconds)
            raise fakes.rate_limited(self.seconds)
        return await super().get(path, read=read)


async def test_while_the_floor_is_further_off_than_the_pass_waits_the_other_probes_are_not_sent() -> None:
    clock = clock_mod.ManualClock()
    api = HeldApi(clock, seconds=600.0)
    noted = Noted()
    prober = probing.Prober(
        org_id=fakes.ORG,
        probes=(fakes.INTEGRATIONS, fakes.DEPLOYMENTS, fakes.SETTINGS),
        api=api,  # type: ignore[arg-type]
        clock=clock,
        concurrency=1,
        rate_limits=noted,
    )
    observed = await asyncio.wait_for(prober.run(), timeout=5.0)  # no ten-minute wait inside the pass
    assert api.called("get") == [("get", fakes.INTEGRATIONS.path)], "only the request that met the 429 went out"
    for probe in (fakes.DEPLOYMENTS, fakes.SETTINGS):
        record = observed.records[probe.name]
        assert record.outcome is labels.Outcome.RATE_LIMITED
        assert record.http_status is None
        assert "not sent" in (record.message or "")
    assert noted.heard == [(fakes.INTEGRATIONS.name, 600.0)], "the one 429 that came is reported once"


async def test_a_reconfigured_prober_runs_the_new_probes_from_its_next_pass() -> None:
    clock = clock_mod.ManualClock()
    api = fakes.FakeApi(clock)
    prober = probing.Prober(
        org_id=fakes.ORG, probes=(fakes.INTEGRATIONS,), api=api, clock=clock, concurrency=1, rate_limits=Noted()
    )  # type: ignore[arg-type]
    assert set((await prober.run()).records) == {"token", fakes.INTEGRATIONS.name}
    prober.reconfigure(probes=(fakes.DEPLOYMENTS, fakes.SETTINGS), concurrency=2)
    assert set((await prober.run()).records) == {"token", fakes.DEPLOYMENTS.name, fakes.SETTINGS.name}


class Identity:
    """The identity check answers as configured; every endpoint answers 200."""

    def __init__(self, box: tokenbox.TokenBox, info: dict[str, object] | Exception) -> None:
        self.box, self.gate, self.info, self.gets = box, gate.Gate(), info, 0

    async def tokens_me(self) -> models.TokenInfo:
        if isinstance(self.info, Exception):
            raise self.info
        return models.TokenInfo.model_validate(self.info)

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        self.gets += 1
        return remote_client.ApiReply(200, None, errors.Reply(method="GET", path=path, status=200))


TRUSTEE = "org-partner"
IP_REFUSED = errors.for_reply(
    fakes.reply(401, {"code": "ip.not.authorized", "message": "not authorized: [203.0.113.9]", "status": 401})
)


@pytest.mark.parametrize(
    ("home_org_id", "info", "outcome", "probed"),
    [
        pytest.param(None, {"organization": {"id": ORG}}, "ok", True, id="own-token"),
        pytest.param(
            None, {"organization": {"id": ORG}, "homeOrganization": {"id": ORG}}, "ok", True, id="own-token-home-named"
        ),
        pytest.param(
            None,
            {"organization": {"id": ORG}, "homeOrganization": {"id": TRUSTEE}},
            "wrong_org",
            False,
            id="trusted-user-not-accepted-without-trust",
        ),
        pytest.param(
            TRUSTEE,
            {"organization": {"id": ORG}, "homeOrganization": {"id": TRUSTEE}},
            "ok",
            True,
            id="trust-tenant-accepts-its-trustee",
        ),
        pytest.param(
            TRUSTEE,
            {"organization": {"id": TRUSTEE}, "homeOrganization": {"id": TRUSTEE}},
            "wrong_org",
            False,
            id="trust-tenant-signed-in-without-target",
        ),
        pytest.param(
            TRUSTEE,
            {"organization": {"id": ORG}, "homeOrganization": {"id": "org-other"}},
            "wrong_org",
            False,
            id="trust-tenant-another-trustee",
        ),
        pytest.param(None, IP_REFUSED, "ip_not_authorized", False, id="ip-refused-stops-the-pass"),
    ],
)
async def test_the_identity_check_accepts_exactly_the_tenants_pair(
    home_org_id: str | None, info: dict[str, object] | Exception, outcome: str, probed: bool
) -> None:
    clock = clock_mod.ManualClock()
    box = tokenbox.TokenBox(
        tenant="t", mint=mint, clock=clock, rng=random.Random(1), refresh=settings.RefreshSettings(), metrics=None
    )
    platform = Identity(box, info)
    prober = probing.Prober(
        org_id=ORG,
        probes=(catalog.BUILTIN[catalog.TOKEN], fakes.INTEGRATIONS),
        api=platform,  # type: ignore[arg-type]
        clock=clock,
        concurrency=1,
        rate_limits=NoRateLimits(),
        home_org_id=home_org_id,
    )
    found = await prober.run()
    assert found.verdicts[catalog.TOKEN].outcome == outcome
    assert (platform.gets == 1) is probed
    if isinstance(info, dict):
        home = info.get("homeOrganization")
        assert found.identity_home_org_id == (home["id"] if isinstance(home, dict) else None)
