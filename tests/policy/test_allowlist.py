"""allowlist: a request target is read strictly as sent, tricks are refused, rules match segments.

Covers: the path tricks of design.md §2.9 each refused with its own reason and never rewritten
(``..`` and ``.`` segments plain and percent-encoded, encoded slashes and backslashes, a double
slash, a trailing slash, an absolute URI naming another host, a fragment, a backslash, path
parameters, non-ASCII and control characters, double encoding, a malformed percent); only
``/t/TENANT/api/v2/...`` targets parse, query kept byte for byte; rule paths validated as the
configuration does; ``*`` one segment, ``**`` zero or more, methods and ``*``; an encoded letter
never matches a literal; matching stays linear on hostile input; operation names bound ids.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import allowlist
from grantwarden.policy.allowlist import Refusal, Rule, Target

T = "/t/acme/api/v2"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(f"{T}/users/../oauth/clients", "dot_segment", id="dot-dot"),
        pytest.param(f"{T}/users/./me", "dot_segment", id="dot"),
        pytest.param("/t/acme/api/v2/..", "dot_segment", id="dot-dot-last"),
        pytest.param(f"{T}/users/%2e%2e/oauth", "encoded_dot", id="encoded-dot-dot"),
        pytest.param(f"{T}/users/%2E/me", "encoded_dot", id="encoded-dot-upper"),
        pytest.param(f"{T}/users/.%2e/oauth", "encoded_dot", id="half-encoded-dot-dot"),
        pytest.param(f"{T}/users%2F..%2Foauth", "encoded_separator", id="encoded-slash"),
        pytest.param(f"{T}/users%2fme", "encoded_separator", id="encoded-slash-lower"),
        pytest.param(f"{T}/users%5Cme", "encoded_separator", id="encoded-backslash"),
        pytest.param(f"{T}/users%3Bx", "encoded_separator", id="encoded-semicolon"),
        pytest.param(f"{T}/users%3Fx=1", "encoded_separator", id="encoded-question-mark"),
        pytest.param(f"{T}/users%23x", "encoded_separator", id="encoded-hash"),
        pytest.param(f"{T}/users/%252e%252e", "double_encoding", id="double-encoded-dot"),
        pytest.param(f"{T}/users/%00", "encoded_control", id="encoded-nul"),
        pytest.param(f"{T}/users/%c0%ae", "encoded_control", id="overlong-utf8-dot"),
        pytest.param(f"{T}/users/%zz", "bad_percent", id="bad-hex"),
        pytest.param(f"{T}/users/%2", "bad_percent", id="truncated-percent"),
        pytest.param(f"{T}/users/%u002e", "bad_percent", id="iis-unicode-escape"),
        pytest.param(f"{T}//users", "empty_segment", id="double-slash"),
        pytest.param(f"{T}/users/", "empty_segment", id="trailing-slash"),
        pytest.param("//evil.example/api/v2/users", "empty_segment", id="scheme-relative"),
        pytest.param("http://evil.example/t/acme/api/v2/users", "absolute_uri", id="absolute-uri-other-host"),
        pytest.param("https://127.0.0.1:9466/t/acme/api/v2/users", "absolute_uri", id="absolute-uri-own-host"),
        pytest.param("*", "absolute_uri", id="asterisk-form"),
        pytest.param(f"{T}/users#frag", "fragment", id="fragment"),
        pytest.param(f"{T}/users?x=1#frag", "fragment", id="fragment-after-query"),
        pytest.param(f"{T}/users\\..\\oauth", "backslash", id="backslash"),
        pytest.param(f"{T}/users/..;/oauth/clients", "path_parameter", id="tomcat-dot-dot-semicolon"),
        pytest.param(f"{T}/users;jsessionid=1", "path_parameter", id="path-parameter"),
        pytest.param(f"{T}/caf\u00e9", "bad_character", id="non-ascii"),
        pytest.param(f"{T}/users\x00", "bad_character", id="nul"),
        pytest.param(f"{T}/users\t", "bad_character", id="tab"),
        pytest.param(f"{T}/us ers", "bad_character", id="space"),
        pytest.param(f"{T}/users?q=\x7f", "bad_character", id="delete-in-query"),
        pytest.param("/api/v2/users", "no_tenant", id="no-tenant-prefix"),
        pytest.param("/t", "no_tenant", id="t-alone"),
        pytest.param("/t/ACME/api/v2/users", "bad_tenant", id="upper-case-tenant"),
        pytest.param("/t/-acme/api/v2/users", "bad_tenant", id="tenant-leading-dash"),
        pytest.param("/t/acme/api/v1/users", "not_api_v2", id="api-v1"),
        pytest.param("/t/acme/API/v2/users", "not_api_v2", id="upper-case-api"),
        pytest.param("/t/acme/api/v2", "not_api_v2", id="api-v2-alone"),
        pytest.param("/t/acme/oauth/token", "not_api_v2", id="login-host-path"),
        pytest.param("/t/acme/__sim/state", "not_api_v2", id="control-path"),
    ],
)
def test_a_tricky_target_is_refused_not_rewritten(raw: str, reason: str) -> None:
    refused = allowlist.parse(raw)
    assert refused == Refusal(reason)
    assert refused.detail  # a sentence for the caller


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            f"{T}/conversations/messaging/integrations?pageSize=1",
            Target("acme", ("api", "v2", "conversations", "messaging", "integrations"), "pageSize=1"),
            id="with-query",
        ),
        pytest.param(f"{T}/users/me", Target("acme", ("api", "v2", "users", "me"), ""), id="without-query"),
        pytest.param(
            "/t/acme-eu/api/v2/users/a%20b",
            Target("acme-eu", ("api", "v2", "users", "a%20b"), ""),
            id="harmless-encoding-kept",
        ),
        pytest.param(
            f"{T}/users?q=../x%2F..&r=a//b",
            Target("acme", ("api", "v2", "users"), "q=../x%2F..&r=a//b"),
            id="query-untouched",
        ),
    ],
)
def test_a_plain_target_parses_as_sent(raw: str, expected: Target) -> None:
    parsed = allowlist.parse(raw)
    assert parsed == expected
    assert isinstance(parsed, Target)
    assert parsed.upstream == raw.removeprefix(f"/t/{parsed.tenant}")


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        pytest.param("/api/v2/conversations/messaging/**", None, id="many"),
        pytest.param("/api/v2/users/*/roles", None, id="one"),
        pytest.param("/api/v2/**/settings", None, id="many-in-the-middle"),
        pytest.param("/api/v2/oauth/clients", None, id="literal"),
        pytest.param("/api/v1/users", "must start with /api/v2/", id="v1"),
        pytest.param("/oauth/token", "must start with /api/v2/", id="login"),
        pytest.param("/api/v2/users/../oauth", "not a plain path segment", id="dot-dot"),
        pytest.param("/api/v2/users/./me", "not a plain path segment", id="dot"),
        pytest.param("/api/v2/users//me", "empty segment", id="double-slash"),
        pytest.param("/api/v2/users/", "empty segment", id="trailing-slash"),
        pytest.param("/api/v2/user*", "a wildcard is a whole segment", id="partial-wildcard"),
        pytest.param("/api/v2/users/%2e", "not a plain path segment", id="percent"),
        pytest.param("/api/v2/users;x", "not a plain path segment", id="semicolon"),
    ],
)
def test_rule_paths_are_checked_as_the_configuration_does(path: str, problem: str | None) -> None:
    found = allowlist.path_problem(path)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


RULES = allowlist.compile_rules(
    (
        ("GET", "/api/v2/conversations/messaging/**"),
        ("*", "/api/v2/users/*/roles"),
        ("POST", "/api/v2/conversations/messages/agentless"),
        ("GET", "/api/v2/**/settings"),
    )
)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("GET", "/api/v2/conversations/messaging/integrations", True, id="many-one-deep"),
        pytest.param("GET", "/api/v2/conversations/messaging/integrations/x/y", True, id="many-three-deep"),
        pytest.param("GET", "/api/v2/conversations/messaging", True, id="many-matches-zero"),
        pytest.param("POST", "/api/v2/conversations/messaging/integrations", False, id="method-not-listed"),
        pytest.param("GET", "/api/v2/conversations/emails", False, id="sibling"),
        pytest.param("PUT", "/api/v2/users/abc/roles", True, id="any-method-one-segment"),
        pytest.param("DELETE", "/api/v2/users/abc/roles", True, id="any-method-delete"),
        pytest.param("PUT", "/api/v2/users/abc/def/roles", False, id="one-is-exactly-one"),
        pytest.param("PUT", "/api/v2/users/roles", False, id="one-is-not-zero"),
        pytest.param("POST", "/api/v2/conversations/messages/agentless", True, id="literal"),
        pytest.param("POST", "/api/v2/conversations/messages/agentless2", False, id="literal-prefix"),
        pytest.param("GET", "/api/v2/conversations/%6Dessaging/integrations", False, id="encoded-letter"),
        pytest.param("GET", "/api/v2/organizations/settings", True, id="many-in-the-middle"),
        pytest.param("GET", "/api/v2/settings", True, id="many-in-the-middle-zero"),
        pytest.param("GET", "/api/v2/oauth/clients", False, id="nothing-matches"),
    ],
)
def test_rules_match_methods_and_segments(method: str, path: str, allowed: bool) -> None:
    assert allowlist.allows(RULES, method, tuple(path[1:].split("/"))) is allowed


def test_no_rules_allow_nothing() -> None:
    assert not allowlist.allows((), "GET", ("api", "v2", "users"))


def test_matching_many_wildcards_against_a_long_path_stays_quick() -> None:
    """A hostile path of 2,000 segments against a rule of many ``**`` is one pass per rule segment,
    not an exponential search (the test would not finish otherwise)."""
    rules = (Rule("GET", ("api", "v2", *(["**", "x"] * 20), "never")),)
    segments = ("api", "v2", *(["x"] * 2000))
    assert not allowlist.allows(rules, "GET", segments)


@pytest.mark.parametrize(
    ("segments", "name"),
    [
        pytest.param(("api", "v2", "users", "me"), "GET /api/v2/users/me", id="plain"),
        pytest.param(
            ("api", "v2", "users", "0a1b2c3d-0000-4000-8000-123456789abc", "roles"),
            "GET /api/v2/users/{id}/roles",
            id="uuid",
        ),
        pytest.param(("api", "v2", "queues", "12345"), "GET /api/v2/queues/{id}", id="number"),
        pytest.param(("api", "v2", "users", "a%20b"), "GET /api/v2/users/{id}", id="encoded"),
        pytest.param(("api", "v2", *["x"] * 20), "GET /api/v2/x/x/x/x/x/x/x/x/x/x/…", id="long"),
    ],
)
def test_operation_names_are_bounded(segments: tuple[str, ...], name: str) -> None:
    assert allowlist.operation("GET", segments) == name


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: "/".join(rule.pattern))
def test_a_rules_quick_form_agrees_with_the_general_matcher(rule: Rule) -> None:
    paths = [
        ("api", "v2", "conversations", "messaging"),
        ("api", "v2", "conversations", "messaging", "integrations", "x"),
        ("api", "v2", "users", "u1", "roles"),
        ("api", "v2", "conversations", "messages", "agentless"),
        ("api", "v2", "organizations", "settings"),
        ("api", "v2"),
        ("api",),
    ]
    for segments in paths:
        assert rule.matches(segments) == allowlist._match(rule.pattern, segments), segments
