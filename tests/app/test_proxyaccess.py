"""TokenBoxAccess: the in-path proxy's Access over a tenant worker's token box and gate.

Covers: no token before the identity check passed, none for a wrong-org tenant (and the box is
never asked); once verified, the worker's current token, minted only when it would not last;
``invalidate`` drops only the token the box still holds; a token that cannot be had is
``UnavailableError`` with the worker's own token finding when there is one, else an outcome from
its cause; a stopping tenant is unavailable, not a crash; the floor is the worker's gate.
"""

from __future__ import annotations

import dataclasses

import pytest

from grantwarden.app import proxyaccess
from grantwarden.base.clock import ManualClock
from grantwarden.policy import catalog, labels
from grantwarden.remote import errors, gate
from grantwarden.surface import proxy
from grantwarden.worker import status as health
from grantwarden.worker import tokenbox
from tests.surface import proxykit
from tests.worker import fakes

ORG = proxykit.ORG


@dataclasses.dataclass
class WorkerApi:
    """The two things of ``TenantApi`` the adapter uses."""

    box: tokenbox.TokenBox
    gate: gate.Gate


def rig(
    clock: ManualClock, *, identity_org_id: str | None = ORG
) -> tuple[proxyaccess.TokenBoxAccess, WorkerApi, health.TenantStatus]:
    tenant = proxykit.tenant_config("http://platform.invalid")
    status = proxykit.verified_status(tenant)
    status.identity_org_id = identity_org_id
    api = WorkerApi(fakes.token_box(clock, lifetime=3600, tenant="acme-eu"), gate.Gate())
    return proxyaccess.TokenBoxAccess(api=api, status=status, tenant=tenant), api, status  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("identity_org_id", "outcome"),
    [pytest.param(None, "identity_unverified", id="not-yet"), pytest.param("other-org", "wrong_org", id="other-org")],
)
async def test_no_token_before_the_identity_check_passed(identity_org_id: str | None, outcome: str) -> None:
    access, api, _ = rig(ManualClock(), identity_org_id=identity_org_id)
    with pytest.raises(proxy.UnavailableError) as caught:
        await access.token(30)
    assert caught.value.outcome == outcome
    assert api.box.token is None, "nothing minted for it"


async def test_the_workers_token_minted_only_when_it_would_not_last() -> None:
    clock = ManualClock()
    access, api, _ = rig(clock)
    first = await access.token(30)
    assert await access.token(30) == first
    await clock.advance(3600 - 60)  # 60 s left, under the 30 s margin plus the 30 s asked for
    assert await access.token(30) != first
    assert access.gate is api.gate


async def test_invalidate_drops_only_the_token_the_box_still_holds() -> None:
    access, api, _ = rig(ManualClock())
    first = await access.token(0)
    access.invalidate("some-older-token")
    assert api.box.token is not None
    access.invalidate(first)
    assert api.box.token is None
    assert await access.token(0) != first


async def test_a_token_that_cannot_be_had_carries_the_workers_finding() -> None:
    access, api, status = rig(ManualClock())

    async def failing() -> None:
        raise errors.Timeout("POST /oauth/token — no response within 10 s")

    api.box._mint = failing  # type: ignore[assignment]  # the credential's mint fails from now on
    with pytest.raises(proxy.UnavailableError) as caught:
        await access.token(0)
    assert caught.value.outcome == labels.Outcome.TIMEOUT
    status.findings = (
        health.FindingRecord(
            catalog.TOKEN, "unauthorized", (), False, "refused", "Check the client secret of acme-eu."
        ),
    )
    api.box.retry_at = None
    with pytest.raises(proxy.UnavailableError) as caught:
        await access.token(0)
    assert (caught.value.outcome, caught.value.fix) == ("unauthorized", "Check the client secret of acme-eu.")


async def test_a_stopping_tenant_is_unavailable() -> None:
    access, api, _ = rig(ManualClock())
    api.box._mint = _stopped  # type: ignore[assignment]  # the mint meets the tenant's stop at its gate
    with pytest.raises(proxy.UnavailableError) as caught:
        await access.token(0)
    assert caught.value.outcome == "unavailable"


async def _stopped() -> None:
    raise gate.StoppedError("the tenant is stopping; the request was not sent")
