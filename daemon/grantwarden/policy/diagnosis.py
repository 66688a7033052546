"""A tenant's state and findings from one cycle's facts: the answer to "why does this org fail?".

The state is what dashboards and alerts watch (design.md §2.4), so it follows one precedence:

    needs_attention  a person must act (any finding that is neither fixable nor transient)
    remediating      a re-grant is running (and nothing needs a person)
    degraded         a probe fails for a reason grantwarden will fix itself (a planned re-grant
                     in remediate mode, or a re-mint for a role already held)
    unreachable      only transport trouble: network errors, timeouts, 5xx
    healthy          every probe ok

``rate_limited`` says nothing about authorisation, so it never changes the state on its own:
alone, the previous state stays (a finished ``remediating`` becomes ``degraded``: unverified).
Wrong-org credentials overshadow every other finding: nothing from another org is fixable;
for a tenant that acts through an org trust, "wrong org" follows ``identity.judge``.
Callers: the tenant loop (state metric, status page) and the ``check``/``plan`` commands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

from grantwarden.policy import findings, fixes, forbidden, identity, rejections, trust
from grantwarden.policy.findings import Finding, Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import ClientState, GrantType, ManagedBy, Outcome, RegrantMode, State
from grantwarden.policy.planning import Plan, Refusal, RefusalReason
from grantwarden.policy.tokens import TokenProblem

TRANSPORT = frozenset({Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.NETWORK_ERROR})


@dataclasses.dataclass(frozen=True, slots=True)
class Diagnosis:
    state: State
    findings: tuple[Finding, ...]


def diagnose(
    *,
    tenant: str,
    org_id: str,
    client_id: str,
    grant_type: GrantType,
    mode: RegrantMode,
    identity_org_id: str | None,
    token_problem: TokenProblem | None,
    verdicts: Mapping[str, Verdict],
    plans: Mapping[str, Plan],
    regrant_in_progress: bool = False,
    regrant_held: bool = False,
    previous: State = State.STARTING,
    config_path: str = "FILE",
    dry_run: bool = False,
    login_url: str = "",
    region: str | None = None,
    client_state: ClientState | None = None,
    shared_with: Sequence[str] = (),
    admin_client_id: str | None = None,
    home_org_id: str | None = None,
    identity_home_org_id: str | None = None,
    managed_by: ManagedBy = ManagedBy.GRANTWARDEN,
    member: trust.Member | None = None,
    changes: Mapping[str, str] | None = None,
) -> Diagnosis:
    """State and findings; ``plans`` maps a probe name to its plan, ``regrant_held`` means
    re-grants stopped after repeated failures (``remediation.HoldReason.TOO_MANY_FAILURES``),
    ``dry_run`` that re-grants are only planned (the fixes then say "would", not "will").

    What an ``invalid_client`` fix may say comes from: ``login_url`` and ``region`` (the hosts
    the tenant asks), ``client_state`` (the client as the org's admin identity read it, or
    ``NOT_FOUND``; None when unread), ``shared_with`` (other tenants configured with the same
    client_id: then no new secret is ever suggested). ``admin_client_id`` names the admin
    identity in fixes that ask a person to give it roles.

    An org trust: ``home_org_id`` is the trustee org a trust tenant's user belongs to
    (``credentials.trust``), ``identity_home_org_id`` the ``homeOrganization`` the identity check
    read, ``member`` what the admin identity read of the trust member (``trust.Member``).
    ``managed_by`` Terraform turns role and scope plans into what to add to the resource.
    ``changes`` maps a probe to the audit trail's account of the change that broke it.
    """
    s = Subject(
        tenant,
        org_id,
        client_id,
        grant_type,
        mode,
        config_path,
        regrant_held,
        dry_run,
        login_url=login_url,
        region=region,
        client_state=client_state,
        shared_with=tuple(sorted(set(shared_with) - {tenant})),
        admin_client_id=admin_client_id,
        home_org_id=home_org_id,
        managed_by=managed_by,
    )
    found: list[Finding] = []
    if token_problem is TokenProblem.INVALID_CLIENT:
        found.append(rejections.invalid_client_finding(s))
    elif token_problem is not None:
        found.append(findings.token_finding(s, token_problem))
    mismatch = None
    if identity_org_id is not None:
        mismatch = identity.judge(
            org_id=org_id, home_org_id=home_org_id, acts_in=identity_org_id, home=identity_home_org_id
        )
    other_org = mismatch.acts_in if mismatch is not None else None
    if mismatch is not None:
        found.append(identity.finding(s, mismatch))
    changes = changes or {}
    for probe, verdict in verdicts.items():
        if verdict.outcome is Outcome.OK or (mismatch and verdict.outcome is Outcome.WRONG_ORG):
            continue
        finding = _probe_finding(s, probe, verdict, plans.get(probe), member, changes.get(probe))
        found.append(_overshadowed(s, finding, other_org) if other_org else finding)
    return Diagnosis(state_of(found, regrant_in_progress=regrant_in_progress, previous=previous), tuple(found))


def state_of(found: Iterable[Finding], *, regrant_in_progress: bool, previous: State) -> State:
    """The tenant state for these findings (precedence in the module docstring)."""
    kinds = {_kind(f) for f in found}
    if State.NEEDS_ATTENTION in kinds:
        return State.NEEDS_ATTENTION
    if regrant_in_progress:
        return State.REMEDIATING
    for state in (State.DEGRADED, State.UNREACHABLE):
        if state in kinds:
            return state
    if Outcome.RATE_LIMITED in kinds:
        return State.DEGRADED if previous is State.REMEDIATING else previous
    return State.HEALTHY


def _kind(finding: Finding) -> State | Outcome:
    if finding.outcome is Outcome.RATE_LIMITED:
        return Outcome.RATE_LIMITED
    if finding.outcome in TRANSPORT:
        return State.UNREACHABLE
    return State.DEGRADED if finding.fixable else State.NEEDS_ATTENTION


def _overshadowed(s: Subject, finding: Finding, other_org: str) -> Finding:
    if finding.outcome in TRANSPORT or finding.outcome is Outcome.RATE_LIMITED:
        return finding
    fix = (
        f"Use org {s.org_id}'s own OAuth client first: OAuth client {s.client_id}'s result comes from org {other_org}."
    )
    return dataclasses.replace(finding, fixable=False, fix=fix, command=None)


def _probe_finding(
    s: Subject, probe: str, verdict: Verdict, plan: Plan | None, member: trust.Member | None, change: str | None
) -> Finding:
    if verdict.outcome is Outcome.MISSING_TRUSTOR_PERMISSION:
        summary, text, missing = _trustor(s, verdict, member)
    else:
        summary, text, missing = _BUILDERS.get(verdict.outcome, _unexpected)(s, verdict, plan)
    return findings.make(s, probe, verdict.outcome, f"Probe '{probe}': {summary}.", text, missing, change)


_Built = tuple[str, Text, tuple[str, ...]]


def _missing(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    where = f" in division(s) {', '.join(v.divisions)}" if v.divisions else ""
    summary = f"{s.who} lacks {findings.requirement_text(v)}{where}"
    if isinstance(plan, Refusal) and plan.reason is RefusalReason.REMOVED_AGAIN:
        lacks = f"it lacks {findings.requirement_text(v)}{where} again"
        summary = f"something keeps removing {findings.roles(plan.roles)} from {s.who}: {lacks}"
    return summary, fixes.missing_text(s, v, plan), v.permissions


def _trustor(s: Subject, v: Verdict, member: trust.Member | None) -> _Built:
    # platform.md §13: a trusted user holds the trustor roles the trust gives it, and no others.
    member = member or trust.Member(trustor_org_id=s.org_id, trustee_org_id=s.home_org_id or "its home org")
    where = f" in division(s) {', '.join(v.divisions)}" if v.divisions else ""
    lacks = f"lacks {findings.requirement_text(v)}{where}"
    signed = f"signed in with OAuth client {s.client_id} and acting in org {s.org_id} through {member.trust}"
    fix = trust.fix(member, v.permissions, tenant=s.tenant, client_id=s.client_id)
    return f"{member.user}, {signed}, {lacks}", Text(fix), v.permissions


def _scope(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    summary = f"{s.who} is not authorized for any of the scopes [{', '.join(v.scopes)}]"
    return summary, fixes.scope_text(s, v, plan), v.scopes


def _unlicensed(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    what = findings.listed(v.permissions)
    fix = f"Ask Genesys to license {what} for org {s.org_id}; no role can grant it to OAuth client {s.client_id}."
    return (
        f"org {s.org_id} is not licensed for {what}, which OAuth client {s.client_id} needs",
        Text(fix),
        v.permissions,
    )


def _policy(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    fix = f"Ask an admin of org {s.org_id} to review the security policy that denies OAuth client {s.client_id}."
    return f"org {s.org_id}'s security policy denies OAuth client {s.client_id} (authz.policy.denied)", Text(fix), ()


def _forbidden(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    code = v.code or f"HTTP {v.status}"
    fix = f"Look up the platform's refusal {code} and give {s.who} what it needs by hand."
    return f"org {s.org_id} refuses OAuth client {s.client_id} with {code}", Text(fix), v.permissions


# platform.md §4.2: not.a.user needs a user context, not.a.client a non-user one.
_GRANTS = {
    "user": ("a user token", "client-credentials token", "a user-grant client"),
    "client": ("a client-credentials token", "user token", "a client-credentials client"),
}


def _wrong_grant(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    needs, other, client = _GRANTS["client" if v.code == "not.a.client" else "user"]
    fix = f"Remove the probe from tenant {s.tenant}'s blueprint, or run it with {client} instead of {s.who}."
    return f"the endpoint needs {needs}, not the {other} of {s.who}", Text(fix), ()


def _unauthorized(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    fix = rejections.state_fix(s) or (
        f"Check that {s.who} is active and that tenant {s.tenant}'s api_base_url is in the org's region."
    )
    return (
        f"org {s.org_id}'s API rejects the token of OAuth client {s.client_id} ({v.code or 'HTTP 401'})",
        Text(fix),
        (),
    )


def _ip_refused(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    # platform.md §15: 401 ip.not.authorized "… not authorized: [%s]"; a new token changes nothing.
    address = forbidden.refused_address(v.message)
    shown = f"address {address}" if address else "grantwarden's address"
    summary = (
        f"org {s.org_id}'s IP address allowlist refuses {shown} for OAuth client {s.client_id} (ip.not.authorized)"
    )
    return summary, Text(rejections.ip_fix(s, address)), ()


def _wrong_org(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    fix = f"Use org {s.org_id}'s own OAuth client: the credentials of OAuth client {s.client_id} act in another org."
    return f"the token of OAuth client {s.client_id} acts in another org than {s.org_id}", Text(fix), ()


def _rate_limited(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    after = f" (retry after {v.retry_after:g} s)" if v.retry_after is not None else ""
    return f"{s.who} was rate limited{after}", Text(findings.sentence(findings.WAIT_FIX.format(who=s.who))), ()


def _transport(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    what = {Outcome.TIMEOUT: "got no reply in time", Outcome.NETWORK_ERROR: "could not connect to the platform"}
    fix = findings.sentence(findings.RETRY_FIX.format(org=s.org_id, client=s.client_id))
    return f"{s.who} {what.get(v.outcome, f'got HTTP {v.status} from the platform')}", Text(fix), ()


def _unexpected(s: Subject, v: Verdict, plan: Plan | None) -> _Built:
    answer = f"HTTP {v.status}" if v.status is not None else "an unreadable reply"
    code = f" ({v.code})" if v.code else ""
    fix = f"Check the probe's path and org {s.org_id}'s features for tenant {s.tenant} and OAuth client {s.client_id}."
    return f"org {s.org_id} answered OAuth client {s.client_id} with {answer}{code}", Text(fix), ()


_BUILDERS: dict[Outcome, Callable[[Subject, Verdict, Plan | None], _Built]] = {
    Outcome.MISSING_PERMISSION: _missing,
    Outcome.MISSING_DIVISION_PERMISSION: _missing,
    Outcome.MISSING_SCOPE: _scope,
    Outcome.UNLICENSED: _unlicensed,
    Outcome.POLICY_DENIED: _policy,
    Outcome.FORBIDDEN: _forbidden,
    Outcome.WRONG_GRANT_TYPE: _wrong_grant,
    Outcome.UNAUTHORIZED: _unauthorized,
    Outcome.IP_NOT_AUTHORIZED: _ip_refused,
    Outcome.WRONG_ORG: _wrong_org,
    Outcome.RATE_LIMITED: _rate_limited,
    Outcome.SERVER_ERROR: _transport,
    Outcome.TIMEOUT: _transport,
    Outcome.NETWORK_ERROR: _transport,
}
