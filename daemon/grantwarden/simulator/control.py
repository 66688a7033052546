"""The simulator's knobs, as a Python API on a ``World`` (the ``/__sim/`` routes call these too).

Tests and the demo use them to make the platform misbehave the way real orgs do: drift a
client (a role removed, disabled, tokens revoked), inject faults, slow down propagation, shrink
rate budgets, "restart" (every token forgotten), approve or revoke an app for an org, deny
consent, add a security policy, set an idle timeout. None of this exists on the real platform's
API: an org's app approval, for instance, is changed by a person (platform.md §2.1); client
changes are audited as that person's (``World.ui_actor``). Knobs on trusts, IP allow-lists and
roles are in ``control_orgs``. Raises ``ControlError`` for unknown ids or impossible values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grantwarden.simulator import audit, catalog, client_routes, faults, grants, model, trust, world


class ControlError(ValueError):
    """A control request names something unknown or asks for something impossible."""


def client(sim: world.World, client_id: str) -> model.OAuthClient:
    found = sim.clients.get(client_id)
    if found is None:
        raise ControlError(f"unknown client {client_id!r}")
    return found


def org(sim: world.World, org_id: str) -> model.Org:
    found = sim.orgs.get(org_id)
    if found is None:
        raise ControlError(f"unknown org {org_id!r}")
    return found


def _role(sim: world.World, target: model.OAuthClient, role: str) -> model.Role:
    owner = sim.orgs[target.org_id]
    found = owner.roles.get(role) or owner.role_named(role)
    if found is None:
        raise ControlError(f"org {owner.id} has no role {role!r}")
    return found


def audit_client(sim: world.World, target: model.OAuthClient, changes: list[audit.Change]) -> None:
    """A change to a client made "in the UI" by the org's UI person."""
    if changes:
        entity = (client_routes.OAUTH_CLIENT, target.id, target.name)
        actor = sim.ui_actor(target.org_id)
        sim.audits.record(
            org_id=target.org_id, now=sim.clock.now(), actor=actor, action="Update", entity=entity, changes=changes
        )
        target.modified_by = {"id": actor.user_id or "", "selfUri": f"/api/v2/users/{actor.user_id}"}


def _regrant(sim: world.World, target: model.OAuthClient, role_divisions: list[model.RoleDivision]) -> None:
    """Out-of-band drift takes effect at once: it happened before anyone looked."""
    now = sim.clock.now()
    before = client_routes.pairs(target.configured.role_divisions)
    grants.record(target, role_divisions, target.configured.scope, effective_at=now)
    grants.prune(target, now)
    model.touch(target, now)
    audit_client(sim, target, audit.diff("roleDivisions", before, client_routes.pairs(tuple(role_divisions))))


def remove_role(sim: world.World, client_id: str, role: str) -> None:
    """Drift: remove a role (by id or name) from a client's roleDivisions."""
    target = client(sim, client_id)
    removed = _role(sim, target, role)
    _regrant(sim, target, [rd for rd in target.configured.role_divisions if rd.role_id != removed.id])


def add_role(sim: world.World, client_id: str, role: str, division: str = "home") -> None:
    """Drift back: pair a role with a division ("home", "*" or a division id) on a client."""
    target = client(sim, client_id)
    owner = sim.orgs[target.org_id]
    added = _role(sim, target, role)
    division_id = owner.home_division_id if division == "home" else division
    if division_id != model.ALL_DIVISIONS and division_id not in owner.divisions:
        raise ControlError(f"org {owner.id} has no division {division!r}")
    pair = model.RoleDivision(added.id, division_id)
    _regrant(sim, target, [*(rd for rd in target.configured.role_divisions if rd != pair), pair])


def set_client_state(sim: world.World, client_id: str, state: str) -> None:
    """active | disabled (its tokens become invalid at once) | inactive (no new tokens)."""
    if state not in model.CLIENT_STATES:
        raise ControlError(f"state is one of {', '.join(model.CLIENT_STATES)}")
    target = client(sim, client_id)
    if state == "disabled":
        sim.tokens.revoke_client(target.id)
    changes = audit.diff("state", [target.state], [state])
    target.state = state
    model.touch(target, sim.clock.now())
    audit_client(sim, target, changes)


def revoke_tokens(sim: world.World, client_id: str) -> int:
    return sim.tokens.revoke_client(client(sim, client_id).id)


def set_fault(sim: world.World, fault: faults.Fault) -> None:
    sim.faults.set(fault)


def clear_faults(sim: world.World, prefix: str | None = None) -> None:
    sim.faults.clear(prefix)


def set_propagation(
    sim: world.World,
    delay_seconds: float | None = None,
    *,
    org_id: str | None = None,
    existing_tokens_see_grants: bool | None = None,
) -> None:
    """Platform-wide, or for one org (``None`` there means: back to the platform's value)."""
    if delay_seconds is not None and delay_seconds < 0:
        raise ControlError("delay_seconds must not be negative")
    if org_id is None:
        if delay_seconds is not None:
            sim.settings.propagation_delay_seconds = delay_seconds
        if existing_tokens_see_grants is not None:
            sim.settings.existing_tokens_see_grants = existing_tokens_see_grants
        return
    target = org(sim, org_id)
    target.propagation_delay_seconds = delay_seconds
    target.existing_tokens_see_grants = existing_tokens_see_grants


def set_rate_limits(
    sim: world.World,
    *,
    org_id: str | None = None,
    token_requests_per_minute: int | None = None,
    mints_per_client_per_minute: int | None = None,
    mints_per_second: int | None = None,
) -> None:
    for value in (token_requests_per_minute, mints_per_client_per_minute, mints_per_second):
        if value is not None and value < 1:
            raise ControlError("rate budgets are at least 1")
    if org_id is not None:
        org(sim, org_id).token_requests_per_minute = token_requests_per_minute
    elif token_requests_per_minute is not None:
        sim.settings.token_requests_per_minute = token_requests_per_minute
    if mints_per_client_per_minute is not None:
        sim.settings.mints_per_client_per_minute = mints_per_client_per_minute
    if mints_per_second is not None:
        sim.settings.mints_per_second = mints_per_second


def restart(sim: world.World) -> None:
    """The platform forgets every token, code and refresh token, and every rate window."""
    sim.tokens.forget()
    for windows in (sim.token_windows, sim.client_mint_windows, sim.global_mint_windows):
        windows.forget()


def set_app_authorization(
    sim: world.World, org_id: str, client_id: str, *, state: str, scopes: list[str], enforce: bool | None = None
) -> None:
    """What an org admin does in Admin > Authorized Applications (no platform API does it)."""
    if state not in model.APP_AUTHORIZATION_STATES:
        raise ControlError(f"state is one of {', '.join(model.APP_AUTHORIZATION_STATES)}")
    target = org(sim, org_id)
    client(sim, client_id)
    target.app_authorizations[client_id] = model.AppAuthorization(state, tuple(scopes))
    if enforce is not None:
        target.enforce_app_authorization = enforce


def set_consent_denied(sim: world.World, deny: bool) -> None:
    sim.settings.deny_consent = deny


def set_policy(sim: world.World, org_id: str, path_prefix: str, policy_id: str) -> None:
    org(sim, org_id).policies.append(model.PolicyRule(path_prefix, policy_id))


def clear_policies(sim: world.World, org_id: str) -> None:
    org(sim, org_id).policies.clear()


def set_idle_timeout(sim: world.World, org_id: str, seconds: float | None) -> None:
    if seconds is not None and seconds <= 0:
        raise ControlError("an idle timeout is positive, or null for none")
    org(sim, org_id).idle_timeout_seconds = seconds


def set_refresh_grace(sim: world.World, seconds: float) -> None:
    if seconds < 0:
        raise ControlError("grace must not be negative")
    sim.settings.refresh_grace_seconds = seconds


def snapshot(sim: world.World) -> dict[str, Any]:
    """The state: orgs, clients (never their secrets), roles, token counts, knobs."""
    return {
        "default_region": sim.default_region,
        "settings": dataclasses.asdict(sim.settings),
        "orgs": [
            {
                "id": o.id,
                "name": o.name,
                "region": o.region,
                "home_division_id": o.home_division_id,
                "divisions": [{"id": d.id, "name": d.name} for d in o.divisions.values()],
                "roles": [{"id": r.id, "name": r.name} for r in o.roles.values()],
                "unlicensed": sorted(p for p in catalog.ALL_PERMISSIONS if p not in o.licensed),
                "token_requests_per_minute": sim.token_budget(o),
                "propagation_delay_seconds": sim.propagation_delay(o),
                "enforce_app_authorization": o.enforce_app_authorization,
                "app_authorizations": {
                    c: {"state": a.state, "scopes": list(a.scopes)} for c, a in o.app_authorizations.items()
                },
                "ip_allowlist": list(o.ip_allowlist),
                "groups": [{"id": g.id, "name": g.name, "member_ids": list(g.member_ids)} for g in o.groups.values()],
            }
            for o in sim.orgs.values()
        ],
        "clients": [{**client_routes.client_json(c), "org_id": c.org_id} for c in sim.clients.values()],
        "trusts": trust.snapshot(sim.trusts),
        "audits": len(sim.audits),
        "tokens": {
            "access": len(sim.tokens.access),
            "refresh": len(sim.tokens.refresh),
            "codes": len(sim.tokens.codes),
        },
        "faults": [
            {
                "prefix": f.prefix,
                "action": f.action,
                "latency_seconds": f.latency_seconds,
                "status": f.status,
                "rate": f.rate,
                "times": f.times,
            }
            for f in sim.faults.active()
        ],
        "tenants": [
            {"name": t.name, "org_id": t.org_id, "client_id": t.client_id, "note": t.note} for t in sim.tenants
        ],
    }
