"""cover: the smallest covering set of roles, exact for short candidate lists, greedy for long ones.

Covers: ALL needs every permission, ANY one; ties go to allow-list order; impossible covers give
None; the exact search finds a smaller cover than greedy would; the greedy fallback beyond
``EXACT_LIMIT`` still covers everything.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import cover
from grantwarden.policy.permissions import Requirement, RoleFacts

from .roles import EVERYTHING_VIEWER, INTEGRATION_VIEWER, MESSAGING_VIEWER, QUEUE_VIEWER, WEB_VIEWER, make_role

MI = "messaging:integration:view"
WD = "webDeployments:deployment:view"
RQ = "routing:queue:view"


@pytest.mark.parametrize(
    ("candidates", "needed", "requirement", "expected"),
    [
        pytest.param([MESSAGING_VIEWER], {MI}, Requirement.ALL, ["r-mv"], id="single"),
        pytest.param([MESSAGING_VIEWER, WEB_VIEWER], {MI, WD}, Requirement.ALL, ["r-mv", "r-wdv"], id="two-needed"),
        pytest.param(
            [MESSAGING_VIEWER, WEB_VIEWER, EVERYTHING_VIEWER], {MI, WD}, Requirement.ALL, ["r-ev"], id="one-beats-two"
        ),
        pytest.param([INTEGRATION_VIEWER, MESSAGING_VIEWER], {MI}, Requirement.ALL, ["r-iv"], id="tie-goes-to-first"),
        pytest.param([QUEUE_VIEWER, MESSAGING_VIEWER], {MI, RQ}, Requirement.ANY, ["r-qv"], id="any-first-that-grants"),
        pytest.param([WEB_VIEWER], {MI}, Requirement.ALL, None, id="impossible"),
        pytest.param([MESSAGING_VIEWER], {MI, RQ}, Requirement.ALL, None, id="partial-is-impossible"),
        pytest.param([WEB_VIEWER], {MI}, Requirement.ANY, None, id="any-impossible"),
        pytest.param([MESSAGING_VIEWER], set(), Requirement.ALL, None, id="nothing-needed"),
        pytest.param([], {MI}, Requirement.ALL, None, id="no-candidates"),
    ],
)
def test_smallest(
    candidates: list[RoleFacts], needed: set[str], requirement: Requirement, expected: list[str] | None
) -> None:
    chosen = cover.smallest(candidates, frozenset(needed), requirement)
    assert (None if chosen is None else [r.id for r in chosen]) == expected


def test_exact_search_beats_greedy() -> None:
    # Greedy takes the widest role first (4 permissions) and then needs two more; two suffice.
    wide = make_role("wide", "Wide", ("d", "e", "a,b,c,d"))
    left = make_role("left", "Left", ("d", "e", "a,b,x"))
    right = make_role("right", "Right", ("d", "e", "c,d,y"))
    needed = frozenset({"d:e:a", "d:e:b", "d:e:c", "d:e:d", "d:e:x", "d:e:y"})
    chosen = cover.smallest([wide, left, right], needed, Requirement.ALL)
    assert chosen is not None
    assert [r.id for r in chosen] == ["left", "right"]


def test_greedy_beyond_the_exact_limit_still_covers() -> None:
    roles = [make_role(f"r{i}", f"Role {i}", ("d", "e", f"a{i},a{i + 1}")) for i in range(cover.EXACT_LIMIT + 8)]
    needed = frozenset(f"d:e:a{i}" for i in range(0, cover.EXACT_LIMIT + 8, 3))
    chosen = cover.smallest(roles, needed, Requirement.ALL)
    assert chosen is not None
    granted = {f"d:e:{a}" for r in chosen for p in r.policies for a in p.actions}
    assert needed <= granted
    assert len(chosen) == len(needed)
