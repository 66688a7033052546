"""Benchmark 6's yardstick: a minimal aiohttp server answering the hand-off's JSON from a dict.

``python -m tests.perf.handoff_baseline --socket PATH --tenants FILE`` serves
``GET /v1/tenants/{tenant}/token`` on a unix socket: the same JSON shape as grantwarden's answer
(built once per tenant at start), ``Cache-Control: no-store``, 404 for an unknown tenant, nothing
else: no token box, no identity rules, no bearer check, no metrics. The benchmark divides its CPU
per request by grantwarden's. It prints ``baseline listening`` once it serves and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from aiohttp import web


def app(tenants: list[str]) -> web.Application:
    answers = {
        name: json.dumps(
            {
                "tenant": name,
                "org_id": f"org-{index:05d}-0000-0000-0000-000000000000",
                "region": None,
                "api_base_url": "http://127.0.0.1:8080",
                "access_token": f"{'t' * 40}{index:08d}",
                "token_type": "bearer",
                "expires_at": "2026-01-02T11:59:31Z",
                "expires_in": 86371,
            }
        )
        for index, name in enumerate(tenants)
    }

    async def token(request: web.Request) -> web.Response:
        answer = answers.get(request.match_info["tenant"])
        if answer is None:
            return web.Response(status=404, text='{"error": "unknown_tenant"}', content_type="application/json")
        return web.Response(text=answer, content_type="application/json", headers={"Cache-Control": "no-store"})

    served = web.Application()
    served.router.add_get("/v1/tenants/{tenant}/token", token)
    return served


async def serve(socket: str, tenants: list[str]) -> None:
    runner = web.AppRunner(app(tenants), access_log=None, handle_signals=False)
    await runner.setup()
    await web.UnixSite(runner, socket).start()
    print("baseline listening", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.handoff_baseline", description=__doc__)
    p.add_argument("--socket", required=True)
    p.add_argument("--tenants", required=True)
    args = p.parse_args()
    asyncio.run(serve(args.socket, Path(args.tenants).read_text().split()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
