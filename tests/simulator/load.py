"""Load script (not a test): sustained authenticated GETs per second against the simulator.

Starts ``grantwarden simulate --tenants N`` in a separate process (one core), lifts its rate
budgets through the control API, mints a token per tenant of the default region, then runs
keep-alive aiohttp clients that cycle over the probe endpoints for ``--seconds`` and reports
the sustained rate of 200 answers. The simulator must sustain at least 3,000 requests/s.

    .venv/bin/python tests/simulator/load.py [--seconds 5] [--concurrency 64] [--tenants 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

PROBES = (
    "/api/v2/conversations/messaging/integrations?pageSize=1",
    "/api/v2/conversations/messaging/supportedcontent?pageSize=1",
    "/api/v2/webdeployments/deployments",
    "/api/v2/webdeployments/configurations",
    "/api/v2/organizations/me",
    "/api/v2/tokens/me?preserveIdleTTL=true",
)
LAUNCH = "import sys; from grantwarden.simulator import serving; sys.exit(serving.main(sys.argv[1:]))"


def start_simulator(tenants: int, emit: Path) -> tuple[subprocess.Popen[str], str]:
    argv = [sys.executable, "-c", LAUNCH, "--tenants", str(tenants), "--listen", "127.0.0.1:0"]
    process = subprocess.Popen([*argv, "--emit-config", str(emit)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("the simulator did not start")


def credentials(base: str, emit: Path) -> list[tuple[str, str]]:
    """(client id, secret) of every tenant of the default region (served on the root routes)."""
    config = yaml.safe_load(emit.read_text())
    secrets = dict(line.split("=", 1) for line in emit.with_name(emit.name + ".env").read_text().splitlines())
    return [
        (t["credentials"]["client_id"], secrets[t["credentials"]["client_secret"]["env"]])
        for t in config["tenants"]
        if t["api_base_url"] == base
    ]


async def tokens(session: aiohttp.ClientSession, base: str, pairs: list[tuple[str, str]]) -> list[str]:
    limits = {"token_requests_per_minute": 10**9, "mints_per_client_per_minute": 10**6, "mints_per_second": 10**6}
    async with session.post(f"{base}/__sim/ratelimits", json=limits) as reply:
        reply.raise_for_status()
    found = []
    for client_id, secret in pairs:
        basic = {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
        form = {"grant_type": "client_credentials"}
        async with session.post(f"{base}/oauth/token", data=form, headers=basic) as reply:
            if reply.status == 200:
                found.append((await reply.json())["access_token"])
    return found


async def hammer(base: str, pairs: list[tuple[str, str]], seconds: float, concurrency: int) -> tuple[int, int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        bearer = await tokens(session, base, pairs)
        work = itertools.cycle([(f"{base}{path}", {"Authorization": f"Bearer {t}"}) for t in bearer for path in PROBES])
        counts = {"ok": 0, "other": 0}
        stop_at = time.monotonic() + seconds  # noqa: TID251 - a benchmark measures real time

        async def worker() -> None:
            while time.monotonic() < stop_at:  # noqa: TID251 - a benchmark measures real time
                url, headers = next(work)
                async with session.get(url, headers=headers) as reply:
                    await reply.read()
                    counts["ok" if reply.status == 200 else "other"] += 1

        began = time.monotonic()  # noqa: TID251 - a benchmark measures real time
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return counts["ok"], counts["other"], time.monotonic() - began  # noqa: TID251 - a benchmark measures real time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tenants", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emit = Path(tmp) / "gw.yaml"
        process, base = start_simulator(args.tenants, emit)
        try:
            pairs = credentials(base, emit)
            ok, other, elapsed = asyncio.run(hammer(base, pairs, args.seconds, args.concurrency))
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
    rate = ok / elapsed
    print(f"{ok} ok, {other} other answers in {elapsed:.1f} s: {rate:,.0f} requests/s sustained")  # noqa: T201 - the result
    return 0 if rate >= 3000 and other == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
