"""Permission evaluation: ALL/ANY requirements against what a subject holds, per division.

What a subject holds (wildcard policies, divisions, licences) is ``rights``; here it meets an
operation's requirement. An unlicensed permission is simply never held, so its 403 is exactly
that of any missing permission (platform.md §4.3). ``check*`` return a ``Refusal`` that
``errors`` turns into the platform's 403 body; ``holdings_of`` pairs an org's roles with a
subject's role divisions. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence

from grantwarden.simulator import model, rights


def expand(role: model.Role, universe: Iterable[str]) -> list[str]:
    """The permissions of ``universe`` (a catalogue) that ``role`` grants, sorted."""
    return sorted(p for p in universe if rights.role_grants(role, p))


def holdings_of(org: model.Org, role_divisions: Iterable[model.RoleDivision]) -> rights.Holdings:
    pairs = [(org.roles[rd.role_id], rd.division_id) for rd in role_divisions if rd.role_id in org.roles]
    return rights.Holdings(pairs, org.licensed)


class Kind(enum.StrEnum):
    ALL = "ALL"
    ANY = "ANY"


@dataclasses.dataclass(frozen=True, slots=True)
class Requirement:
    kind: Kind
    permissions: tuple[str, ...]


class Code(enum.StrEnum):
    MISSING_PERMISSIONS = "missing.permissions"
    MISSING_ANY_PERMISSIONS = "missing.any.permissions"
    MISSING_DIVISION_PERMISSION = "missing.division.permission"
    MISSING_ANY_DIVISION_PERMISSIONS = "missing.any.division.permissions"


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    code: Code
    permissions: tuple[str, ...]
    divisions: tuple[str, ...] = ()


def check(holdings: rights.Holdings, requirement: Requirement) -> Refusal | None:
    """An operation on objects without divisions: held anywhere is enough.

    The message lists the operation's full requirement, as the platform's does (platform.md §4.2).
    """
    perms = requirement.permissions
    held = [p for p in perms if holdings.holds(p)]
    if requirement.kind is Kind.ALL and len(held) < len(perms):
        return Refusal(Code.MISSING_PERMISSIONS, perms)
    if requirement.kind is Kind.ANY and not held:
        return Refusal(Code.MISSING_ANY_PERMISSIONS, perms)
    return None


def check_object(holdings: rights.Holdings, requirement: Requirement, division: str) -> Refusal | None:
    """One object in ``division``: the permission must be held in that division."""
    refusal = check(holdings, requirement)
    if refusal is not None:
        return refusal
    lacking = [p for p in requirement.permissions if not holdings.holds(p, division)]
    if requirement.kind is Kind.ALL and lacking:
        return Refusal(Code.MISSING_DIVISION_PERMISSION, (lacking[0],), (division,))
    if requirement.kind is Kind.ANY and len(lacking) == len(requirement.permissions):
        if len(requirement.permissions) == 1:
            return Refusal(Code.MISSING_DIVISION_PERMISSION, requirement.permissions, (division,))
        return Refusal(Code.MISSING_ANY_DIVISION_PERMISSIONS, requirement.permissions, (division,))
    return None


def check_divisions(holdings: rights.Holdings, requirement: Requirement, divisions: Sequence[str]) -> Refusal | None:
    """A request naming divisions (``?divisionId=``): some permission in some named division."""
    refusal = check(holdings, requirement)
    if refusal is not None:
        return refusal
    if any(holdings.holds(p, d) for p in requirement.permissions for d in divisions):
        return None
    return Refusal(Code.MISSING_ANY_DIVISION_PERMISSIONS, requirement.permissions, tuple(divisions))


def visible_divisions(holdings: rights.Holdings, requirement: Requirement) -> frozenset[str]:
    """Divisions whose objects a listing shows: where any required permission is held."""
    found: set[str] = set()
    for permission in requirement.permissions:
        found.update(holdings.divisions(permission))
    return frozenset(found)
