"""The in-path proxy's listener: its own ``AppRunner`` on ``proxy.listen``, TCP or a unix socket.

Separate from the operator endpoints (``server``) so that the proxy's port, its callers and its
limits are its own, and so that it exists only when the file has a ``proxy`` section. A unix
socket is made mode 0660 once bound (its directory's permissions guard it in between), and a
socket left at the path by an earlier run is replaced; any other file there is an error. Only
``app.inpath`` starts it; ``proxyforward`` answers every request.
"""

from __future__ import annotations

import dataclasses
import os
import stat

from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.surface import proxy, proxyforward
from grantwarden.telemetry import metrics as metrics_mod

SHUTDOWN_TIMEOUT_S = 2.0
SOCKET_MODE = 0o660


@dataclasses.dataclass(eq=False)
class Running:
    """The proxy's listener: ``where`` (a URL or the socket's path), ``stop()`` to close it."""

    runner: web.AppRunner
    where: str

    async def stop(self) -> None:
        await self.runner.cleanup()


def build_app(forwarder: proxyforward.Forwarder) -> web.Application:
    """One route for every method and path: the forwarder reads the raw target itself."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forwarder.handle)
    return app


async def start(
    *,
    config: proxysettings.ProxySettings,
    bearer_token: str | None,
    targets: proxy.Targets,
    upstream: proxy.Upstream,
    metrics: metrics_mod.Metrics,
    clock: clock_mod.Clock,
) -> Running:
    """Bind ``proxy.listen`` (TCP, or a unix socket made 0660) and serve until ``Running.stop()``."""
    token = bearer_token.strip().encode() if bearer_token is not None else None
    if token == b"":
        raise ValueError("proxy.bearer_token is empty")
    forwarder = proxyforward.Forwarder(
        config=config, token=token, targets=targets, upstream=upstream, metrics=metrics, clock=clock
    )
    runner = web.AppRunner(
        build_app(forwarder), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        where = await _bind(runner, config)
    except BaseException:
        await runner.cleanup()
        raise
    return Running(runner=runner, where=where)


def _remove_stale_socket(path: str) -> None:
    """A socket left at ``path`` by an earlier run would fail the bind; any other file stays
    (the bind then fails, naming the path)."""
    if os.path.lexists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
        os.unlink(path)


async def _bind(runner: web.AppRunner, config: proxysettings.ProxySettings) -> str:
    path = config.unix_path
    if path is not None:
        _remove_stale_socket(path)
        site: web.BaseSite = web.UnixSite(runner, path)
        await site.start()
        os.chmod(path, SOCKET_MODE)
        return path
    host, _, port = config.listen.rpartition(":")
    site = web.TCPSite(runner, host or None, int(port))
    await site.start()
    bound = runner.addresses[0]
    reachable = host if host not in ("", "0.0.0.0") else "127.0.0.1"
    return f"http://{reachable}:{bound[1]}"
