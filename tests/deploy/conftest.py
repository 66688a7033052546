"""Fixtures of the deploy/ checks: the daemon's metric registry, and promtool (never skipped).

A missing promtool fails the checks that need it, with the command that installs it: the alert
rules are part of the product, and a skipped check would let them rot unnoticed.
"""

from __future__ import annotations

import shutil

import pytest

from tests.deploy import support


@pytest.fixture(scope="session")
def registry() -> support.Registry:
    return support.build_registry()


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed; it comes with Debian's prometheus package: `make system-deps` "
            "(or apt-get install prometheus)",
            pytrace=False,
        )
    return path
