"""Fixes for a client or a caller the platform rejects outright: ``invalid_client``, a client that
is not ``active``, an address outside the org's IP allowlist.

A rejected client has one of a few causes, and the fix must name the likeliest and least harmful
first: a known client ``state`` (read by the org's admin identity, platform.md §12) is a fact and
leads; otherwise the region (platform.md §1.1), then a copied or stale secret; a new secret only
while no other tenant uses the client (it would cut them off, platform.md §2.4). An address the
org's IP allowlist refuses (401 ``ip.not.authorized``, platform.md §15) is the org setting's to
change: no token helps. Only ``diagnosis`` calls this module.
"""

from __future__ import annotations

from grantwarden.policy import findings
from grantwarden.policy.findings import Finding, Subject, Text
from grantwarden.policy.labels import ClientState, Outcome


def invalid_client_finding(s: Subject) -> Finding:
    """The token endpoint said ``invalid_client``: the likeliest and least harmful cause first.

    A known state other than ``active`` is a fact, so it leads; a client found in the org at all
    rules the region out (the admin identity asked the same hosts). Otherwise the region comes
    first (platform.md §1.1), then a copied or stale secret. A new secret comes last and only while
    no other tenant uses the client; when others do, the fix says to leave it alone.
    """
    state = s.client_state
    note = f"; {_STATE_NOTES[state]}" if state in _STATE_NOTES else ""
    summary = f"Tenant {s.tenant}: the token endpoint rejects {s.who} as invalid_client{note}."
    if state is not None and state is not ClientState.ACTIVE:
        causes = [_STATE_FIXES[state].format(who=s.who, org=s.org_id, client=s.client_id, tenant=s.tenant)]
    else:
        causes = [] if state is ClientState.ACTIVE else [_region(s)]
        causes.append(
            f"check that the secret reference credentials.client_secret of tenant {s.tenant} in {s.config_path} "
            f"names the current secret of OAuth client {s.client_id}, not one copied from another client or one "
            "replaced since"
        )
    if not s.shared_with and state in (None, ClientState.ACTIVE):
        causes.append(
            f"only if that secret is lost, re-create it in Admin > OAuth of org {s.org_id} and update every "
            f"holder of it at once (no other tenant here uses OAuth client {s.client_id})"
        )
    elif s.shared_with:
        many = len(s.shared_with) > 1
        users = f"tenant{'s' if many else ''} {', '.join(s.shared_with)} also use{'' if many else 's'}"
        causes.append(f"leave its secret alone: {users} OAuth client {s.client_id}, and a new secret would break them")
        if state is None:
            causes.append(
                f"the likely cause is that tenant {s.tenant} is configured with another org's client, "
                f"so give it org {s.org_id}'s own OAuth client"
            )
    fix = "; ".join(causes)
    return findings.make(s, "token", Outcome.UNAUTHORIZED, summary, Text(findings.sentence(fix[:1].upper() + fix[1:])))


def state_fix(s: Subject) -> str | None:
    """What to do about a client whose known state is not ``active``; None otherwise."""
    state = s.client_state
    if state is None or state is ClientState.ACTIVE:
        return None
    fix = _STATE_FIXES[state].format(who=s.who, org=s.org_id, client=s.client_id, tenant=s.tenant)
    return findings.sentence(fix[:1].upper() + fix[1:])


def ip_fix(s: Subject, address: str | None) -> str:
    """Allow the refused address in the org's IP allowlist (platform.md §15); a new token would not help."""
    shown = address or "grantwarden's egress address (the message did not name it)"
    return (
        f"Ask an admin of org {s.org_id} to add {shown} to the org's IP address allowlist (Admin > Organization "
        "settings > IP address allowlist, or PATCH /api/v2/organizations/authentication/settings "
        "ipAddressAllowlist, which needs directory:organization:admin), or run grantwarden from an address "
        f"already on it; grantwarden does not mint a new token for OAuth client {s.client_id}, as the address, "
        "not the token, is refused."
    )


def _region(s: Subject) -> str:
    hosts = f"region {s.region}" if s.region else "its login_base_url"
    where = f"{s.login_url} ({hosts})" if s.login_url else hosts
    return (
        f"check the region first: OAuth client {s.client_id} is only known to its own region's login host, "
        f"and tenant {s.tenant} asks {where}, which must be org {s.org_id}'s region"
    )


# reference E2 (the SDK's OAuthClient.state docs); inactive: "it will be deleted", restorable in
# the UI for seven days (help ?p=188025, M); disabled is also what Genesys support sets.
_STATE_FIXES: dict[ClientState, str] = {
    ClientState.DISABLED: (
        "{who} is disabled: access tokens created by the client are invalid and new ones cannot be created; "
        "re-activating it is a person's decision in Admin > OAuth (Genesys support may have disabled it), "
        "else give tenant {tenant} another active client of org {org}"
    ),
    ClientState.INACTIVE: (
        "{who} is inactive: it creates no tokens and is scheduled for deletion; restore it in Admin > OAuth "
        "while it is still listed, or create a new client and give it to tenant {tenant}"
    ),
    ClientState.DELETED: "{who} has been deleted: create a new client in Admin > OAuth and give it to tenant {tenant}",
    ClientState.NOT_FOUND: (
        "org {org} has no OAuth client {client} (its admin identity was answered client.not.found): the client "
        "was deleted or belongs to another org, so give tenant {tenant} org {org}'s own OAuth client"
    ),
}
_STATE_NOTES = {
    ClientState.DISABLED: "the client is disabled",
    ClientState.INACTIVE: "the client is inactive",
    ClientState.DELETED: "the client has been deleted",
    ClientState.NOT_FOUND: "the org has no such client",
}
