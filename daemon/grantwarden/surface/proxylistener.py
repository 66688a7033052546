"""The in-path proxy's listener on ``proxy.listen``: TCP, or a unix socket of mode 0660.

Separate from the operator endpoints (``server``) and from the hand-off's, so that the proxy's
port, its callers and its limits are its own, and so that it exists only when the file has a
``proxy`` section. Binding is ``listening``'s, as for the hand-off: a unix socket has mode 0660
from its first moment (bound under a temporary name, then renamed into place), a stale socket of
an earlier run is replaced and any other file refused, and the socket goes at stop. Only
``app.inpath`` starts it; ``proxyforward`` answers every request.
"""

from __future__ import annotations

from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.surface import listening, proxy, proxyforward
from grantwarden.telemetry import metrics as metrics_mod


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
) -> listening.Running:
    """Serve the proxy on ``proxy.listen`` until the answer's ``stop()``; its ``url`` is
    ``http://HOST:PORT`` or ``unix:PATH``."""
    token = bearer_token.strip().encode() if bearer_token is not None else None
    if token == b"":
        raise ValueError("proxy.bearer_token is empty")
    forwarder = proxyforward.Forwarder(
        config=config, token=token, targets=targets, upstream=upstream, metrics=metrics, clock=clock
    )
    return await listening.start(build_app(forwarder), config.listen, setting="proxy.listen")
