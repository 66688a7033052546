"""Logging configuration and the redaction processor (``grantwarden.base.logs``, ``grantwarden.base.redaction``).

Covers: one JSON object per line with ``timestamp`` (ISO 8601 UTC, milliseconds, Z), ``level``,
``event`` first; level filtering; the console format; stdlib records rendered the same way;
and that no secret reaches output — under secret keys, in nested dicts, lists and tuples, in
Authorization headers, Bearer/Basic strings, ``key=value`` text, exception messages and
tracebacks — while ordinary fields (``token_type``, ``token_expires_at``, error codes) stay.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from grantwarden.base import clock as clocks
from grantwarden.base import logs, redaction

CLIENT_ID = "0b8e7c2a-1111-4c44-9a55-6f7e8d9c0b1a"
SECRET = "cs-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-secret"
TOKEN = "at-4HkQ9wXbT7mZpR2vL8nYc3sJfD6gA1eU5oI0tE-token"
ADMIN = "admin-token-Jd83hfKq0"
UNREGISTERED = "rt-never-registered-Mn8Bv7Cx6Zl5Kj4Hg3"
BASIC = redaction.basic_credentials(CLIENT_ID, SECRET)
SECRETS = (SECRET, TOKEN, ADMIN, UNREGISTERED, BASIC)


@pytest.fixture
def redactor() -> redaction.Redactor:
    registry = redaction.Redactor()
    registry.add(SECRET, client_id=CLIENT_ID)
    registry.add(TOKEN)
    registry.add(ADMIN)
    return registry


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure() changes process-wide state; put structlog and the root logger back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def output(redactor: redaction.Redactor) -> io.StringIO:
    stream = io.StringIO()
    clock = clocks.ManualClock(1_795_000_000.5)
    logs.configure(level="info", fmt="json", redactor=redactor, stream=stream, clock=clock)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_timestamp_level_event_first(output: io.StringIO) -> None:
    structlog.get_logger().info("tenant_state_changed", tenant="acme", state="healthy")
    (line,) = lines(output)
    assert list(line) == ["timestamp", "level", "event", "tenant", "state"]
    assert line == {
        "timestamp": "2026-11-18T11:06:40.500Z",
        "level": "info",
        "event": "tenant_state_changed",
        "tenant": "acme",
        "state": "healthy",
    }


def test_events_below_the_level_are_dropped(output: io.StringIO) -> None:
    log = structlog.get_logger()
    log.debug("noise")
    log.warning("rate_limited", tenant="acme")
    assert [line["event"] for line in lines(output)] == ["rate_limited"]


def test_a_run_with_failures_never_writes_a_secret(output: io.StringIO) -> None:
    log = structlog.get_logger().bind(tenant="acme", client_secret=SECRET)
    log.info(
        "token_acquired",
        access_token=TOKEN,
        token_type="bearer",
        token_expires_at=1_795_086_400,
        request={
            "headers": {"Authorization": f"Bearer {TOKEN}", "X-Admin-Token": ADMIN},
            "form": [("refresh_token", UNREGISTERED)],
        },
        note=f"used {TOKEN} and Basic {BASIC}",
        echoed=f"grant_type=refresh_token&refresh_token={UNREGISTERED}",
    )
    try:
        raise RuntimeError(f"platform refused secret {SECRET}; Authorization: Bearer {UNREGISTERED}")
    except RuntimeError:
        log.exception("worker_crashed")
    try:
        raise ValueError({"access_token": UNREGISTERED})
    except ValueError as exc:
        log.error("regrant_failed", error=exc, exc_info=exc)
    logging.getLogger("aiohttp.client").error("sent headers %s", {"Authorization": f"Basic {BASIC}"})

    text = output.getvalue()
    for secret in SECRETS:
        assert secret not in text
    first, crashed, failed, foreign = lines(output)
    assert first["access_token"] == first["client_secret"] == redaction.REDACTED
    assert first["request"]["headers"] == {"Authorization": redaction.REDACTED, "X-Admin-Token": redaction.REDACTED}
    assert (first["token_type"], first["token_expires_at"]) == ("bearer", 1_795_086_400)
    assert "RuntimeError: platform refused secret [redacted]" in crashed["exception"]
    assert "Traceback (most recent call last)" in crashed["exception"]
    assert failed["error"].startswith("ValueError: ")
    assert (foreign["logger"], foreign["level"]) == ("aiohttp.client", "error")


def test_the_console_format_also_redacts(redactor: redaction.Redactor) -> None:
    stream = io.StringIO()
    logs.configure(level="debug", fmt="console", redactor=redactor, stream=stream, clock=clocks.ManualClock())
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        structlog.get_logger().exception("worker_crashed", tenant="acme", admin_token=ADMIN)
    text = stream.getvalue()
    assert "worker_crashed" in text
    assert "RuntimeError: boom [redacted]" in text
    assert TOKEN not in text
    assert ADMIN not in text


def test_unknown_level_or_format_is_refused(redactor: redaction.Redactor) -> None:
    with pytest.raises(ValueError, match="log level"):
        logs.configure(level="loud", fmt="json", redactor=redactor, stream=io.StringIO())
    with pytest.raises(ValueError, match="log format"):
        logs.configure(level="info", fmt="xml", redactor=redactor, stream=io.StringIO())  # type: ignore[arg-type]


def test_pipeline_with_capture_logs_shows_what_would_be_written(redactor: redaction.Redactor) -> None:
    with capture_logs(processors=logs.pipeline(redactor=redactor, clock=clocks.ManualClock())) as captured:
        structlog.get_logger().info("regrant_applied", tenant="acme", body={"secret": SECRET})
    (entry,) = captured
    assert entry["body"] == {"secret": redaction.REDACTED}
    assert entry["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        pytest.param(key, True, id=key)
        for key in (
            "authorization",
            "Authorization",
            "proxy-authorization",
            "access_token",
            "refresh_token",
            "id_token",
            "client_secret",
            "secret",
            "admin_token",
            "x-admin-token",
            "password",
            "code_verifier",
            "token",
            "cookie",
        )
    ]
    + [
        pytest.param(key, False, id=key)
        for key in ("token_type", "token_expires_at", "expires_in", "code", "tokens", "secret_ref", "authorized_scope")
    ],
)
def test_secret_keys_are_matched_precisely(key: str, secret: bool) -> None:
    assert redaction.is_secret_key(key) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"Authorization: Bearer {UNREGISTERED}", "Authorization: [redacted]", id="header-line"),
        pytest.param(f"sent bearer {UNREGISTERED}", "sent bearer [redacted]", id="bearer-lowercase"),
        pytest.param("Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]", id="basic-credentials"),
        pytest.param("Basic authentication failed", "Basic authentication failed", id="basic-prose-kept"),
        pytest.param(
            "No authentication bearer token specified in authorization header.",
            "No authentication bearer token specified in authorization header.",
            id="platform-401-message-kept",
        ),
        pytest.param("token_type=bearer expires_in=86400", "token_type=bearer expires_in=86400", id="token-type-kept"),
        pytest.param(f"code=abc&refresh_token={UNREGISTERED}&x=1", "code=abc&refresh_token=[redacted]&x=1", id="form"),
        pytest.param(
            f'{{"access_token": "{UNREGISTERED}", "password": null, "token": {{"a": 1}}, "n_token": 5}}',
            '{"access_token": "[redacted]", "password": null, "token": {"a": 1}, "n_token": 5}',
            id="json-stays-parsable",
        ),
        pytest.param(f"{{'client_secret': '{UNREGISTERED}'}}", "{'client_secret': '[redacted]'}", id="python-repr"),
    ],
)
def test_patterns_hide_unregistered_secrets_and_keep_prose(text: str, expected: str) -> None:
    assert redaction.Redactor().redact_text(text) == expected


def test_registered_values_are_hidden_wherever_they_appear(redactor: redaction.Redactor) -> None:
    text = f"x{TOKEN}y {SECRET}{SECRET} {BASIC}"
    assert redactor.redact_text(text) == "x[redacted]y [redacted][redacted] [redacted]"


def test_a_registered_secret_containing_another_is_hidden_whole() -> None:
    registry = redaction.Redactor()
    registry.add("abcd1234")
    registry.add("abcd1234-longer")
    assert registry.redact_text("<abcd1234-longer>") == "<[redacted]>"


def test_very_short_values_are_not_registered() -> None:
    registry = redaction.Redactor()
    registry.add("abc")
    assert registry.redact_text("abc abc") == "abc abc"


def test_the_registry_forgets_its_oldest_entries_beyond_capacity() -> None:
    registry = redaction.Redactor(capacity=2)
    for secret in ("first-secret", "second-secret", "third-secret"):
        registry.add(secret)
    assert "first-secret" not in registry
    assert registry.redact_text("first-secret second-secret third-secret") == "first-secret [redacted] [redacted]"


def test_redact_keeps_json_types_and_stringifies_other_objects(redactor: redaction.Redactor) -> None:
    value = {"n": 1, "f": 0.5, "b": True, "none": None, "t": (2, TOKEN, 3), "s": {TOKEN}, "o": object()}
    out = redactor.redact(value)
    assert isinstance(out, dict)
    assert (out["n"], out["f"], out["b"], out["none"]) == (1, 0.5, True, None)
    assert out["t"] == (2, redaction.REDACTED, 3)
    assert out["s"] == [redaction.REDACTED]
    assert isinstance(out["o"], str)


def test_name_value_pairs_are_redacted_by_their_name() -> None:
    registry = redaction.Redactor()
    pairs = [("refresh_token", "plain-value"), ("grant_type", "refresh_token")]
    assert registry.redact(pairs) == [("refresh_token", redaction.REDACTED), ("grant_type", "refresh_token")]


def test_a_huge_unbroken_word_is_redacted_in_linear_time() -> None:
    """A quadratic pattern would take minutes here and trip the test timeout; linear takes ms."""
    word = "x" * 200_000 + f" token={UNREGISTERED}"
    assert redaction.Redactor().redact_text(word).endswith("token=[redacted]")


def test_an_object_that_cannot_be_printed_does_not_break_logging() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert redaction.Redactor().redact({"x": Broken()}) == {"x": "<unprintable Broken>"}


def test_a_reconfigure_replaces_the_stdlib_handler_instead_of_adding_one(redactor: redaction.Redactor) -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.configure(level="info", fmt="json", redactor=redactor, stream=first)
    logs.configure(level="info", fmt="json", redactor=redactor, stream=second)
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1
