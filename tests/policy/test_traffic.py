"""traffic: the integration's operations as names, what may be probed again, and the limits.

Covers: operation names (ids replaced by ``id``, camelCase lowered, lexv2 static, long paths cut
with a digest, stable across ids); paths that must be under /api/v2/ on the API host; re-probe
paths only for GETs and only for characters that stay on the tenant's host; ``min_valid``
capped at half a token's lifetime; the once-per-interval limit; digests; reported bodies bounded.
"""

from __future__ import annotations

import hashlib

import pytest

from grantwarden.policy import traffic


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        pytest.param(
            "GET",
            "/api/v2/conversations/messaging/integrations",
            "traffic:get-conversations-messaging-integrations",
            id="static",
        ),
        pytest.param(
            "GET",
            "/api/v2/conversations/messaging/integrations/9f1c2d3e-4b5a-6978-8796-a5b4c3d2e1f0",
            "traffic:get-conversations-messaging-integrations-id",
            id="uuid-is-id",
        ),
        pytest.param(
            "POST",
            "/api/v2/conversations/messages/agentless",
            "traffic:post-conversations-messages-agentless",
            id="post",
        ),
        pytest.param(
            "GET", "/api/v2/routing/queues/12345/members", "traffic:get-routing-queues-id-members", id="digits"
        ),
        pytest.param(
            "GET", "/api/v2/routing/queues/q_1-a/members/", "traffic:get-routing-queues-id-members", id="slash"
        ),
        pytest.param("PATCH", "/api/v2/Users/Me", "traffic:patch-users-me", id="lowered"),
        pytest.param(
            "GET", "/api/v2/integrations/speech/lexv2/bots", "traffic:get-integrations-speech-lexv2-bots", id="lexv2"
        ),
        pytest.param("GET", "/api/v2/", "traffic:get", id="root"),
    ],
)
def test_an_operation_is_named_by_method_and_static_path_words(method: str, path: str, name: str) -> None:
    assert traffic.operation(method, path) == name


def test_two_ids_of_one_endpoint_share_a_name() -> None:
    first = traffic.operation("DELETE", "/api/v2/routing/queues/aaaa-1111/members/bbbb-2222")
    second = traffic.operation("DELETE", "/api/v2/routing/queues/cccc-3333/members/dddd-4444")
    assert first == second == "traffic:delete-routing-queues-id-members-id"


def test_a_long_operation_name_is_cut_and_keeps_a_digest_of_the_whole() -> None:
    long_a = "/api/v2/" + "/".join(["segmentwords"] * 12) + "/a"
    long_b = "/api/v2/" + "/".join(["segmentwords"] * 12) + "/b"
    name_a, name_b = traffic.operation("GET", long_a), traffic.operation("GET", long_b)
    assert len(name_a) == len(name_b) == traffic.MAX_NAME
    assert name_a != name_b, "the digest tells them apart"


@pytest.mark.parametrize(
    ("path", "split"),
    [
        pytest.param("/api/v2/routing/queues?pageSize=1", ("/api/v2/routing/queues", "pageSize=1"), id="query"),
        pytest.param("/api/v2/x", ("/api/v2/x", ""), id="plain"),
    ],
)
def test_a_reported_path_splits_into_path_and_query(path: str, split: tuple[str, str]) -> None:
    assert traffic.split(path) == split


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("https://evil.example/api/v2/x", id="absolute-url"),
        pytest.param("//evil.example/api/v2/x", id="network-path"),
        pytest.param("/oauth/token", id="not-the-api"),
        pytest.param("api/v2/x", id="relative"),
    ],
)
def test_a_path_off_the_api_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="/api/v2/"):
        traffic.split(path)


@pytest.mark.parametrize(
    ("method", "path", "query", "reprobe"),
    [
        pytest.param("GET", "/api/v2/routing/queues", "pageSize=1", "/api/v2/routing/queues?pageSize=1", id="get"),
        pytest.param("GET", "/api/v2/routing/queues", "", "/api/v2/routing/queues", id="get-no-query"),
        pytest.param("POST", "/api/v2/conversations/messages/agentless", "", None, id="post-never"),
        pytest.param("DELETE", "/api/v2/routing/queues/1", "", None, id="delete-never"),
        pytest.param("GET", "/api/v2/routing/../../oauth/token", "", None, id="dot-dot"),
        pytest.param("GET", "/api/v2//x", "", None, id="double-slash"),
        pytest.param("GET", "/api/v2/x y", "", None, id="space"),
        pytest.param("GET", "/api/v2/x", "a=<script>", None, id="query-markup"),
        pytest.param("GET", "/api/v2/x\\y", "", None, id="backslash"),
    ],
)
def test_only_a_get_on_plain_characters_is_probed_again(
    method: str, path: str, query: str, reprobe: str | None
) -> None:
    assert traffic.reprobe_path(method, path, query) == reprobe


@pytest.mark.parametrize(
    ("requested", "lifetime", "valid_for"),
    [
        pytest.param(60.0, 86_400.0, 60.0, id="as-asked"),
        pytest.param(86_400.0, 86_400.0, 43_200.0, id="half-a-lifetime-at-most"),
        pytest.param(600.0, 300.0, 150.0, id="short-tokens"),
        pytest.param(60.0, None, 60.0, id="no-token-yet"),
    ],
)
def test_min_valid_never_asks_for_more_than_half_a_tokens_lifetime(
    requested: float, lifetime: float | None, valid_for: float
) -> None:
    assert traffic.valid_for(requested, lifetime) == valid_for


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [
        pytest.param(None, 100.0, True, id="never"),
        pytest.param(50.0, 100.0, False, id="within-the-interval"),
        pytest.param(40.0, 100.0, True, id="an-interval-later"),
    ],
)
def test_an_operation_is_diagnosed_at_most_once_per_interval(last: float | None, now: float, due: bool) -> None:
    assert traffic.due(last, now, 60.0) is due


def test_a_digest_is_the_tokens_sha256_in_hex() -> None:
    assert traffic.digest("abc") == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param('{"code": "x"}', b'{"code": "x"}', id="text"),
        pytest.param({"code": "x"}, b'{"code": "x"}', id="json"),
        pytest.param("é" * traffic.MAX_BODY, ("é" * traffic.MAX_BODY).encode()[: traffic.MAX_BODY], id="cut"),
    ],
)
def test_a_reported_body_is_bytes_and_bounded(body: object, expected: bytes) -> None:
    assert traffic.body_bytes(body) == expected
