"""The CPU floor for the proxy benchmark: a minimal aiohttp reverse proxy with one fixed header.

``python -m tests.perf.minproxy --config FILE --listen 127.0.0.1:PORT`` mints one
client-credentials token for the first tenant of an emitted configuration (its secret from the
environment, as the daemon reads it), then forwards every request to that tenant's API host: the
path after ``/t/TENANT`` and the query as sent, the body read whole, ``Authorization: Bearer
TOKEN`` as the one header added; it answers with the platform's status, content type and body.
Nothing else: no authentication of callers, no allow-list, no limits, no metrics, no logging,
no streaming. It prints ``minproxy listening on URL`` and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys

import aiohttp
import yaml
from aiohttp import web


async def mint(session: aiohttp.ClientSession, tenant: dict[str, object]) -> str:
    credentials = tenant["credentials"]
    assert isinstance(credentials, dict)
    secret = os.environ[credentials["client_secret"]["env"]]
    basic = base64.b64encode(f"{credentials['client_id']}:{secret}".encode()).decode()
    async with session.post(
        str(tenant["login_base_url"]).rstrip("/") + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    ) as response:
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"mint failed: {response.status} {body}")
        return str(body["access_token"])


async def serve(args: argparse.Namespace, tenant: dict[str, object]) -> int:
    api = str(tenant["api_base_url"]).rstrip("/")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        header = {"Authorization": f"Bearer {await mint(session, tenant)}"}

        async def forward(request: web.Request) -> web.Response:
            path = "/" + request.raw_path.split("/", 3)[3]  # without /t/TENANT
            body = await request.read()
            async with session.request(request.method, api + path, headers=header, data=body or None) as reply:
                return web.Response(status=reply.status, body=await reply.read(), content_type=reply.content_type)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host, _, port = args.listen.rpartition(":")
        await web.TCPSite(runner, host, int(port)).start()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        print(f"minproxy listening on http://{host}:{runner.addresses[0][1]}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.minproxy", description=__doc__)
    p.add_argument("--config", required=True)
    p.add_argument("--listen", default="127.0.0.1:0")
    args = p.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        tenant = yaml.safe_load(handle)["tenants"][0]
    return asyncio.run(serve(args, tenant))


if __name__ == "__main__":
    sys.exit(main())
