"""The redactor's memory of secrets (``grantwarden.base.secretindex``, through ``redaction.Redactor``).

Its redaction rules are covered in ``test_logs``.

Covers: a configured client secret (and its Basic form) and a configured admin token registered
first are still hidden after 250,000 token registrations, while the number of tokens remembered
stays at the rolling cap; a live token re-added on use is never the one forgotten; the cap grows
with the configured clients; a client's rotated-away secret stops being pinned and ages out.
"""

from __future__ import annotations

from grantwarden.base import redaction, secretindex

CLIENT_ID = "0b8e7c2a-1111-4c44-9a55-6f7e8d9c0b1a"
SECRET = "cs-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-secret"
ADMIN = "admin-token-Jd83hfKq0"


def token(i: int) -> str:
    """A distinct access-token-like string; spread prefixes like real tokens have."""
    return f"{(i * 2_654_435_761) % 2**32:08x}-at-{i}"


def test_configured_secrets_outlive_250_000_token_registrations() -> None:
    registry = redaction.Redactor()
    registry.add(SECRET, client_id=CLIENT_ID)
    registry.add(ADMIN, configured=True)
    for i in range(250_000):
        registry.add(token(i))

    basic = redaction.basic_credentials(CLIENT_ID, SECRET)
    shown = registry.redact_text(f"secret {SECRET} basic {basic} admin {ADMIN} new {token(249_999)}")
    assert shown == "secret [redacted] basic [redacted] admin [redacted] new [redacted]"
    kept = sum(token(i) in registry for i in range(250_000))
    assert kept == registry.rolling_capacity == secretindex.ROLLING_FLOOR
    assert token(0) not in registry


def test_a_token_in_use_is_not_forgotten_while_newer_ones_arrive() -> None:
    registry = redaction.Redactor(capacity=100)
    live = "live-token-Hq7Tz3Kd"
    registry.add(live)
    for i in range(1_000):
        registry.add(token(i))
        if i % 50 == 0:
            registry.add(live)  # every request with it registers it again
    assert registry.redact_text(live) == redaction.REDACTED
    assert token(0) not in registry


def test_the_rolling_cap_grows_with_the_configured_clients() -> None:
    registry = redaction.Redactor()
    for i in range(3_000):
        registry.add(f"secret-of-client-{i}", client_id=f"client-{i}")
    # a secret and its Basic form per client, four tokens each: eight per client
    assert registry.rolling_capacity == 8 * 3_000


def test_a_rotated_client_secret_is_no_longer_pinned_and_ages_out() -> None:
    registry = redaction.Redactor(capacity=10)
    registry.add("old-secret-value", client_id=CLIENT_ID)
    registry.add("new-secret-value", client_id=CLIENT_ID)
    assert registry.redact_text("old-secret-value") == redaction.REDACTED  # still hidden for now
    for i in range(10):
        registry.add(token(i))
    assert "old-secret-value" not in registry
    assert registry.redact_text("new-secret-value") == redaction.REDACTED
    old_basic = redaction.basic_credentials(CLIENT_ID, "old-secret-value")
    assert old_basic not in registry
    assert redaction.basic_credentials(CLIENT_ID, "new-secret-value") in registry
