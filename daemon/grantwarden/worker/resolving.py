"""A tenant whose secret references cannot be resolved waits here, requesting no token, until they can.

Why apart: a missing secret (an unset variable, a file not yet mounted) is not a platform
failure, and no cycle can help it. ``wait`` shows the tenant ``needs_attention`` with one
``secret_unavailable`` finding per reference at once (logged once each), sleeps a probe interval
at a time (a reconcile looks again at once, since a secret file may appear) and returns when
every reference resolves; ``retry_when_back`` lets the token box mint at once when a secret that
failed the last mint is back, rather than after a backoff grown to minutes.

What it must not do: read a secret's value into a log line, a finding or an exception (the
reason names the variable or the file, ``SecretRef.reveal``), or request anything. Called by
``tenant.Worker`` (its ``run`` and its probe loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.policy import labels
from grantwarden.policy.tokens import TokenProblem
from grantwarden.worker import assembly, minting
from grantwarden.worker import status as health

_LOG = structlog.get_logger("grantwarden.tenant")  # the tenant comes from the unit task's context


def unresolved_secrets(tenant: settings.Tenant, environ: Mapping[str, str]) -> list[health.Unresolved]:
    """Each secret reference of the tenant that cannot be resolved now, with why; the reason names
    the variable or the file, never a value (``SecretRef.reveal``)."""
    refs = [("credentials.client_secret", tenant.credentials.client_secret)]
    if tenant.admin_credentials is not None:
        refs.append(("admin_credentials.client_secret", tenant.admin_credentials.client_secret))
    unresolved = []
    for place, ref in refs:
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            unresolved.append(health.Unresolved(place, str(exc), env=ref.env, file=ref.file))
    return unresolved


async def wait(parts: assembly.Parts, stop: asyncio.Event) -> bool | None:
    """Wait until every secret reference of the tenant resolves: False when they did at once,
    True after a wait, None when stopped first. Meanwhile no token is requested and the tenant
    shows ``needs_attention`` with a finding per secret; a reconcile looks again at once. The
    tenant is read afresh at each look (a reload may have changed it)."""
    status, clock = parts.status, parts.clock
    waited = False
    while unresolved := unresolved_secrets(parts.tenant, parts.deps.environ):
        if not waited:
            for secret in unresolved:
                _LOG.warning("secret_unavailable", place=secret.place, reason=secret.why)
        waited = True
        summary = status.secrets_unavailable(clock.now(), unresolved, parts.deps.config_path)
        parts.reporter.state(labels.State.NEEDS_ATTENTION, reason=summary)
        status.next_cycle_at = clock.now() + parts.tenant.probe_interval
        status.reconcile_requested.clear()
        await clock.sleep(parts.tenant.probe_interval, wakeup=(stop, status.reconcile_requested))
        if stop.is_set():
            return None
    if waited:
        status.reconcile_requested.clear()
    return waited


def retry_when_back(parts: assembly.Parts) -> None:
    """A secret that failed the last mint (a file gone, say) resolves again: mint at this cycle
    rather than after the backoff, which may have grown to minutes meanwhile."""
    box = parts.api.box
    failure = box.last_error
    missing = isinstance(failure, minting.MintFailedError) and failure.problem is TokenProblem.SECRET_UNAVAILABLE
    if missing and not unresolved_secrets(parts.tenant, parts.deps.environ):
        box.retry_now()
