"""How a tenant's token is obtained, hidden behind one callable for the token box.

Client credentials (reference §1.2): ``POST /oauth/token`` with the client's id and secret,
the secret read from its reference at every mint, so a rotated secret file is picked up without
a restart. Authorization-code tenants refresh with their stored, rotating refresh token
(``usergrant``). The token box neither knows nor cares which.
"""

from __future__ import annotations

from pathlib import Path

from daemon import redaction, settings, tokens_box, usergrant
from daemon.policy import labels
from daemon.remote import client as remote_client
from daemon.remote import gate, oauth, transport
from daemon.secrets import SecretRef, SecretUnavailableError


def client_credentials(
    *,
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: gate.Gate,
    client_id: str,
    secret: SecretRef,
    timeout_s: float | None = None,
) -> tokens_box.Mint:
    async def mint() -> oauth.TokenGrant:
        try:
            value = secret.reveal()
        except SecretUnavailableError as exc:
            raise tokens_box.MintFailedError(f"client secret of {client_id}: {exc}") from None
        return await client.mint_client_credentials(endpoints, client_id, value, gate=gate, timeout_s=timeout_s)

    return mint


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
    )
