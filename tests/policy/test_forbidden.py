"""forbidden: every reply, or the lack of one, becomes exactly one Verdict.

Covers: every code of platform.md §4.2 (401, 403 generic set, 400 grant-type mismatch, 429), the
observed division-message variants, parsing from messageParams, Retry-After from the header or
the message, 5xx and HTML pages, timeouts, connection errors, malformed 2xx bodies, empty and
non-JSON bodies, unknown codes; ``refine_licensed`` for ALL and ANY; never raising.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantwarden.policy import errorbody, forbidden
from grantwarden.policy.forbidden import Failure, Verdict
from grantwarden.policy.labels import Outcome
from grantwarden.policy.permissions import Requirement

DIV = "dbdb51ee-7e1c-4a42-9d5e-2f3b0a1c9e77"
OTHER_DIV = "0a1b2c3d-0000-4000-8000-123456789abc"
UNABLE = "Unable to perform the requested action."


def body(code: str, message: str, status: int, **extra: object) -> bytes:
    return json.dumps({"message": message, "code": code, "status": status, "contextId": "ctx-1", **extra}).encode()


ROWS = [
    # 2xx
    pytest.param(200, b'{"id": "x"}', None, None, {"outcome": Outcome.OK}, id="200-ok"),
    pytest.param(204, b"", None, None, {"outcome": Outcome.OK}, id="204-empty-ok"),
    pytest.param(200, b"<html>", None, Failure.MALFORMED, {"outcome": Outcome.UNEXPECTED_STATUS}, id="200-malformed"),
    # 401 (platform.md §4.2)
    pytest.param(
        401,
        body("bad.credentials", "Invalid login credentials.", 401),
        None,
        None,
        {"outcome": Outcome.UNAUTHORIZED, "code": "bad.credentials", "context_id": "ctx-1"},
        id="401-bad-credentials",
    ),
    pytest.param(
        401,
        body("authentication.required", "No authentication bearer token specified in authorization header.", 401),
        None,
        None,
        {"outcome": Outcome.UNAUTHORIZED, "code": "authentication.required"},
        id="401-authentication-required",
    ),
    pytest.param(
        401,
        body("ip.not.authorized", "Requests originating from this IP address are not authorized: [10.0.0.1]", 401),
        None,
        None,
        {"outcome": Outcome.IP_NOT_AUTHORIZED, "code": "ip.not.authorized"},
        id="401-ip-not-authorized",
    ),
    pytest.param(401, b"", None, None, {"outcome": Outcome.UNAUTHORIZED, "code": None}, id="401-empty-body"),
    # 403 generic set (platform.md §4.2)
    pytest.param(
        403,
        body(
            "missing.permissions",
            f"{UNABLE} You are missing the following permission(s): [messaging:integration:view, "
            "webDeployments:deployment:view]",
            403,
        ),
        None,
        None,
        {
            "outcome": Outcome.MISSING_PERMISSION,
            "permissions": ("messaging:integration:view", "webDeployments:deployment:view"),
            "requirement": Requirement.ALL,
            "divisions": (),
        },
        id="403-missing-permissions-all",
    ),
    pytest.param(
        403,
        body(
            "missing.any.permissions",
            f"{UNABLE} You must have at least one of the following permissions assigned: "
            "[processautomation:trigger:edit, processautomation:trigger:view] (39e6254f-aaaa)",
            403,
        ),
        None,
        None,
        {
            "outcome": Outcome.MISSING_PERMISSION,
            "permissions": ("processautomation:trigger:edit", "processautomation:trigger:view"),
            "requirement": Requirement.ANY,
        },
        id="403-missing-any-permissions",
    ),
    pytest.param(
        403,
        body(
            "missing.permissions",
            f"{UNABLE} You are missing the following permission(s): %s",
            403,
            messageParams={"0": "[messaging:setting:view]"},
        ),
        None,
        None,
        {"outcome": Outcome.MISSING_PERMISSION, "permissions": ("messaging:setting:view",)},
        id="403-missing-permissions-from-message-params",
    ),
    pytest.param(
        403,
        body("missing.permissions", f"{UNABLE} You are missing the following permission(s): routing:queue:view.", 403),
        None,
        None,
        {"outcome": Outcome.MISSING_PERMISSION, "permissions": ("routing:queue:view",)},
        id="403-missing-permissions-without-brackets",
    ),
    pytest.param(
        403,
        body(
            "missing.division.permission",
            f"{UNABLE} You are missing the following permission 'routing:queue:view' in the provided division(s).",
            403,
        ),
        None,
        None,
        {
            "outcome": Outcome.MISSING_DIVISION_PERMISSION,
            "permissions": ("routing:queue:view",),
            "divisions": (),
            "requirement": Requirement.ALL,
        },
        id="403-missing-division-permission",
    ),
    pytest.param(
        403,
        body(
            "missing.division.permission",
            f"{UNABLE} You are missing the following permission '[telephony:extensionPool:edit:{DIV}]' "
            "in the provided division(s).",
            403,
        ),
        None,
        None,
        {
            "outcome": Outcome.MISSING_DIVISION_PERMISSION,
            "permissions": ("telephony:extensionPool:edit",),
            "divisions": (DIV,),
        },
        id="403-division-glued-to-permission",
    ),
    pytest.param(
        403,
        body(
            "missing.any.division.permissions",
            f"{UNABLE} You must have at least one of the following permissions assigned: [routing:queue:view] "
            f"in at least one of the following division(s): [{DIV}, {OTHER_DIV}]",
            403,
        ),
        None,
        None,
        {
            "outcome": Outcome.MISSING_DIVISION_PERMISSION,
            "permissions": ("routing:queue:view",),
            "divisions": (DIV, OTHER_DIV),
            "requirement": Requirement.ANY,
        },
        id="403-missing-any-division-permissions",
    ),
    pytest.param(
        403,
        body(
            "missing.any.division.permissions",
            f"{UNABLE} You must have at least one of the following permissions assigned: [] "
            f"in at least one of the following division(s): [{DIV}]",
            403,
        ),
        None,
        None,
        {"outcome": Outcome.MISSING_DIVISION_PERMISSION, "permissions": (), "divisions": (DIV,)},
        id="403-division-with-empty-permission-list",
    ),
    pytest.param(
        403,
        body("app.not.authorized.for.scope", "App not authorized to use scope [telephony:readonly, telephony]", 403),
        None,
        None,
        {
            "outcome": Outcome.MISSING_SCOPE,
            "scopes": ("telephony:readonly", "telephony"),
            "requirement": Requirement.ANY,
            "permissions": (),
        },
        id="403-app-not-authorized-for-scope",
    ),
    pytest.param(
        403,
        body("app.not.authorized.for.scope", "App not authorized to use scope messaging:readonly", 403),
        None,
        None,
        {"outcome": Outcome.MISSING_SCOPE, "scopes": ("messaging:readonly",)},
        id="403-scope-without-brackets",
    ),
    pytest.param(
        403,
        body(
            "authz.policy.denied",
            f"{UNABLE} Your organization's security policies have denied access. Policy ID(s): [{DIV}]",
            403,
        ),
        None,
        None,
        {"outcome": Outcome.POLICY_DENIED, "divisions": ()},
        id="403-authz-policy-denied",
    ),
    pytest.param(
        403,
        body("not.authorized", "You are not authorized to perform the requested action.", 403),
        None,
        None,
        {"outcome": Outcome.FORBIDDEN, "code": "not.authorized"},
        id="403-not-authorized",
    ),
    pytest.param(
        403,
        body("feature.forbidden", "This feature is not enabled.", 403),
        None,
        None,
        {"outcome": Outcome.FORBIDDEN, "code": "feature.forbidden"},
        id="403-domain-specific-code",
    ),
    pytest.param(
        403,
        body("trustee.forbidden", "Missing [authorization:orgTrustor:view]", 403),
        None,
        None,
        {"outcome": Outcome.FORBIDDEN, "permissions": ("authorization:orgTrustor:view",)},
        id="403-unknown-code-still-names-permissions",
    ),
    pytest.param(
        403,
        body("missing.trustor.permissions", "Missing required permission(s)", 403),
        None,
        None,
        {"outcome": Outcome.MISSING_TRUSTOR_PERMISSION, "permissions": (), "requirement": Requirement.ALL},
        id="403-missing-trustor-permissions",
    ),
    pytest.param(
        403,
        b"<html><title>403 Forbidden</title></html>",
        None,
        None,
        {"outcome": Outcome.FORBIDDEN, "message": "403 Forbidden"},
        id="403-html-body",
    ),
    pytest.param(403, b"", None, None, {"outcome": Outcome.FORBIDDEN, "code": None}, id="403-empty-body"),
    # 400 (platform.md §4.2: grant-type mismatch is 400, not 403)
    pytest.param(
        400,
        body("not.a.user", "This request requires a user context.", 400),
        None,
        None,
        {"outcome": Outcome.WRONG_GRANT_TYPE, "code": "not.a.user"},
        id="400-not-a-user",
    ),
    pytest.param(
        400,
        body("not.a.client", "This request requires a non-user context.", 400),
        None,
        None,
        {"outcome": Outcome.WRONG_GRANT_TYPE, "code": "not.a.client"},
        id="400-not-a-client",
    ),
    pytest.param(
        400,
        body("bad.request", "The request could not be understood.", 400),
        None,
        None,
        {"outcome": Outcome.UNEXPECTED_STATUS},
        id="400-other",
    ),
    # 429 (platform.md §4.2, §5)
    pytest.param(
        429,
        body(
            "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [22] seconds", 429
        ),
        "30",
        None,
        {"outcome": Outcome.RATE_LIMITED, "retry_after": 30.0},
        id="429-header-wins",
    ),
    pytest.param(
        429,
        body(
            "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [22] seconds", 429
        ),
        None,
        None,
        {"outcome": Outcome.RATE_LIMITED, "retry_after": 22.0},
        id="429-no-header-seconds-from-message",
    ),
    pytest.param(
        429,
        body("too.many.requests", "Rate limit exceeded the maximum [300] requests within [60] seconds", 429),
        None,
        None,
        {"outcome": Outcome.RATE_LIMITED, "retry_after": None},
        id="429-no-header-no-retry-hint",
    ),
    pytest.param(
        429, b"", "garbage", None, {"outcome": Outcome.RATE_LIMITED, "retry_after": None}, id="429-bad-header"
    ),
    # 5xx, other statuses, no reply
    pytest.param(
        500, body("internal.server.error", "boom", 500), None, None, {"outcome": Outcome.SERVER_ERROR}, id="500"
    ),
    pytest.param(
        502,
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>",
        None,
        None,
        {"outcome": Outcome.SERVER_ERROR, "message": "502 Bad Gateway"},
        id="502-html-page",
    ),
    pytest.param(
        503,
        b"<html><body>Service Unavailable</body></html>",
        "5",
        None,
        {"outcome": Outcome.SERVER_ERROR, "retry_after": 5.0},
        id="503-html-with-retry-after",
    ),
    pytest.param(
        404, body("not.found", "Not found", 404), None, None, {"outcome": Outcome.UNEXPECTED_STATUS}, id="404"
    ),
    pytest.param(302, b"", None, None, {"outcome": Outcome.UNEXPECTED_STATUS}, id="302-redirect"),
    pytest.param(None, None, None, Failure.TIMEOUT, {"outcome": Outcome.TIMEOUT, "status": None}, id="timeout"),
    pytest.param(None, None, None, Failure.NETWORK, {"outcome": Outcome.NETWORK_ERROR}, id="connection-error"),
    pytest.param(None, None, None, None, {"outcome": Outcome.UNEXPECTED_STATUS}, id="no-status-no-failure"),
    pytest.param(None, None, None, Failure.MALFORMED, {"outcome": Outcome.UNEXPECTED_STATUS}, id="no-status-malformed"),
    pytest.param(502, b"{not json", None, Failure.MALFORMED, {"outcome": Outcome.SERVER_ERROR}, id="502-malformed"),
]


@pytest.mark.parametrize(("status", "raw", "retry_after", "failure", "expected"), ROWS)
def test_classify(
    status: int | None, raw: bytes | None, retry_after: str | None, failure: Failure | None, expected: dict[str, object]
) -> None:
    facts = None if raw is None else errorbody.parse(raw)
    verdict = forbidden.classify(status=status, facts=facts, failure=failure, retry_after_header=retry_after)
    for field, value in expected.items():
        assert getattr(verdict, field) == value, field


@settings(database=None, max_examples=200, deadline=None)  # no timing assertions: that is tests/perf's job
@given(
    status=st.none() | st.integers(min_value=-1, max_value=1000),
    raw=st.binary(max_size=512),
    failure=st.none() | st.sampled_from(Failure),
)
def test_classify_never_raises(status: int | None, raw: bytes, failure: Failure | None) -> None:
    verdict = forbidden.classify(status=status, facts=errorbody.parse(raw), failure=failure, retry_after_header="x")
    assert verdict.outcome in Outcome


@settings(database=None, max_examples=200, deadline=None)  # no timing assertions: that is tests/perf's job
@given(
    message=st.text(max_size=300),
    code=st.sampled_from(["missing.permissions", "missing.any.division.permissions", "app.not.authorized.for.scope"]),
)
def test_classify_never_raises_on_any_message(message: str, code: str) -> None:
    raw = json.dumps({"code": code, "message": message, "messageParams": {"0": message}}).encode()
    verdict = forbidden.classify(status=403, facts=errorbody.parse(raw), failure=None)
    assert all(p.count(":") == 2 for p in verdict.permissions)


def missing(outcome: Outcome, requirement: Requirement | None, *permissions: str) -> Verdict:
    return Verdict(outcome, status=403, permissions=permissions, requirement=requirement)


LICENSED = frozenset({"messaging:integration:view", "routing:queue:view"})


@pytest.mark.parametrize(
    ("verdict", "licensed", "outcome"),
    [
        pytest.param(
            missing(Outcome.MISSING_PERMISSION, Requirement.ALL, "messaging:integration:view"),
            LICENSED,
            Outcome.MISSING_PERMISSION,
            id="all-licensed-stays-missing",
        ),
        pytest.param(
            missing(
                Outcome.MISSING_PERMISSION, Requirement.ALL, "messaging:integration:view", "journey:actionmap:view"
            ),
            LICENSED,
            Outcome.UNLICENSED,
            id="all-one-unlicensed-is-unlicensed",
        ),
        pytest.param(
            missing(Outcome.MISSING_PERMISSION, Requirement.ANY, "routing:queue:view", "journey:actionmap:view"),
            LICENSED,
            Outcome.MISSING_PERMISSION,
            id="any-one-licensed-stays-missing",
        ),
        pytest.param(
            missing(Outcome.MISSING_PERMISSION, Requirement.ANY, "journey:actionmap:view", "journey:actionmap:edit"),
            LICENSED,
            Outcome.UNLICENSED,
            id="any-none-licensed-is-unlicensed",
        ),
        pytest.param(
            missing(Outcome.MISSING_DIVISION_PERMISSION, Requirement.ALL, "journey:actionmap:view"),
            LICENSED,
            Outcome.UNLICENSED,
            id="division-unlicensed",
        ),
        pytest.param(
            missing(Outcome.MISSING_PERMISSION, Requirement.ALL, "journey:actionmap:view"),
            None,
            Outcome.MISSING_PERMISSION,
            id="unknown-licence-changes-nothing",
        ),
        pytest.param(
            missing(Outcome.MISSING_DIVISION_PERMISSION, Requirement.ANY),
            LICENSED,
            Outcome.MISSING_DIVISION_PERMISSION,
            id="empty-permission-list-changes-nothing",
        ),
        pytest.param(
            missing(Outcome.FORBIDDEN, None, "journey:actionmap:view"),
            LICENSED,
            Outcome.FORBIDDEN,
            id="other-outcomes-unchanged",
        ),
        pytest.param(
            missing(Outcome.MISSING_PERMISSION, None, "journey:actionmap:view"),
            LICENSED,
            Outcome.UNLICENSED,
            id="no-requirement-read-as-all",
        ),
    ],
)
def test_refine_licensed(verdict: Verdict, licensed: frozenset[str] | None, outcome: Outcome) -> None:
    refined = forbidden.refine_licensed(verdict, licensed)
    assert refined.outcome is outcome
    assert refined.permissions == verdict.permissions


TRUSTED_ROWS = [
    pytest.param(
        Verdict(Outcome.MISSING_PERMISSION, status=403, permissions=("a:b:c",), requirement=Requirement.ANY),
        Outcome.MISSING_TRUSTOR_PERMISSION,
        id="missing-permission",
    ),
    pytest.param(
        Verdict(Outcome.MISSING_DIVISION_PERMISSION, status=403, permissions=("a:b:c",), divisions=("d-1",)),
        Outcome.MISSING_TRUSTOR_PERMISSION,
        id="missing-division-permission",
    ),
    pytest.param(Verdict(Outcome.MISSING_SCOPE, status=403, scopes=("s",)), Outcome.MISSING_SCOPE, id="scope-stays"),
    pytest.param(Verdict(Outcome.OK, status=200), Outcome.OK, id="ok-stays"),
]


@pytest.mark.parametrize(("verdict", "outcome"), TRUSTED_ROWS)
def test_a_trusted_users_missing_permission_is_a_missing_trustor_role(verdict: Verdict, outcome: Outcome) -> None:
    refined = forbidden.refine_trusted(verdict)
    assert refined.outcome is outcome
    assert (refined.permissions, refined.divisions, refined.requirement) == (
        verdict.permissions,
        verdict.divisions,
        verdict.requirement,
    )


@pytest.mark.parametrize(
    ("message", "address"),
    [
        pytest.param("Requests originating from this IP address are not authorized: [203.0.113.9]", "203.0.113.9"),
        pytest.param("Requests originating from this IP address are not authorized: [ 2001:db8::7 ]", "2001:db8::7"),
        pytest.param("not authorized: [a, b] then [198.51.100.1]", "198.51.100.1", id="the-last-bracket"),
        pytest.param("Requests originating from this IP address are not authorized: []", None, id="empty"),
        pytest.param(None, None, id="no-message"),
    ],
)
def test_the_refused_address_is_read_from_the_message(message: str | None, address: str | None) -> None:
    assert forbidden.refused_address(message) == address
