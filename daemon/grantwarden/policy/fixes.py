"""Fix sentences that depend on more than a template: a missing permission or scope by its
plan or refusal, and a rejected client (``invalid_client``) by its likely cause.

What a person (or grantwarden) should do about a missing permission depends on the plan:
grantwarden adds an allow-listed role itself only in remediate mode, without ``regrant.dry_run``
and while re-grants are not held, and only then does a sentence say "grantwarden will"; a dry
run says what it would do and how to let it (design.md §2.2 regrant). Otherwise each refusal
reason names the exact next step: allow-list a role, give the admin identity the role it must
hold to grant it (platform.md §2.4), ask for a licence (platform.md §4.3), or, for scopes, approve
the app in the org and re-consent (platform.md §2.1). An ``invalid_client`` fix must be safe for
every tenant: it never advises a new secret while another tenant uses the client (that would
cut them off, platform.md §2.4). Only ``diagnosis`` calls this module.
"""

from __future__ import annotations

from collections.abc import Callable

from grantwarden.policy import findings
from grantwarden.policy.findings import Finding, Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import ClientState, GrantType, Outcome, RegrantMode
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RolePlan, ScopePlan

DRY_RUN = "dry run: set regrant.dry_run to false to apply"


def missing_text(s: Subject, verdict: Verdict, plan: Plan | None) -> Text:
    """The fix for a missing (division) permission, from its plan."""
    if isinstance(plan, RolePlan):
        return _role_plan_text(s, plan)
    if isinstance(plan, Refusal):
        return refusal_text(s, plan, verdict)
    return Text(
        f"Give {s.who} a role granting {findings.listed(verdict.permissions)} (Admin > OAuth, the client's Roles tab)."
    )


def scope_text(s: Subject, verdict: Verdict, plan: Plan | None) -> Text:
    """The fix for a missing scope: always a person's approval and re-consent in the end."""
    then = f"approve it in org {s.org_id} (Admin > Authorized Applications) and run `{s.authorize}`"
    if s.grant_type is GrantType.CLIENT_CREDENTIALS:
        return Text(f"Scopes do not apply to client-credentials clients: check credentials.grant for {s.who}.")
    if isinstance(plan, ScopePlan) and s.mode is RegrantMode.REMEDIATE and not s.regrant_held:
        scope = f"the allow-listed scope {plan.add[0]} to {s.who}"
        does = f"would add {scope} ({DRY_RUN})" if s.dry_run else f"will add {scope}"
        return Text(f"grantwarden {does}; then {then}.", command=s.authorize)
    if isinstance(plan, ScopePlan):
        return Text(f"Add scope {plan.add[0]} to {s.who}, then {then}.", command=s.authorize)
    if isinstance(plan, Refusal) and plan.reason is RefusalReason.NOT_ALLOW_LISTED:
        scopes = ", ".join(verdict.scopes)
        fix = f"Add one of the scopes [{scopes}] to the blueprint's grants.scopes or to {s.who}, then {then}."
        return Text(fix, command=s.authorize)
    fix = (
        f"Approve the app's scopes [{', '.join(verdict.scopes)}] in org {s.org_id}: Admin > Authorized Applications, "
        f"then run `{s.authorize}` for OAuth client {s.client_id}."
    )
    return Text(fix, command=s.authorize)


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


def refusal_text(s: Subject, refusal: Refusal, verdict: Verdict) -> Text:
    """The fix that follows from a planning refusal."""
    if refusal.reason is RefusalReason.ALREADY_GRANTED:
        return _already_granted_text(s, refusal)
    what = findings.listed(refusal.missing or verdict.permissions)
    return Text(_REFUSAL_FIXES.get(refusal.reason, _forbidden_fix)(s, refusal, what))


def _role_plan_text(s: Subject, plan: RolePlan) -> Text:
    what = findings.roles(plan.role_names)
    where = f"{s.who} (division {plan.division_id})"
    if s.regrant_held:
        return Text(
            f"Check why adding the allow-listed {what} to {where} was not verified: grantwarden stopped retrying."
        )
    if s.mode is RegrantMode.REMEDIATE and s.dry_run:
        return Text(f"grantwarden would add the allow-listed {what} to {where} ({DRY_RUN}).", fixable=True)
    if s.mode is RegrantMode.REMEDIATE:
        return Text(f"grantwarden will add the allow-listed {what} to {where}.", fixable=True)
    also = " and regrant.dry_run to false" if s.dry_run else ""
    return Text(
        f"Add the allow-listed {what} to {where}, or set regrant.mode to remediate{also} so grantwarden does it."
    )


def _already_granted_text(s: Subject, refusal: Refusal) -> Text:
    what = findings.roles(refusal.roles)
    if s.regrant_held:
        return Text(f"Check the {what} in org {s.org_id}: new tokens of OAuth client {s.client_id} still lack it.")
    held = f"{s.who} already holds the {what}"
    if s.mode is RegrantMode.OFF:
        return Text(f"{held}: wait a few minutes, or set regrant.mode to reissue so grantwarden mints a new token.")
    if s.dry_run:
        # No early re-mint in a dry run; the scheduled refresh still brings a token with the role.
        fix = f"{held}: the next scheduled token refresh picks it up; grantwarden would mint one sooner ({DRY_RUN})."
        return Text(fix, fixable=True)
    return Text(f"{held}: grantwarden will mint a new token once the change has propagated.", fixable=True)


_RefusalFix = Callable[[Subject, Refusal, str], str]


def _admin_lacks_fix(s: Subject, refusal: Refusal) -> str:
    # platform.md §2.4: editing a client needs "the same roles as the OAuth Client you plan to edit",
    # the roles it holds and those it is given; otherwise 400 bad.client.role.
    if not refusal.roles:
        return (
            f"Give {s.admin} every role that OAuth client {s.client_id} holds or is given: the platform refused "
            "the edit with 400 bad.client.role, as an editor must hold all of them."
        )
    return (
        f"Give {s.admin} the {findings.roles(refusal.roles)}: it may edit OAuth client {s.client_id} only while "
        "it holds every role that client holds or is given (else 400 bad.client.role)."
    )


def _forbidden_fix(s: Subject, refusal: Refusal, what: str) -> str:
    return f"Grant {s.who} what the platform asks for by hand ({refusal.detail})."


_REFUSAL_FIXES: dict[RefusalReason, _RefusalFix] = {
    RefusalReason.NOT_ALLOW_LISTED: lambda s, r, what: (
        f"Allow-list {findings.names(r.roles)} in the blueprint's grants.roles, "
        f"or give {s.who} a role granting {what} by hand."
    ),
    RefusalReason.DIVISION_NOT_ALLOW_LISTED: lambda s, r, what: (
        f"Give {s.who} a role granting {what} in the division the refusal names, or widen grants.division."
    ),
    RefusalReason.NO_ROLE_GRANTS: lambda s, r, what: (
        f"Create a role granting {what} in org {s.org_id}, then allow-list it for OAuth client {s.client_id}."
    ),
    RefusalReason.UNLICENSED: lambda s, r, what: (
        f"Ask Genesys to license {what} for org {s.org_id}; no role can grant it to OAuth client {s.client_id}."
    ),
    RefusalReason.ADMIN_LACKS_ROLE: lambda s, r, what: _admin_lacks_fix(s, r),
    RefusalReason.NO_ADMIN_CREDENTIALS: lambda s, r, what: (
        f"Add admin_credentials to tenant {s.tenant}, or give {s.who} the {findings.roles(r.roles)} by hand."
    ),
    RefusalReason.USER_LACKS_PERMISSION: lambda s, r, what: (
        f"Give the user who authorized {s.who} a role granting {what}."
    ),
    RefusalReason.NOTHING_NAMED: lambda s, r, what: (
        f"Read the platform's message and give {s.who} the permission it names by hand."
    ),
}
