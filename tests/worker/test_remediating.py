"""remediating: one re-grant against the in-memory tenant API, each platform answer a table row.

Covers: the PUT body is the fresh GET's client, everything kept, with only the planned entries
appended (roles and scopes alike); a client that already has them is not written; a 409 re-reads
once and keeps what a person changed meanwhile; a 429 retries once; a second 409 or 429 gives up
(failed); 400 ``bad.client.role`` is a refusal, never retried; a 5xx fails without a retry; only
the tenant's own OAuth client is touched; the audit line names the client, before and after; a
PUT the admin identity could not make (it lacks a role the client holds or is given) is not sent,
and the refusal names the missing roles and both clients.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.policy.planning import RoleDivision, RolePlan, ScopePlan
from grantwarden.worker import remediating
from tests.worker import fakes

PLAN = RolePlan(
    add=(RoleDivision(str(fakes.VIEWER["id"]), fakes.HOME),),
    role_names=("Messaging Viewer",),
    covers=frozenset({"messaging:integration:view"}),
    division_id=fakes.HOME,
)
ADDED = {"roleId": "r-mv", "divisionId": fakes.HOME}
Result = labels.RegrantResult


def a_person_adds_a_role(admin: fakes.FakeApi) -> Any:
    """The 409's cause: someone edited the client between our GET and PUT."""

    def edit() -> None:
        admin.clients[fakes.CLIENT]["roleDivisions"].append({"roleId": "r-person", "divisionId": fakes.HOME})
        raise fakes.conflict()

    return edit


@pytest.mark.parametrize(
    ("answers", "result", "gets", "puts"),
    [
        pytest.param([], Result.APPLIED, 1, 1, id="ok-one-get-one-put"),
        pytest.param([fakes.conflict()], Result.APPLIED, 2, 2, id="409-re-reads-once"),
        pytest.param([fakes.conflict(), fakes.conflict()], Result.FAILED, 2, 2, id="second-409-gives-up"),
        pytest.param([fakes.rate_limited()], Result.APPLIED, 2, 2, id="429-retries-once"),
        pytest.param([fakes.rate_limited(), fakes.rate_limited()], Result.FAILED, 2, 2, id="second-429-gives-up"),
        pytest.param([fakes.bad_client_role()], Result.REFUSED, 1, 1, id="400-bad-client-role-refused"),
        pytest.param([fakes.server_error()], Result.FAILED, 1, 1, id="5xx-fails-without-retry"),
    ],
)
async def test_each_platform_answer_to_the_put(
    answers: list[Exception], result: labels.RegrantResult, gets: int, puts: int
) -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    admin.then("put_oauth_client", *answers)
    outcome = await remediating.Executor(admin=admin, client_id=fakes.CLIENT).add_roles(PLAN)  # type: ignore[arg-type]
    assert outcome.result is result
    assert (len(admin.called("get_oauth_client")), len(admin.called("put_oauth_client"))) == (gets, puts)
    assert {call[1] for call in admin.calls if call[0] in ("get_oauth_client", "put_oauth_client")} == {fakes.CLIENT}
    assert outcome.added == ("Messaging Viewer in division home-div",)
    stored = admin.clients[fakes.CLIENT]["roleDivisions"]
    assert (ADDED in stored) is (result is Result.APPLIED), "a change is made only when the result says so"


async def test_the_put_body_keeps_everything_and_only_appends() -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    before = copy.deepcopy(admin.clients[fakes.CLIENT])
    with capture_logs() as logs:
        outcome = await remediating.Executor(admin=admin, client_id=fakes.CLIENT).add_roles(PLAN)  # type: ignore[arg-type]
    ((_, _, body),) = admin.called("put_oauth_client")
    assert body == {**before, "roleDivisions": [*before["roleDivisions"], ADDED]}
    assert (outcome.result, outcome.correlation_id, outcome.changed) == (Result.APPLIED, "c-1", True)
    (audit,) = [e for e in logs if e["event"] == "regrant_applied"]
    assert (audit["client_id"], audit["before"], audit["after"]) == (
        fakes.CLIENT,
        before["roleDivisions"],
        [*before["roleDivisions"], ADDED],
    )


async def test_a_409_re_reads_and_keeps_what_a_person_changed_meanwhile() -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    admin.held.append({"roleId": "r-person", "divisionId": fakes.HOME})  # an editor holds every role it sends
    admin.then("put_oauth_client", a_person_adds_a_role(admin))
    outcome = await remediating.Executor(admin=admin, client_id=fakes.CLIENT).add_roles(PLAN)  # type: ignore[arg-type]
    assert outcome.result is Result.APPLIED
    assert admin.clients[fakes.CLIENT]["roleDivisions"] == [
        {"roleId": "r-other", "divisionId": fakes.HOME},
        {"roleId": "r-person", "divisionId": fakes.HOME},
        ADDED,
    ]


async def test_a_client_that_already_has_the_plan_is_not_written() -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    admin.clients[fakes.CLIENT]["roleDivisions"].append(ADDED)
    outcome = await remediating.Executor(admin=admin, client_id=fakes.CLIENT).add_roles(PLAN)  # type: ignore[arg-type]
    assert (outcome.result, outcome.changed) == (Result.APPLIED, False)
    assert admin.called("put_oauth_client") == []


async def test_a_scope_plan_appends_the_scope_and_keeps_the_rest() -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    admin.clients[fakes.CLIENT]["scope"] = ["messaging:readonly"]
    executor = remediating.Executor(admin=admin, client_id=fakes.CLIENT)  # type: ignore[arg-type]
    outcome = await executor.add_scopes(ScopePlan(add=("webdeployments:readonly",)))
    assert (outcome.result, outcome.added) == (Result.APPLIED, ("scope webdeployments:readonly",))
    stored = admin.clients[fakes.CLIENT]
    assert stored["scope"] == ["messaging:readonly", "webdeployments:readonly"]
    assert stored["roleDivisions"] == [{"roleId": "r-other", "divisionId": fakes.HOME}]


@pytest.mark.parametrize(
    ("held", "lacking"),
    [
        pytest.param([{"roleId": "r-other", "divisionId": "*"}], ("Messaging Viewer",), id="lacks-the-added-role"),
        pytest.param([{"roleId": "r-mv", "divisionId": "*"}], ("Other Role",), id="lacks-a-role-the-client-holds"),
    ],
)
async def test_a_put_the_admin_identity_could_not_make_is_never_sent(
    held: list[dict[str, str]], lacking: tuple[str, ...]
) -> None:
    admin = fakes.FakeApi(clock_mod.ManualClock(), client_id=fakes.ADMIN_CLIENT)
    admin.held = held
    admin.roles = [*admin.roles, {"id": "r-other", "name": "Other Role"}]
    executor = remediating.Executor(admin=admin, client_id=fakes.CLIENT, admin_client_id=fakes.ADMIN_CLIENT)  # type: ignore[arg-type]
    with capture_logs() as logs:
        outcome = await executor.add_roles(PLAN)
    assert admin.called("put_oauth_client") == [], "nothing the platform would refuse is sent"
    assert (outcome.result, outcome.changed, outcome.lacking) == (Result.REFUSED, False, lacking)
    assert f"OAuth client {fakes.ADMIN_CLIENT} (grantwarden's admin identity) does not hold" in outcome.detail
    assert f"which OAuth client {fakes.CLIENT} holds or would be given" in outcome.detail
    assert repr(lacking[0]) in outcome.detail
    (refused,) = [e for e in logs if e["event"] == "regrant_refused"]
    assert refused["reason"] == "admin_lacks_role"
