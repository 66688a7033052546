"""What a subject holds: roles as permission policies with wildcards, and held permissions per division.

A role grants ``domain:entity:action`` through permission policies whose ``entityName`` and
``actionSet`` may be ``"*"`` (platform.md §10); a subject (a client's roleDivisions, a user's
roles) holds a permission in the divisions paired with the roles that grant it, and only if the
org is licensed for it (platform.md §4.3). ``model`` keeps a ``Holdings`` on each grant version
and user, and ``permissions`` checks requirements against it, so this module imports neither:
it is the bottom of the permission model. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol

ALL_DIVISIONS = "*"  # a role paired with this division holds its permissions in every division


class Granting(Protocol):
    """A role as far as holdings read it (``model.Role``)."""

    @property
    def id(self) -> str: ...

    @property
    def policies(self) -> tuple[Policy, ...]: ...


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


def role_grants(role: Granting, permission: str) -> bool:
    return any(policy.grants(permission) for policy in role.policies)


class Holdings:
    """What one subject holds, per division; answers are memoised (the request hot path)."""

    __slots__ = ("_licensed", "_memo", "_pairs", "role_ids")

    def __init__(self, pairs: Sequence[tuple[Granting, str]], licensed: frozenset[str]) -> None:
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
        return ALL_DIVISIONS in where or division in where
