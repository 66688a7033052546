"""The import-linter contracts in pyproject.toml place every module of the package.

A layers contract constrains only the modules it names: a module left out may import anything
and be imported by anything, and the architecture it was meant to show quietly erodes. These
tests fail when a module is added without a place, when a named module no longer exists, or
when a contract hides an import with ``ignore_imports``.
"""

from __future__ import annotations

import pathlib
import re
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "daemon" / "grantwarden"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def _modules(package: str) -> set[str]:
    return {p.stem for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__"}


def _layered(container: str) -> list[str]:
    """Every module name in the layers contracts whose container is ``container``."""
    names: list[str] = []
    for contract in CONTRACTS:
        if contract["type"] == "layers" and contract.get("containers") == [container]:
            for layer in contract["layers"]:
                names.extend(n.strip() for n in re.split(r"[|:]", layer))
    return names


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_module_of_a_package_has_a_layer(package: str) -> None:
    named = _layered(f"grantwarden.{package}")
    assert named, f"no layers contract has grantwarden.{package} as its container"
    assert len(named) == len(set(named)), f"a module of {package} is named in two layers"
    missing = _modules(package) - set(named)
    gone = set(named) - _modules(package)
    assert not missing, f"modules of grantwarden.{package} in no layer: {sorted(missing)}"
    assert not gone, f"layers of grantwarden.{package} name modules that do not exist: {sorted(gone)}"


def test_every_package_is_placed_among_the_top_level_layers_or_kept_apart() -> None:
    top = next(c for c in CONTRACTS if c["type"] == "layers" and "containers" not in c)
    placed = {n.strip().removeprefix("grantwarden.") for layer in top["layers"] for n in re.split(r"[|:]", layer)}
    apart = {
        c["source_modules"][0].removeprefix("grantwarden.")
        for c in CONTRACTS
        if c["type"] == "forbidden" and len(c["source_modules"]) == 1 and "simulator" in c["source_modules"][0]
    }
    assert set(SUBPACKAGES) | {"cli"} <= placed | apart


def test_no_contract_hides_an_import() -> None:
    assert [c["name"] for c in CONTRACTS if c.get("ignore_imports")] == []
