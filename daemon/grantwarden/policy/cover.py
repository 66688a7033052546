"""The smallest set of roles covering what is missing: exact for short allow-lists, greedy beyond.

Least privilege in a re-grant means adding as few roles as possible, so planning asks for a
minimum set cover. Allow-lists are short (a handful of role names per blueprint), so up to
``EXACT_LIMIT`` candidates every subset is tried in order of size, ties going to the earliest
roles in allow-list order; larger lists fall back to the classic greedy cover (within a log
factor of optimal), which keeps a misconfigured 200-role allow-list from stalling a tenant.
Only ``planning`` calls this.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from grantwarden.policy import permissions
from grantwarden.policy.permissions import Requirement, RoleFacts

EXACT_LIMIT = 12  # 2**12 subsets at most: well under a millisecond per plan


def smallest(
    candidates: Sequence[RoleFacts], needed: frozenset[str], requirement: Requirement
) -> tuple[RoleFacts, ...] | None:
    """The fewest ``candidates`` granting ``needed`` (ALL) or one of it (ANY); None if impossible."""
    grants = [permissions.granted_by(role, needed) for role in candidates]
    if requirement is Requirement.ANY:
        first = next((role for role, got in zip(candidates, grants, strict=True) if got), None)
        return None if first is None else (first,)
    if not needed or not needed <= frozenset().union(*grants):
        return None
    if len(candidates) <= EXACT_LIMIT:
        return _exact(candidates, grants, needed)
    return _greedy(candidates, grants, needed)


def _exact(
    candidates: Sequence[RoleFacts], grants: Sequence[frozenset[str]], needed: frozenset[str]
) -> tuple[RoleFacts, ...] | None:
    indices = range(len(candidates))
    for size in range(1, len(candidates) + 1):
        for combo in itertools.combinations(indices, size):
            if needed <= frozenset().union(*(grants[i] for i in combo)):
                return tuple(candidates[i] for i in combo)
    return None


def _greedy(
    candidates: Sequence[RoleFacts], grants: Sequence[frozenset[str]], needed: frozenset[str]
) -> tuple[RoleFacts, ...]:
    chosen: list[int] = []
    left = set(needed)
    while left:
        best = max(range(len(candidates)), key=lambda i: (len(grants[i] & left), -i))
        chosen.append(best)
        left -= grants[best]
    return tuple(candidates[i] for i in sorted(chosen))
