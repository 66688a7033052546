"""Whether to act now, and the exact PUT body when acting: additive edits of a fresh client.

``PUT /api/v2/oauth/clients/{id}`` replaces the whole client (platform.md §2.4), so a re-grant
sends back the JSON it just fetched with only the planned roleDivisions or scopes appended;
every other field, and every existing entry, stays exactly as it was: nothing is ever removed,
and a secret is never regenerated. ``decide`` guards the act itself: the mode, dry runs, a cap
on attempts per hour and a stop after repeated failures, so a broken org cannot make grantwarden
hammer the platform. Called by the remediation loop with the plans ``planning`` produced.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from grantwarden.policy.labels import ManagedBy, Outcome, RegrantMode
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan

HOUR_S = 3600.0


class Action(enum.StrEnum):
    """What the remediation loop does this cycle."""

    NONE = "none"
    REISSUE = "reissue"  # drop the token and mint a new one, then re-probe
    REMEDIATE = "remediate"  # apply the plans (PUT the client), settle, re-mint, re-probe
    DRY_RUN = "dry_run"  # log regrant_planned only
    HOLD = "hold"  # would act, but a guard says wait


class HoldReason(enum.StrEnum):
    RATE_CAP = "rate_cap"  # regrant.max_per_hour reached within the last hour
    TOO_MANY_FAILURES = "too_many_failures"  # consecutive unverified re-grants; a person must look


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    would: Action = Action.NONE  # REISSUE or REMEDIATE: what a HOLD or DRY_RUN stands in for
    hold: HoldReason | None = None
    retry_at: float | None = None  # epoch seconds when a RATE_CAP hold lifts
    detail: str = ""


def apply_roles(client: Mapping[str, Any], add: Sequence[RoleDivision]) -> dict[str, Any]:
    """The PUT body: ``client`` as fetched, with ``add`` appended to ``roleDivisions`` once each.

    Raises ValueError when ``roleDivisions`` is present but not a list: a body we cannot read is
    not one we may replace.
    """
    body = copy.deepcopy(dict(client))
    entries = _list(body, "roleDivisions")
    present = {(e.get("roleId"), e.get("divisionId")) for e in entries if isinstance(e, dict)}
    for item in add:
        if (item.role_id, item.division_id) not in present:
            entries.append({"roleId": item.role_id, "divisionId": item.division_id})
            present.add((item.role_id, item.division_id))
    body["roleDivisions"] = entries
    return body


def apply_scopes(client: Mapping[str, Any], add: Sequence[str]) -> dict[str, Any]:
    """The PUT body: ``client`` as fetched, with ``add`` appended to ``scope`` once each."""
    body = copy.deepcopy(dict(client))
    scopes = _list(body, "scope")
    for scope in add:
        if scope not in scopes:
            scopes.append(scope)
    body["scope"] = scopes
    return body


def decide(
    *,
    mode: RegrantMode,
    dry_run: bool,
    outcomes: Sequence[Outcome],
    plans: Sequence[Plan],
    recent_attempt_times: Sequence[float],
    now: float,
    max_per_hour: int,
    consecutive_failures: int,
    max_failures: int = 3,
    managed_by: ManagedBy = ManagedBy.GRANTWARDEN,
) -> Decision:
    """Act, simulate, hold or do nothing, given this cycle's outcomes and plans.

    Order: mode off → nothing needed → dry run (changes nothing, so no guard applies) →
    too many failures → hourly cap → act. Re-mints and role edits share the hourly cap. A client
    ``managed_by`` Terraform is never edited: its plans are for a person (``policy.terraform``).
    """
    if mode is RegrantMode.OFF:
        return Decision(Action.NONE, detail="regrant.mode is off")
    edits = managed_by is ManagedBy.GRANTWARDEN
    wanted = _wanted(mode, outcomes, plans, edits=edits)
    if wanted is Action.NONE:
        return Decision(Action.NONE, detail="nothing a re-grant can fix")
    if dry_run:
        return Decision(Action.DRY_RUN, would=wanted, detail="regrant.dry_run is set")
    if consecutive_failures >= max_failures:
        detail = f"{consecutive_failures} re-grants in a row were not verified"
        return Decision(Action.HOLD, would=wanted, hold=HoldReason.TOO_MANY_FAILURES, detail=detail)
    window = sorted(t for t in recent_attempt_times if now - HOUR_S < t <= now)
    if len(window) >= max_per_hour:
        # timeline: |—— window: the last hour ——| now
        #           ^ window[-max_per_hour] + 1 h = when one attempt leaves the window
        retry_at = window[-max_per_hour] + HOUR_S if max_per_hour > 0 else None
        detail = f"{len(window)} re-grants in the last hour (regrant.max_per_hour {max_per_hour})"
        return Decision(Action.HOLD, would=wanted, hold=HoldReason.RATE_CAP, retry_at=retry_at, detail=detail)
    return Decision(wanted, would=wanted)


def _wanted(mode: RegrantMode, outcomes: Sequence[Outcome], plans: Sequence[Plan], *, edits: bool) -> Action:
    if edits and mode is RegrantMode.REMEDIATE and any(isinstance(p, RolePlan | ScopePlan) for p in plans):
        return Action.REMEDIATE
    missing = any(o in (Outcome.MISSING_PERMISSION, Outcome.MISSING_DIVISION_PERMISSION) for o in outcomes)
    propagating = any(isinstance(p, Refusal) and p.reason is RefusalReason.ALREADY_GRANTED for p in plans)
    if missing and (mode is RegrantMode.REISSUE or propagating):
        return Action.REISSUE
    return Action.NONE


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"client field {key!r} is {type(value).__name__}, not a list")
    return value
