"""Configuration loading: durations, secrets, inheritance, environment overrides, clear errors.

Covers: the example file loads; each kind of bad input yields one problem naming the path inside
the file (never a traceback, never a secret's value); parent inheritance and defaults; cycles
and unknown parents; GRANTWARDEN_ environment overrides reaching tenants (other variables, in
any number, ignored); region mapping; secret references resolving or failing with the reference
named; loading leaves the caller's mapping unchanged and the garbage collector as it was.
"""

from __future__ import annotations

import copy
import gc
from pathlib import Path
from typing import Any

import pytest

from grantwarden.config import loading as configfile
from grantwarden.config import values

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "grantwarden.example.yaml"


def base() -> dict[str, Any]:
    return {
        "blueprints": {"core": {"grants": {"roles": ["Messaging Viewer"]}}},
        "tenants": [
            {
                "name": "acme",
                "org_id": "2a3a43e5-e89c-406e-badf-e79288bd4ab0",
                "region": "us-east-1",
                "credentials": {"client_id": "cid", "client_secret": {"env": "ACME_SECRET"}},
            },
            {
                "name": "acme-eu",
                "parent": "acme",
                "org_id": "4b70ee8c-24d8-43ad-9464-520f6b20fa1f",
                "region": "eu-west-1",
                "credentials": {"client_id": "cid2", "client_secret": {"env": "ACME_EU_SECRET"}},
            },
        ],
    }


def load(raw: Any, environ: dict[str, str] | None = None) -> configfile.Loaded:
    return configfile.load_mapping(raw, source="test.yaml", environ=environ or {})


def problems_of(raw: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(configfile.ConfigError) as caught:
        load(raw, environ)
    return caught.value.lines()


def test_the_example_file_is_valid() -> None:
    loaded = configfile.load(EXAMPLE, environ={})
    names = [t.name for t in loaded.settings.tenants]
    assert names == ["acme", "acme-eu", "acme-agent-desktop"]
    assert loaded.warnings == ()


def test_children_inherit_blueprint_and_regrant_and_override_single_fields() -> None:
    raw = base()
    raw["tenants"][0]["regrant"] = {"mode": "reissue", "max_per_hour": 2}
    raw["tenants"][1]["regrant"] = {"dry_run": True}
    eu = load(raw).settings.tenants[1]
    assert eu.blueprint == "core"
    assert (eu.regrant.mode, eu.regrant.max_per_hour, eu.regrant.dry_run) == ("reissue", 2, True)
    assert eu.api_url == "https://api.mypurecloud.ie"
    assert eu.login_url == "https://login.mypurecloud.ie"


def test_credentials_are_never_inherited_from_the_parent() -> None:
    raw = base()
    del raw["tenants"][1]["credentials"]
    assert problems_of(raw) == ["test.yaml: tenants[1].credentials: Field required"]


def test_defaults_fill_what_no_parent_gives_and_durations_parse() -> None:
    raw = base()
    raw["defaults"] = {"probe_interval": "2m", "probe_timeout": "500ms", "refresh": {"at_fraction": 0.8}}
    acme = load(raw).settings.tenants[0]
    assert (acme.probe_interval, acme.probe_timeout) == (120.0, 0.5)
    assert (acme.refresh.at_fraction, acme.refresh.jitter_fraction) == (0.8, 0.1)


def test_environment_overrides_reach_top_level_and_tenant_defaults() -> None:
    environ = {
        "GRANTWARDEN_SERVER__LISTEN": "127.0.0.1:0",
        "GRANTWARDEN_SHARDING__COUNT": "4",
        "GRANTWARDEN_DEFAULTS__PROBE_INTERVAL": "30s",
    }
    loaded = load(base(), environ).settings
    assert loaded.server.listen == "127.0.0.1:0"
    assert loaded.sharding.count == 4
    assert all(t.probe_interval == 30.0 for t in loaded.tenants)


def test_only_grantwarden_variables_count_whatever_their_case() -> None:
    environ = {f"GW_TENANT_{i:05d}_SECRET": "s3cret" for i in range(1000)}
    environ["grantwarden_server__listen"] = "127.0.0.1:0"
    assert load(base(), environ).settings.server.listen == "127.0.0.1:0"


def test_loading_a_mapping_leaves_it_as_it_was() -> None:
    raw = base()
    raw["defaults"] = {"refresh": {"at_fraction": 0.8}, "regrant": {"max_per_hour": 2}}
    raw["tenants"][0]["refresh"] = {"jitter_fraction": 0.2}
    before = copy.deepcopy(raw)
    loaded = load(raw, {"GRANTWARDEN_DEFAULTS__REFRESH__JITTER_FRACTION": "0.05"}).settings
    assert raw == before, "inheritance, defaults and the environment fill the settings, not the caller's mapping"
    assert [t.refresh.jitter_fraction for t in loaded.tenants] == [0.2, 0.2]  # acme-eu inherits from acme


def test_loading_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    thresholds = gc.get_threshold()
    configfile.load(EXAMPLE, environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenants: [unclosed\n")
    with pytest.raises(configfile.ConfigError):
        configfile.load(broken, environ={})
    assert gc.get_threshold() == thresholds
    assert gc.isenabled()


def test_explicit_base_urls_replace_the_region() -> None:
    raw = base()
    tenant = raw["tenants"][0]
    del tenant["region"]
    tenant["api_base_url"] = tenant["login_base_url"] = "http://127.0.0.1:8089/"
    acme = load(raw).settings.tenants[0]
    assert acme.api_url == acme.login_url == "http://127.0.0.1:8089"


def mutate(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base())
    node: Any = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


DELETE = object()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(["a"], "test.yaml: the top level must be a mapping", id="top-level-list"),
        pytest.param(mutate("tenants", {"a": 1}), "test.yaml: tenants: must be a list", id="tenants-not-list"),
        pytest.param(mutate("tenants.1.name", "acme"), "tenants[1].name: 'acme' is already used", id="dup-name"),
        pytest.param(mutate("tenants.1.name", "Acme EU"), "tenants[1].name: String should match", id="bad-name"),
        pytest.param(mutate("tenants.0.org_id", DELETE), "tenants[0].org_id: Field required", id="no-org"),
        pytest.param(mutate("tenants.1.parent", "nobody"), "tenants[1].parent: unknown parent", id="bad-parent"),
        pytest.param(mutate("tenants.0.parent", "acme-eu"), "inheritance cycle", id="cycle"),
        pytest.param(
            mutate("tenants.0.region", "mars-1"), "tenants[0].region: unknown region 'mars-1'", id="bad-region"
        ),
        pytest.param(mutate("tenants.0.region", DELETE), "give region, or both", id="no-host"),
        pytest.param(mutate("tenants.0.blueprint", "nope"), "unknown blueprint 'nope'", id="bad-blueprint"),
        pytest.param(
            mutate("tenants.0.credentials.client_secret", {"env": "A", "file": "/b"}),
            "tenants[0].credentials.client_secret: a secret is {env: NAME}",
            id="secret-two-kinds",
        ),
        pytest.param(
            mutate("tenants.0.credentials.client_secret", 12),
            "tenants[0].credentials.client_secret",
            id="secret-wrong-type",
        ),
        pytest.param(
            mutate("tenants.0.credentials.grant", "password"),
            "tenants[0].credentials.grant: Input should be",
            id="bad-grant",
        ),
        pytest.param(
            mutate("tenants.0.credentials.grant", "authorization_code"),
            "needs redirect_uri",
            id="code-without-redirect",
        ),
        pytest.param(mutate("tenants.0.probe_interval", "soon"), "tenants[0].probe_interval: a duration", id="dur"),
        pytest.param(
            mutate("tenants.0.probe_timeout", "2m"),
            "tenants[0].probe_timeout: probe_timeout (120s) must be shorter than probe_interval (60s)",
            id="timeout-long",
        ),
        pytest.param(mutate("tenants.0.regrant", {"mode": "yolo"}), "tenants[0].regrant.mode", id="bad-mode"),
        pytest.param(
            mutate("tenants.0.refresh", {"at_fraction": 0.1, "jitter_fraction": 0.2}),
            "tenants[0].refresh.jitter_fraction: jitter_fraction (0.2) must be smaller than at_fraction (0.1)",
            id="jitter",
        ),
        pytest.param(mutate("tenants.0.colour", "blue"), "tenants[0].colour: unknown setting", id="typo"),
        pytest.param(
            mutate("blueprints.core.probes", ["token", "messaging-everything"]),
            "blueprints.core.probes: unknown probe 'messaging-everything'",
            id="bad-probe",
        ),
        pytest.param(
            mutate("blueprints.core.probes", ["token", "token"]), "probe 'token' is listed twice", id="dup-probe"
        ),
        pytest.param(
            mutate("blueprints.core.probes", [{"name": "x", "path": "/api/v2/x", "requires": {}}]),
            "requires is {all: [...]} or {any: [...]}",
            id="custom-probe-requires",
        ),
        pytest.param(mutate("sharding", {"index": 3, "count": 2}), "index 3 must be below count 2", id="shard"),
        pytest.param(mutate("server", {"listen": "9464"}), "server.listen: String should match", id="listen"),
    ],
)
def test_each_kind_of_bad_input_names_its_path_and_problem(raw: Any, expected: str) -> None:
    problems = problems_of(raw)
    assert any(expected in line for line in problems), problems
    assert all(line.startswith("test.yaml") for line in problems)


def test_problems_never_echo_a_literal_secret() -> None:
    raw = mutate("tenants.0.credentials", {"client_id": "", "client_secret": "hunter2-very-secret"})
    text = "\n".join(problems_of(raw))
    assert "tenants[0].credentials.client_id" in text
    assert "hunter2" not in text


def test_literal_secrets_are_accepted_with_a_warning_naming_the_path() -> None:
    raw = mutate("tenants.0.credentials.client_secret", "hunter2")
    loaded = load(raw)
    assert loaded.warnings == (
        "test.yaml: tenants[0].credentials.client_secret: a literal secret; prefer {env: NAME} or {file: PATH}",
    )
    assert "hunter2" not in repr(loaded.settings)
    assert "hunter2" not in loaded.settings.model_dump_json()


def test_unresolvable_secrets_are_named_by_reference(tmp_path: Path) -> None:
    raw = base()
    raw["tenants"][1]["credentials"]["client_secret"] = {"file": str(tmp_path / "missing")}
    loaded = load(raw)
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.resolve_secrets(loaded, environ={})
    assert caught.value.lines() == [
        "test.yaml: tenants[0].credentials.client_secret: environment variable ACME_SECRET is not set or empty",
        f"test.yaml: tenants[1].credentials.client_secret: cannot read secret file {tmp_path / 'missing'} "
        "(No such file or directory)",
    ]


def test_secret_files_are_read_and_stripped(tmp_path: Path) -> None:
    secret_file = tmp_path / "s"
    secret_file.write_text("s3cr3t\n")
    raw = base()
    raw["tenants"][0]["credentials"]["client_secret"] = {"file": str(secret_file)}
    loaded = load(raw)
    assert loaded.settings.tenants[0].credentials.client_secret.reveal({}) == "s3cr3t"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("tenants: [\n  - name: a\n", "line 2, column 3: YAML syntax error", id="unclosed"),
        pytest.param("a: b: c\n", "line 1, column 5: YAML syntax error", id="mapping-in-scalar"),
    ],
)
def test_yaml_syntax_errors_carry_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.load(path, environ={})
    assert caught.value.lines()[0].startswith(f"{path}: {expected}")


def test_a_tenant_list_that_holds_itself_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("tenants: &x [*x]\n")
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.load(path, environ={})
    assert caught.value.lines() == [
        f"{path}: line 1: tenants[0]: must be a mapping with name, org_id, credentials, ..."
    ]


def test_a_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.load(tmp_path / "nope.yaml", environ={})
    assert caught.value.lines() == [f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("500ms", 0.5, id="ms"),
        pytest.param("30s", 30.0, id="s"),
        pytest.param("5m", 300.0, id="m"),
        pytest.param("2h", 7200.0, id="h"),
        pytest.param(45, 45.0, id="int"),
        pytest.param("1.5", 1.5, id="bare-number"),
    ],
)
def test_durations_parse_to_seconds(value: Any, seconds: float) -> None:
    assert values.parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5 minutes", "-3s", True, None, "1d"])
def test_bad_durations_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        values.parse_duration(value)
