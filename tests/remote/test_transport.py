"""Transport faults: no aiohttp exception crosses the remote layer.

Covers: timeouts, resets, disconnects and DNS failures (injected with ``aioresponses``, the only
place it is used), a real refused connection on loopback, that fault messages name the request
but never the token, that a fault or wrong-shape message about a token path or token field keeps
its meaning when redacted again (logs redact every line), and that an oversized body is refused
instead of read without bound.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, transport
from grantwarden.remote import gate as remote_gate
from tests.remote.conftest import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, Canned, FakePlatform

API = "https://api.example.test"
ENDPOINTS = transport.Endpoints(api_base_url=API, login_base_url="https://login.example.test")
ORG = "/api/v2/organizations/me"


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


def dns_failure() -> aiohttp.ClientConnectorDNSError:
    key = ConnectionKey("api.example.test", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(TimeoutError(), errors.Timeout, id="total-timeout"),
        pytest.param(aiohttp.SocketTimeoutError("read"), errors.Timeout, id="socket-read-timeout"),
        pytest.param(aiohttp.ConnectionTimeoutError("connect"), errors.Timeout, id="connect-timeout"),
        pytest.param(aiohttp.ClientOSError(104, "Connection reset by peer"), errors.ConnectionFailed, id="reset"),
        pytest.param(aiohttp.ServerDisconnectedError(), errors.ConnectionFailed, id="disconnected"),
        pytest.param(aiohttp.ClientPayloadError("truncated"), errors.ConnectionFailed, id="truncated-body"),
        pytest.param(dns_failure(), errors.ConnectionFailed, id="dns-failure"),
    ],
)
async def test_transport_faults_become_our_transport_errors(
    session: aiohttp.ClientSession,
    client: remote_client.Client,
    mocked: aioresponses,
    fault: Exception,
    expected: type[errors.TransportError],
) -> None:
    mocked.get(API + ORG, exception=fault)
    with pytest.raises(errors.TransportError) as caught:
        await client.get(ENDPOINTS, ORG, ACCESS_TOKEN, gate=remote_gate.Gate(), timeout_s=2.0)

    assert type(caught.value) is expected
    assert caught.value.reply is None
    assert str(caught.value).startswith(f"GET {ORG} — ")
    assert ACCESS_TOKEN not in str(caught.value)
    assert ACCESS_TOKEN not in repr(caught.value)


async def test_a_token_request_that_times_out_is_a_timeout(client: remote_client.Client, mocked: aioresponses) -> None:
    mocked.post("https://login.example.test/oauth/token", exception=TimeoutError())
    with pytest.raises(errors.Timeout) as caught:
        await client.mint_client_credentials(ENDPOINTS, CLIENT_ID, CLIENT_SECRET, gate=remote_gate.Gate(), timeout_s=3)
    assert "no response within 3 s" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


TOKEN_PATHS = [
    pytest.param("https://login.example.test/oauth/token", id="oauth-token"),
    pytest.param(API + "/api/v2/tokens/me", id="tokens-me"),
    pytest.param(API + "/api/v2/oauth/clients/abc/secret", id="client-secret"),
]
FAULTS = [
    pytest.param(TimeoutError(), "no response within 10 s (TimeoutError)", id="timeout"),
    pytest.param(
        aiohttp.ServerDisconnectedError(),
        "connection failed (ServerDisconnectedError: Server disconnected)",
        id="reset",
    ),
]


@pytest.mark.parametrize("url", TOKEN_PATHS)
@pytest.mark.parametrize(("fault", "what"), FAULTS)
async def test_a_fault_on_a_token_path_reads_the_same_after_redaction(
    session: aiohttp.ClientSession,
    redactor: redaction.Redactor,
    mocked: aioresponses,
    url: str,
    fault: Exception,
    what: str,
) -> None:
    mocked.post(url, exception=fault)
    sender = transport.Transport(session=session, clock=clocks.ManualClock(), redactor=redactor)
    with pytest.raises(errors.TransportError) as caught:
        await sender.send("POST", url, gate=remote_gate.Gate(), timeout_s=10, headers={})

    path = url.removeprefix(API).removeprefix("https://login.example.test")
    assert str(caught.value) == f"POST {path} — {what}"
    assert redactor.redact_text(str(caught.value)) == str(caught.value)


async def test_a_secret_inside_a_fault_on_the_token_path_is_still_hidden(
    session: aiohttp.ClientSession, redactor: redaction.Redactor, mocked: aioresponses
) -> None:
    redactor.add(CLIENT_SECRET)
    mocked.post(
        "https://login.example.test/oauth/token", exception=aiohttp.ClientOSError(104, f"reset {CLIENT_SECRET}")
    )
    sender = transport.Transport(session=session, clock=clocks.ManualClock(), redactor=redactor)
    with pytest.raises(errors.ConnectionFailed) as caught:
        await sender.send(
            "POST", "https://login.example.test/oauth/token", gate=remote_gate.Gate(), timeout_s=10, headers={}
        )

    shown = redactor.redact_text(str(caught.value))
    assert shown == "POST /oauth/token — connection failed (ClientOSError: [Errno 104] reset [redacted])"


async def test_a_token_response_of_the_wrong_shape_names_its_fields_after_redaction(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    platform: FakePlatform,
    redactor: redaction.Redactor,
) -> None:
    platform.respond("POST", "/oauth/token", Canned(json={"expires_in": "soon", "token_type": "bearer"}))
    with pytest.raises(errors.MalformedResponse) as caught:
        await client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=remote_gate.Gate())

    shown = redactor.redact_text(str(caught.value))
    assert "access_token (Field required)" in shown
    assert "expires_in (Input should be a valid integer)" in shown
    assert shown == str(caught.value)


async def test_a_refused_connection_is_connection_failed(client: remote_client.Client) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoints = transport.Endpoints(api_base_url=f"http://127.0.0.1:{port}", login_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(errors.ConnectionFailed):
        await client.get(endpoints, ORG, ACCESS_TOKEN, gate=remote_gate.Gate(), timeout_s=2.0)


async def test_an_oversized_body_is_malformed_not_read_without_bound(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "MAX_BODY_BYTES", 1024)
    platform.respond("GET", ORG, Canned(json={"entities": ["x" * 100] * 50}))
    with pytest.raises(errors.MalformedResponse) as caught:
        await client.get(endpoints, ORG, ACCESS_TOKEN, gate=remote_gate.Gate(), timeout_s=2.0)
    assert "body over 1024 bytes" in str(caught.value)
