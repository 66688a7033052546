"""How long to wait after a failure, and when to stop restarting a crashing worker.

Failures back off exponentially, 1 s doubling to 5 min, with *equal jitter*: half the delay is
kept and the other half drawn at random, so a failing credential is never retried at once yet
a fleet of tenants that failed together does not retry together (design.md §3). A token refresh
is special: while the old token is still usable, its retry never waits past the moment it stops
being usable (``policy.tokens.expiry_margin``, the token box's own rule), so a brief login outage
does not become an API outage. Restart intensity
follows the supervisor-tree rule: more than 5 crashes in 60 s and the worker stays down.
Callers: the refresh loop, the probe loop, the supervisor. Pure; ``rng`` is injected.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

MIN_RETRY_S = 1.0  # never retry sooner than this, even in the last moments of the old token


def delay(attempt: int, *, rng: random.Random, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait after the ``attempt``-th consecutive failure (1 = the first).

    The ceiling is base·2^(attempt-1) up to ``cap``; the result is uniform in
    [ceiling/2, ceiling] (equal jitter).
    """
    exponent = min(max(attempt, 1) - 1, 64)  # beyond 2**64 every ceiling is the cap anyway
    ceiling = min(cap, base * 2.0**exponent)
    return rng.uniform(ceiling / 2.0, ceiling)


def token_retry_at(
    *,
    now: float,
    attempt: int,
    old_usable_until: float | None,
    rng: random.Random,
    not_before: float | None = None,
) -> float:
    """Epoch seconds of the next token request after ``attempt`` consecutive failures.

    now            backoff says here ─────────────┐
    |-------------------------------|-------------x----|
                       old token's usable_until     old expiry
    While the old token is usable the retry moves up to ``old_usable_until`` (its expiry less
    ``policy.tokens.expiry_margin``; never sooner than ``now + MIN_RETRY_S``); once it is not,
    plain backoff applies. ``not_before`` (a Retry-After floor, platform.md §5) wins over
    everything: the platform said so.
    """
    at = now + delay(attempt, rng=rng)
    if old_usable_until is not None and now < old_usable_until:
        at = max(min(at, old_usable_until), now + MIN_RETRY_S)
    return max(at, not_before) if not_before is not None else at


def restart_allowed(crash_times: Sequence[float], now: float, *, max_crashes: int = 5, window: float = 60.0) -> bool:
    """Whether a worker that crashed at ``crash_times`` (the latest included) may restart.

    More than ``max_crashes`` crashes within the last ``window`` seconds: give up, and the
    tenant goes to ``needs_attention`` instead of looping (design.md §3).
    """
    recent = sum(1 for t in crash_times if now - window < t <= now)
    return recent <= max_crashes
