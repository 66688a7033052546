"""Findings: what is wrong and who does what next, one sentence each, naming org and client.

``check``, ``plan``, the status page and the logs all show these sentences, so each names the
org and the OAuth client and says who acts next: grantwarden itself (``fixable``) or a person
(and then exactly where, with the command to run when there is one), and every fix is safe for
every tenant. This module holds the Finding record and Subject (with what is known of the
client: its hosts, its state, the other tenants that use it), the sentence helpers, and the
findings about the token itself: token-endpoint failures, a secret reference that cannot be
resolved (no request was sent), credentials that act in another org (platform.md §7). Fixes that
depend on more than a template (a missing permission or scope by its plan, ``invalid_client``
by its cause) live in ``fixes``; ``diagnosis`` assembles both and decides the state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import ClientState, GrantType, ManagedBy, Outcome, RegrantMode
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.tokens import TokenProblem


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    probe: str  # the probe's name; "token" for the token endpoint and the identity check
    outcome: Outcome
    org_id: str
    client_id: str
    missing: tuple[str, ...] = ()  # permissions or scopes the platform said are missing
    fixable: bool = False  # True: grantwarden itself will fix it (a re-grant or a re-mint)
    summary: str = ""  # one sentence: what is wrong
    fix: str = ""  # one sentence: who does what next
    command: str | None = None  # a command a person should run, when there is one
    change: str | None = None  # who changed what, from the platform's audit trail (or why it is unread)


@dataclasses.dataclass(frozen=True, slots=True)
class Subject:
    """Who the sentences are about, and how far grantwarden may go for them."""

    tenant: str
    org_id: str
    client_id: str
    grant_type: GrantType
    mode: RegrantMode
    config_path: str = "FILE"
    regrant_held: bool = False  # re-grants stopped after repeated unverified attempts
    dry_run: bool = False  # regrant.dry_run: grantwarden plans and logs re-grants but applies none
    login_url: str = ""  # the login host the tenant's tokens come from (platform.md §1.1)
    region: str | None = None
    client_state: ClientState | None = None  # as the org's admin identity read it; None: unknown
    shared_with: tuple[str, ...] = ()  # the other tenants configured with the same client_id
    admin_client_id: str | None = None  # the admin identity's OAuth client, when there is one
    home_org_id: str | None = None  # credentials.trust: the trustee org whose user acts in org_id
    managed_by: ManagedBy = ManagedBy.GRANTWARDEN  # grants.managed_by: who may edit the client

    @property
    def who(self) -> str:
        return f"OAuth client {self.client_id} in org {self.org_id}"

    @property
    def admin(self) -> str:
        """grantwarden's admin identity in the org, by its OAuth client when known."""
        client = f" (OAuth client {self.admin_client_id})" if self.admin_client_id else ""
        return f"grantwarden's admin identity{client} in org {self.org_id}"

    @property
    def authorize(self) -> str:
        return f"grantwarden authorize --config {self.config_path} --tenant {self.tenant}"

    @property
    def terraform(self) -> str:
        """The command that prints a Terraform-managed client's missing blocks."""
        return f"grantwarden plan --config {self.config_path} --tenant {self.tenant} --format terraform"


@dataclasses.dataclass(frozen=True, slots=True)
class Text:
    fix: str
    fixable: bool = False
    command: str | None = None


def make(
    s: Subject,
    probe: str,
    outcome: Outcome,
    summary: str,
    text: Text,
    missing: Sequence[str] = (),
    change: str | None = None,
) -> Finding:
    """A Finding with whitespace collapsed, so every sentence fits on one line."""
    return Finding(
        probe=probe,
        outcome=outcome,
        org_id=s.org_id,
        client_id=s.client_id,
        missing=tuple(missing),
        fixable=text.fixable,
        summary=" ".join(summary.split()),
        fix=" ".join(text.fix.split()),
        command=text.command,
        change=" ".join(change.split()) if change else None,
    )


def listed(items: Sequence[str]) -> str:
    """Permissions or scopes, comma-separated; a placeholder when the platform named none."""
    return ", ".join(items) if items else "a permission the platform did not name"


def names(role_names: Sequence[str]) -> str:
    """Role names, quoted and comma-separated."""
    return ", ".join(f"'{r}'" for r in role_names) if role_names else "a covering role"


def roles(role_names: Sequence[str]) -> str:
    """The word role (or roles) and the quoted names."""
    if not role_names:
        return "covering role"
    return f"{'role' if len(role_names) == 1 else 'roles'} {names(role_names)}"


def requirement_text(verdict: Verdict) -> str:
    """The missing permissions, read as "any one of …" for an ANY requirement."""
    if verdict.requirement is Requirement.ANY and len(verdict.permissions) > 1:
        return f"any one of {listed(verdict.permissions)}"
    return listed(verdict.permissions)


WAIT_FIX = "Nothing to do unless it persists: grantwarden waits out the Retry-After before its next request for {who}"
RETRY_FIX = (
    "Nothing to do unless it persists: grantwarden retries with backoff; "
    "then check the network path to org {org}'s region for OAuth client {client}."
)


_TOKEN: dict[TokenProblem, tuple[Outcome, str, str]] = {  # outcome, summary, fix
    TokenProblem.INVALID_GRANT: (
        Outcome.UNAUTHORIZED,
        "the token endpoint rejects the refresh token of {who} (invalid_grant)",
        "Sign in again for {who}: run `{authorize}`",  # platform.md §1.4: refresh tokens may be revoked
    ),
    TokenProblem.UNAUTHORIZED_CLIENT: (
        Outcome.WRONG_GRANT_TYPE,
        "{who} may not use the {grant} grant",
        "Set credentials.grant of tenant {tenant} to the grant type {who} was created with",
    ),
    TokenProblem.RATE_LIMITED: (Outcome.RATE_LIMITED, "the token endpoint rate limits {who}", WAIT_FIX),
    TokenProblem.SERVER_ERROR: (Outcome.SERVER_ERROR, "the token endpoint fails for {who}", RETRY_FIX),
    TokenProblem.TIMEOUT: (Outcome.TIMEOUT, "the token endpoint does not answer {who} in time", RETRY_FIX),
    TokenProblem.NETWORK_ERROR: (Outcome.NETWORK_ERROR, "the token endpoint is unreachable for {who}", RETRY_FIX),
    TokenProblem.UNEXPECTED: (
        Outcome.UNEXPECTED_STATUS,
        "the token endpoint gave {who} an unexpected answer",
        "Check tenant {tenant}'s login_base_url and region for {who}",
    ),
    TokenProblem.SECRET_UNAVAILABLE: (  # a config problem found at mint time: no request was sent
        Outcome.UNAUTHORIZED,
        "the client secret of {who} cannot be resolved, so no token was requested",
        "Set the environment variable or secret file that credentials.client_secret of tenant {tenant} "
        "names in {config} for {who} (the token error names it); grantwarden retries with backoff",
    ),
}


def token_finding(s: Subject, problem: TokenProblem) -> Finding:
    """The finding for a failed token request; ``invalid_client`` has its own (by cause, in ``fixes``)."""
    if problem is TokenProblem.INVALID_CLIENT:
        raise ValueError("invalid_client depends on its cause: rejections.invalid_client_finding builds it")
    outcome, summary, fix = _TOKEN[problem]
    fields = {"who": s.who, "tenant": s.tenant, "org": s.org_id, "client": s.client_id,
              "authorize": s.authorize, "grant": s.grant_type.value, "config": s.config_path}  # fmt: skip
    command = s.authorize if problem is TokenProblem.INVALID_GRANT else None
    text = Text(sentence(fix.format(**fields)), command=command)
    return make(s, "token", outcome, f"Tenant {s.tenant}: {summary.format(**fields)}.", text)


def identity_finding(s: Subject, other_org: str) -> Finding:
    """The finding for credentials whose token acts in ``other_org``."""
    # platform.md §7: a token acts in exactly one org, the one its client belongs to.
    summary = (
        f"Tenant {s.tenant}: the token of OAuth client {s.client_id} acts in org {other_org}, not in org {s.org_id}."
    )
    fix = (
        f"Use org {s.org_id}'s own OAuth client: these credentials (OAuth client {s.client_id}) act in org {other_org}."
    )
    return make(s, "token", Outcome.WRONG_ORG, summary, Text(fix))


def sharing(client_ids: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Tenant name → the other tenants configured with the same client_id (``diagnose(shared_with=)``)."""
    by_client: dict[str, list[str]] = {}
    for tenant, client_id in client_ids.items():
        by_client.setdefault(client_id.strip().casefold(), []).append(tenant)
    return {t: tuple(sorted(o for o in by_client[c.strip().casefold()] if o != t)) for t, c in client_ids.items()}


def sentence(text: str) -> str:
    """``text`` ending in a full stop."""
    return text if text.endswith(".") else text + "."
