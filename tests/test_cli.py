"""The command line as a user runs it: exit codes and one-line reasons, never a traceback.

Covers: validate-config on the example (exit 0, a summary without secrets), on a broken copy
(exit 2, one line naming file, line, path and problem), on a file with several problems (each
once, exit 2), on an empty file (exit 2, not "valid, tenants: 0"), on ``tenants: []`` (valid,
none on purpose), with literal secrets, a shared OAuth client and unresolved references (warnings
on stderr, exit 0, no secret), on a missing file; --version; the generated JSON Schema matches
the shipped grantwarden.schema.json (run `make schema` when this fails); ``plan --format``
(text, json, terraform) and its mistakes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    line = next(number for number, text in enumerate(broken.read_text().splitlines(), 1) if "eu-west-9" in text)
    assert lines[0].startswith(f"{broken}: line {line}: tenants[1].region: unknown region 'eu-west-9'")


def test_validate_config_warns_about_secrets_it_cannot_resolve_yet() -> None:
    done = grantwarden("validate-config", str(EXAMPLE), env={})
    assert done.returncode == 0
    assert "warning:" in done.stderr
    assert "tenants[0].credentials.client_secret: environment variable ACME_SECRET is not set" in done.stderr


@pytest.fixture
def validate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Any:
    """``grantwarden validate-config`` on ``text`` in this process: (exit code, stdout, stderr)."""
    for name in [name for name in os.environ if name.upper().startswith("GRANTWARDEN_")]:
        monkeypatch.delenv(name)

    def run(text: str) -> tuple[int, str, str]:
        path = tmp_path / "grantwarden.yaml"
        path.write_text(text)
        code = cli.main(["validate-config", str(path)])
        out, err = capsys.readouterr()
        return code, out, err.replace(str(path), "grantwarden.yaml")

    return run


def tenant(name: str, client: str, secret: str = "{env: GW_TEST_UNSET_SECRET}") -> str:
    return (
        f"  - name: {name}\n    org_id: org-{name}\n    region: us-east-1\n"
        f"    credentials: {{client_id: {client}, client_secret: {secret}}}\n"
    )


def test_validate_config_tells_every_problem_once_and_exits_2(validate: Any) -> None:
    code, out, err = validate(
        "colour: blue\ndefaults:\n  regrant: {mode: yolo}\n  refresh: {colur: 1}\ntenants:\n"
        + "".join(tenant(f"t{i}", f"c{i}") for i in range(50))
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "grantwarden.yaml: line 1: colour: unknown setting (check its spelling and indentation)",
        "grantwarden.yaml: line 3: defaults.regrant.mode: Input should be 'off', 'reissue' or 'remediate'",
        "grantwarden.yaml: line 4: defaults.refresh.colur: unknown setting (check its spelling and indentation)",
    ]


def test_validate_config_refuses_an_empty_file(validate: Any) -> None:
    code, out, err = validate("")
    assert (code, out) == (2, "")
    assert err == (
        "grantwarden.yaml: the file is empty: list the orgs to keep authorised under tenants "
        "(write tenants: [] to run with none on purpose)\n"
    )


def test_validate_config_accepts_no_tenants_written_on_purpose(validate: Any) -> None:
    code, out, err = validate("tenants: []\n")
    assert (code, err) == (0, "")
    assert "tenants: 0 (tenants: [], none on purpose)" in out.splitlines()


def test_validate_config_warns_on_stderr_and_exits_0_never_showing_a_secret(validate: Any) -> None:
    code, out, err = validate(
        "tenants:\n"
        + tenant("acme", "cid-1", "hunter2-s3cret")
        + tenant("globex", "cid-2")
        + tenant("acme-apac", "cid-1")
    )
    assert code == 0
    assert err.splitlines() == [
        "warning: grantwarden.yaml: tenants[0].credentials.client_secret: a literal secret; prefer {env: NAME} or "
        "{file: PATH}",
        "warning: grantwarden.yaml: tenants[0].credentials.client_id, tenants[2].credentials.client_id: tenants "
        "'acme' and 'acme-apac' use one OAuth client; a client-credentials client acts only in the org it belongs "
        "to, so all but one get tokens for the wrong org (wrong_org); give each org its own client",
        "warning: grantwarden.yaml: tenants[1].credentials.client_secret: environment variable GW_TEST_UNSET_SECRET "
        "is not set or empty (needed at run time)",
        "warning: grantwarden.yaml: tenants[2].credentials.client_secret: environment variable GW_TEST_UNSET_SECRET "
        "is not set or empty (needed at run time)",
    ]
    assert "tenants: 3" in out.splitlines()
    assert "  sharing an OAuth client with another tenant: 2 (see the warnings)" in out.splitlines()
    assert "hunter2" not in out + err


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


@pytest.mark.parametrize(
    ("argv", "format_", "json_"),
    [
        pytest.param(["plan"], "text", False, id="plan-default"),
        pytest.param(["plan", "--format", "terraform"], "terraform", False, id="plan-terraform"),
        pytest.param(["plan", "--format", "json"], "json", False, id="plan-json-format"),
        pytest.param(["plan", "--json"], "text", True, id="plan-json"),
        pytest.param(["check", "--json"], None, True, id="check-has-no-format"),
    ],
)
def test_plan_takes_a_format(argv: list[str], format_: str | None, json_: bool) -> None:
    args = cli.build_parser().parse_args(argv)
    assert (getattr(args, "format", None), args.json) == (format_, json_)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["plan", "--json", "--format", "terraform"], id="json-and-a-format"),
        pytest.param(["plan", "--format", "hcl"], id="unknown-format"),
        pytest.param(["check", "--format", "terraform"], id="check-has-no-format"),
    ],
)
def test_plan_format_mistakes_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
