"""proxying: the proxy's header, retry and wording decisions.

Covers: hop-by-hop headers (and those a Connection header names) never cross either way; the
caller's Authorization, Host, Expect, Content-Length and any X-Grantwarden-* header never reach
the platform; a platform header claiming to be grantwarden's or carrying the token never reaches
the caller; only GET, HEAD, OPTIONS, PUT and DELETE are retried after a 401; the floor left, and
Retry-After rounded up to at least 1 s; fix text safe in a header; outcome labels from the
tenant's access object kept to the known vocabulary, and a token that may not go out named by
the identity check or else by why the token endpoint failed; which answers count as refusals.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import proxying
from grantwarden.policy.labels import Outcome
from grantwarden.policy.proxying import ProxyOutcome


def test_request_headers_keep_the_callers_own_and_drop_the_rest() -> None:
    sent = [
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
        ("User-Agent", "PureCloud SDK/python"),
        ("purecloud-sdk", "269.0.0"),
        ("Authorization", "Bearer the-sdks-own"),
        ("X-Grantwarden-Token", "proxy-secret"),
        ("x-grantwarden-outcome", "ok"),
        ("Host", "127.0.0.1:9466"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("Expect", "100-continue"),
        ("Content-Length", "12"),
        ("Cookie", "a=b"),
    ]
    assert proxying.request_headers(sent) == [
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
        ("User-Agent", "PureCloud SDK/python"),
        ("purecloud-sdk", "269.0.0"),
        ("Cookie", "a=b"),
    ]


def test_response_headers_drop_hop_by_hop_spoofed_and_token_bearing_ones() -> None:
    answered = [
        ("Content-Type", "application/json"),
        ("ININ-Correlation-Id", "c-1"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Connection", "close, X-Private"),
        ("X-Private", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "5"),
        ("X-Grantwarden-Outcome", "ok"),
        ("X-Echo", "Bearer tok-123"),
        ("Proxy-Authenticate", "Basic"),
    ]
    assert proxying.response_headers(answered, token="tok-123") == [
        ("Content-Type", "application/json"),
        ("ININ-Correlation-Id", "c-1"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


@pytest.mark.parametrize(
    ("method", "retried"),
    [
        pytest.param("GET", True, id="get"),
        pytest.param("HEAD", True, id="head"),
        pytest.param("OPTIONS", True, id="options"),
        pytest.param("PUT", True, id="put"),
        pytest.param("DELETE", True, id="delete"),
        pytest.param("POST", False, id="post"),
        pytest.param("PATCH", False, id="patch"),
    ],
)
def test_only_idempotent_methods_are_sent_again_after_a_401(method: str, retried: bool) -> None:
    assert proxying.retried(method) is retried


@pytest.mark.parametrize(
    ("not_before", "now", "left"),
    [
        pytest.param(0.0, 100.0, None, id="never-held"),
        pytest.param(100.0, 100.0, None, id="ends-now"),
        pytest.param(130.5, 100.0, 30.5, id="held"),
    ],
)
def test_the_floor_left(not_before: float, now: float, left: float | None) -> None:
    assert proxying.held_for(not_before, now) == left


@pytest.mark.parametrize(
    ("seconds", "header"),
    [
        pytest.param(30.5, "31", id="rounded-up"),
        pytest.param(0.2, "1", id="at-least-one"),
        pytest.param(7, "7", id="whole"),
    ],
)
def test_retry_after_is_whole_seconds(seconds: float, header: str) -> None:
    assert proxying.retry_after(seconds) == header


def test_fix_text_is_one_printable_ascii_line_of_bounded_length() -> None:
    text = proxying.header_text("Give the client a role\r\nX-Injected: 1 — über " + "x" * 1000)
    assert "\r" not in text
    assert "\n" not in text
    assert text.isascii()
    assert text.isprintable()
    assert text.startswith("Give the client a role X-Injected: 1 ? ?ber ")
    assert len(text) == proxying.FIX_LIMIT
    assert text.endswith("...")


@pytest.mark.parametrize(
    ("name", "label"),
    [
        pytest.param("wrong_org", Outcome.WRONG_ORG, id="probe-outcome"),
        pytest.param("identity_not_verified", ProxyOutcome.IDENTITY_NOT_VERIFIED, id="proxy-outcome"),
        pytest.param("something the hand-off made up", ProxyOutcome.UNAVAILABLE, id="unknown"),
    ],
)
def test_outcomes_named_by_the_access_object_stay_a_bounded_vocabulary(name: str, label: proxying.Label) -> None:
    assert proxying.label_of(name) is label


@pytest.mark.parametrize(
    ("error", "outcome", "label"),
    [
        pytest.param("wrong_org", "wrong_org", Outcome.WRONG_ORG, id="wrong-org"),
        pytest.param("identity_not_verified", "pending", ProxyOutcome.IDENTITY_NOT_VERIFIED, id="first-check-due"),
        pytest.param("identity_not_verified", "timeout", ProxyOutcome.IDENTITY_NOT_VERIFIED, id="first-check-failed"),
        pytest.param("backing_off", "unauthorized", Outcome.UNAUTHORIZED, id="credential-refused"),
        pytest.param("no_token", "server_error", Outcome.SERVER_ERROR, id="token-endpoint-down"),
        pytest.param("not_running", "pending", ProxyOutcome.UNAVAILABLE, id="worker-stopping"),
    ],
)
def test_a_token_that_may_not_go_out_is_named_by_the_identity_else_by_why_the_mint_failed(
    error: str, outcome: str, label: proxying.Label
) -> None:
    assert proxying.not_ready(error, outcome) is label


@pytest.mark.parametrize(
    ("status", "outcome", "refusal"),
    [
        pytest.param(403, Outcome.MISSING_PERMISSION, True, id="403"),
        pytest.param(401, Outcome.UNAUTHORIZED, True, id="401"),
        pytest.param(429, Outcome.RATE_LIMITED, True, id="429"),
        pytest.param(400, Outcome.WRONG_GRANT_TYPE, True, id="grant-type-400"),
        pytest.param(400, Outcome.UNEXPECTED_STATUS, False, id="other-400"),
        pytest.param(404, Outcome.UNEXPECTED_STATUS, False, id="404"),
        pytest.param(200, Outcome.OK, False, id="ok"),
        pytest.param(503, Outcome.SERVER_ERROR, False, id="5xx"),
    ],
)
def test_which_answers_are_refusals(status: int, outcome: Outcome, refusal: bool) -> None:
    assert proxying.is_refusal(status, outcome) is refusal
