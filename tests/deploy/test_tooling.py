"""The developer tooling in pyproject.toml and the Makefile, checked against what uses it.

Covers: every executable the perf scripts run from the virtualenv (``py-spy`` for
``tests/perf/profile.py``) is in the dev extras, so ``make venv`` brings it; ``make clean``
removes every file ``make bench`` writes (bench-results.json and bench-results.md), run on a
copy of the Makefile in a scratch directory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.deploy.support import REPO


def dev_extras() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower() for spec in project["optional-dependencies"]["dev"]}


def test_the_profiler_tool_comes_with_the_dev_extras() -> None:
    profile = (REPO / "tests" / "perf" / "profile.py").read_text()
    assert 'shutil.which("py-spy")' in profile  # what profile.py runs
    assert "py-spy" in dev_extras()


def test_make_clean_removes_every_benchmark_report(tmp_path: Path) -> None:
    make = shutil.which("make")
    assert make is not None, "make is needed for `make test` itself"
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    written = re.findall(r"bench-results\.\w+", (REPO / "tests" / "perf" / "run.py").read_text())
    assert set(written) == {"bench-results.json", "bench-results.md"}
    for name in written:
        (tmp_path / name).write_text("{}")

    subprocess.run([make, "-s", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=30)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile"]
