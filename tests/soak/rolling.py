"""Rolling faults for the long run: every period, a new region's API and another's token endpoint.

The soak's world spreads its tenants over every region (``tests.soak.simulator``); a fault under
``/regions/{region}/`` reaches that region's tenants only, roughly one in seventeen of the fleet.
Each turn clears the previous faults and injects the next pair through the simulator's
``/__sim/faults`` control API, so that over ten minutes every kind of trouble visits some part of
the fleet while the rest stays clean. Token-endpoint faults bite when tokens are minted: after
the simulator's restart (``/__sim/restart``, half-way through), which forgets every token.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp

from tests.soak.simulator import REGIONS

TIMEOUT_LATENCY_S = 12.0  # longer than the soak's probe_timeout (10 s): a timeout, in real time

API_FAULTS: tuple[dict[str, Any], ...] = (
    {"action": "status", "status": 503},
    {"action": "html", "status": 502},
    {"action": "drop"},
    {"latency_seconds": TIMEOUT_LATENCY_S},
    {"action": "malformed"},
    {"action": "status", "status": 429, "retry_after": 20, "whole_region": True},
    {"action": "status", "status": 401, "code": "bad.credentials"},
)
TOKEN_FAULTS: tuple[dict[str, Any], ...] = (
    {"action": "status", "status": 500},
    {"action": "html", "status": 502},
    {"action": "drop"},
    {"latency_seconds": TIMEOUT_LATENCY_S},
    {"action": "status", "status": 429, "retry_after": 20},
)
FAULTED_REGIONS = REGIONS[1:]  # the default region is served at the root: no prefix of its own


@dataclasses.dataclass(frozen=True)
class Turn:
    api_region: str
    api_fault: dict[str, Any]
    token_region: str
    token_fault: dict[str, Any]

    def bodies(self) -> list[dict[str, Any]]:
        api = {k: v for k, v in self.api_fault.items() if k != "whole_region"}
        api_prefix = f"/regions/{self.api_region}/" + ("" if self.api_fault.get("whole_region") else "api/v2/")
        return [
            {"prefix": api_prefix, **api},
            {"prefix": f"/regions/{self.token_region}/oauth/token", **self.token_fault},
        ]

    def describe(self) -> str:
        kind = ", ".join(f"{k}={v}" for k, v in self.api_fault.items())
        token = ", ".join(f"{k}={v}" for k, v in self.token_fault.items())
        return f"API of {self.api_region}: {kind} | token endpoint of {self.token_region}: {token}"


def turn(number: int) -> Turn:
    """The ``number``-th turn: regions and kinds advance at different paces, so pairs vary."""
    regions = FAULTED_REGIONS
    return Turn(
        api_region=regions[number % len(regions)],
        api_fault=API_FAULTS[number % len(API_FAULTS)],
        token_region=regions[(number * 5 + 3) % len(regions)],
        token_fault=TOKEN_FAULTS[number % len(TOKEN_FAULTS)],
    )


async def apply(session: aiohttp.ClientSession, base_url: str, number: int) -> Turn:
    """Clear the last turn's faults and inject this one's."""
    chosen = turn(number)
    async with session.delete(f"{base_url}/__sim/faults") as reply:
        reply.raise_for_status()
    for body in chosen.bodies():
        async with session.post(f"{base_url}/__sim/faults", json=body) as reply:
            reply.raise_for_status()
    return chosen


async def clear(session: aiohttp.ClientSession, base_url: str) -> None:
    async with session.delete(f"{base_url}/__sim/faults") as reply:
        reply.raise_for_status()
