"""errorbody: any bytes become ErrorFacts without raising.

Covers: the platform ErrorBody, the token endpoint's error shape, HTML pages, non-JSON and
binary bodies, JSON of the wrong shape or with wrong field types, huge and deeply nested bodies,
control characters, and Retry-After parsing (integers, floats, negatives, garbage).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantwarden.policy import errorbody


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _json(
                {
                    "message": "You are missing the following permission(s): [messaging:integration:view]",
                    "code": "missing.permissions",
                    "status": 403,
                    "messageParams": {"0": "[messaging:integration:view]"},
                    "contextId": "c0ffee",
                    "details": [],
                    "errors": [],
                }
            ),
            {
                "code": "missing.permissions",
                "message": "You are missing the following permission(s): [messaging:integration:view]",
                "message_params": {"0": "[messaging:integration:view]"},
                "context_id": "c0ffee",
                "status": 403,
                "is_json": True,
            },
            id="platform-error-body",
        ),
        pytest.param(
            _json(
                {
                    "error": "invalid_client",
                    "description": "authentication failed",
                    "error_description": "authentication failed",
                }
            ),
            {"token_error": "invalid_client", "token_error_description": "authentication failed", "code": None},
            id="token-endpoint-shape",
        ),
        pytest.param(
            _json({"error": "invalid_grant", "description": "refresh token revoked"}),
            {"token_error": "invalid_grant", "token_error_description": "refresh token revoked"},
            id="token-endpoint-description-only",
        ),
        pytest.param(
            b"<!DOCTYPE html><html><head><title>502 Bad\n Gateway</title></head><body>nginx</body></html>",
            {"is_html": True, "is_json": False, "title": "502 Bad Gateway", "code": None},
            id="html-error-page",
        ),
        pytest.param(
            _json({"<HTML": None, "code": "bad.request"}),
            {"is_html": False, "is_json": True, "code": "bad.request"},
            id="json-that-mentions-html-is-json",
        ),
        pytest.param(b"", {"is_json": False, "is_html": False, "text": "", "code": None}, id="empty-body"),
        pytest.param(b"Service Unavailable", {"is_json": False, "text": "Service Unavailable"}, id="plain-text"),
        pytest.param(b"\xff\xfe\x00garbage\x80", {"is_json": False, "code": None}, id="binary-garbage"),
        pytest.param(_json([1, 2, 3]), {"is_json": True, "code": None, "message": None}, id="json-list"),
        pytest.param(b"42", {"is_json": True, "status": None}, id="json-number"),
        pytest.param(b"null", {"is_json": True, "code": None}, id="json-null"),
        pytest.param(
            _json({"code": 403, "message": {"nested": True}, "status": "403", "contextId": ["x"]}),
            {"code": None, "message": None, "status": None, "context_id": None, "is_json": True},
            id="json-wrong-field-types",
        ),
        pytest.param(
            _json({"code": "x", "status": True, "messageParams": ["not", "a", "dict"]}),
            {"code": "x", "status": None, "message_params": {}},
            id="bool-status-and-list-params",
        ),
        pytest.param(
            _json({"messageParams": {"a": 1, "b": None, "c": ["p:q:r", "s:t:u"], "d": "text"}}),
            {"message_params": {"c": "[p:q:r, s:t:u]", "d": "text"}},
            id="message-params-keep-strings-and-string-lists",
        ),
        pytest.param(_json({"code": "   ", "message": ""}), {"code": None, "message": None}, id="blank-strings"),
        pytest.param(b"\xef\xbb\xbf" + _json({"code": "bom"}), {"code": "bom"}, id="utf8-bom"),
        pytest.param(b"{" * 100_000, {"is_json": False}, id="deeply-nested-unterminated"),
        pytest.param(b"[" * 50_000 + b"]" * 50_000, {"is_json": False}, id="deeply-nested-recursion"),
    ],
)
def test_parse_reads_what_the_body_says(body: bytes, expected: dict[str, object]) -> None:
    facts = errorbody.parse(body)
    for field, value in expected.items():
        assert getattr(facts, field) == value, field


def test_huge_bodies_are_truncated_and_not_parsed() -> None:
    huge = _json({"code": "missing.permissions", "message": "x" * (errorbody.PARSE_LIMIT + 10)})
    facts = errorbody.parse(huge)
    assert len(facts.text) == errorbody.TEXT_LIMIT
    assert facts.code is None


def test_long_messages_are_truncated() -> None:
    facts = errorbody.parse(_json({"code": "c", "message": "m" * 10_000}))
    assert facts.message is not None
    assert len(facts.message) == errorbody.TEXT_LIMIT


def test_control_characters_never_reach_the_text() -> None:
    facts = errorbody.parse(b"line one\x1b[31m red\x00\nline two\tend")
    assert facts.text == "line one[31m red\nline two\tend"


def test_facts_are_hashable_even_with_message_params() -> None:
    facts = errorbody.parse(_json({"messageParams": {"k": "v"}}))
    assert facts in {facts}
    assert facts == errorbody.parse(_json({"messageParams": {"k": "v"}}))


@settings(database=None, max_examples=200, deadline=None)  # no timing assertions: that is tests/perf's job
@given(st.binary(max_size=4096))
def test_parse_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    facts = errorbody.parse(body)
    assert len(facts.text) <= errorbody.TEXT_LIMIT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(database=None, max_examples=200, deadline=None)  # no timing assertions: that is tests/perf's job
@given(json_values)
def test_parse_never_raises_on_arbitrary_json(value: object) -> None:
    assert errorbody.parse(json.dumps(value).encode()).is_json


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("22", 22.0, id="integer-seconds"),
        pytest.param(" 7 ", 7.0, id="surrounding-spaces"),
        pytest.param("1.5", 1.5, id="float-tolerated"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("-3", 0.0, id="negative-becomes-zero"),
        pytest.param("", None, id="empty"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", None, id="http-date-not-supported"),
        pytest.param("nan", None, id="nan"),
        pytest.param("inf", errorbody.MAX_RETRY_AFTER_S, id="infinity-capped"),
        pytest.param("99999999", errorbody.MAX_RETRY_AFTER_S, id="absurd-capped"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert errorbody.parse_retry_after(header) == expected
