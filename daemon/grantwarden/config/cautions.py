"""What a valid configuration is still warned about: literal secrets and shared OAuth clients.

A literal secret ends up in version control. Two tenants with one ``credentials.client_id``
are most often a secondary org configured with a copy of the primary's credentials: a
client-credentials client belongs to one org (platform.md §7), so the copy gets tokens for the
wrong org (``wrong_org``), and a fix that regenerates that client's secret would break the other
tenant. Warnings are lines ``FILE: path: what`` that name tenants and places, never a secret.
Called by ``loading``; ``shared_clients`` is kept on its result for the diagnosis to use.
"""

from __future__ import annotations

import collections

from grantwarden.config import models
from grantwarden.config.secretrefs import SecretRef
from grantwarden.policy import labels

NAMED = 5
"""Tenants named in one warning line; the rest are counted."""


def secret_refs(cfg: models.Settings) -> list[tuple[str, SecretRef]]:
    """Every secret reference with its path in the file."""
    refs: list[tuple[str, SecretRef]] = []
    if cfg.server.admin_token is not None:
        refs.append(("server.admin_token", cfg.server.admin_token))
    if cfg.handoff is not None and cfg.handoff.bearer_token is not None:
        refs.append(("handoff.bearer_token", cfg.handoff.bearer_token))
    if cfg.proxy is not None and cfg.proxy.bearer_token is not None:
        refs.append(("proxy.bearer_token", cfg.proxy.bearer_token))
    for index, tenant in enumerate(cfg.tenants):
        refs.append((f"tenants[{index}].credentials.client_secret", tenant.credentials.client_secret))
        if tenant.admin_credentials is not None:
            refs.append((f"tenants[{index}].admin_credentials.client_secret", tenant.admin_credentials.client_secret))
    return refs


def literal_secrets(cfg: models.Settings, source: str) -> list[str]:
    return [
        f"{source}: {path}: a literal secret; prefer {{env: NAME}} or {{file: PATH}}"
        for path, ref in secret_refs(cfg)
        if ref.is_literal
    ]


def shared_clients(cfg: models.Settings) -> dict[str, tuple[str, ...]]:
    """Each ``credentials.client_id`` that more than one tenant uses: the tenants' names, in file order."""
    by_client: dict[str, list[str]] = collections.defaultdict(list)
    for tenant in cfg.tenants:
        by_client[tenant.credentials.client_id].append(tenant.name)
    return {client: tuple(names) for client, names in by_client.items() if len(names) > 1}


def shared_client_warnings(cfg: models.Settings, shared: dict[str, tuple[str, ...]], source: str) -> list[str]:
    """One line per shared client, naming its tenants and where they are written."""
    if not shared:
        return []
    index = {tenant.name: number for number, tenant in enumerate(cfg.tenants)}
    lines = []
    for names in shared.values():
        tenants = [cfg.tenants[index[name]] for name in names]
        places = ", ".join(f"tenants[{index[name]}].credentials.client_id" for name in names[:NAMED])
        named = ", ".join(repr(name) for name in names[: min(NAMED, len(names) - 1)])
        more = len(names) - NAMED
        named += f" and {more} more" if more > 0 else f" and {names[-1]!r}"
        places += ", ..." if more > 0 else ""
        orgs = {tenant.org_id for tenant in tenants}
        machine = any(t.credentials.grant is labels.GrantType.CLIENT_CREDENTIALS for t in tenants)
        if machine and len(orgs) > 1:
            why = (
                "a client-credentials client acts only in the org it belongs to, so all but one get tokens for the "
                "wrong org (wrong_org); give each org its own client"
            )
        else:
            why = "regenerating its secret to fix one of them would break the others"
        lines.append(f"{source}: {places}: tenants {named} use one OAuth client; {why}")
    return lines
