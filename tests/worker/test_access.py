"""access: a tenant's token goes to the integration only for its own org, once its identity is shown.

Covers: no token before an identity check passed (``identity_not_verified``, when to ask again);
a token after it, with its org, region and API host, registered with the redactor and recorded;
never while the last identity check says another org (``wrong_org`` with the fix from the
findings), whatever the box holds, again after a correct check; a transient identity failure
keeps a shown identity; a user grant stored anew (a new lineage) must be shown again, and a
pass that began before it does not count; a restarted worker of a client-credentials tenant keeps
its shown identity, a user grant's does not; ``min_valid`` refreshes once for concurrent callers
and never more often than half a lifetime asks; invalidate of the current token (by value or
SHA-256) drops it and mints once for concurrent callers, of an older token mints nothing, of the
replacement again backs off; no usable token says why and when; a closed access hands out nothing.
In-path mode: ``current`` gives the proxy the same token under the same rules without recording
a hand-out (and a 401 report naming no token then drops nothing), with no hand-off configured the
status shows no hand-off block, and a stopping worker is ``not_running``, never a crash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json

import pytest
from structlog.testing import capture_logs

from grantwarden.policy import labels, traffic
from grantwarden.remote import gate
from grantwarden.worker import status as health
from grantwarden.worker import statusjson
from tests.worker import accesses, fakes


async def test_no_token_goes_out_before_an_identity_check_passed() -> None:
    made = accesses.setup()
    made.status.next_cycle_at = made.clock.now() + 42
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.token()
    assert (refused.value.error, refused.value.outcome) == ("identity_not_verified", "pending")
    assert refused.value.retry_at == made.clock.now() + 42
    assert "GET /api/v2/tokens/me" in refused.value.fix
    assert made.mints == [], "nothing is minted for a token that may not go out"


async def test_after_an_identity_check_the_token_goes_out_with_where_it_acts() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    handout = await made.access.token()
    body = handout.as_json(made.clock.now())
    assert body == {
        "tenant": "acme",
        "org_id": fakes.ORG,
        "region": None,
        "api_base_url": accesses.API,
        "access_token": made.mints[0],
        "token_type": "bearer",
        "expires_at": statusjson.iso(made.clock.now() + made.lifetime),
        "expires_in": made.lifetime,
    }
    assert made.mints[0] in made.redactor, "every token handed out is redacted from logs"
    assert made.status.handoff is not None
    assert made.status.handoff.handed_out_at == made.clock.now()
    assert made.mints[0] not in repr(handout)


@pytest.mark.parametrize("minted", [True, False], ids=["token-in-hand", "none-yet"])
async def test_a_tenant_whose_identity_check_names_another_org_never_gets_a_token(minted: bool) -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    if minted:
        await made.access.token()
    made.status.findings = (
        health.FindingRecord("token", "wrong_org", (), False, "acts in another org", "Use org org-1's own client."),
    )
    accesses.learn(made, accesses.wrong_org())
    for _ in range(3):
        with pytest.raises(traffic.NotReadyError) as refused:
            await made.access.token()
        assert (refused.value.error, refused.value.outcome) == ("wrong_org", "wrong_org")
        assert refused.value.fix == "Use org org-1's own client."
        with pytest.raises(traffic.NotReadyError):
            await made.access.invalidate("anything")
    assert made.access.shareable() is None, "no file either"
    accesses.learn(made, accesses.passed())
    assert (await made.access.token()).org_id == fakes.ORG, "the org is its own again: the token goes out"


async def test_a_status_that_knew_another_org_refuses_from_the_first_request() -> None:
    status = health.TenantStatus("acme", fakes.ORG, fakes.CLIENT, labels.GrantType.CLIENT_CREDENTIALS)
    status.identity_org_id = accesses.OTHER_ORG
    made = accesses.setup(status=status)
    with pytest.raises(traffic.NotReadyError, match="wrong_org"):
        await made.access.token()


async def test_a_transient_identity_failure_keeps_the_identity_shown() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    accesses.learn(made, accesses.failed(labels.Outcome.TIMEOUT))
    assert (await made.access.token()).org_id == fakes.ORG


async def test_a_failed_first_check_says_what_failed_with_the_tenants_fix() -> None:
    made = accesses.setup()
    made.status.findings = (health.FindingRecord("token", "unauthorized", (), False, "s", "Check the secret."),)
    accesses.learn(made, accesses.failed(labels.Outcome.UNAUTHORIZED))
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.token()
    assert (refused.value.error, refused.value.outcome, refused.value.fix) == (
        "identity_not_verified",
        "unauthorized",
        "Check the secret.",
    )


async def test_a_newly_stored_user_grant_must_show_its_identity_again() -> None:
    made = accesses.setup(tenant=accesses.tenant_settings(grant=labels.GrantType.AUTHORIZATION_CODE))
    accesses.learn(made, accesses.passed())
    await made.access.token()
    made.lineage[0] += 1  # a person signed in again: maybe into another org
    with pytest.raises(traffic.NotReadyError, match="identity_not_verified"):
        await made.access.token()
    mark = made.access.before_pass()
    made.lineage[0] += 1  # and again while the next check ran: that check proves nothing
    made.access.after_pass(accesses.passed(), mark)
    with pytest.raises(traffic.NotReadyError, match="identity_not_verified"):
        await made.access.token()
    accesses.learn(made, accesses.passed())
    assert (await made.access.token()).org_id == fakes.ORG


@pytest.mark.parametrize(
    ("grant", "goes_out"),
    [
        pytest.param(labels.GrantType.CLIENT_CREDENTIALS, True, id="client-keeps-its-org"),
        pytest.param(labels.GrantType.AUTHORIZATION_CODE, False, id="user-grant-proves-again"),
    ],
)
async def test_a_restarted_worker_keeps_a_clients_shown_identity_only(grant: labels.GrantType, goes_out: bool) -> None:
    first = accesses.setup(tenant=accesses.tenant_settings(grant=grant))
    accesses.learn(first, accesses.passed())
    restarted = accesses.setup(tenant=first.tenant, status=first.status)  # a new worker, the unit's status
    if goes_out:
        assert (await restarted.access.token()).org_id == fakes.ORG
    else:
        with pytest.raises(traffic.NotReadyError, match="identity_not_verified"):
            await restarted.access.token()


async def test_min_valid_refreshes_once_for_concurrent_callers() -> None:
    made = accesses.setup(lifetime=600)
    accesses.learn(made, accesses.passed())
    first = await made.access.token()
    await made.clock.advance(400)  # 200 s left, 170 usable
    handouts = await asyncio.gather(*(made.access.token(min_valid_s=240) for _ in range(5)))
    assert {h.token.value for h in handouts} == {made.mints[1]}
    assert len(made.mints) == 2, "one refresh for five callers"
    assert first.token.value == made.mints[0]


async def test_min_valid_beyond_half_a_lifetime_does_not_mint_at_every_request() -> None:
    made = accesses.setup(lifetime=600)
    accesses.learn(made, accesses.passed())
    for _ in range(10):
        await made.access.token(min_valid_s=86_400)
    assert len(made.mints) == 1


@pytest.mark.parametrize("by_digest", [False, True], ids=["by-value", "by-sha256"])
async def test_invalidating_the_current_token_drops_it_and_mints_once(by_digest: bool) -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    current = (await made.access.token()).token.value
    presented = hashlib.sha256(current.encode()).hexdigest().upper() if by_digest else current
    with capture_logs() as logs:
        handouts = await asyncio.gather(*(made.access.invalidate(presented) for _ in range(4)))
    assert {h.token.value for h in handouts} == {made.mints[1]}
    assert len(made.mints) == 2, "the first invalidation mints; the others get the new token"
    (line,) = [e for e in logs if e["event"] == "token_invalidated_by_client"]
    assert (line["tenant"], line["backing_off"]) == ("acme", False)
    assert current not in str(logs)


async def test_invalidating_an_older_token_mints_nothing() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    old = (await made.access.token()).token.value
    await made.access.invalidate(old)
    new = made.mints[1]
    for presented in (old, hashlib.sha256(old.encode()).hexdigest(), "never-issued"):
        assert (await made.access.invalidate(presented)).token.value == new
    assert len(made.mints) == 2


async def test_a_replacement_refused_again_makes_the_box_back_off() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    await made.access.invalidate((await made.access.token()).token.value)
    with capture_logs() as logs, pytest.raises(traffic.NotReadyError) as refused:
        await made.access.invalidate(made.mints[1])
    assert refused.value.error == "backing_off"
    assert refused.value.retry_at is not None
    assert refused.value.retry_at > made.clock.now()
    assert len(made.mints) == 2, "no mint during the backoff"
    assert [e["backing_off"] for e in logs if e["event"] == "token_invalidated_by_client"] == [True]
    await made.clock.advance(refused.value.retry_at - made.clock.now())
    assert (await made.access.token()).token.value == made.mints[2]


async def test_an_identity_check_accepting_the_replacement_ends_the_suspicion() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    await made.access.invalidate((await made.access.token()).token.value)
    accesses.learn(made, accesses.passed())  # the platform took the new token
    await made.access.invalidate(made.mints[1])
    assert len(made.mints) == 3, "an ordinary drop and mint, no backoff"


async def test_without_a_usable_token_the_answer_says_why_and_when() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())

    async def broken() -> None:
        raise fakes.server_error()

    made.box._mint = broken  # type: ignore[assignment]  # the token endpoint fails from now on
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.token()
    assert (refused.value.error, refused.value.outcome) == ("backing_off", "server_error"), "an outage, not the client"
    assert refused.value.retry_at is not None


async def test_a_closed_access_hands_nothing_out_and_tells_the_file_sink() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    await made.access.token()
    made.changes.clear()
    made.access.close()
    assert made.changes == ["acme"]
    assert made.access.shareable() is None
    with pytest.raises(traffic.NotReadyError):
        await made.access.token()


async def test_every_token_change_and_identity_change_tells_the_file_sink() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    assert made.changes == ["acme"], "identity shown"
    await made.access.token()
    assert made.changes == ["acme", "acme"], "a token minted"
    accesses.learn(made, accesses.passed())
    assert len(made.changes) == 2, "nothing changed"
    accesses.learn(made, accesses.wrong_org())
    assert len(made.changes) == 3


async def test_the_answer_body_is_the_json_of_the_handout_encoded_once_per_token() -> None:
    made = accesses.setup()
    made.tenant = made.tenant.model_copy(update={"api_base_url": "https://api.example.test/<&>"})
    made.access.tenant = made.tenant
    accesses.learn(made, accesses.passed())
    first = await made.access.token()
    await made.clock.advance(61)
    again = await made.access.token()
    assert again.prefix is first.prefix, "encoded once for the token"
    body = again.body(made.clock.now())
    assert json.loads(body) == again.as_json(made.clock.now())
    assert json.loads(body)["expires_in"] == made.lifetime - 61
    assert b"<" not in body
    assert b"&" not in body, "escaped as the operator listener escapes"
    plain = dataclasses.replace(again, prefix=b"")
    assert plain.body(made.clock.now()) == body


async def test_the_proxys_token_is_the_same_under_the_same_rules_but_never_recorded_as_handed_out() -> None:
    made = accesses.setup(handoff=False)
    assert made.status.handoff is None, "in-path mode alone: no hand-off block in /status"
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.current(30)
    assert refused.value.error == "identity_not_verified"
    assert made.mints == []
    accesses.learn(made, accesses.passed())
    token = await made.access.current(30)
    assert token.value == made.mints[0]
    assert (await made.access.current(30)) is token, "no mint while it lasts"
    blind = traffic.Report("GET", "/api/v2/users/me", 401, {}, b'{"code": "bad.credentials"}')
    assert made.access.report_refusal(blind).action == "token_kept", "it never went out to anyone"
    assert made.box.token is token
    accesses.learn(made, accesses.wrong_org())
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.current(30)
    assert refused.value.error == "wrong_org"


async def test_a_stopping_worker_is_not_running_rather_than_a_failure() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())

    async def stopped() -> None:
        raise gate.StoppedError("the tenant is stopping; the request was not sent")

    made.box._mint = stopped  # type: ignore[assignment]  # the mint meets the tenant's stop at its gate
    with pytest.raises(traffic.NotReadyError) as refused:
        await made.access.current()
    assert (refused.value.error, refused.value.outcome) == ("not_running", "pending")
    assert "stopping" in refused.value.fix
