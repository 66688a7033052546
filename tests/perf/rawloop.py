"""The floor for benchmark 1: a minimal aiohttp loop sending grantwarden's probe requests.

``python -m tests.perf.rawloop --config FILE --interval S --max-seconds S`` reads the tenants of
an emitted configuration (secrets from the environment, as the daemon does), mints one
client-credentials token per tenant (paced below the simulator's minting limit), then for each
tenant every ``interval`` seconds sends the same six authenticated GETs as the daemon's
``messaging-core`` blueprint: ``tokens/me`` first, then the other five concurrently (at most
four at once, like ``probe_concurrency``), over one keep-alive session with the daemon's
connection limit. It reads each body and checks the status, and nothing more: no parsing,
metrics, diagnosis or logging. It prints ``warm`` once every tenant has probed once, and stops
on SIGTERM or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import signal
import sys
import time

import aiohttp
import yaml

from grantwarden.policy import catalog
from grantwarden.simulator import tenancy

PATHS = tuple(catalog.BUILTIN[name].path for name in tenancy.DEFAULT_PROBES)
CONNECTIONS = 256  # as grantwarden.app.runtime.CONNECTIONS


class Tenant:
    def __init__(self, raw: dict[str, object]) -> None:
        credentials = raw["credentials"]
        assert isinstance(credentials, dict)
        self.api = str(raw["api_base_url"]).rstrip("/")
        self.login = str(raw["login_base_url"]).rstrip("/")
        self.client_id = str(credentials["client_id"])
        self.secret = os.environ[credentials["client_secret"]["env"]]
        self.token = ""


async def mint(session: aiohttp.ClientSession, tenant: Tenant) -> None:
    basic = base64.b64encode(f"{tenant.client_id}:{tenant.secret}".encode()).decode()
    async with session.post(
        tenant.login + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    ) as response:
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"mint failed: {response.status} {body}")
        tenant.token = body["access_token"]


async def mint_all(session: aiohttp.ClientSession, tenants: list[Tenant], rate_per_second: float) -> None:
    started = time.monotonic()
    pending = []
    for index, tenant in enumerate(tenants):
        delay = started + index / rate_per_second - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.ensure_future(mint(session, tenant)))
    await asyncio.gather(*pending)


async def get(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as response:
        await response.read()
        return response.status


async def limited(limit: asyncio.Semaphore, session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with limit:
        return await get(session, url, headers)


async def probe_forever(
    session: aiohttp.ClientSession, tenant: Tenant, interval: float, offset: float, stats: dict[str, int]
) -> None:
    headers = {"Authorization": f"Bearer {tenant.token}", "Accept": "application/json"}
    first, *rest = (tenant.api + path for path in PATHS)
    limit = asyncio.Semaphore(4)
    loop = asyncio.get_running_loop()
    next_at = loop.time() + offset
    while True:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        statuses = [await get(session, first, headers)]
        statuses += await asyncio.gather(*(limited(limit, session, url, headers) for url in rest))
        stats["probes"] += len(statuses)
        stats["failed"] += sum(1 for status in statuses if status != 200)
        stats["cycles"] += 1
        next_at += interval


def read_tenants(path: str) -> list[Tenant]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        config = yaml.load(handle, Loader=loader)
    return [Tenant(raw) for raw in config["tenants"]]


async def main_async(args: argparse.Namespace, tenants: list[Tenant]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.call_later(args.max_seconds, stop.set)
    stats = {"probes": 0, "failed": 0, "cycles": 0}
    rng = random.Random(args.seed)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        await mint_all(session, tenants, args.mint_rate)
        print(f"minted {len(tenants)} tokens", flush=True)
        tasks = [
            asyncio.ensure_future(probe_forever(session, t, args.interval, rng.random() * args.interval, stats))
            for t in tenants
        ]
        warm = loop.call_later(args.interval + 1.0, lambda: print("warm", stats, flush=True))
        await stop.wait()
        warm.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print("stopped", stats, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.rawloop", description=__doc__)
    p.add_argument("--config", required=True)
    p.add_argument("--interval", type=float, required=True)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--mint-rate", type=float, default=80.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    return asyncio.run(main_async(args, read_tenants(args.config)))


if __name__ == "__main__":
    sys.exit(main())
