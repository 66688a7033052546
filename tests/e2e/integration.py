"""A small integration written with the official Python SDK that takes its tokens only from grantwarden.

What an integration beside grantwarden does (docs/handoff.md): it never holds a client secret;
per call it asks the hand-off for its org's token (``GET /v1/tenants/{tenant}/token`` over the
unix socket), gives it to an SDK ``ApiClient`` for the ``api_base_url`` the answer names, and
when the platform refuses a call it reports the refusal (``POST /v1/tenants/{tenant}/refusals``).
It is synchronous, as the SDK is: tests run it in a thread while the event loop serves the
daemon and the simulator.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import PureCloudPlatformClientV2 as sdk  # noqa: N813 - the SDK's own module name
from PureCloudPlatformClientV2.rest import ApiException

SETTINGS_PATH = "/api/v2/conversations/messaging/settings"


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the hand-off's usual place)."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def ask(socket_path: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of one request to the hand-off."""
    connection = UnixConnection(socket_path)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null"), dict(response.getheaders())
    finally:
        connection.close()


class Integration:
    """One tenant's calls, its token from the hand-off at every call (what the SDK is given)."""

    def __init__(self, socket_path: str, tenant: str) -> None:
        self.socket_path = socket_path
        self.tenant = tenant
        self.reports: list[dict[str, Any]] = []

    def handout(self) -> dict[str, Any]:
        status, body, _ = ask(self.socket_path, "GET", f"/v1/tenants/{self.tenant}/token")
        if status != 200:
            raise RuntimeError(f"no token from the hand-off: {status} {body}")
        return body

    def api_client(self) -> sdk.ApiClient:
        handout = self.handout()
        client = sdk.ApiClient(host=handout["api_base_url"])  # the org's own API host
        client.access_token = handout["access_token"]  # this client's token wins over Configuration's
        return client

    def messaging_settings(self) -> int:
        """HTTP status of ``GET /api/v2/conversations/messaging/settings``; a refusal is reported."""
        try:
            sdk.ConversationsApi(self.api_client()).get_conversations_messaging_settings()
        except ApiException as exc:
            self.report("GET", SETTINGS_PATH, exc)
            return int(exc.status)
        return 200

    def report(self, method: str, path: str, exc: ApiException) -> None:
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
        report = {
            "method": method,
            "path": path,
            "status": exc.status,
            "headers": dict(exc.headers or {}),
            "body": body,
        }
        status, answer, _ = ask(self.socket_path, "POST", f"/v1/tenants/{self.tenant}/refusals", report)
        if status != 200:
            raise RuntimeError(f"the hand-off refused the report: {status} {answer}")
        self.reports.append(answer)
