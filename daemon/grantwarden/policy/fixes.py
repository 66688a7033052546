"""Fix sentences that depend on more than a template: a missing permission or scope by its
plan or refusal (a rejected client or address: ``rejections``).

What a person (or grantwarden) should do about a missing permission depends on the plan:
grantwarden adds an allow-listed role itself only in remediate mode, without ``regrant.dry_run``
and while re-grants are not held, and only then does a sentence say "grantwarden will"; a dry
run says what it would do and how to let it (design.md §2.2 regrant). Otherwise each refusal
reason names the exact next step: allow-list a role, give the admin identity the role it must
hold to grant it (platform.md §2.4), ask for a licence (platform.md §4.3), or, for scopes, approve
the app in the org and re-consent (platform.md §2.1). A client ``managed_by`` Terraform is never edited: the fix says
what to add to its resource (``terraform``). Only ``diagnosis`` calls this module.
"""

from __future__ import annotations

from collections.abc import Callable

from grantwarden.policy import findings, terraform
from grantwarden.policy.findings import Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import GrantType, ManagedBy, RegrantMode
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
    if s.home_org_id is not None:
        # platform.md §13: through a trust, the client is the trustee org's, not this org's.
        scopes = ", ".join(verdict.scopes)
        fix = (
            f"Ask an admin of org {s.home_org_id}, which owns OAuth client {s.client_id}, to add one of the scopes "
            f"[{scopes}] to it for tenant {s.tenant} in org {s.org_id}, then run `{s.authorize}`."
        )
        return Text(fix, command=s.authorize)
    if isinstance(plan, ScopePlan) and s.managed_by is ManagedBy.TERRAFORM:
        fix = f"OAuth client {s.client_id} is managed by Terraform: {terraform.sentence(plan)}, apply it, then {then}."
        return Text(fix, command=s.terraform)
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


def refusal_text(s: Subject, refusal: Refusal, verdict: Verdict) -> Text:
    """The fix that follows from a planning refusal."""
    if refusal.reason is RefusalReason.ALREADY_GRANTED:
        return _already_granted_text(s, refusal)
    what = findings.listed(refusal.missing or verdict.permissions)
    return Text(_REFUSAL_FIXES.get(refusal.reason, _forbidden_fix)(s, refusal, what))


def _role_plan_text(s: Subject, plan: RolePlan) -> Text:
    what = findings.roles(plan.role_names)
    where = f"{s.who} (division {plan.division_id})"
    if s.managed_by is ManagedBy.TERRAFORM:
        fix = (
            f"OAuth client {s.client_id} in org {s.org_id} is managed by Terraform (grants.managed_by), so "
            f"grantwarden does not edit it: {terraform.sentence(plan)}, then terraform apply."
        )
        return Text(fix, command=s.terraform)
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
    RefusalReason.REMOVED_AGAIN: lambda s, r, what: (
        f"Find what removes the {findings.roles(r.roles)} from OAuth client {s.client_id} in org {s.org_id} "
        "(a person, a script, a Terraform run that does not list it: see the audit trail) and stop it; grantwarden "
        f"added it and re-added it once, and adds it again only after POST /tenants/{s.tenant}/reconcile."
    ),
    RefusalReason.TRUSTOR_ROLE: lambda s, r, what: (
        f"Ask an admin of org {s.org_id} to give the trust member a trustor role granting {what}."
    ),
    RefusalReason.NOTHING_NAMED: lambda s, r, what: (
        f"Read the platform's message and give {s.who} the permission it names by hand."
    ),
}
