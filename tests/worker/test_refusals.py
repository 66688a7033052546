"""refusals: what a reported refusal does, by outcome, through ``Access.report_refusal``.

Covers, as a table of the platform's answers (platform.md §4.2, §5): a 403 of each kind becomes
an observed probe, wakes the tenant's loop and is answered from its provisional diagnosis; a 429's
Retry-After raises the tenant's gate floor (without one nothing is held); a 401 naming the
current token drops it, naming another keeps it, naming none drops the current token only when
it went out and only once per interval; ``ip.not.authorized`` drops nothing; a 404 or 5xx is told
and nothing more. Also: a flood of one operation's reports wakes the loop once and is answered
from the tenant's finding; every report is counted by outcome, recorded in the status and logged
(warning for the refusals a diagnosis concerns), and its body is redacted before it is read. A
proxied report does the same, but is counted, shown and logged by the proxy instead.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from structlog.testing import capture_logs

from grantwarden.policy import labels, traffic
from grantwarden.worker import refusals
from grantwarden.worker import status as health
from tests.worker import accesses

SETTINGS = "/api/v2/conversations/messaging/settings"
MISSING = "You are missing the following permission(s): messaging:setting:view"


def report(status: int, body: dict[str, object] | str, *, method: str = "GET", path: str = SETTINGS,
           headers: dict[str, str] | None = None, sha256: str | None = None) -> traffic.Report:  # fmt: skip
    return traffic.Report(method, path, status, headers or {}, traffic.body_bytes(body), sha256)


@dataclasses.dataclass(frozen=True)
class Row:
    report: traffic.Report
    outcome: str
    action: refusals.Action
    wakes: bool = False


ROWS = [
    pytest.param(
        Row(report(403, {"code": "missing.permissions", "message": MISSING, "status": 403}), "missing_permission",
            refusals.Action.DIAGNOSING, wakes=True),
        id="missing-permission",
    ),
    pytest.param(
        Row(report(403, {"code": "missing.division.permission", "message": MISSING + " [div-1]", "status": 403}),
            "missing_division_permission", refusals.Action.DIAGNOSING, wakes=True),
        id="missing-division-permission",
    ),
    pytest.param(
        Row(report(403, {"code": "app.not.authorized.for.scope", "message": "scope [messaging]", "status": 403}),
            "missing_scope", refusals.Action.DIAGNOSING, wakes=True),
        id="missing-scope",
    ),
    pytest.param(
        Row(report(403, {"code": "authz.policy.denied", "status": 403}), "policy_denied", refusals.Action.DIAGNOSING,
            wakes=True),
        id="policy-denied",
    ),
    pytest.param(Row(report(403, "<html>nope</html>"), "forbidden", refusals.Action.DIAGNOSING, wakes=True),
                 id="forbidden"),
    pytest.param(
        Row(report(400, {"code": "not.a.client", "status": 400}, method="POST"), "wrong_grant_type",
            refusals.Action.DIAGNOSING, wakes=True),
        id="wrong-grant-type",
    ),
    pytest.param(
        Row(report(429, {"code": "too.many.requests.retry.after", "status": 429}, headers={"retry-after": "30"}),
            "rate_limited", refusals.Action.GATE_RAISED),
        id="rate-limited",
    ),
    pytest.param(Row(report(429, {"status": 429}), "rate_limited", refusals.Action.NOTED), id="rate-limited-no-header"),
    pytest.param(
        Row(report(401, {"code": "ip.not.authorized", "status": 401}), "ip_not_authorized", refusals.Action.NOTED),
        id="ip-not-authorized",
    ),
    pytest.param(Row(report(404, {"code": "not.found", "status": 404}), "unexpected_status", refusals.Action.NOTED),
                 id="not-found"),
    pytest.param(Row(report(503, "<html><title>503</title></html>"), "server_error", refusals.Action.NOTED),
                 id="server-error"),
]  # fmt: skip


@pytest.mark.parametrize("proxied", [False, True], ids=["handoff", "proxy"])
@pytest.mark.parametrize("row", ROWS)
async def test_a_reported_refusal_does_what_its_outcome_calls_for(row: Row, proxied: bool) -> None:
    """The same table for a hand-off report and a proxied one; the proxy counts, shows and logs
    its own refusals (design.md §2.9), so its report adds no series, record or line here."""
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    before = made.gate.not_before
    with capture_logs() as logs:
        answer = made.access.report_refusal(dataclasses.replace(row.report, proxied=proxied))
    assert (answer.outcome, answer.action) == (row.outcome, row.action)
    assert answer.finding
    assert answer.fix
    assert made.access.wake.is_set() is row.wakes
    assert (made.access.observed.get(answer.operation) is not None) is row.wakes
    raised = made.gate.not_before > before
    assert raised is (row.action is refusals.Action.GATE_RAISED)
    if raised:
        assert made.gate.not_before == made.clock.now() + 30
    samples = made.metrics.registry.get_sample_value(
        "grantwarden_refusals_reported_total", {"tenant": "acme", "outcome": row.outcome}
    )
    assert made.status.handoff is not None
    if proxied:
        assert (samples, made.status.handoff.refusal) == (None, None)
        assert [e for e in logs if e["event"] == "refusal_reported"] == []
        return
    assert samples == 1.0
    record = made.status.handoff.refusal
    assert record is not None
    assert (record.operation, record.outcome, record.http_status) == (answer.operation, row.outcome, row.report.status)
    (line,) = [e for e in logs if e["event"] == "refusal_reported"]
    assert line["log_level"] == ("warning" if row.wakes else "info")
    assert (line["tenant"], line["operation"], line["action"]) == ("acme", answer.operation, str(row.action))


async def test_a_403_is_answered_with_the_missing_permission_and_who_gives_it() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    answer = made.access.report_refusal(report(403, {"code": "missing.permissions", "message": MISSING}))
    assert answer.as_json() == {
        "outcome": "missing_permission",
        "finding": "Probe 'traffic:get-conversations-messaging-settings': OAuth client client-1 in org org-1 lacks "
        "messaging:setting:view.",
        "fix": answer.fix,
        "operation": "traffic:get-conversations-messaging-settings",
        "action": "diagnosing",
    }
    assert "messaging:setting:view" in answer.fix


async def test_a_flood_of_one_operation_wakes_the_loop_once_and_is_answered_from_the_finding() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    body = {"code": "missing.permissions", "message": MISSING}
    first = made.access.report_refusal(report(403, body))
    made.access.wake.clear()
    made.status.findings = (
        health.FindingRecord(
            first.operation, "missing_permission", (), True, "known summary", "grantwarden will add X."
        ),
    )
    answers = [made.access.report_refusal(report(403, body)) for _ in range(200)]
    assert not made.access.wake.is_set()
    assert {(a.action, a.finding, a.fix) for a in answers} == {
        (refusals.Action.KNOWN, "known summary", "grantwarden will add X.")
    }
    await made.clock.advance(60)
    assert made.access.report_refusal(report(403, body)).action is refusals.Action.DIAGNOSING
    assert made.access.wake.is_set()


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        pytest.param("current", True, id="naming-the-current-token"),
        pytest.param("other", False, id="naming-an-older-token"),
        pytest.param(None, True, id="naming-none"),
    ],
)
async def test_a_401_drops_the_current_token_only_when_it_was_the_one_refused(name: str | None, dropped: bool) -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    current = (await made.access.token()).token.value
    sha = {"current": traffic.digest(current), "other": traffic.digest("older"), None: None}[name]
    answer = made.access.report_refusal(report(401, {"code": "bad.credentials", "status": 401}, sha256=sha))
    assert answer.action is (refusals.Action.TOKEN_DROPPED if dropped else refusals.Action.TOKEN_KEPT)
    assert (made.box.token is None) is dropped
    assert answer.outcome == "unauthorized"


async def test_a_401_naming_no_token_drops_only_a_token_that_went_out_once_per_interval() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    await made.access.token()
    refused = report(401, {"code": "bad.credentials", "status": 401})
    assert made.access.report_refusal(refused).action is refusals.Action.TOKEN_DROPPED
    await made.box.get()  # the refresher mints the replacement; it has not gone out yet
    assert made.access.report_refusal(refused).action is refusals.Action.TOKEN_KEPT
    await made.access.token()  # now it has
    assert made.access.report_refusal(refused).action is refusals.Action.TOKEN_KEPT, "once per probe interval"
    await made.clock.advance(60)
    assert made.access.report_refusal(refused).action is refusals.Action.TOKEN_DROPPED


async def test_a_reported_body_is_redacted_before_it_is_read() -> None:
    made = accesses.setup()
    accesses.learn(made, accesses.passed())
    token = (await made.access.token()).token.value
    body = {"code": "not.authorized", "message": f"token {token} refused", "status": 403}
    with capture_logs() as logs:
        answer = made.access.report_refusal(report(403, body))
    assert token not in json.dumps(answer.as_json())
    assert token not in str(logs)


def test_a_path_off_the_api_host_is_refused() -> None:
    made = accesses.setup()
    with pytest.raises(ValueError, match="/api/v2/"):
        made.access.report_refusal(report(403, {}, path="https://evil.example/api/v2/x"))
    assert labels.Outcome.FORBIDDEN not in (made.metrics.tenant("acme").refusals or {})
