"""The official SDK (``purecloudplatformclientv2``) as a client of the simulator, for fidelity tests.

The sync SDK runs in a worker thread while the simulator serves on the test's loop. ``Sdk`` makes
one ``ApiClient`` per identity with urllib3 retries off (a 429 surfaces instead of sleeping);
``known_enums`` fails on a value the SDK mapped to ``outdated_sdk_version``; ``refused`` returns
an ``ApiException``'s status and parsed body. Not a test module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import PureCloudPlatformClientV2 as gc  # noqa: N813 - the SDK's module name is long and CamelCase
import pytest
import urllib3
from PureCloudPlatformClientV2.rest import ApiException

from grantwarden.simulator import testing

T = TypeVar("T")


def walk(value: Any) -> Iterator[Any]:
    """Every value inside an SDK model (its swagger attributes), recursively."""
    yield value
    if isinstance(value, list):
        for item in value:
            yield from walk(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif hasattr(value, "swagger_types"):
        for name in value.swagger_types:
            yield from walk(getattr(value, name))


def known_enums(model: Any) -> Any:
    strange = [v for v in walk(model) if isinstance(v, str) and v == "outdated_sdk_version"]
    assert not strange, "a value outside the SDK's enums"
    return model


class Sdk:
    """One SDK ApiClient per identity; urllib3 retries off, so a 429 surfaces instead of sleeping."""

    def __init__(self, sim: testing.Simulator) -> None:
        self.sim = sim
        self.clients: list[gc.ApiClient] = []

    def fresh(self, *, region: str | None = None) -> gc.ApiClient:
        """An ApiClient on the simulator, without a token yet."""
        client = gc.ApiClient(host=self.sim.url(region))
        client.get_http_client().rest_client.pool_manager = urllib3.PoolManager(retries=False)
        self.clients.append(client)
        return client

    def login(self, client_id: str, *, region: str | None = None) -> gc.ApiClient:
        return self.fresh(region=region).get_client_credentials_token(client_id, self.sim.secret(client_id))

    def bearer(self, token: str, *, region: str | None = None) -> gc.ApiClient:
        client = self.fresh(region=region)
        client.access_token = token
        return client

    def close(self) -> None:
        for client in self.clients:
            client.get_http_client().rest_client.pool_manager.clear()


async def run(call: Callable[[], T]) -> T:
    return await asyncio.to_thread(call)


async def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        await run(call)
    return caught.value.status, json.loads(caught.value.body)
