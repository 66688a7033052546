"""The plans of one cycle as the actor handles them: merged into one change, and named by key.

Every failing probe gets its own plan (``orgfacts.Planner.plans``), but a re-grant is one PUT:
the role plans merge into one ``RolePlan`` (the union of what they add), the scope plans into one
``ScopePlan``, and refusals that share a reason and roles into one refusal to a person. A plan's
key names what it would change, so the actor can tell a plan it announced or the platform
refused from a new one across cycles. A role grantwarden added and verified ``limit`` times that
is missing again is not planned once more: ``removed_again`` turns the plan into a refusal for a
person (something keeps removing it). Pure: no I/O, no state; called by ``acting`` only.
"""

from __future__ import annotations

from collections.abc import Mapping

from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan


def plan_key(plan: Plan) -> str:
    """What the plan would change (or why it would not), the same in every cycle."""
    if isinstance(plan, RolePlan):
        return "roles:" + ",".join(sorted(f"{e.role_id}@{e.division_id}" for e in plan.add))
    if isinstance(plan, ScopePlan):
        return "scopes:" + ",".join(sorted(plan.add))
    return f"refusal:{plan.reason}:{','.join(plan.roles)}:{','.join(sorted(plan.missing))}"


def merged_roles(plans: Mapping[str, Plan]) -> RolePlan | None:
    """One PUT for every probe's role plan: the union of what they add."""
    role_plans = [p for p in plans.values() if isinstance(p, RolePlan)]
    if not role_plans:
        return None
    add = tuple(dict.fromkeys(e for p in role_plans for e in p.add))
    names = tuple(dict.fromkeys(n for p in role_plans for n in p.role_names))
    covers = frozenset().union(*(p.covers for p in role_plans))
    each: dict[RoleDivision, frozenset[str]] = {}
    for plan in role_plans:
        for entry, covered in zip(plan.add, plan.role_covers or (plan.covers,) * len(plan.add), strict=False):
            each[entry] = each.get(entry, frozenset()) | covered
    role_covers = tuple(each.get(entry, frozenset()) for entry in add)
    division = role_plans[0].division_id
    return RolePlan(add=add, role_names=names, covers=covers, division_id=division, role_covers=role_covers)


def merged_scopes(plans: Mapping[str, Plan]) -> ScopePlan | None:
    scopes = tuple(dict.fromkeys(s for p in plans.values() if isinstance(p, ScopePlan) for s in p.add))
    return ScopePlan(add=scopes) if scopes else None


def merged_refusals(plans: Mapping[str, Plan]) -> list[tuple[Refusal, tuple[str, ...]]]:
    """One refusal per reason and roles concerned, with the probes it covers.

    Two probes refused for one reason (the admin lacks 'Messaging Viewer', which both need) are
    one refusal to a person: one ``regrant_refused`` line, one ``refused`` count, not one per probe.
    """
    groups: dict[tuple[RefusalReason, tuple[str, ...]], list[tuple[str, Refusal]]] = {}
    for probe, plan in plans.items():
        if isinstance(plan, Refusal) and plan.reason is not RefusalReason.ALREADY_GRANTED:
            groups.setdefault((plan.reason, plan.roles), []).append((probe, plan))
    merged = []
    for members in groups.values():
        first = members[0][1]
        missing = tuple(sorted({m for _, plan in members for m in plan.missing}))
        merged.append((Refusal(first.reason, first.detail, first.roles, missing), tuple(p for p, _ in members)))
    return merged


def adds(plan: RolePlan | ScopePlan) -> tuple[list[str], list[str]]:
    """What a plan adds as the platform names it, and as a person reads it (``regrant_planned``)."""
    if isinstance(plan, RolePlan):
        return [f"{e.role_id}@{e.division_id}" for e in plan.add], list(plan.role_names)
    return list(plan.add), list(plan.add)


def entry_key(entry: RoleDivision) -> str:
    return f"{entry.role_id}@{entry.division_id}"


def count_added(counts: dict[str, int], plan: RolePlan) -> dict[str, int]:
    """``counts`` with one more verified add of each entry of ``plan``."""
    for entry in plan.add:
        counts[entry_key(entry)] = counts.get(entry_key(entry), 0) + 1
    return counts


def removed_again(plan: Plan, counts: Mapping[str, int], *, client_id: str, limit: int) -> Plan:
    """``plan``, or the refusal to add once more a role added and verified ``limit`` times already."""
    if not isinstance(plan, RolePlan):
        return plan
    again = [e for e in plan.add if counts.get(entry_key(e), 0) >= limit]
    if not again:
        return plan
    names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
    roles = tuple(dict.fromkeys(names.get(e.role_id, e.role_id) for e in again))
    detail = (
        f"something keeps removing {', '.join(repr(r) for r in roles)} from OAuth client {client_id}: "
        f"grantwarden added it and verified it {limit} times"
    )
    return Refusal(RefusalReason.REMOVED_AGAIN, detail, roles=roles, missing=tuple(sorted(plan.covers)))
