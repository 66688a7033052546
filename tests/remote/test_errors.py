"""The error tree and the Reply snapshot, without a network.

Covers: status → exception table (token-endpoint bodies first, 429 always RateLimited), the
tree's shape (every exception a RemoteError, token errors HttpErrors), snapshots (correlation
id, Retry-After, path without query, facts read only from error bodies), redaction before
truncation (no half secret at the cut), and one-line messages without secrets.
"""

from __future__ import annotations

import json

import pytest

from grantwarden.base import redaction
from grantwarden.remote import errors

SECRET = "cs-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-secret"


def reply(status: int, body: object = None, headers: dict[str, str] | None = None, **kw: object) -> errors.Reply:
    raw = json.dumps(body).encode() if body is not None else b""
    return errors.snapshot(
        method="GET",
        path="/api/v2/x",
        status=status,
        headers=headers or {},
        body=raw,
        redactor=kw.get("redactor") or redaction.Redactor(),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("status", "body", "token_endpoint", "expected"),
    [
        pytest.param(400, {"code": "not.a.user"}, False, errors.BadRequest, id="400"),
        pytest.param(401, {"code": "bad.credentials"}, False, errors.Unauthorized, id="401"),
        pytest.param(403, {"code": "missing.permissions"}, False, errors.Forbidden, id="403"),
        pytest.param(404, None, False, errors.NotFound, id="404"),
        pytest.param(409, None, False, errors.Conflict, id="409"),
        pytest.param(429, None, False, errors.RateLimited, id="429"),
        pytest.param(500, None, False, errors.ServerError, id="500"),
        pytest.param(599, None, False, errors.ServerError, id="599"),
        pytest.param(304, None, False, errors.UnexpectedStatus, id="304"),
        pytest.param(451, None, False, errors.UnexpectedStatus, id="451"),
        pytest.param(401, {"error": "invalid_client"}, True, errors.InvalidClient, id="token-invalid-client"),
        pytest.param(400, {"error": "invalid_grant"}, True, errors.InvalidGrant, id="token-invalid-grant"),
        pytest.param(400, {"error": "invalid_scope"}, True, errors.TokenEndpointError, id="token-other"),
        pytest.param(429, {"error": "slow_down"}, True, errors.RateLimited, id="token-429-is-rate-limited"),
        pytest.param(500, {"error": "server_error"}, True, errors.ServerError, id="token-500-is-server-error"),
        pytest.param(401, {"error": "invalid_client"}, False, errors.Unauthorized, id="api-ignores-oauth-error"),
        pytest.param(401, {"code": "ip.not.authorized"}, False, errors.IpNotAuthorized, id="401-ip-not-authorized"),
        pytest.param(401, {"code": "bad.credentials"}, False, errors.Unauthorized, id="401-bad-credentials"),
        pytest.param(403, {"code": "ip.not.authorized"}, False, errors.Forbidden, id="only-a-401-is-the-ip-rule"),
    ],
)
def test_each_status_maps_to_one_exception(
    status: int, body: object, token_endpoint: bool, expected: type[errors.HttpError]
) -> None:
    assert type(errors.for_reply(reply(status, body), token_endpoint=token_endpoint)) is expected


def test_the_tree_has_the_documented_shape() -> None:
    assert issubclass(errors.Timeout, errors.TransportError)
    assert issubclass(errors.ConnectionFailed, errors.TransportError)
    assert issubclass(errors.InvalidClient, errors.TokenEndpointError)
    assert issubclass(errors.InvalidGrant, errors.TokenEndpointError)
    assert issubclass(errors.TokenEndpointError, errors.HttpError)
    assert issubclass(errors.IpNotAuthorized, errors.Unauthorized), "callers that handle a 401 still see it"
    for leaf in (errors.TransportError, errors.HttpError, errors.MalformedResponse):
        assert issubclass(leaf, errors.RemoteError)
    assert not issubclass(errors.MalformedResponse, errors.HttpError)


def test_a_snapshot_reads_headers_and_the_error_body() -> None:
    body = {"message": "m", "code": "c", "messageParams": {"p": "v"}, "contextId": "ctx"}
    snap = reply(429, body, {"ININ-Correlation-Id": "corr-9", "Retry-After": "22"})
    assert (snap.correlation_id, snap.retry_after) == ("corr-9", 22.0)
    assert (snap.facts.code, snap.facts.message, snap.facts.context_id) == ("c", "m", "ctx")
    assert dict(snap.facts.message_params) == {"p": "v"}


def test_a_success_body_is_kept_as_text_but_not_read_as_an_error() -> None:
    snap = reply(200, {"code": "looks.like.an.error"})
    assert snap.facts.code is None
    assert "looks.like.an.error" in snap.body_text


def test_the_body_is_redacted_before_it_is_cut() -> None:
    redactor = redaction.Redactor()
    redactor.add(SECRET)
    prefix = "x" * (errors.BODY_LIMIT - 10)  # the secret straddles the cut
    snap = reply(400, {"message": prefix + SECRET}, redactor=redactor)
    assert len(snap.body_text) <= errors.BODY_LIMIT
    assert SECRET[:10] not in snap.body_text
    assert SECRET[:10] not in (snap.facts.message or "")


def test_describe_is_one_line_with_code_message_and_correlation_id() -> None:
    body = {"code": "missing.permissions", "message": "You are missing [a:b:c]"}
    snap = reply(403, body, {"ININ-Correlation-Id": "corr-1"})
    assert errors.describe(snap) == (
        "GET /api/v2/x answered 403 missing.permissions: You are missing [a:b:c] (correlation id corr-1)"
    )


def test_rate_limited_says_how_long_to_wait() -> None:
    exc = errors.for_reply(reply(429, None, {"Retry-After": "7"}))
    assert isinstance(exc, errors.RateLimited)
    assert exc.retry_after == 7
    assert str(exc).endswith("retry after 7 s")


def test_str_and_repr_hold_no_registered_secret() -> None:
    redactor = redaction.Redactor()
    redactor.add(SECRET)
    snap = reply(400, {"error": "invalid_request", "error_description": f"secret {SECRET}"}, redactor=redactor)
    exc = errors.for_reply(snap, token_endpoint=True)
    assert isinstance(exc, errors.TokenEndpointError)
    for text in (str(exc), repr(exc), exc.error_description or ""):
        assert SECRET not in text
