"""An org trust's member, as far as grantwarden can read it, and what a person must change.

A tenant with ``credentials.trust`` acts in its org (the trustor) as a user of another org (the
trustee) who is a member of the trust, directly or through a group; it holds exactly the trustor
roles the trust gives that member (platform.md §7, §13). When a probe finds a permission missing
(``missing_trustor_permission``), only the trustor org's admin can give the member a role:
grantwarden reports and never changes a trust. ``Member`` carries what the tenant's admin
identity (of the trustor org) could read of the member through
``GET /api/v2/orgauthorization/trustees/{trustee}/users/{user}/roles`` (``authorization:
orgTrusteeUser:view``) and the trustor org's roles, or why it could not; ``covering`` picks the
roles to name; ``fix`` is the sentence. Pure; the facts come from ``worker.inquiry``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from grantwarden.policy import cover, findings
from grantwarden.policy.permissions import Requirement, RoleFacts

USER_VIEW = "authorization:orgTrusteeUser:view"  # platform.md §13: read a trust user's trustor roles
GROUP_VIEW = "authorization:orgTrusteeGroup:view"
SCOPE = "organization-authorization:readonly"


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """The trust member behind a tenant's token, as read in the trustor org."""

    trustor_org_id: str
    trustee_org_id: str
    user_id: str | None = None
    user_name: str | None = None
    roles: tuple[str, ...] | None = None  # its trustor roles (names); None: not read
    groups: tuple[str, ...] = ()  # the trust's groups (names), when the user is no member by name
    covering: tuple[str, ...] = ()  # trustor roles that would grant what is missing (names)
    unread: str | None = None  # why the roles could not be read: what would allow it

    @property
    def user(self) -> str:
        if self.user_id is None:
            return f"the user who signed in (of org {self.trustee_org_id})"
        name = f"{self.user_name} " if self.user_name else ""
        return f"user {name}({self.user_id}) of org {self.trustee_org_id}"

    @property
    def trust(self) -> str:
        return f"the org trust from org {self.trustor_org_id} (trustor) to org {self.trustee_org_id} (trustee)"


def covering(
    roles: Sequence[RoleFacts],
    missing: frozenset[str],
    requirement: Requirement,
    *,
    held: Sequence[str] = (),
    prefer: Sequence[str] = (),
) -> tuple[str, ...]:
    """The fewest trustor roles (names) the member lacks that grant ``missing``; allow-listed
    (``prefer``) roles first, so the fix names the role the integration was designed around."""
    lacking = [r for r in roles if r.name not in held]
    wanted = [n.casefold() for n in prefer]
    preferred = [r for r in lacking if r.name.casefold() in wanted]
    for pool in (preferred, lacking):
        chosen = cover.smallest(pool, missing, requirement)
        if chosen:
            return tuple(r.name for r in chosen)
    return ()


def fix(member: Member, missing: Sequence[str], *, tenant: str, client_id: str) -> str:
    """Who gives which trustor role to whom; or, unread, what would let grantwarden name it."""
    granting = (
        f"the trustor {findings.roles(member.covering)}"
        if member.covering
        else f"a trustor role granting {findings.listed(missing)}"
    )
    whom = member.user
    if member.groups:
        whom = f"the trust group {member.user} belongs to ({findings.names(member.groups)}), or {member.user} itself,"
    text = f"Ask an admin of org {member.trustor_org_id} (the trustor) to give {whom} {granting} in the trust"
    if member.user_id is not None and not member.groups:
        path = f"/api/v2/orgauthorization/trustees/{member.trustee_org_id}/users/{member.user_id}/roles"
        text += f" (its trustee users, or PUT {path})"
    if member.roles is not None:
        text += f"; it holds {findings.names(member.roles)} there now" if member.roles else "; it holds no role there"
    if member.unread:
        text += f"; grantwarden could not name the role: {member.unread}"
    owner = member.trustor_org_id
    return (
        f"{text}; grantwarden changes no trust for tenant {tenant} (OAuth client {client_id}): that is org "
        f"{owner}'s decision."
    )
