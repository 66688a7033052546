"""deploy/Dockerfile and .dockerignore, checked structurally (no Docker engine, no hadolint).

Covers: slim Python 3.11 bases in a multi-stage build whose builder makes a wheel and whose
final stage only copies the built virtualenv (no dev extra anywhere); a non-root user 10001
owning the state directory, which is a VOLUME and the daemon's default state_dir; the
PYTHONDONTWRITEBYTECODE/PYTHONUNBUFFERED environment; EXPOSE of the daemon's port; a
HEALTHCHECK that runs python with urllib on /healthz (no curl, no wget); an ENTRYPOINT that is
the console script of pyproject.toml and a CMD the CLI accepts; COPY sources that exist and
that .dockerignore lets into the build context.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

from grantwarden.config import models as settings
from tests.deploy.support import DEPLOY, REPO, assert_cli_accepts, port_of

DOCKERFILE = DEPLOY / "Dockerfile"
UID = "10001"
STATE_DIR = "/var/lib/grantwarden"


@dataclasses.dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to; -1 before the first FROM


def parse(text: str) -> list[Instruction]:
    """Dockerfile lines → instructions: comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1].strip()}" if line.endswith("\\") else f"{pending} {line}"
        if line.endswith("\\"):
            continue
        keyword, _, args = pending.strip().partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), args.strip(), stage))
    return instructions


INSTRUCTIONS = parse(DOCKERFILE.read_text(encoding="utf-8"))
FINAL = max(instruction.stage for instruction in INSTRUCTIONS)


def _in_final(keyword: str) -> list[str]:
    return [i.args for i in INSTRUCTIONS if i.keyword == keyword and i.stage == FINAL]


def _exec_form(keyword: str) -> list[str]:
    (args,) = _in_final(keyword)
    parsed = json.loads(args)
    assert isinstance(parsed, list), f"{keyword} must use the exec (JSON array) form"
    return [str(part) for part in parsed]


def _arg_defaults() -> dict[str, str]:
    found = (re.fullmatch(r"(\w+)=(\S+)", i.args) for i in INSTRUCTIONS if i.keyword == "ARG" and i.stage == -1)
    return {match.group(1): match.group(2) for match in found if match}


def _env(stage: int) -> dict[str, str]:
    pairs = [re.findall(r"(\w+)=(\S+)", i.args) for i in INSTRUCTIONS if i.keyword == "ENV" and i.stage == stage]
    return {key: value for found in pairs for key, value in found}


def _healthcheck_code() -> str:
    (args,) = _in_final("HEALTHCHECK")
    command = json.loads(args.split("CMD", 1)[1])
    assert command[:2] == ["python", "-c"], "the health check runs python -c"
    code: str = command[2]
    return code


def test_every_stage_builds_on_a_slim_python_3_11_image() -> None:
    bases = [i.args.split()[0] for i in INSTRUCTIONS if i.keyword == "FROM"]
    defaults = _arg_defaults()
    resolved = [re.sub(r"\$\{?(\w+)\}?", lambda m: defaults[m.group(1)], base) for base in bases]
    assert len(resolved) >= 2, "a multi-stage build"
    assert all(re.fullmatch(r"python:3\.11[.\d]*-slim(-\w+)?", base) for base in resolved), resolved


def test_the_builder_makes_a_wheel_and_the_final_stage_only_copies_its_result() -> None:
    builder_runs = " ".join(i.args for i in INSTRUCTIONS if i.keyword == "RUN" and i.stage < FINAL)
    assert "pip wheel" in builder_runs
    copies = _in_final("COPY")
    assert any(copy.startswith("--from=builder ") for copy in copies)
    assert not any("pip install" in run for run in _in_final("RUN")), "the final stage installs nothing itself"


def test_no_stage_installs_the_dev_extra_or_an_editable_package() -> None:
    runs = " ".join(i.args for i in INSTRUCTIONS if i.keyword == "RUN")
    assert "[dev]" not in runs
    assert not re.search(r"pip install\b[^&]*\s(-e|--editable)\s", runs)
    installs = re.findall(r"pip install ([^&]*)", runs)
    assert installs, "the builder installs the wheel into a virtualenv"
    assert all("[" not in install for install in installs), "no extras: runtime dependencies only"


def test_the_image_runs_as_user_10001_who_owns_the_state_directory() -> None:
    users = _in_final("USER")
    assert users, "the final stage sets USER"
    assert users[-1].split(":")[0] == UID, "a numeric uid, so runAsNonRoot can verify it"
    runs = " ".join(_in_final("RUN"))
    assert re.search(rf"useradd\b.*--uid {UID}\b", runs)
    assert re.search(rf"install -d -o {UID} -g {UID} -m 0700 {STATE_DIR}\b", runs)


def test_the_state_directory_is_a_volume_and_the_daemons_default_state_dir() -> None:
    volumes = [path for args in _in_final("VOLUME") for path in json.loads(args)]
    assert STATE_DIR in volumes
    assert str(settings.Settings.model_fields["state_dir"].default) == STATE_DIR


def test_python_writes_no_bytecode_and_does_not_buffer_output() -> None:
    env = _env(FINAL)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_the_image_exposes_the_daemons_default_listen_port() -> None:
    default_port = port_of(settings.ServerSettings().listen)
    assert _in_final("EXPOSE") == [str(default_port)]


def test_the_health_check_asks_healthz_with_urllib_not_curl_or_wget() -> None:
    code = _healthcheck_code()
    tree = ast.parse(code)  # also proves the snippet is valid Python
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    urlopen = [call for call in calls if ast.unparse(call.func) == "urllib.request.urlopen"]
    assert urlopen, "the health check calls urllib.request.urlopen"
    assert ast.literal_eval(urlopen[0].args[0]) == "http://127.0.0.1:9464/healthz"
    assert any(keyword.arg == "timeout" for keyword in urlopen[0].keywords), "a timeout, so a hung daemon fails"
    assert not [i for i in INSTRUCTIONS if re.search(r"\b(curl|wget)\b", i.args)], "no curl or wget in the image"


def test_the_entrypoint_is_the_console_script_of_pyproject() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entrypoint = _exec_form("ENTRYPOINT")
    assert entrypoint == ["grantwarden"]
    assert entrypoint[0] in scripts


def test_the_default_command_runs_the_daemon_with_the_mounted_config() -> None:
    command = _exec_form("CMD")
    assert command == ["run", "--config", "/etc/grantwarden/config.yaml"]
    assert_cli_accepts(command)


def _dockerignore_excludes(relative: str) -> bool:
    """Docker's rule, simplified: the last matching pattern wins; `!` re-includes; a match on a
    directory covers everything below it."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(relative).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/").replace("**/", "*")
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "copy", [i.args for i in INSTRUCTIONS if i.keyword == "COPY" and not i.args.startswith("--from")]
)
def test_every_copied_path_exists_and_is_in_the_build_context(copy: str) -> None:
    *sources, _destination = copy.split()
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: no such file in the repository"
        files = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        )
        assert files, f"COPY {source}: the directory is empty"
        ignored = [str(p.relative_to(REPO)) for p in files if _dockerignore_excludes(str(p.relative_to(REPO)))]
        assert ignored == [], f"COPY {source}: .dockerignore leaves these out of the build context"


def test_dockerignore_keeps_the_virtualenv_and_git_out_of_the_build_context() -> None:
    assert _dockerignore_excludes(".venv/bin/python")
    assert _dockerignore_excludes(".git/HEAD")
    assert _dockerignore_excludes("daemon/__pycache__/cli.cpython-311.pyc")
    assert not _dockerignore_excludes("daemon/grantwarden/cli.py")
