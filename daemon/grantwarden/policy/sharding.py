"""Which replica owns which tenant, without a coordinator.

A StatefulSet of N replicas splits the fleet by ``jump_hash(fnv1a_64(org_id), N) == ordinal``
(design.md §3). Jump consistent hashing (Lamping & Veach, 2014) spreads keys evenly and, when N
grows to N+1, moves only about 1/(N+1) of them, all to the new replica; FNV-1a turns the org id
into the 64-bit key. Both are spelled out here rather than taken from a library because every
replica, and every version, must compute exactly the same answer. The org id is hashed exactly
as configured (UTF-8, no normalisation), as design.md §3 spells it. Callers: settings (the
ordinal from the pod name), the supervisor (which tenants to run) and ``validate-config``.
"""

from __future__ import annotations

import re

_MASK64 = (1 << 64) - 1
FNV64_OFFSET = 0xCBF29CE484222325
FNV64_PRIME = 0x100000001B3
_JUMP_MULTIPLIER = 2862933555777941757  # the 64-bit LCG of the paper
_POD_ORDINAL = re.compile(r"^.+-(\d+)$")


def fnv1a_64(data: bytes) -> int:
    """64-bit FNV-1a of ``data``."""
    value = FNV64_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV64_PRIME) & _MASK64
    return value


def jump_hash(key: int, buckets: int) -> int:
    """Bucket in [0, buckets) for a 64-bit ``key`` (Lamping & Veach, "A Fast, Minimal Memory,
    Consistent Hash Algorithm", 2014, figure 1)."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, not {buckets}")
    key &= _MASK64
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * _JUMP_MULTIPLIER + 1) & _MASK64
        jump = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(org_id: str, count: int) -> int:
    """The shard index, in [0, count), that owns ``org_id``."""
    return jump_hash(fnv1a_64(org_id.encode("utf-8")), count)


def owns(org_id: str, index: int, count: int) -> bool:
    """Whether shard ``index`` of ``count`` owns the tenant of ``org_id``."""
    return shard_of(org_id, count) == index


def ordinal_from_pod_name(pod_name: str) -> int:
    """The StatefulSet ordinal from a pod name: "grantwarden-3" → 3; ValueError otherwise."""
    match = _POD_ORDINAL.match(pod_name.strip())
    if match is None:
        raise ValueError(f"pod name {pod_name!r} does not end in -<ordinal>")
    return int(match.group(1))
