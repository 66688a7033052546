"""In-path mode in the running daemon: which tenants the proxy serves, and its listener.

``Tenants`` is the daemon's side of ``surface.proxy.Targets``: an owned tenant by name, with its
status, its blueprint's compiled ``proxy_allow`` and its running worker's access object (the
one the token hand-off answers from, ``handoff.Finder.access``: built for every worker when the
hand-off or the proxy is configured), so a proxied refusal is diagnosed and re-granted as a
reported one is. A ``Target`` is built once per tenant and configuration and again when the
worker was replaced (a restart, a reload): the lookup runs for every proxied request. ``start``
brings up the listener and the proxy's own platform session (the daemon's decompresses
answers; the proxy must not) when the file has a ``proxy`` section; ``InPath`` stops both. Only
``app.runtime`` calls this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Protocol

import aiohttp

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.policy import allowlist
from grantwarden.remote import passthrough
from grantwarden.surface import listening, proxy, proxylistener
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health

_Cached = tuple[object, dict[str, proxy.Target], dict[str, tuple[allowlist.Rule, ...]]]


class Fleet(Protocol):
    """What ``Tenants`` reads of the running daemon (``runtime.Daemon``), afresh each time."""

    cfg: settings.Settings

    def statuses(self) -> Mapping[str, health.TenantStatus]: ...


class Wiring(Protocol):
    """What the proxy shares with the rest of the daemon (``runtime.Options``)."""

    @property
    def clock(self) -> clock_mod.Clock: ...

    @property
    def environ(self) -> Mapping[str, str]: ...

    @property
    def redactor(self) -> redaction.Redactor: ...


class Tenants:
    """The tenants the proxy may serve: owned ones, each with its running worker's access object."""

    def __init__(self, fleet: Fleet, *, config_path: str, access: Callable[[str], proxy.Access | None]) -> None:
        """``access(name)``: the access object of tenant ``name``'s running worker, or None."""
        self._fleet, self._config_path, self._access = fleet, config_path, access
        self.where: str | None = None  # the listener's URL (http://HOST:PORT or unix:PATH), once it listens
        self._cached: _Cached = (None, {}, {})

    def proxy_target(self, name: str) -> proxy.Target | None:
        """An owned tenant as the proxy sees it (its access object None while its worker is not
        running); None for any other name."""
        fleet = self._fleet
        status = fleet.statuses().get(name)
        if status is None:
            return None  # not owned here, or the tenant left this replica (a reload)
        access = self._access(name)
        cfg, targets, rules = self._cached
        if cfg is not fleet.cfg:
            self._cached = cfg, targets, rules = fleet.cfg, {}, {}
        found = targets.get(name)
        if found is not None and found.status is status and found.access is access:
            return found
        tenant_cfg = fleet.cfg.tenant(name)
        if tenant_cfg is None:
            return None
        blueprint = tenant_cfg.blueprint
        if blueprint not in rules:
            written = fleet.cfg.blueprints[blueprint].proxy_allow
            rules[blueprint] = allowlist.compile_rules(tuple((rule.method, rule.path) for rule in written))
        found = targets[name] = proxy.Target(
            tenant=tenant_cfg, rules=rules[blueprint], status=status, access=access, config_path=self._config_path
        )
        return found


@dataclasses.dataclass(eq=False)
class InPath:
    """The running proxy: its listener, then its session, closed in that order."""

    listening: listening.Running
    session: aiohttp.ClientSession

    @property
    def where(self) -> str:
        return self.listening.url

    async def stop(self) -> None:
        try:
            await self.listening.stop()
        finally:
            await self.session.close()


async def start(
    cfg: settings.Settings,
    tenants: Tenants | None,
    *,
    metrics: metrics_mod.Metrics,
    wiring: Wiring,
    connections: int,
) -> InPath | None:
    """The proxy's listener and its platform session, when the file has ``proxy``; else None."""
    if cfg.proxy is None or tenants is None:
        return None
    token = cfg.proxy.bearer_token.reveal(wiring.environ) if cfg.proxy.bearer_token is not None else None
    if token:
        wiring.redactor.add(token, configured=True)
    session = passthrough.session(connections=connections)
    try:
        listener = await proxylistener.start(
            config=cfg.proxy,
            bearer_token=token,
            targets=tenants,
            upstream=passthrough.Passthrough(session=session),
            metrics=metrics,
            clock=wiring.clock,
        )
    except BaseException:
        await session.close()
        raise
    tenants.where = listener.url
    return InPath(listener, session)
