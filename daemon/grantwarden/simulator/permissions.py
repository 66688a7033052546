"""Permission evaluation: wildcard policies, divisions, licences, ALL/ANY requirements.

A role grants ``domain:entity:action`` through permission policies whose ``entityName`` and
``actionSet`` may be ``"*"`` (platform.md §10). A subject (a client's roleDivisions, a user's
roles) holds a permission in the divisions paired with the roles that grant it, and only if the
org is licensed for it: an unlicensed permission is simply never held, so its 403 is exactly
that of any missing permission (platform.md §4.3). ``check*`` return a ``Refusal`` that
``errors`` turns into the platform's 403 body. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence

from grantwarden.simulator import model


def split(permission: str) -> tuple[str, str, str]:
    """``messaging:integration:view`` → its domain, entity and action; ValueError otherwise."""
    parts = permission.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{permission!r} is not domain:entity:action")
    return parts[0], parts[1], parts[2]


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    domain: str
    entity: str  # may be "*"
    actions: frozenset[str]  # may contain "*"

    def grants(self, permission: str) -> bool:
        domain, entity, action = split(permission)
        return (
            domain == self.domain and self.entity in ("*", entity) and ("*" in self.actions or action in self.actions)
        )


def policies_from(patterns: Iterable[str]) -> tuple[Policy, ...]:
    """Group ``domain:entity:action`` patterns (wildcards allowed) into policies."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for pattern in patterns:
        domain, entity, action = split(pattern)
        grouped.setdefault((domain, entity), set()).add(action)
    return tuple(Policy(d, e, frozenset(a)) for (d, e), a in grouped.items())


def role_grants(role: model.Role, permission: str) -> bool:
    return any(policy.grants(permission) for policy in role.policies)


def expand(role: model.Role, universe: Iterable[str]) -> list[str]:
    """The permissions of ``universe`` (a catalogue) that ``role`` grants, sorted."""
    return sorted(p for p in universe if role_grants(role, p))


class Holdings:
    """What one subject holds, per division; answers are memoised (the request hot path)."""

    __slots__ = ("_licensed", "_memo", "_pairs", "role_ids")

    def __init__(self, pairs: Sequence[tuple[model.Role, str]], licensed: frozenset[str]) -> None:
        self._pairs = tuple(pairs)
        self._licensed = licensed
        self._memo: dict[str, frozenset[str]] = {}
        self.role_ids = frozenset(role.id for role, _ in self._pairs)

    def divisions(self, permission: str) -> frozenset[str]:
        """Division ids where ``permission`` is held (``"*"`` among them: every division)."""
        found = self._memo.get(permission)
        if found is None:
            if permission in self._licensed:
                found = frozenset(div for role, div in self._pairs if role_grants(role, permission))
            else:
                found = frozenset()
            self._memo[permission] = found
        return found

    def holds(self, permission: str, division: str | None = None) -> bool:
        where = self.divisions(permission)
        if division is None:
            return bool(where)
        return model.ALL_DIVISIONS in where or division in where


def holdings_of(org: model.Org, role_divisions: Iterable[model.RoleDivision]) -> Holdings:
    pairs = [(org.roles[rd.role_id], rd.division_id) for rd in role_divisions if rd.role_id in org.roles]
    return Holdings(pairs, org.licensed)


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


def check(holdings: Holdings, requirement: Requirement) -> Refusal | None:
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


def check_object(holdings: Holdings, requirement: Requirement, division: str) -> Refusal | None:
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


def check_divisions(holdings: Holdings, requirement: Requirement, divisions: Sequence[str]) -> Refusal | None:
    """A request naming divisions (``?divisionId=``): some permission in some named division."""
    refusal = check(holdings, requirement)
    if refusal is not None:
        return refusal
    if any(holdings.holds(p, d) for p in requirement.permissions for d in divisions):
        return None
    return Refusal(Code.MISSING_ANY_DIVISION_PERMISSIONS, requirement.permissions, tuple(divisions))


def visible_divisions(holdings: Holdings, requirement: Requirement) -> frozenset[str]:
    """Divisions whose objects a listing shows: where any required permission is held."""
    found: set[str] = set()
    for permission in requirement.permissions:
        found.update(holdings.divisions(permission))
    return frozenset(found)
