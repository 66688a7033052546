"""Eventual consistency of grants: each change to a client takes effect after a delay.

"Permission changes can take a few minutes to take effect" (platform.md §2.4), and whether an
already-issued token picks up a new grant is unknown, so both behaviours are modelled. A change
appends a ``ClientGrants`` version effective at ``now + delay``:

    PUT at t ──── delay ────► t + delay: version in force for
                               · every token (existing_tokens_see_grants), or
                               · only tokens minted from then on (each token keeps the version
                                 in force at its mint, removals included)

The client object (GET) shows the newest version at once: config stores are immediate, the
auth caches lag. Permission answers are memoised per version, so the hot path is dict lookups.
A trust member's trustor roles are versioned the same way (``Versioned``): "up to five minutes"
(platform.md §13).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from grantwarden.simulator import model, permissions, rights

ALWAYS = float("-inf")


class Versioned(Protocol):
    """Anything whose grants change over time: an OAuth client, a trust member."""

    versions: list[model.ClientGrants]

    @property
    def configured(self) -> model.ClientGrants: ...


def initial(role_divisions: Iterable[model.RoleDivision], scope: Iterable[str]) -> list[model.ClientGrants]:
    """The version history of a client created with these grants (in force from the start)."""
    return [model.ClientGrants(0, ALWAYS, tuple(role_divisions), tuple(scope))]


def record(
    client: Versioned,
    role_divisions: Iterable[model.RoleDivision],
    scope: Iterable[str],
    *,
    effective_at: float,
) -> model.ClientGrants:
    version = model.ClientGrants(client.configured.seq + 1, effective_at, tuple(role_divisions), tuple(scope))
    client.versions.append(version)
    return version


def effective(client: Versioned, at: float) -> model.ClientGrants:
    """The version in force at ``at``: the newest one whose moment has come."""
    versions = client.versions
    if len(versions) == 1:
        return versions[0]
    best = versions[0]
    for version in versions:
        if version.effective_at <= at and version.seq > best.seq:
            best = version
    return best


def prune(client: Versioned, now: float) -> None:
    """Drop versions superseded before ``now`` (tokens keep their own references)."""
    current = effective(client, now)
    client.versions = [v for v in client.versions if v.seq >= current.seq]


def holdings(org: model.Org, version: model.ClientGrants) -> rights.Holdings:
    if version.holdings is None:
        version.holdings = permissions.holdings_of(org, version.role_divisions)
    return version.holdings


def user_holdings(org: model.Org, user: model.User) -> rights.Holdings:
    if user.holdings is None:
        user.holdings = permissions.holdings_of(org, user.role_divisions)
    return user.holdings


def for_client_token(client: model.OAuthClient, token: model.Token, *, now: float, live: bool) -> model.ClientGrants:
    """The grants a client-credentials token acts with right now."""
    if live or token.grants is None:
        return effective(client, now)
    return token.grants
