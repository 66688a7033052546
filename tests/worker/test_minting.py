"""minting: how a tenant's token is obtained, and what a mint that cannot start says.

Covers: a client secret whose environment variable is unset, or whose file is missing, fails the
mint before any request is sent, classified as ``secret_unavailable`` (not an unexpected answer
of the token endpoint), with a message naming the config path and the variable or file, never a
value, that reads the same after redaction (logs and the status page redact every line again);
a live mint reads its secret from the environment the daemon was given, never from the
process's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from grantwarden.base import redaction
from grantwarden.config.secretrefs import SecretRef
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, oauth, transport
from grantwarden.worker import minting, tokenbox

ENDPOINTS = transport.Endpoints(api_base_url="https://api.example.test", login_base_url="https://login.example.test")
WHERE = "credentials.client_secret of tenant acme in /etc/grantwarden.yaml"


class NoRequests:
    """A client that fails the test if the mint reaches the platform."""

    sent: list[Any]

    def __init__(self) -> None:
        self.sent = []

    async def mint_client_credentials(self, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((args, kwargs))
        raise AssertionError("a token request was sent without a secret")


class Recording:
    """A token endpoint that hands out a token and remembers the secret it was sent."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    async def mint_client_credentials(self, endpoints: Any, client_id: str, secret: str, **_: Any) -> oauth.TokenGrant:
        self.secrets.append(secret)
        return oauth.TokenGrant(access_token="t", token_type="bearer", expires_in=60, received_at=0.0)


def client_credentials(secret: SecretRef, client: object, environ: dict[str, str]) -> minting.ClientCredentials:
    return minting.ClientCredentials(
        client=cast(remote_client.Client, client),
        endpoints=ENDPOINTS,
        gate=gate.Gate(),
        client_id="client-1",
        secret=secret,
        environ=environ,
        where=WHERE,
    )


async def mint_with(secret: SecretRef, client: NoRequests, environ: dict[str, str] | None = None) -> Exception:
    with pytest.raises(minting.MintFailedError) as caught:
        await client_credentials(secret, client, environ or {})()
    return caught.value


async def test_a_live_mint_reads_the_environment_it_was_given_not_the_process_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_SECRET", "the-process-value")
    client = Recording()
    mint = client_credentials(SecretRef(env="ACME_SECRET"), client, {"ACME_SECRET": "the-given-value"})
    await mint()
    assert client.secrets == ["the-given-value"]


async def test_an_unset_secret_variable_fails_the_mint_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SECRET", "set-in-the-process-only")  # not in the environment the daemon was given
    client = NoRequests()
    failure = await mint_with(SecretRef(env="ACME_SECRET"), client)

    assert client.sent == []
    assert isinstance(failure, minting.MintFailedError)
    assert failure.problem is TokenProblem.SECRET_UNAVAILABLE
    assert str(failure) == (
        f"{WHERE} cannot be resolved, so no token was requested: environment variable ACME_SECRET is not set or empty"
    )
    shown = tokenbox.describe(failure)
    assert redaction.Redactor().redact_text(shown) == shown


async def test_a_missing_secret_file_names_the_file_and_keeps_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "acme-token"  # a name ending in "token": the redactor must not eat the reason
    client = NoRequests()
    failure = await mint_with(SecretRef(file=str(path)), client)

    assert client.sent == []
    assert isinstance(failure, minting.MintFailedError)
    assert failure.problem is TokenProblem.SECRET_UNAVAILABLE
    assert str(failure).endswith(f"cannot read secret file {path} (No such file or directory)")
    shown = tokenbox.describe(failure)
    assert redaction.Redactor().redact_text(shown) == shown
