"""The tenant records of ``status`` as JSON: the ``/status`` document's tenant objects and reload blocks.

Why apart from the records: the records are what the worker writes on every cycle; this is one
way of reading them, the shape documented in the README ("Status API") and design.md §2.3.1 and
kept in step by tests. Timestamps are ISO 8601 UTC with a ``Z`` (``iso``), None for none.

What it must not do: change a record, read the clock (``now`` is passed in), or add anything
secret (the records hold no token). Callers: ``surface.server`` (``/status``, ``POST /-/reload``),
``surface.pages`` (times), ``app.checking`` (``check --format json``), ``worker.access`` and
``worker.handout`` (times in a fix and a hand-out).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from grantwarden.worker import status as health


def iso(timestamp: float | None) -> str | None:
    if timestamp is None or timestamp != timestamp or timestamp in (float("inf"), float("-inf")):
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def handoff_json(record: health.HandoffRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    refusal = record.refusal
    return {
        "last_handed_out_at": iso(record.handed_out_at),
        "last_refusal": None
        if refusal is None
        else {
            "at": iso(refusal.at),
            "operation": refusal.operation,
            "method": refusal.method,
            "path": refusal.path,
            "http_status": refusal.http_status,
            "outcome": refusal.outcome,
            "code": refusal.code,
            "action": refusal.action,
        },
    }


def reload_json(record: health.ReloadRecord) -> dict[str, Any]:
    """The ``reload`` block of ``/status``: the last attempt, whether it applied, or its problems."""
    return {
        "ok": record.ok,
        "attempted_at": iso(record.attempted_at),
        "loaded_at": iso(record.loaded_at),
        "source": record.source,
        "problems": list(record.problems),
    }


def reload_outcome_json(record: health.ReloadRecord) -> dict[str, Any]:
    """The 202 answer of ``POST /-/reload``: what an applied reload changed."""
    return {
        "reload": "applied",
        "at": iso(record.attempted_at),
        "source": record.source,
        "added": list(record.added),
        "removed": list(record.removed),
        "changed": list(record.changed),
        "reconfigured": list(record.reconfigured),
        "unchanged": record.unchanged,
    }


def tenant_json(status: health.TenantStatus, *, now: float | None = None) -> dict[str, Any]:
    """The ``/status`` tenant object; ``now`` (the clock's) says whether a Retry-After is being
    waited out, and how much longer (without it: as if none were)."""
    until = status.waiting_until(now) if now is not None else None
    return {
        "tenant": status.tenant,
        "org_id": status.org_id,
        "client_id": status.client_id,
        "grant": str(status.grant),
        "state": str(status.state),
        "state_since": iso(status.state_since),
        "token": {
            "expires_at": iso(status.token_expires_at),
            "refresh_at": iso(status.token_refresh_at),
            "last_error": status.token_last_error,
        },
        "identity_org_id": status.identity_org_id,
        "probes": [
            {
                "probe": record.probe,
                "outcome": str(record.outcome),
                "http_status": record.http_status,
                "code": record.code,
                "message": record.message,
                "duration": round(record.duration_s, 4),
                "at": iso(record.at),
                "correlation_id": record.correlation_id,
            }
            for record in status.probes.values()
        ],
        "findings": [dataclasses.asdict(finding) | {"missing": list(finding.missing)} for finding in status.findings],
        "regrants": [
            {
                "at": iso(record.at),
                "result": str(record.result),
                "detail": record.detail,
                "added": list(record.added),
                "correlation_id": record.correlation_id,
            }
            for record in reversed(status.regrants)
        ],
        "traffic": [
            {
                "operation": record.operation,
                "outcome": record.outcome,
                "http_status": record.http_status,
                "code": record.code,
                "message": record.message,
                "count": record.count,
                "first_at": iso(record.first_at),
                "at": iso(record.at),
                "correlation_id": record.correlation_id,
                "passed_at": iso(record.passed_at),
            }
            for record in reversed(status.traffic)
        ],
        "rate_limited": {
            "count": status.rate_limited,
            "last_at": iso(status.rate_limited_at),
            "last_probe": status.rate_limited_probe,
            "retry_after": status.rate_limited_retry_after,
            "waiting_until": iso(until),
            "waiting_s": round(until - now, 1) if until is not None and now is not None else 0.0,
        },
        "cycles": status.cycles,
        "last_cycle_at": iso(status.last_cycle_at),
        "next_cycle_at": iso(status.next_cycle_at),
        "handoff": handoff_json(status.handoff),
    }
