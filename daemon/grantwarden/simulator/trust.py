"""Organization Authorization (org trust): trustor ↔ trustee pairings and their members.

A trustor org lets a trustee org's users and groups act in it with trustor roles (platform.md §7,
platform.md §13). Members are users and groups only, never OAuth clients, so a client-credentials
token can never act in a trustor org. A member's trustor roles come as ``roleIds`` (granted in
every division) or ``roleDivisions``; they are versioned like a client's grants so that changes
take the trustor org's propagation delay ("up to five minutes"). A trust with ``enabled=false``
or past its ``dateExpired`` grants nothing, "even if they were previously added".
Records and rules only: the routes render them (``trust_routes``), the knobs change them
(``control_orgs``), the gate asks ``holdings_for``. Time is passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

from grantwarden.simulator import grants, model, permissions, rights

MemberKind = Literal["user", "group"]


@dataclasses.dataclass(slots=True, eq=False)
class Member:
    """A trustee user or group with its trustor roles over time (``grants.Versioned``)."""

    id: str
    kind: MemberKind
    versions: list[model.ClientGrants]
    date_created: float = 0.0

    @property
    def configured(self) -> model.ClientGrants:
        return self.versions[-1]


@dataclasses.dataclass(slots=True, eq=False)
class Trust:
    trustor_id: str
    trustee_id: str
    enabled: bool = True
    date_created: float = 0.0
    created_by: str = ""  # a trustor-org user id
    date_expired: float | None = None
    members: dict[str, Member] = dataclasses.field(default_factory=dict)


class Registry:
    """Every trust of the platform, by (trustor org id, trustee org id)."""

    def __init__(self) -> None:
        self._trusts: dict[tuple[str, str], Trust] = {}

    def __iter__(self) -> Iterator[Trust]:
        return iter(list(self._trusts.values()))

    def __len__(self) -> int:
        return len(self._trusts)

    def add(self, trust: Trust) -> Trust:
        if trust.trustor_id == trust.trustee_id:
            # 400 self.trust.not.allowed on the platform (platform.md §13)
            raise ValueError(
                "The pairing trustee organization id cannot match the creator of the trust's organization id."
            )
        key = (trust.trustor_id, trust.trustee_id)
        if key in self._trusts:
            raise ValueError(f"org {trust.trustor_id} trusts org {trust.trustee_id} already")
        self._trusts[key] = trust
        return trust

    def get(self, trustor_id: str, trustee_id: str) -> Trust | None:
        return self._trusts.get((trustor_id, trustee_id))

    def remove(self, trustor_id: str, trustee_id: str) -> Trust | None:
        return self._trusts.pop((trustor_id, trustee_id), None)

    def of_trustor(self, org_id: str) -> list[Trust]:
        """Trustees of ``org_id``: the orgs it lets in."""
        return [t for t in self._trusts.values() if t.trustor_id == org_id]

    def of_trustee(self, org_id: str) -> list[Trust]:
        """Trustors of ``org_id``: the orgs that let it in."""
        return [t for t in self._trusts.values() if t.trustee_id == org_id]


def active(trust: Trust, now: float) -> bool:
    return trust.enabled and (trust.date_expired is None or now < trust.date_expired)


def new_member(member_id: str, kind: MemberKind, role_divisions: tuple[model.RoleDivision, ...], now: float) -> Member:
    return Member(member_id, kind, grants.initial(role_divisions, ()), date_created=now)


def memberships(trust: Trust, home: model.Org, user_id: str) -> list[Member]:
    """The members through which a trustee user is in: itself, and every group it belongs to."""
    found = []
    for member in trust.members.values():
        if member.kind == "user" and member.id == user_id:
            found.append(member)
        elif member.kind == "group":
            group = home.groups.get(member.id)
            if group is not None and user_id in group.member_ids:
                found.append(member)
    return found


def is_member(trust: Trust | None, home: model.Org, user_id: str, now: float) -> bool:
    return trust is not None and active(trust, now) and bool(memberships(trust, home, user_id))


def holdings_for(
    trustor: model.Org, trust: Trust | None, home: model.Org, user: model.User, now: float
) -> rights.Holdings | None:
    """What a trusted user holds in the trustor org now; None when the trust lets it in no more."""
    if trust is None or not active(trust, now):
        return None
    versions = [grants.effective(m, now) for m in memberships(trust, home, user.id)]
    if not versions:
        return None
    if len(versions) == 1:
        return grants.holdings(trustor, versions[0])
    pairs = dict.fromkeys(rd for version in versions for rd in version.role_divisions)
    return permissions.holdings_of(trustor, pairs)


def snapshot(registry: Registry) -> list[dict[str, Any]]:
    """For the control API's state: every trust and its members' configured roles."""
    return [
        {
            "trustor_org_id": t.trustor_id,
            "trustee_org_id": t.trustee_id,
            "enabled": t.enabled,
            "date_expired": None if t.date_expired is None else model.iso(t.date_expired),
            "members": [
                {
                    "id": m.id,
                    "kind": m.kind,
                    "role_divisions": [
                        {"role_id": rd.role_id, "division_id": rd.division_id} for rd in m.configured.role_divisions
                    ],
                }
                for m in t.members.values()
            ],
        }
        for t in registry
    ]
