"""Fixtures of the simulator's own tests: the demo world on a ManualClock, served on loopback.

``platform`` is the demo scenario served on 127.0.0.1 with a free port (``trust_platform`` the
built-in trust world); ``api`` / ``trust_api`` are a thin HTTP helper (mint tokens, call routes,
read JSON) over one aiohttp session. Nothing here sleeps: time moves only through ``clock.advance``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import scenarios, testing

DEMO = scenarios.DEMO_SCENARIO


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Reply:
    def __init__(self, status: int, headers: Mapping[str, str], text: str) -> None:
        self.status, self.headers, self.text = status, headers, text

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def code(self) -> str:
        return str(self.json.get("code") or self.json.get("error"))


class Api:
    def __init__(self, session: aiohttp.ClientSession, sim: testing.Simulator) -> None:
        self.session, self.sim = session, sim

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        region: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        sent = {**(bearer(token) if token else {}), **(headers or {})}
        async with self.session.request(
            method, self.sim.url(region) + path, headers=sent, allow_redirects=False, **kwargs
        ) as reply:
            return Reply(reply.status, reply.headers, await reply.text())

    async def get(self, path: str, token: str, *, region: str | None = None, **kwargs: Any) -> Reply:
        return await self.call("GET", path, token=token, region=region, **kwargs)

    async def token_request(
        self,
        form: Mapping[str, str],
        *,
        client_id: str | None = None,
        secret: str | None = None,
        region: str | None = None,
    ) -> Reply:
        headers = basic(client_id, secret) if client_id is not None and secret is not None else {}
        return await self.call("POST", "/oauth/token", region=region, headers=headers, data=dict(form))

    async def mint(self, client_id: str, *, region: str | None = None) -> str:
        """A client-credentials token; ``region`` defaults to the client's org's region."""
        where = region or self.sim.world.orgs[self.sim.world.clients[client_id].org_id].region
        reply = await self.token_request(
            {"grant_type": "client_credentials"}, client_id=client_id, secret=self.sim.secret(client_id), region=where
        )
        assert reply.status == 200, reply.text
        return str(reply.json["access_token"])

    async def authorize(self, client_id: str, redirect_uri: str, **extra: str) -> dict[str, str]:
        """The parameters /oauth/authorize redirects with (``code`` and ``state``, or ``error``)."""
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, **extra}
        consent = await self.call("GET", "/oauth/authorize", region=self.region_of(client_id), params=query)
        assert consent.status == 302, consent.text
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent.headers["Location"]).query))

    async def code_grant(self, client_id: str, redirect_uri: str, **extra: str) -> dict[str, Any]:
        """The token endpoint's answer to a code grant (``target=ORG`` to act in a trustor org)."""
        code = (await self.authorize(client_id, redirect_uri, **extra))["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        region = self.region_of(client_id)
        reply = await self.token_request(form, client_id=client_id, secret=self.sim.secret(client_id), region=region)
        assert reply.status == 200, reply.text
        return dict(reply.json)

    async def user_token(self, client_id: str, redirect_uri: str, *, scope: str | None = None, **extra: str) -> str:
        """A code-grant token of the client's org's test user (auto-consent at /oauth/authorize)."""
        if scope is not None:
            extra["scope"] = scope
        return str((await self.code_grant(client_id, redirect_uri, **extra))["access_token"])

    def region_of(self, client_id: str) -> str:
        return self.sim.world.orgs[self.sim.world.clients[client_id].org_id].region


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def platform(clock: ManualClock) -> AsyncIterator[testing.Simulator]:
    async with testing.running(DEMO, clock=clock) as sim:
        yield sim


@pytest.fixture
async def api(platform: testing.Simulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, platform)


@pytest.fixture
async def trust_platform(clock: ManualClock) -> AsyncIterator[testing.Simulator]:
    async with testing.running("trust", clock=clock) as sim:
        yield sim


@pytest.fixture
async def trust_api(trust_platform: testing.Simulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, trust_platform)
