"""docker-compose.yml with config/compose.yaml and config/compose.env: the compose demo.

Covers: the services simulator, grantwarden and prometheus, the first two built from
deploy/Dockerfile; every bind-mounted file and env file exists and every named volume is
declared; the commands are ones the CLI accepts and the files they name are mounted; ports agree
across files (the daemon's listen port is the published one and Prometheus' target, the
simulator's listen port is the one in every tenant's base URLs); config/compose.yaml passes
`grantwarden validate-config` with every secret resolved from compose.env; its tenants are the
demo's, exactly as the simulator emits them for the built-in demo world (org ids, client
ids, region URLs, secrets).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from grantwarden.base import clock
from grantwarden.simulator import emitting, scenarios
from tests.deploy.support import DEPLOY, REPO, assert_cli_accepts, load_yaml, port_of, validate_config

COMPOSE = REPO / "docker-compose.yml"
CONFIG = REPO / "config" / "compose.yaml"
ENV_FILE = REPO / "config" / "compose.env"
SCENARIO = scenarios.DEMO_SCENARIO
DEMO_TENANTS = frozenset(
    {"acme", "acme-eu", "acme-apac", "acme-latam", "acme-ca", "acme-agent-desktop", "acme-via-partner"}
)
TOP_LEVEL = frozenset({"name", "services", "volumes", "networks", "secrets", "configs"})


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = load_yaml(COMPOSE)
    return compose


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _config() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(CONFIG)
    return config


def _env_file() -> dict[str, str]:
    lines = ENV_FILE.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → source (a ./path on the host, or a named volume)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_mode = volume.split(":")
        mounts[target] = source
    return mounts


def _published_port(service: dict[str, Any]) -> tuple[int, int]:
    (mapping,) = service["ports"]
    host, container = str(mapping).split(":")[-2:]
    return int(host), int(container)


def _simulator_listen() -> str:
    command = _service("simulator")["command"]
    return str(command[command.index("--listen") + 1])


def test_the_compose_file_has_only_known_top_level_keys_and_the_three_services() -> None:
    compose = _compose()
    assert {key for key in compose if not key.startswith("x-")} <= TOP_LEVEL
    assert {"simulator", "grantwarden", "prometheus"} <= set(compose["services"])


@pytest.mark.parametrize("name", ["simulator", "grantwarden"])
def test_the_daemon_and_the_simulator_run_the_image_of_deploy_dockerfile(name: str) -> None:
    build = _service(name)["build"]
    assert (REPO / build["context"]).resolve() == REPO
    assert (REPO / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert _service(name)["image"] == _service("grantwarden")["image"]


@pytest.mark.parametrize("name", ["simulator", "grantwarden", "prometheus"])
def test_every_mounted_host_path_and_env_file_exists_and_named_volumes_are_declared(name: str) -> None:
    service = _service(name)
    declared = set(_compose().get("volumes") or {})
    for target, source in _mounts(service).items():
        if source.startswith((".", "/")):
            assert (REPO / source).exists(), f"{name}: {source} (mounted at {target}) does not exist"
        else:
            assert source in declared, f"{name}: named volume {source} is not declared"
    for env_file in service.get("env_file", []):
        assert (REPO / env_file).is_file(), f"{name}: env file {env_file} does not exist"


def test_services_depend_only_on_services_that_exist() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", [])) <= set(services), name


def test_the_simulator_serves_the_built_in_demo_world_from_the_image() -> None:
    command = _service("simulator")["command"]
    scenario = command[command.index("--scenario") + 1]
    assert scenario == "demo", "the image carries the demo world as package data: no mount needed"
    assert scenarios.resolve(scenario) == SCENARIO
    assert SCENARIO.is_file(), "the simulator's demo world ships inside the package"


def test_the_simulator_command_is_one_the_cli_accepts() -> None:
    assert_cli_accepts([str(part) for part in _service("simulator")["command"]])


def test_the_simulator_health_check_probes_its_own_listen_port() -> None:
    test = _service("simulator")["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    tree = ast.parse(test[3])
    ports = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, int)]
    assert port_of(_simulator_listen()) in ports


def test_the_daemon_runs_with_the_mounted_compose_config() -> None:
    command = [str(part) for part in _service("grantwarden")["command"]]
    path = command[command.index("--config") + 1]
    assert (REPO / _mounts(_service("grantwarden"))[path]).resolve() == CONFIG
    assert_cli_accepts(command)


def test_the_state_dir_of_the_compose_config_is_a_named_volume() -> None:
    source = _mounts(_service("grantwarden"))[_config()["state_dir"]]
    assert source in (_compose().get("volumes") or {})


def test_the_published_port_is_the_daemons_listen_port() -> None:
    host, container = _published_port(_service("grantwarden"))
    assert host == container == port_of(_config()["server"]["listen"])


def test_every_tenant_points_at_the_simulator_on_its_listen_port() -> None:
    port = port_of(_simulator_listen())
    for tenant in _config()["tenants"]:
        assert "region" not in tenant, tenant["name"]
        for key in ("api_base_url", "login_base_url"):
            url = urlsplit(tenant[key])
            assert (url.scheme, url.hostname, url.port) == ("http", "simulator", port), f"{tenant['name']}.{key}"


def test_prometheus_mounts_its_config_and_the_rule_file_the_config_names() -> None:
    prometheus = _service("prometheus")
    mounts = _mounts(prometheus)
    flag = next(arg for arg in prometheus["command"] if arg.startswith("--config.file="))
    config_path = Path(flag.split("=", 1)[1])
    assert (REPO / mounts[str(config_path)]).resolve() == DEPLOY / "prometheus" / "prometheus.yml"
    for rule_file in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["rule_files"]:
        host = mounts[str(config_path.parent / rule_file)]
        assert (REPO / host).resolve() == DEPLOY / "prometheus" / rule_file
    assert _published_port(prometheus) == (9090, 9090)


def test_the_compose_config_is_valid_and_every_secret_resolves_from_the_env_file() -> None:
    done = validate_config(CONFIG, _env_file())
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning")]
    # The one expected warning is the demo's deliberate wrong_org tenant: acme-apac is configured
    # with acme's client. Every secret resolves, so there is no other.
    assert len(warnings) == 1, done.stderr
    assert "tenants 'acme' and 'acme-apac' use one OAuth client" in warnings[0]


def test_the_env_file_defines_exactly_the_secrets_the_config_references() -> None:
    referenced = set(re.findall(r"\{env:\s*([A-Za-z_][A-Za-z0-9_]*)\}", CONFIG.read_text(encoding="utf-8")))
    assert referenced == set(_env_file())


def test_the_compose_config_has_the_demo_tenants() -> None:
    assert {tenant["name"] for tenant in _config()["tenants"]} == DEMO_TENANTS


def test_the_compose_config_is_what_the_simulator_emits_for_the_demo_scenario() -> None:
    # `grantwarden simulate --emit-config` writes this mapping: ids and secrets derived from the
    # scenario's seed, URLs under the simulator's base URL; compose.yaml must not drift from it.
    assert SCENARIO.is_file(), "the simulator's demo world ships inside the package"
    world = scenarios.load(SCENARIO, clock=clock.ManualClock())
    base_url = f"http://simulator:{port_of(_simulator_listen())}"
    emitted, secrets = emitting.render(world, base_url, state_dir=_config()["state_dir"])
    assert _config()["tenants"] == emitted["tenants"]
    assert _config()["blueprints"] == emitted["blueprints"]
    env = _env_file()
    assert {name: env.get(name) for name in secrets} == secrets, "compose.env differs from the scenario's secrets"


def test_the_integration_shares_the_handoffs_socket_and_files_with_grantwarden() -> None:
    handoff = _config()["handoff"]
    socket_dir = str(Path(handoff["listen"].removeprefix("unix:")).parent)
    token_dir = handoff["files"]["directory"]
    daemon, integration = _mounts(_service("grantwarden")), _mounts(_service("integration"))
    declared = _compose()["volumes"]
    for directory in (socket_dir, token_dir):
        assert daemon[directory] == integration[directory], f"{directory} is one volume for both"
        options = declared[daemon[directory]]["driver_opts"]
        assert options["type"] == "tmpfs", "tokens never touch a disk"
        assert "uid=10001" in options["o"]
        assert "gid=10001" in options["o"], "grantwarden's group, which the integration shares"
    assert _service("integration")["user"].endswith(":10001")
    assert any(volume.endswith(f"{token_dir}:ro") for volume in _service("integration")["volumes"])


def test_the_integration_holds_no_secret_and_its_example_compiles() -> None:
    integration = _service("integration")
    assert "env_file" not in integration
    assert "environment" not in integration
    assert integration["entrypoint"] == ["python", "-c"]
    (script,) = integration["command"]
    compile(script, "integration", "exec")
    assert "/run/grantwarden/handoff.sock" in script
    assert "access_token" not in script, "the example prints what it got, never the token"
