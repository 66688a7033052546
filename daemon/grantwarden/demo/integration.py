"""The demo's integration: it takes acme's token from the hand-off, meets a 403, reports it.

``grantwarden demo`` runs the daemon with a token hand-off on a unix socket in the demo's
directory (design.md §2.8). Once acme's identity has been checked, this small integration (what
``docs/handoff.md`` describes, with aiohttp instead of an SDK) takes acme's token, calls the
messaging API on the simulator and gets a 200. Then the demo plays an admin who removes
*Messaging Viewer* from acme's OAuth client: the next call meets a 403, the integration reports
it to ``/refusals``, grantwarden diagnoses the operation and re-grants the allow-listed role
(the demo's own lines show that), and once the re-grant is verified the integration's call
passes again. It prints sentences, never a token. ``runner.Show`` starts it beside the daemon.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from grantwarden.base import clock as clocks
from grantwarden.demo import story
from grantwarden.policy import labels
from grantwarden.simulator import control, world
from grantwarden.worker import status as health

TENANT = "acme"
ROLE = "Messaging Viewer"
SETTINGS = "/api/v2/conversations/messaging/settings"
Say = Callable[[story.Line], None]
Statuses = Callable[[], dict[str, health.TenantStatus]]


class Integration:
    def __init__(self, *, socket: Path, sim: world.World, clock: clocks.Clock, say: Say, statuses: Statuses) -> None:
        self.socket, self.sim, self.clock, self._say, self.statuses = socket, sim, clock, say, statuses

    def say(self, text: str) -> None:
        self._say(story.Line(self.clock.now(), f"{TENANT} integration", text))

    async def run(self) -> None:
        """The whole story, once; a stop of the demo cancels it wherever it is."""
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.socket))) as handoff,
            aiohttp.ClientSession() as platform,
        ):
            await self._until(lambda status: status.identity_verified)
            answer = await self._token(handoff)
            self.say(f"took its token from the hand-off: org {answer['org_id']}, expires {answer['expires_at']}")
            await self._call(handoff, platform, answer)
            client = next(t.client_id for t in self.sim.tenants if t.name == TENANT)
            control.remove_role(self.sim, client, ROLE)
            self.say(f"(the demo removes {ROLE} from the org's OAuth client, as an admin might)")
            verified = len(self._verified())
            await self._call(handoff, platform, await self._token(handoff))
            await self._until(lambda status: len(self._verified()) > verified)
            await self._call(handoff, platform, await self._token(handoff))

    async def _token(self, handoff: aiohttp.ClientSession) -> dict[str, Any]:
        async with handoff.get(f"http://localhost/v1/tenants/{TENANT}/token") as response:
            return dict(await response.json())

    async def _call(
        self, handoff: aiohttp.ClientSession, platform: aiohttp.ClientSession, token: dict[str, Any]
    ) -> None:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        async with platform.get(token["api_base_url"] + SETTINGS, headers=headers) as response:
            status, body = response.status, await response.text()
        if status < 300:
            self.say(f"GET {SETTINGS} → {status}")
            return
        code = _code(body)
        report = {"method": "GET", "path": SETTINGS, "status": status, "headers": {}, "body": body}
        async with handoff.post(f"http://localhost/v1/tenants/{TENANT}/refusals", json=report) as reported:
            answer = await reported.json()
        self.say(
            f"GET {SETTINGS} → {status} {code}; reported it: {answer['outcome']}, grantwarden is {answer['action']}"
        )

    def _verified(self) -> list[health.RegrantRecord]:
        status = self.statuses().get(TENANT)
        return [r for r in (status.regrants if status else ()) if r.result is labels.RegrantResult.VERIFIED]

    async def _until(self, done: Callable[[health.TenantStatus], bool]) -> None:
        while (status := self.statuses().get(TENANT)) is None or not done(status):
            await self.clock.sleep(0.2)


def _code(body: str) -> str:
    try:
        return str(json.loads(body).get("code", ""))
    except (ValueError, AttributeError):
        return ""


def companion(socket: Path, sim: world.World, clock: clocks.Clock, say: Say) -> Callable[[Daemon], asyncio.Task[None]]:
    """What ``runner.Show`` starts once the daemon runs: the integration's story, as a task."""

    def start(daemon: Daemon) -> asyncio.Task[None]:
        told = Integration(socket=socket, sim=sim, clock=clock, say=say, statuses=lambda: dict(daemon.statuses()))
        return asyncio.create_task(told.run(), name="demo-integration")

    return start


class Daemon(Protocol):
    def statuses(self) -> Mapping[str, health.TenantStatus]: ...
