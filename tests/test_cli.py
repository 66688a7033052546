"""The command line as a user runs it: exit codes and one-line reasons, never a traceback.

Covers: validate-config on the example (exit 0, a summary without secrets), on a broken copy
(exit 2, one line naming file, path and problem), on a missing file; --version; the generated
JSON Schema matches the shipped grantwarden.schema.json (run `make schema` when this fails).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grantwarden import __version__, cli
from grantwarden.config import schema

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "config" / "grantwarden.example.yaml"


def grantwarden(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grantwarden", *args], capture_output=True, text=True, check=False, env=env, timeout=60
    )


def test_validate_config_accepts_the_example_and_summarises_it() -> None:
    done = grantwarden("validate-config", str(EXAMPLE), env={"ACME_SECRET": "topsecret-1"})
    assert done.returncode == 0, done.stderr
    assert "tenants: 3" in done.stdout
    assert "messaging-core (3 tenants)" in done.stdout
    assert "may grant roles: Messaging Viewer, Web Deployments Viewer (division home)" in done.stdout
    assert "topsecret-1" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_validate_config_on_a_broken_copy_exits_2_with_a_one_line_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text().replace("region: eu-west-1", "region: eu-west-9"))
    done = grantwarden("validate-config", str(broken))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{broken}: tenants[1]: unknown region 'eu-west-9'")


def test_validate_config_warns_about_secrets_it_cannot_resolve_yet() -> None:
    done = grantwarden("validate-config", str(EXAMPLE), env={})
    assert done.returncode == 0
    assert "warning:" in done.stderr
    assert "tenants[0].credentials.client_secret: environment variable ACME_SECRET is not set" in done.stderr


def test_validate_config_on_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["validate-config", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_version_prints_the_package_version() -> None:
    done = grantwarden("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"grantwarden {__version__}"


def test_the_committed_json_schema_is_current() -> None:
    assert schema.shipped() == schema.render(), (
        "daemon/grantwarden/config/grantwarden.schema.json is stale: run `make schema`"
    )
