"""trust: the trustor role to name for a trust member, and the sentence that asks the trustor's admin.

Covers: ``covering`` names the fewest trustor roles the member lacks, allow-listed ones first, and
nothing when no role grants it; ``fix`` as a table: roles read (what to give, what it holds), the
member not in the trust by name (its groups), unread (why, and which permission would allow it),
nothing known; every fix names both orgs, the tenant and its client, and says grantwarden changes
no trust.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import permissions, trust
from grantwarden.policy.permissions import PolicyFacts, Requirement, RoleFacts

TRUSTOR, TRUSTEE = "org-x", "org-partner"
MI, MS = "messaging:integration:view", "messaging:setting:view"


def role(role_id: str, name: str, *allowed: str) -> RoleFacts:
    return RoleFacts(
        id=role_id, name=name, policies=tuple(PolicyFacts("messaging", e, frozenset({"view"})) for e in allowed)
    )


ROLES = [
    role("r-all", "Messaging Admin", "*"),
    role("r-mv", "Messaging Viewer", "integration", "setting"),
    role("r-int", "Integration Viewer", "integration"),
]


@pytest.mark.parametrize(
    ("missing", "requirement", "held", "prefer", "expected"),
    [
        pytest.param({MI, MS}, Requirement.ALL, (), (), ("Messaging Admin",), id="fewest-first-in-order"),
        pytest.param(
            {MI, MS}, Requirement.ALL, (), ("Messaging Viewer",), ("Messaging Viewer",), id="allow-listed-first"
        ),
        pytest.param({MI}, Requirement.ALL, ("Messaging Admin",), (), ("Messaging Viewer",), id="not-one-it-holds"),
        pytest.param({MI, MS}, Requirement.ANY, (), ("integration viewer",), ("Integration Viewer",), id="any-one"),
        pytest.param({"routing:queue:view"}, Requirement.ALL, (), (), (), id="no-role-grants-it"),
    ],
)
def test_covering(
    missing: set[str],
    requirement: Requirement,
    held: tuple[str, ...],
    prefer: tuple[str, ...],
    expected: tuple[str, ...],
) -> None:
    assert trust.covering(ROLES, frozenset(missing), requirement, held=held, prefer=prefer) == expected


MEMBER = trust.Member(TRUSTOR, TRUSTEE, "u-1", "Pat Partner")


@pytest.mark.parametrize(
    ("member", "says"),
    [
        pytest.param(
            trust.Member(TRUSTOR, TRUSTEE, "u-1", "Pat Partner", roles=("Web Viewer",), covering=("Messaging Viewer",)),
            [
                "give user Pat Partner (u-1) of org org-partner the trustor role 'Messaging Viewer' in the trust",
                "PUT /api/v2/orgauthorization/trustees/org-partner/users/u-1/roles",
                "it holds 'Web Viewer' there now",
            ],
            id="roles-read",
        ),
        pytest.param(
            trust.Member(TRUSTOR, TRUSTEE, "u-1", "Pat Partner", roles=(), covering=("Messaging Viewer",)),
            ["it holds no role there"],
            id="holds-nothing",
        ),
        pytest.param(
            trust.Member(TRUSTOR, TRUSTEE, "u-1", None, groups=("Partner support",), covering=("Messaging Viewer",)),
            ["the trust group user (u-1) of org org-partner belongs to ('Partner support'), or user (u-1)"],
            id="in-through-a-group",
        ),
        pytest.param(
            trust.Member(TRUSTOR, TRUSTEE, unread="its admin identity was refused; authorization:orgTrusteeUser:view"),
            [
                "give the user who signed in (of org org-partner) a trustor role granting messaging:integration:view",
                "grantwarden could not name the role: its admin identity was refused",
            ],
            id="unread",
        ),
    ],
)
def test_fix(member: trust.Member, says: list[str]) -> None:
    text = trust.fix(member, [MI], tenant="acme-via-partner", client_id="c-9")
    assert text.startswith(f"Ask an admin of org {TRUSTOR} (the trustor) to give ")
    for part in says:
        assert part in text
    ending = "grantwarden changes no trust for tenant acme-via-partner (OAuth client c-9)"
    assert text.endswith(f"{ending}: that is org {TRUSTOR}'s decision.")


def test_a_member_names_the_trust_with_both_orgs() -> None:
    assert MEMBER.trust == f"the org trust from org {TRUSTOR} (trustor) to org {TRUSTEE} (trustee)"
    assert MEMBER.user == f"user Pat Partner (u-1) of org {TRUSTEE}"
    assert permissions.grants(ROLES[0], MI)
