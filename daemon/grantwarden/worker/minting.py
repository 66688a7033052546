"""How a tenant's token is obtained, hidden behind one callable for the token box.

Client credentials (platform.md §1.2): ``POST /oauth/token`` with the client's id and secret,
the secret read from its reference at every mint, so a rotated secret file is picked up without
a restart; a reference that cannot be resolved fails the mint before any request, as
``secret_unavailable`` naming the config path and the variable or file (never a value).
Authorization-code tenants refresh with their stored, rotating refresh token (``usergrant``).
The token box neither knows nor cares which.
"""

from __future__ import annotations

from pathlib import Path

from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretRef, SecretUnavailableError
from grantwarden.policy import labels
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, oauth, transport
from grantwarden.worker import tokenbox as tokens_box
from grantwarden.worker import usergrant


def client_credentials(
    *,
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: gate.Gate,
    client_id: str,
    secret: SecretRef,
    timeout_s: float | None = None,
    where: str | None = None,
) -> tokens_box.Mint:
    """``where`` names the secret's place in the config (``credentials.client_secret of tenant x``)."""
    place = where or f"the client secret of OAuth client {client_id}"

    async def mint() -> oauth.TokenGrant:
        try:
            value = secret.reveal()
        except SecretUnavailableError as exc:
            raise unresolved(place, exc) from None
        return await client.mint_client_credentials(endpoints, client_id, value, gate=gate, timeout_s=timeout_s)

    return mint


def unresolved(place: str, exc: SecretUnavailableError) -> tokens_box.MintFailedError:
    """The failure of a mint whose secret reference cannot be resolved: no request was sent.

    The place comes first and never right before a colon: logs and the status page redact every
    line again, and the redactor reads "client_secret: environment ..." as a secret key and value.
    """
    return tokens_box.MintFailedError(
        f"{place} cannot be resolved, so no token was requested: {exc}", problem=TokenProblem.SECRET_UNAVAILABLE
    )


def for_tenant(
    tenant: settings.Tenant,
    *,
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: gate.Gate,
    state_dir: Path,
    redactor: redaction.Redactor | None = None,
    config_path: str = "FILE",
) -> tokens_box.Mint:
    credentials = tenant.credentials
    if credentials.grant is labels.GrantType.AUTHORIZATION_CODE:
        return usergrant.minter(
            tenant,
            client=client,
            endpoints=endpoints,
            gate=gate,
            state_dir=state_dir,
            redactor=redactor,
            config_path=config_path,
        )
    return client_credentials(
        client=client,
        endpoints=endpoints,
        gate=gate,
        client_id=credentials.client_id,
        secret=credentials.client_secret,
        timeout_s=tenant.probe_timeout,
        where=f"credentials.client_secret of tenant {tenant.name} in {config_path}",
    )
