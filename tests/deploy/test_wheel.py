"""The distribution as a user installs it: one import package, ``grantwarden``, with its data.

Covers: the wheel holds the ``grantwarden`` package and nothing named ``daemon`` (the popular
``python-daemon`` distribution installs that name); the built-in simulator worlds and the JSON
Schema are inside it; the console script points at ``grantwarden.cli``; installed into a fresh
directory and run from another one, ``grantwarden demo`` tells the demo's story and exits 0,
``python -m grantwarden`` works and ``import daemon`` fails. The image installs this same wheel
(``deploy/Dockerfile``), so what works here works there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: hatchling comes from the dev environment, so no network is needed.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("grantwarden-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked into a fresh directory, as ``pip install`` would lay it out."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return target


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_installs_one_package_named_grantwarden(wheel: Path) -> None:
    tops = {name.split("/")[0] for name in _names(wheel) if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"grantwarden"}


def test_the_wheel_carries_the_built_in_worlds_and_the_schema(wheel: Path) -> None:
    names = set(_names(wheel))
    assert "grantwarden/simulator/worlds/demo.yaml" in names
    assert "grantwarden/config/grantwarden.schema.json" in names
    assert "grantwarden/__main__.py" in names


def test_the_console_script_is_grantwarden_cli_run(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "grantwarden = grantwarden.cli:run" in text


@pytest.fixture
def elsewhere(tmp_path: Path, installed: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout, with only the installed copy importable first."""
    env = {**os.environ, "PYTHONPATH": str(installed), "PYTHONSAFEPATH": "1"}
    env.pop("GRANTWARDEN_CONFIG", None)
    return tmp_path, env


def _python(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


def test_the_installed_copy_is_the_one_imported_and_daemon_is_not_installed(
    elsewhere: tuple[Path, dict[str, str]], installed: Path
) -> None:
    cwd, env = elsewhere
    done = _python(["-c", "import grantwarden; print(grantwarden.__file__)"], cwd, env)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed)
    missing = _python(["-c", "import daemon"], cwd, env)
    assert missing.returncode != 0
    assert "No module named 'daemon'" in missing.stderr


def test_python_m_grantwarden_runs_the_demo_from_another_directory(elsewhere: tuple[Path, dict[str, str]]) -> None:
    cwd, env = elsewhere
    done = _python(["-m", "grantwarden", "demo", "--duration", "12", "--listen", "127.0.0.1:0"], cwd, env, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cannot read the file" not in done.stdout + done.stderr
    assert "acme-eu" in done.stdout, "the story names the demo's tenants"
    assert "wrong_org" in done.stdout or "acts in" in done.stdout, "the story reaches the wrong-org tenant"
