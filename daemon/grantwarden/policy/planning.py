"""What a re-grant would add, or why it must not: the smallest allow-listed fix, or a Refusal.

A re-grant edits a production OAuth client, so every plan is as small as possible and built only
from the blueprint's allow-list: the fewest allow-listed roles that cover what the platform said
is missing, never a role that grants nothing missing, never one the client already holds in that
division. Everything that cannot be planned comes back as a ``Refusal`` with a reason label and
one human sentence, so ``plan``/``check`` output and the status page say exactly who must act.
The remediation shell feeds it facts fetched fresh (roles, client, licensed permissions, admin
roles); ``diagnosis`` turns the result into findings. No I/O, no time.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence

from grantwarden.policy import cover, permissions
from grantwarden.policy.labels import GrantType, Outcome
from grantwarden.policy.permissions import Requirement, RoleFacts


class RefusalReason(enum.StrEnum):
    """Why grantwarden will not (or need not) change the client: a log and status label."""

    NOT_ALLOW_LISTED = "not_allow_listed"  # a role (or scope) would do, but is not allow-listed
    DIVISION_NOT_ALLOW_LISTED = "division_not_allow_listed"  # refusal is about another division
    NO_ROLE_GRANTS = "no_role_grants"  # no role in the org grants it
    UNLICENSED = "unlicensed"  # the org does not have the permission at all (platform.md §4.3)
    WRONG_ORG = "wrong_org"  # the credentials act in another org (platform.md §7)
    MISSING_SCOPE = "missing_scope"  # needs an org admin's approval / a person's re-consent
    POLICY_DENIED = "policy_denied"  # the org's security policy (platform.md §4.2)
    ADMIN_LACKS_ROLE = "admin_lacks_role"  # the admin identity does not hold the role (platform.md §2.4)
    ALREADY_GRANTED = "already_granted"  # the client holds a covering role: propagation or a re-mint
    NO_ADMIN_CREDENTIALS = "no_admin_credentials"  # the tenant has no admin identity to act with
    NOTHING_NAMED = "nothing_named"  # the platform's refusal named no permission or scope
    USER_LACKS_PERMISSION = "user_lacks_permission"  # user grant: the user's roles, not the client's
    TRUSTOR_ROLE = "trustor_role"  # a trust member lacks a trustor role: the trustor org's decision
    REMOVED_AGAIN = "removed_again"  # a role grantwarden added and verified keeps disappearing


@dataclasses.dataclass(frozen=True, slots=True)
class RoleDivision:
    """One ``roleDivisions`` entry of an OAuth client (platform.md §2.1); division may be "*"."""

    role_id: str
    division_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class RolePlan:
    """Add these roleDivisions to the client; together they cover ``covers``."""

    add: tuple[RoleDivision, ...]
    role_names: tuple[str, ...]
    covers: frozenset[str]
    division_id: str
    role_covers: tuple[frozenset[str], ...] = ()  # what each entry of ``add`` covers, in its order


@dataclasses.dataclass(frozen=True, slots=True)
class ScopePlan:
    """Add these scopes to a user-grant client; a person must then re-consent."""

    add: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """No change; ``detail`` is one sentence a person can act on."""

    reason: RefusalReason
    detail: str
    roles: tuple[str, ...] = ()  # role names concerned: to allow-list, to give the admin, held already
    missing: tuple[str, ...] = ()  # permissions or scopes concerned


Plan = RolePlan | ScopePlan | Refusal

_NEVER: dict[Outcome, tuple[RefusalReason, str]] = {  # design.md §3: never acted on
    Outcome.WRONG_ORG: (RefusalReason.WRONG_ORG, "the credentials act in another org"),
    Outcome.UNLICENSED: (RefusalReason.UNLICENSED, "the org is not licensed for the permission"),
    Outcome.POLICY_DENIED: (RefusalReason.POLICY_DENIED, "the org's security policy denies access"),
}
_MISSING = (Outcome.MISSING_PERMISSION, Outcome.MISSING_DIVISION_PERMISSION)


def refuse_for(
    outcome: Outcome, *, grant_type: GrantType = GrantType.CLIENT_CREDENTIALS, trusted: bool = False
) -> Refusal | None:
    """The refusal for an outcome no re-grant may touch; None when planning may proceed or is moot.

    ``trusted``: the tenant acts through an org trust, with an OAuth client of the trustee org
    (platform.md §13): neither its scopes nor the member's trustor roles are grantwarden's to change.
    """
    if outcome in _NEVER:
        reason, detail = _NEVER[outcome]
        return Refusal(reason, detail)
    if outcome is Outcome.MISSING_TRUSTOR_PERMISSION:
        return Refusal(
            RefusalReason.TRUSTOR_ROLE, "a trust member's trustor roles are the trustor org admin's decision"
        )
    if outcome is Outcome.MISSING_SCOPE and trusted:
        detail = "the OAuth client belongs to the trustee org: its admin adds the scope, then a person re-consents"
        return Refusal(RefusalReason.MISSING_SCOPE, detail)
    user_grant = grant_type is not GrantType.CLIENT_CREDENTIALS
    if outcome is Outcome.MISSING_SCOPE and not user_grant:
        # platform.md §2.1: scopes only apply to clients not using the client_credentials grant.
        return Refusal(RefusalReason.MISSING_SCOPE, "scopes do not apply to a client-credentials client")
    if outcome in _MISSING and user_grant:
        # platform.md §2.1: a user token's rights are the user's role permissions within the scopes.
        return Refusal(RefusalReason.USER_LACKS_PERMISSION, "the signed-in user's roles lack the permission")
    return None


def plannable(outcome: Outcome, *, grant_type: GrantType, trusted: bool = False) -> bool:
    """Whether a plan could fix this outcome: roles for client credentials, scopes for user grants
    (never through a trust: the client is another org's, the roles the trustor's)."""
    if trusted:
        return False
    if grant_type is GrantType.CLIENT_CREDENTIALS:
        return outcome in _MISSING
    return outcome is Outcome.MISSING_SCOPE


def plan_roles(
    *,
    missing: frozenset[str],
    requirement: Requirement,
    allow_roles: Sequence[str],
    division: str,
    home_division_id: str,
    org_roles: Sequence[RoleFacts],
    client_role_divisions: Sequence[RoleDivision],
    licensed: frozenset[str] | None,
    admin_role_ids: frozenset[str] | None,
    divisions: Sequence[str] = (),
) -> RolePlan | Refusal:
    """The smallest set of allow-listed roles covering ``missing`` in the configured division.

    ``division`` is the blueprint's "home", "*" or a division id; ``divisions`` are the ids a
    division refusal named (empty otherwise). With admin roles known, a cover the admin can
    grant is preferred over a smaller one it cannot, and a plan the admin may not apply (it
    lacks a role the client holds or is given: ``editor_lacks``) is refused (platform.md §2.4).
    """
    if not missing:
        return Refusal(RefusalReason.NOTHING_NAMED, "the platform's refusal named no permission")
    wanted = _licensed(missing, requirement, licensed)
    if isinstance(wanted, Refusal):
        return wanted
    target = home_division_id if division == "home" else division
    if divisions and target != "*" and target not in divisions:
        detail = f"the refusal concerns division(s) {', '.join(divisions)}, the blueprint grants in {target}"
        return Refusal(RefusalReason.DIVISION_NOT_ALLOW_LISTED, detail, missing=tuple(sorted(wanted)))
    held = _held(org_roles, client_role_divisions, target)
    remaining = _remaining(wanted, requirement, held)
    if not remaining:
        names = tuple(r.name for r in held if permissions.granted_by(r, wanted))
        detail = f"the client already holds {_quoted(names)} in division {target}"
        return Refusal(RefusalReason.ALREADY_GRANTED, detail, roles=names, missing=tuple(sorted(wanted)))
    held_ids = {r.id for r in held}
    allowed = [r for r in _by_names(org_roles, allow_roles) if r.id not in held_ids]
    candidates = [r for r in allowed if permissions.granted_by(r, remaining)]
    chosen = _choose(candidates, remaining, requirement, target, org_roles, admin_role_ids)
    if not isinstance(chosen, RolePlan) or admin_role_ids is None:
        return chosen
    lacking = editor_lacks(admin_role_ids=admin_role_ids, client_role_divisions=client_role_divisions, add=chosen.add)
    by_id = {r.id: r.name for r in org_roles}
    return editor_refusal(lacking, role_names=by_id, missing=tuple(sorted(remaining))) if lacking else chosen


def editor_lacks(
    *, admin_role_ids: frozenset[str], client_role_divisions: Sequence[RoleDivision], add: Sequence[RoleDivision]
) -> tuple[str, ...]:
    """Role ids the admin identity must hold for this edit and does not; empty: it may send the PUT.

    platform.md §2.4: an editor needs "the same roles as the OAuth Client you plan to edit", those it
    holds and those added, else 400 ``bad.client.role``. By role id: the reference names no divisions.
    """
    wanted = dict.fromkeys(e.role_id for e in (*client_role_divisions, *add))
    return tuple(role_id for role_id in wanted if role_id not in admin_role_ids)


def editor_refusal(lacking: Sequence[str], *, role_names: Mapping[str, str], missing: Sequence[str] = ()) -> Refusal:
    """The refusal for ``editor_lacks``' roles, named by ``role_names`` (an unknown id stands for itself)."""
    names = tuple(role_names.get(role_id, role_id) for role_id in lacking)
    detail = f"the admin identity does not hold {_quoted(names)}, and an editor must hold every role of the client"
    return Refusal(RefusalReason.ADMIN_LACKS_ROLE, detail, roles=names, missing=tuple(missing))


def plan_scopes(
    *, acceptable: Sequence[str], allow_scopes: Sequence[str], client_scopes: Sequence[str]
) -> ScopePlan | Refusal:
    """One allow-listed acceptable scope to add to a user-grant client, ``:readonly`` first."""
    if not acceptable:
        return Refusal(RefusalReason.NOTHING_NAMED, "the platform's refusal named no scope")
    listed = tuple(acceptable)
    if present := [s for s in acceptable if s in client_scopes]:
        # platform.md §2.1: the client has the scope, so the org has not approved it for the app.
        detail = f"the client already has scope {present[0]}: the org must approve it and a person re-consent"
        return Refusal(RefusalReason.MISSING_SCOPE, detail, missing=listed)
    allowed = [s for s in acceptable if s in allow_scopes]
    if not allowed:
        detail = f"none of the acceptable scopes [{', '.join(listed)}] is allow-listed"
        return Refusal(RefusalReason.NOT_ALLOW_LISTED, detail, missing=listed)
    readonly = [s for s in allowed if s.endswith(":readonly")]
    return ScopePlan(add=((readonly or allowed)[0],))


def _licensed(
    missing: frozenset[str], requirement: Requirement, licensed: frozenset[str] | None
) -> frozenset[str] | Refusal:
    if licensed is None:
        return missing
    absent = missing - licensed
    if absent and (requirement is Requirement.ALL or absent == missing):
        detail = f"the org is not licensed for {', '.join(sorted(absent))}"
        return Refusal(RefusalReason.UNLICENSED, detail, missing=tuple(sorted(absent)))
    return missing & licensed


def _held(roles: Sequence[RoleFacts], entries: Sequence[RoleDivision], target: str) -> list[RoleFacts]:
    """Roles the client holds in ``target`` (an entry for "*" holds it in every division)."""
    ids = {e.role_id for e in entries if e.division_id in (target, "*")}
    return [r for r in roles if r.id in ids]


def _remaining(wanted: frozenset[str], requirement: Requirement, held: Sequence[RoleFacts]) -> frozenset[str]:
    granted = frozenset().union(*(permissions.granted_by(r, wanted) for r in held))
    if requirement is Requirement.ANY:
        return frozenset() if granted else wanted
    return wanted - granted


def _by_names(roles: Sequence[RoleFacts], names: Sequence[str]) -> list[RoleFacts]:
    """Allow-listed roles of this org, in allow-list order; names match case-insensitively."""
    wanted = [n.casefold() for n in names]
    return sorted((r for r in roles if r.name.casefold() in wanted), key=lambda r: wanted.index(r.name.casefold()))


def _choose(
    candidates: Sequence[RoleFacts],
    remaining: frozenset[str],
    requirement: Requirement,
    target: str,
    org_roles: Sequence[RoleFacts],
    admin_role_ids: frozenset[str] | None,
) -> RolePlan | Refusal:
    if admin_role_ids is not None:
        grantable = [r for r in candidates if r.id in admin_role_ids]
        chosen = cover.smallest(grantable, remaining, requirement)
        if chosen is not None:
            return _plan(chosen, remaining, target)
    chosen = cover.smallest(candidates, remaining, requirement)
    if chosen is None:
        return _uncovered(candidates, remaining, requirement, org_roles)
    if admin_role_ids is None:
        names = tuple(r.name for r in chosen)
        detail = f"adding {_quoted(names)} needs the tenant's admin_credentials"
        return Refusal(RefusalReason.NO_ADMIN_CREDENTIALS, detail, roles=names, missing=tuple(sorted(remaining)))
    return _plan(chosen, remaining, target)  # one the admin cannot grant: plan_roles refuses it


def _plan(chosen: Sequence[RoleFacts], remaining: frozenset[str], target: str) -> RolePlan:
    covered = frozenset().union(*(permissions.granted_by(r, remaining) for r in chosen))
    add = tuple(RoleDivision(role_id=r.id, division_id=target) for r in chosen)
    each = tuple(permissions.granted_by(r, remaining) for r in chosen)
    names = tuple(r.name for r in chosen)
    return RolePlan(add=add, role_names=names, covers=covered, division_id=target, role_covers=each)


def _uncovered(
    candidates: Sequence[RoleFacts], remaining: frozenset[str], requirement: Requirement, org_roles: Sequence[RoleFacts]
) -> Refusal:
    reachable = frozenset().union(*(permissions.granted_by(r, remaining) for r in candidates))
    lacking = remaining if requirement is Requirement.ANY else remaining - reachable
    grantors = [r for r in org_roles if permissions.granted_by(r, lacking)]
    grantable = frozenset().union(*(permissions.granted_by(r, lacking) for r in grantors))
    orphans = lacking - grantable
    if grantors and (requirement is Requirement.ANY or not orphans):
        names = tuple(sorted({r.name for r in grantors}))[:5]
        detail = f"only roles that are not allow-listed grant {', '.join(sorted(grantable))}: {_quoted(names)}"
        return Refusal(RefusalReason.NOT_ALLOW_LISTED, detail, roles=names, missing=tuple(sorted(grantable)))
    orphans = orphans or lacking
    detail = f"no role in the org grants {', '.join(sorted(orphans))}"
    return Refusal(RefusalReason.NO_ROLE_GRANTS, detail, missing=tuple(sorted(orphans)))


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "a covering role"
