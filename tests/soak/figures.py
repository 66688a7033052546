"""The long run's verdicts and the figures it prints last.

Pure arithmetic over what ``run`` collected: process samples taken every few seconds, request
counts from the simulator, the final ``/status``, and the two signal checks. Each check is a
named pass/fail with the numbers behind it, so a failed soak says what grew or what stuck.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from tests.soak.processes import Sample

MAX_GROWTH = 0.10  # resident memory, tasks and file descriptors: at most 10 % above the warm baseline
WINDOW_S = 60.0  # the baseline is the first minute after warm-up; the end is the last minute


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def window(samples: Sequence[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.at < end]


def growth(samples: Sequence[Sample], warmup_s: float, field: str) -> tuple[float, float, float]:
    """(baseline mean, end mean, relative growth) of ``field`` after warm-up."""
    last = samples[-1].at
    first = [getattr(s, field) for s in window(samples, warmup_s, warmup_s + WINDOW_S) if getattr(s, field)]
    final = [getattr(s, field) for s in window(samples, last - WINDOW_S, last + 1) if getattr(s, field)]
    if not first or not final:
        return 0.0, 0.0, float("inf")
    base, end = statistics.fmean(first), statistics.fmean(final)
    return base, end, (end - base) / base


def flat(samples: Sequence[Sample], warmup_s: float, field: str, unit: str, scale: float = 1.0) -> Check:
    base, end, rel = growth(samples, warmup_s, field)
    after = [getattr(s, field) for s in samples if s.at >= warmup_s and getattr(s, field)]
    spread = f"min {min(after) / scale:.0f}, max {max(after) / scale:.0f}" if after else "no samples"
    detail = f"{base / scale:.1f} → {end / scale:.1f} {unit} ({rel:+.1%}; after warm-up {spread})"
    return Check(f"{field} flat (< {MAX_GROWTH:.0%} growth)", rel < MAX_GROWTH, detail)


def stuck(tenants: Sequence[dict[str, object]], now: float, interval_s: float) -> list[str]:
    """Tenants whose last cycle ended more than two intervals ago (or never)."""
    late = []
    for tenant in tenants:
        at = tenant.get("last_cycle_at_epoch")
        if not isinstance(at, float) or now - at > 2 * interval_s:
            late.append(str(tenant["tenant"]))
    return late
