"""Transport faults: no aiohttp exception crosses the remote layer.

Covers: timeouts, resets, disconnects and DNS failures (injected with ``aioresponses``, the only
place it is used), a real refused connection on loopback, that fault messages name the request
but never the token, and that an oversized body is refused instead of read without bound.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses

from daemon.remote import client as remote_client
from daemon.remote import errors, transport
from daemon.remote import gate as remote_gate
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
    assert str(caught.value).startswith(f"GET {ORG}: ")
    assert ACCESS_TOKEN not in str(caught.value)
    assert ACCESS_TOKEN not in repr(caught.value)


async def test_a_token_request_that_times_out_is_a_timeout(client: remote_client.Client, mocked: aioresponses) -> None:
    mocked.post("https://login.example.test/oauth/token", exception=TimeoutError())
    with pytest.raises(errors.Timeout) as caught:
        await client.mint_client_credentials(ENDPOINTS, CLIENT_ID, CLIENT_SECRET, gate=remote_gate.Gate(), timeout_s=3)
    assert "no response within 3 s" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


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
