"""sharding: FNV-1a and jump consistent hashing, ownership, and pod-name ordinals.

Covers: published FNV-1a 64 test vectors and jump-hash vectors (ClickHouse's
``jumpConsistentHash`` tests), every org in exactly one shard, an even spread over 4 shards,
growing 4 → 5 moving at most a quarter (and only to the new shard), ordinals from pod names.
"""

from __future__ import annotations

import random
import uuid

import pytest

from grantwarden.policy import sharding


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", 0xCBF29CE484222325, id="empty"),
        pytest.param(b"a", 0xAF63DC4C8601EC8C, id="a"),
        pytest.param(b"foobar", 0x85944171F73967E8, id="foobar"),
    ],
)
def test_fnv1a_64_vectors(data: bytes, expected: int) -> None:
    assert sharding.fnv1a_64(data) == expected


@pytest.mark.parametrize(
    ("key", "buckets", "expected"),
    [
        pytest.param(1, 1, 0, id="one-bucket"),
        pytest.param(42, 57, 43, id="42-57"),
        pytest.param(256, 1024, 520, id="256-1024"),
        pytest.param(3735883980, 1, 0, id="deadbeef-1"),
        pytest.param(3735883980, 666, 361, id="deadbeef-666"),
        pytest.param(16045690984833335023, 255, 237, id="big-key-255"),
    ],
)
def test_jump_hash_vectors(key: int, buckets: int, expected: int) -> None:
    assert sharding.jump_hash(key, buckets) == expected


def test_jump_hash_rejects_no_buckets() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sharding.jump_hash(1, 0)


ORGS = [
    str(uuid.UUID(int=random.Random(2024).getrandbits(128) ^ i * 0x9E3779B97F4A7C15, version=4)) for i in range(10_000)
]


def test_every_org_belongs_to_exactly_one_of_four_shards() -> None:
    for org in ORGS[:2000]:
        assert sum(sharding.owns(org, index, 4) for index in range(4)) == 1


def test_four_shards_are_within_ten_percent_of_a_quarter() -> None:
    counts = [0] * 4
    for org in ORGS:
        counts[sharding.shard_of(org, 4)] += 1
    assert all(abs(c - 2500) <= 250 for c in counts), counts


def test_growing_four_to_five_moves_at_most_a_quarter_and_only_to_the_new_shard() -> None:
    moved = [(sharding.shard_of(o, 4), sharding.shard_of(o, 5)) for o in ORGS]
    changed = [(a, b) for a, b in moved if a != b]
    assert len(changed) <= len(ORGS) // 4
    assert all(b == 4 for _, b in changed)


def test_ownership_hashes_the_org_id_as_configured() -> None:
    org = "2a3a43e5-e89c-406e-badf-e79288bd4ab0"
    assert sharding.shard_of(org, 7) == sharding.jump_hash(sharding.fnv1a_64(org.encode()), 7)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("grantwarden-3", 3, id="simple"),
        pytest.param("grantwarden-0", 0, id="zero"),
        pytest.param("my-grant-warden-12", 12, id="dashes-in-name"),
        pytest.param(" grantwarden-4\n", 4, id="whitespace"),
    ],
)
def test_ordinal_from_pod_name(name: str, expected: int) -> None:
    assert sharding.ordinal_from_pod_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("grantwarden", id="no-ordinal"),
        pytest.param("grantwarden-x", id="not-a-number"),
        pytest.param("-3", id="no-name"),
        pytest.param("", id="empty"),
    ],
)
def test_ordinal_from_bad_pod_names_raises(name: str) -> None:
    with pytest.raises(ValueError, match="ordinal"):
        sharding.ordinal_from_pod_name(name)
