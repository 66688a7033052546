"""Which tenants this replica runs, and what a change to each of them means.

A configuration (at start, or read again by a reload) becomes a list of ``supervisor.Spec``: the
tenants this shard owns (design.md §3.10), each with two keys. ``identity_key`` covers who the
tenant is: its org, its hosts, its grant and credentials (secret references, and literal secrets
as a digest) and its admin credentials; a change there restarts its worker, which mints anew.
``settings_key`` covers how it runs: interval, timeout, concurrency, refresh and re-grant
settings, the blueprint and what it holds; a change there is handed to the running worker, which
keeps its token and state (design.md §3.11). Tenants that run alike share one settings key
object, so 10,000 tenants keep one 16-byte identity digest each and a handful of settings keys.

Also here: what must resolve before a file may run (``check_secrets``): server-level secrets
always (the listener's admin token cannot wait for a person), tenants' secrets only in strict
mode (otherwise that tenant alone waits, ``tenant.Worker``). Callers: ``runtime``, ``reloading``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping

from grantwarden.config import cautions
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.policy import sharding
from grantwarden.worker import supervisor

DIGEST_BYTES = 16  # a collision would have to come from a file written to collide
LISTENERS = ("server.", "handoff.")  # secrets of the listeners: no tenant can wait for them


class ShardError(Exception):
    """This replica cannot tell which shard it is."""


def resolve_shard(cfg: settings.Settings, environ: Mapping[str, str]) -> tuple[int, int]:
    """(index, count): the config (or GRANTWARDEN_SHARDING__INDEX), else a StatefulSet ordinal."""
    count = cfg.sharding.count
    if cfg.sharding.index is not None:
        return cfg.sharding.index, count
    if count == 1:
        return 0, 1
    for variable in ("POD_NAME", "HOSTNAME"):
        name = environ.get(variable, "")
        with contextlib.suppress(ValueError):
            index = sharding.ordinal_from_pod_name(name)
            if index < count:
                return index, count
            raise ShardError(f"{variable}={name} is ordinal {index}, but sharding.count is {count}")
    raise ShardError("sharding.count > 1 needs sharding.index, GRANTWARDEN_SHARDING__INDEX or a POD_NAME like app-3")


def _digest(*parts: str) -> bytes:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=DIGEST_BYTES).digest()


def identity_key(tenant: settings.Tenant) -> bytes:
    """Who the tenant is: a change restarts its worker. Literal secrets enter as a digest only."""
    credentials = tenant.credentials
    admin = tenant.admin_credentials
    literals = [credentials.client_secret.literal or "", admin.client_secret.literal if admin else ""]
    return _digest(
        tenant.org_id,
        tenant.region or "",
        tenant.api_url,
        tenant.login_url,
        credentials.model_dump_json(),  # the secret as its reference: env or file, never a literal
        admin.model_dump_json() if admin is not None else "",
        hashlib.sha256("\0".join(x or "" for x in literals).encode()).hexdigest(),
    )


def settings_key(
    tenant: settings.Tenant, blueprint: settings.Blueprint, interned: dict[bytes, bytes] | None = None
) -> bytes:
    """How the tenant runs: a change is applied in place. ``interned`` (one per list of specs)
    makes tenants that run alike share one key object."""
    key = _digest(
        repr((tenant.probe_interval, tenant.probe_timeout, tenant.probe_concurrency)),
        tenant.refresh.model_dump_json(),
        tenant.regrant.model_dump_json(),
        tenant.blueprint,
        blueprint.model_dump_json(),
    )
    return key if interned is None else interned.setdefault(key, key)


def specs(cfg: settings.Settings, shard_index: int, shard_count: int) -> list[supervisor.Spec]:
    """The tenants this shard owns, in file order, each with its identity and settings keys."""
    interned: dict[bytes, bytes] = {}
    return [
        supervisor.Spec(t.name, identity_key(t), settings_key(t, cfg.blueprints[t.blueprint], interned))
        for t in cfg.tenants
        if sharding.owns(t.org_id, shard_index, shard_count)
    ]


def check_secrets(loaded: configfile.Loaded, environ: Mapping[str, str], *, strict: bool) -> None:
    """Raise ``ConfigError`` naming each secret reference that must resolve before the file may
    run and does not: ``server.*`` and ``handoff.*`` (the listeners' tokens) always, the tenants'
    too when ``strict``."""
    problems = []
    for path, ref in cautions.secret_refs(loaded.settings):
        if not (strict or path.startswith(LISTENERS)):
            continue
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            problems.append((path, str(exc)))
    if problems:
        raise configfile.ConfigError(loaded.source, problems)


def tenant_secret_warnings(loaded: configfile.Loaded, environ: Mapping[str, str]) -> list[str]:
    """``FILE: path: why (...)`` for each tenant secret that does not resolve: that tenant waits
    in needs_attention while the others run."""
    warnings = []
    for path, ref in cautions.secret_refs(loaded.settings):
        if path.startswith(LISTENERS):
            continue
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            warnings.append(f"{loaded.source}: {path}: {exc} (that tenant waits in needs_attention; the others run)")
    return warnings
