"""Tenant inheritance: ``parent`` chains and ``defaults`` filled into each tenant, and where each
inherited value was written.

The loader validates whole tenants after inheritance (one pydantic pass over the file, the fast
way at 10,000 tenants), so a wrong value is found at every tenant that inherited it: a wrong
``defaults.regrant.mode`` once per tenant. ``Family.origin`` says where a failing value was
written (the tenant, an ancestor or ``defaults``), so that ``loading`` reports it there, once.
A check that compares settings (``TOGETHER``) is reported where the most specific of them was
written. Raw dicts in, raw dicts out; nothing given is changed. Called by ``loading`` only.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pydantic

from grantwarden.config import models

INHERITED = ("blueprint", "probe_interval", "probe_timeout", "probe_concurrency", "refresh", "regrant")
HOSTS = ("region", "api_base_url", "login_base_url")
FROM_DEFAULTS = ("probe_interval", "probe_timeout", "probe_concurrency", "refresh", "regrant")
TOGETHER = {
    "timeout_not_below_interval": (("probe_timeout", "probe_interval"), False),
    "jitter_not_below_fraction": (("jitter_fraction", "at_fraction"), False),
    "tenant_hosts": (HOSTS, True),
}
"""Error kinds (``models``) that compare settings of one model: the settings, the failing one
first, and whether the problem belongs to the model (True: the hosts, reported at the tenant
that wrote them) or to the setting written most specifically."""

Path = tuple[Any, ...]
Problems = list[tuple[Path, str]]


@dataclasses.dataclass(frozen=True)
class Family:
    """The tenants as written, with each one's ancestors (nearest first), and ``defaults``."""

    tenants: Sequence[Any]
    chains: Sequence[Sequence[int]]
    defaults: Mapping[str, Any]

    def origin(self, index: int, loc: Path, kind: str) -> Path:
        """Where the value at ``loc`` inside tenant ``index`` that failed with error ``kind`` was
        written; the tenant's own path when nobody wrote it (a missing setting). A comparison
        (``TOGETHER``) is reported at the most specific place that wrote one of its settings."""
        if kind not in TOGETHER:
            return self._written(index, loc)[1]
        names, of_model = TOGETHER[kind]
        model = loc[:-1] if loc and loc[-1] in names else loc
        _, _, prefix = min((self._written(index, (*model, name)) for name in names), key=lambda found: found[0])
        return (*prefix, *model) if of_model or model == loc else (*prefix, *loc)

    def _written(self, index: int, loc: Path) -> tuple[int, Path, Path]:
        """(rank, path, prefix) of the first place that writes ``loc`` for tenant ``index`` (rank 0:
        the tenant itself); where none does, the tenant itself with a rank after all others."""
        if loc:
            for rank, (prefix, source) in enumerate(self._sources(index, loc[0])):
                if _holds(source, loc):
                    return rank, (*prefix, *loc), prefix
        own = ("tenants", index)
        return len(self.chains[index]) + 2, (*own, *loc), own

    def _sources(self, index: int, key: Any) -> Iterator[tuple[Path, Any]]:
        """What tenant ``index`` takes ``key`` from, first to last (as ``_resolve`` does)."""
        yield ("tenants", index), self.tenants[index]
        if key in HOSTS:  # the hosts come as a group, from the first tenant that names any
            for ancestor in [index, *self.chains[index]]:
                if any(host in self.tenants[ancestor] for host in HOSTS):
                    if ancestor != index:
                        yield ("tenants", ancestor), self.tenants[ancestor]
                    return
            return
        if key in INHERITED:
            for ancestor in self.chains[index]:
                yield ("tenants", ancestor), self.tenants[ancestor]
        if key in FROM_DEFAULTS:
            yield ("defaults",), self.defaults


def resolve(tenants: Sequence[Any], defaults: Any, blueprints: Any, problems: Problems) -> tuple[list[Any], Family]:
    """Each tenant with what it inherits; a tenant that is no mapping stays as it is (pydantic
    says so). Problems of names, parents and blueprints are added to ``problems``."""
    by_name = _names(tenants, problems)
    chains = [_parent_chain(index, tenants, by_name, problems) for index in range(len(tenants))]
    family = Family(tenants, chains, defaults if isinstance(defaults, dict) else {})
    resolved = [_resolve(index, family) for index in range(len(tenants))]
    _choose_blueprints(resolved, blueprints, family, problems)
    return resolved, family


def _names(tenants: Sequence[Any], problems: Problems) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for index, tenant in enumerate(tenants):
        if not isinstance(tenant, dict):
            problems.append((("tenants", index), "must be a mapping with name, org_id, credentials, ..."))
            continue
        name = tenant.get("name")
        if isinstance(name, str) and name in by_name:
            problems.append((("tenants", index, "name"), f"{show(name)} is already used by tenants[{by_name[name]}]"))
        elif isinstance(name, str):
            by_name[name] = index
    return by_name


def _parent_chain(index: int, tenants: Sequence[Any], by_name: dict[str, int], problems: Problems) -> list[int]:
    """The ancestors of tenant ``index``, nearest first. An unknown parent is reported where it is
    written; a cycle at each tenant on it (a tenant that only leads into one stops there)."""
    chain: list[int] = []
    current = index
    while isinstance(tenants[current], dict) and (parent := tenants[current].get("parent")) is not None:
        if not isinstance(parent, str) or parent not in by_name:
            problems.append((("tenants", current, "parent"), f"unknown parent tenant {show(parent)}"))
            return chain
        ancestor = by_name[parent]
        if ancestor == index:
            cycle = " -> ".join(show(tenants[at]["name"]) for at in [index, *chain, index])
            problems.append((("tenants", index, "parent"), f"inheritance cycle: {cycle}"))
            return chain
        if ancestor in chain:
            return chain
        chain.append(ancestor)
        current = ancestor
    return chain


def _resolve(index: int, family: Family) -> Any:
    tenant = family.tenants[index]
    if not isinstance(tenant, dict):
        return tenant
    result = dict(tenant)
    for ancestor in family.chains[index]:
        _take_from(family.tenants[ancestor], result, INHERITED)
        if not any(key in result for key in HOSTS):
            result.update({k: family.tenants[ancestor][k] for k in HOSTS if k in family.tenants[ancestor]})
    _take_from(family.defaults, result, FROM_DEFAULTS)
    for key in FROM_DEFAULTS:
        if key not in result:
            value = models.Defaults.model_fields[key].default  # a frozen model or a number
            result[key] = value.model_dump() if isinstance(value, pydantic.BaseModel) else value
    return result


def _take_from(source: Mapping[str, Any], result: dict[str, Any], keys: Sequence[str]) -> None:
    """Copy ``keys`` missing in ``result`` from ``source``; nested mappings merge, ``result`` wins.
    What a tenant inherits is its own copy: no two tenants share a mutable part."""
    for key in keys:
        if key not in source:
            continue
        if key not in result:
            result[key] = copy.deepcopy(source[key])
        elif isinstance(result[key], dict) and isinstance(source[key], dict):
            result[key] = deep_merge(copy.deepcopy(source[key]), result[key])


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` in new dicts; neither is changed, and the parts of ``base`` that
    ``override`` leaves alone are shared, not copied (a 10,000-tenant list would cost 0.5 s)."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _choose_blueprints(tenants: list[Any], blueprints: Any, family: Family, problems: Problems) -> None:
    """A tenant without a blueprint takes the only one there is; a named one must exist (reported
    where the name is written, which may be an ancestor)."""
    names = list(blueprints) if isinstance(blueprints, dict) else ["default"]
    for index, tenant in enumerate(tenants):
        if not isinstance(tenant, dict):
            continue
        name = tenant.get("blueprint")
        if name is None and len(names) == 1:
            tenant["blueprint"] = names[0]
        elif name is None:
            problems.append((("tenants", index, "blueprint"), f"required: choose one of {', '.join(map(str, names))}"))
        elif isinstance(name, str) and name not in names:
            known = ", ".join(show(n) for n in names[:20])
            where = family.origin(index, ("blueprint",), "")
            problems.append((where, f"unknown blueprint {show(name)}; defined: {known}"))


def _holds(node: Any, path: Path) -> bool:
    for part in path:
        found, node = step(node, part)
        if not found:
            return False
    return True


def step(node: Any, part: Any) -> tuple[bool, Any]:
    """One step down a document: (True, the value) at a key of a mapping or an index of a list."""
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def show(value: object) -> str:
    """A value as it goes into a problem line: short strings quoted, anything else by its type."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return f"a {type(value).__name__}"
