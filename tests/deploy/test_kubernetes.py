"""deploy/kubernetes: the manifests, validated offline against Kubernetes' own schemas.

Covers: every core manifest validates (strict: unknown fields fail) with kubernetes-validate's
bundled schemas, with the network blocked to prove nothing is downloaded; the ServiceMonitor
(a CRD, which has no bundled schema) is checked by hand; kustomization.yaml lists every core
manifest; no manifest pins a namespace; the StatefulSet has 3 Parallel replicas, a shard count
equal to its replicas and POD_NAME from the downward API, probes on /healthz and /readyz of
port 9464, resource requests and limits, the restricted security context and a state volume
at the config's state_dir; the ConfigMap's config passes `grantwarden validate-config`, and the
secrets it names are files of the mounted Secret, whose example holds placeholders only; the
Services, PodDisruptionBudget and ServiceMonitor select the pods they mean to; the commented
config-reloader sidecar, uncommented, is a valid restricted container that watches the mounted
config and POSTs /-/reload to its own replica with the admin token the config names.
"""

from __future__ import annotations

import re
import socket
import textwrap
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import DEPLOY, assert_cli_accepts, load_yaml, load_yaml_documents, port_of, validate_config

KUBERNETES = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # a release kubernetes-validate ships schemas for
NOT_IN_KUSTOMIZATION = frozenset({"kustomization.yaml", "secret.example.yaml", "servicemonitor.yaml"})
CUSTOM_KINDS = frozenset({"ServiceMonitor", "Kustomization"})
PORT = 9464


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in sorted(KUBERNETES.glob("*.yaml")) for doc in load_yaml_documents(path)]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [doc for _, doc in _documents() if doc["kind"] == kind and name in (None, doc["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _statefulset() -> dict[str, Any]:
    return _one("StatefulSet")


def _pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = _statefulset()["spec"]["template"]["spec"]
    return spec


def _container() -> dict[str, Any]:
    (container,) = _pod_spec()["containers"]
    assert container["name"] == "grantwarden"
    return dict(container)


def _pod_labels() -> dict[str, str]:
    labels: dict[str, str] = _statefulset()["spec"]["template"]["metadata"]["labels"]
    return labels


def _config_text() -> str:
    text: str = _one("ConfigMap")["data"]["config.yaml"]
    return text


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(_config_text())
    return config


def _env() -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _container()["env"]}


def _mount_path(volume: str) -> str:
    (path,) = [mount["mountPath"] for mount in _container()["volumeMounts"] if mount["name"] == volume]
    return str(path)


def _selects(selector: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= _pod_labels().items()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the manifest check tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    ("filename", "document"),
    [(name, doc) for name, doc in _documents() if doc["kind"] not in CUSTOM_KINDS],
    ids=lambda value: value if isinstance(value, str) else f"{value['kind']}/{value['metadata']['name']}",
)
@pytest.mark.usefixtures("no_network")
def test_every_core_manifest_validates_against_the_kubernetes_schemas(filename: str, document: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{filename}: {document['kind']}/{document['metadata']['name']}: {path}: {exc.message}")


def test_the_service_monitor_scrapes_the_metrics_port_of_the_metrics_service() -> None:
    monitor = _one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    chosen = [
        doc
        for _, doc in _documents()
        if doc["kind"] == "Service" and selector.items() <= doc["metadata"]["labels"].items()
    ]
    assert [service["metadata"]["name"] for service in chosen] == ["grantwarden"], "exactly the metrics Service"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint.get("path", "/metrics") == "/metrics"
    assert endpoint["interval"] == "15s"


def test_the_kustomization_lists_every_core_manifest() -> None:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    manifests = {path.name for path in KUBERNETES.glob("*.yaml")} - NOT_IN_KUSTOMIZATION
    assert set(kustomization["resources"]) == manifests
    (image,) = kustomization["images"]
    assert _container()["image"].split(":")[0] == image["name"]


def test_no_manifest_pins_a_namespace() -> None:
    assert [name for name, doc in _documents() if "namespace" in doc.get("metadata", {})] == []


def test_the_statefulset_runs_three_replicas_in_parallel() -> None:
    spec = _statefulset()["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["selector"]["matchLabels"].items() <= _pod_labels().items()


def test_the_shard_count_equals_the_replicas_and_the_pod_name_comes_from_the_downward_api() -> None:
    env = _env()
    assert env["GRANTWARDEN_SHARDING__COUNT"]["value"] == str(_statefulset()["spec"]["replicas"])
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "GRANTWARDEN_SHARDING__INDEX" not in env, "the index comes from each pod's ordinal"
    assert "index" not in (_config().get("sharding") or {}), "a fixed index in the ConfigMap would apply to all pods"


def test_the_governing_service_is_headless_and_selects_the_pods() -> None:
    service = _one("Service", _statefulset()["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert _selects(service["spec"]["selector"])


def test_the_metrics_service_is_named_after_the_alerting_job_and_exposes_port_9464_as_metrics() -> None:
    service = _one("Service", "grantwarden")
    assert _selects(service["spec"]["selector"])
    (port,) = service["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("metrics", PORT, "metrics")


def test_the_container_port_is_the_configs_listen_port() -> None:
    (port,) = _container()["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", PORT)
    assert port_of(_config()["server"]["listen"]) == PORT


@pytest.mark.parametrize(("probe", "path"), [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")])
def test_liveness_asks_healthz_and_readiness_asks_readyz_on_the_metrics_port(probe: str, path: str) -> None:
    check = _container()[probe]["httpGet"]
    assert (check["path"], check["port"]) == (path, "metrics")


def test_the_container_runs_the_daemon_with_the_mounted_config() -> None:
    args = [str(arg) for arg in _container()["args"]]
    config_path = Path(args[args.index("--config") + 1])
    assert _mount_path("config") == str(config_path.parent)
    assert config_path.name in _one("ConfigMap")["data"]
    assert "command" not in _container(), "the image's ENTRYPOINT (grantwarden) stays"
    assert_cli_accepts(args)


def test_resources_are_requested_and_limited() -> None:
    resources = _container()["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert resources["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_the_pod_and_the_container_run_restricted() -> None:
    pod = _pod_spec()["securityContext"]
    container = _container()["securityContext"]
    for context in (pod, container):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == 10001
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert _pod_spec()["automountServiceAccountToken"] is False


def test_the_state_dir_is_a_writable_volume() -> None:
    state_dir = _config()["state_dir"]
    (mount,) = [mount for mount in _container()["volumeMounts"] if mount["mountPath"] == state_dir]
    assert not mount.get("readOnly", False)
    claims = {claim["metadata"]["name"] for claim in _statefulset()["spec"].get("volumeClaimTemplates", [])}
    empty_dirs = {volume["name"] for volume in _pod_spec()["volumes"] if "emptyDir" in volume}
    assert mount["name"] in claims | empty_dirs


def test_the_configmaps_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_config_text(), encoding="utf-8")
    done = validate_config(path, {"GRANTWARDEN_SHARDING__COUNT": _env()["GRANTWARDEN_SHARDING__COUNT"]["value"]})
    assert done.returncode == 0, done.stderr


def test_every_secret_of_the_config_is_a_file_of_the_mounted_secret() -> None:
    text = _config_text()
    assert not re.search(r"\{env:", text), "in Kubernetes, secrets are mounted files"
    secret = _one("Secret", "grantwarden-credentials")
    volume = next(
        v for v in _pod_spec()["volumes"] if v.get("secret", {}).get("secretName") == "grantwarden-credentials"
    )
    mounted = Path(_mount_path(volume["name"]))
    files = [Path(match) for match in re.findall(r"\{file:\s*([^}\s]+)\s*\}", text)]
    assert files
    for file in files:
        assert file.parent == mounted, f"{file} is not in the Secret's mount {mounted}"
        assert file.name in secret["stringData"], f"secret.example.yaml has no key {file.name}"


def test_the_secret_example_holds_placeholders_only() -> None:
    secret = _one("Secret", "grantwarden-credentials")
    assert "data" not in secret
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}


def test_the_disruption_budget_lets_one_replica_go_at_a_time() -> None:
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert _selects(budget["spec"]["selector"]["matchLabels"])


def _reloader() -> dict[str, Any]:
    """The commented config-reloader sidecar of statefulset.yaml, uncommented as a user would."""
    text = (KUBERNETES / "statefulset.yaml").read_text(encoding="utf-8")
    block = text.split("# --- config-reloader sidecar", 1)[1].split("# --- end config-reloader ---", 1)[0]
    uncommented = [line.replace("# ", "", 1) for line in block.splitlines()[1:] if line.strip()]
    start = next(i for i, line in enumerate(uncommented) if line.lstrip().startswith("- name:"))
    (container,) = yaml.safe_load(textwrap.dedent("\n".join(uncommented[start:])))
    return dict(container)


@pytest.mark.usefixtures("no_network")
def test_the_commented_config_reloader_sidecar_is_valid_and_reloads_its_own_replica_with_the_admin_token() -> None:
    sidecar = _reloader()
    with_sidecar = yaml.safe_load(yaml.safe_dump(_statefulset()))
    with_sidecar["spec"]["template"]["spec"]["containers"].append(sidecar)
    kubernetes_validate.validate(with_sidecar, KUBERNETES_VERSION, strict=True)
    script = sidecar["args"][0]
    token_file = _config()["server"]["admin_token"]["file"]
    assert f"http://127.0.0.1:{PORT}/-/reload" in script
    assert f"Authorization: Bearer $(cat {token_file})" in script
    assert f"{_mount_path('config')}/config.yaml" in script
    mounts = {mount["name"]: mount["mountPath"] for mount in sidecar["volumeMounts"]}
    assert mounts == {"config": _mount_path("config"), "credentials": _mount_path("credentials")}
    assert all(mount["readOnly"] for mount in sidecar["volumeMounts"])
    context = sidecar["securityContext"]
    assert (context["runAsNonRoot"], context["readOnlyRootFilesystem"], context["capabilities"]) == (
        True,
        True,
        {"drop": ["ALL"]},
    )


# -- deploy/kubernetes/handoff: the integration with grantwarden as its token source (design.md §2.8) --

HANDOFF = KUBERNETES / "handoff"


def _handoff_documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in sorted(HANDOFF.glob("*.yaml")) for doc in load_yaml_documents(path)]


def _handoff_pod() -> dict[str, Any]:
    (deployment,) = [doc for _, doc in _handoff_documents() if doc["kind"] == "Deployment"]
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _handoff_containers() -> dict[str, dict[str, Any]]:
    pod = _handoff_pod()
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}


def _handoff_config() -> dict[str, Any]:
    (configmap,) = [doc for _, doc in _handoff_documents() if doc["kind"] == "ConfigMap"]
    config: dict[str, Any] = yaml.safe_load(configmap["data"]["config.yaml"])
    return config


def _mounts_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}


@pytest.mark.parametrize(
    ("filename", "document"),
    [(name, doc) for name, doc in _handoff_documents() if doc["kind"] not in CUSTOM_KINDS],
    ids=lambda value: value if isinstance(value, str) else f"{value['kind']}/{value['metadata']['name']}",
)
@pytest.mark.usefixtures("no_network")
def test_every_handoff_manifest_validates_against_the_kubernetes_schemas(
    filename: str, document: dict[str, Any]
) -> None:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        pytest.fail(f"handoff/{filename}: {document['kind']}/{document['metadata']['name']}: {path}: {exc.message}")


def test_the_handoff_kustomization_lists_its_manifests_and_pins_no_namespace() -> None:
    kustomization = load_yaml(HANDOFF / "kustomization.yaml")
    assert set(kustomization["resources"]) == {p.name for p in HANDOFF.glob("*.yaml")} - {"kustomization.yaml"}
    assert [name for name, doc in _handoff_documents() if "namespace" in doc.get("metadata", {})] == []


def test_grantwarden_is_a_native_sidecar_of_the_integration_running_the_mounted_config() -> None:
    sidecar = _handoff_containers()["grantwarden"]
    assert sidecar in _handoff_pod()["initContainers"]
    assert sidecar["restartPolicy"] == "Always", "starts before the integration, stops after it"
    args = [str(arg) for arg in sidecar["args"]]
    assert_cli_accepts(args)
    assert str(Path(args[args.index("--config") + 1]).parent) in _mounts_of(sidecar)
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert port_of(_handoff_config()["server"]["listen"]) == sidecar["ports"][0]["containerPort"]


def test_the_socket_and_the_token_files_live_in_shared_in_memory_volumes_mounted_whole() -> None:
    config = _handoff_config()["handoff"]
    socket_dir = str(Path(config["listen"].removeprefix("unix:")).parent)
    token_dir = config["files"]["directory"]
    volumes = {volume["name"]: volume for volume in _handoff_pod()["volumes"]}
    containers = _handoff_containers()
    for directory in (socket_dir, token_dir):
        names = {container: _mounts_of(c)[directory]["name"] for container, c in containers.items()}
        assert set(names) == {"grantwarden", "integration"}, f"{directory} is shared"
        (volume,) = set(names.values())
        assert volumes[volume]["emptyDir"]["medium"] == "Memory", "tokens never touch a disk"
    for container in containers.values():
        assert all("subPath" not in mount for mount in container.get("volumeMounts", [])), "a subPath never updates"


def test_the_integration_shares_grantwardens_group_and_none_of_its_secrets() -> None:
    pod, containers = _handoff_pod(), _handoff_containers()
    sidecar, integration = containers["grantwarden"], containers["integration"]
    assert sidecar["securityContext"]["runAsGroup"] == integration["securityContext"]["runAsGroup"] == 10001
    assert pod["securityContext"]["fsGroup"] == 10001
    assert sidecar["securityContext"]["runAsUser"] != integration["securityContext"]["runAsUser"]
    secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
    assert {m["name"] for m in integration["volumeMounts"]} & secret_volumes == set()
    assert int(_handoff_config()["handoff"]["files"]["mode"], 8) & 0o040, "the group may read the files"
    assert "bearer_token" not in _handoff_config()["handoff"], "a unix socket of the pod: its mode is the lock"
    for container in containers.values():
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_handoff_config_is_valid_and_its_secrets_are_files_of_the_mounted_secret(tmp_path: Path) -> None:
    (configmap,) = [doc for _, doc in _handoff_documents() if doc["kind"] == "ConfigMap"]
    text = configmap["data"]["config.yaml"]
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    done = validate_config(path, {})
    assert done.returncode == 0, done.stderr
    secret = _one("Secret", "grantwarden-credentials")
    mounted = _mounts_of(_handoff_containers()["grantwarden"])
    for file in (Path(match) for match in re.findall(r"\{file:\s*([^}\s]+)\s*\}", text)):
        assert str(file.parent) in mounted, f"{file} is not in a mounted directory"
        assert file.name in secret["stringData"], f"secret.example.yaml has no key {file.name}"
