"""Problems of a file as a user reads them: all in one pass, each once, where it was written.

Reproduces what a user saw trying the daemon (issue 16), each now refused or read as meant: an
empty file, or one without ``tenants`` or with ``tenants:`` and no value, was "valid, tenants:
0" (and a reload with it removed every tenant); a key written twice was read as its last one;
``mode: off`` was refused; a wrong ``defaults`` value was told once per tenant; an unknown
top-level key hid the problems below it; a tenant with both ``region`` and ``api_base_url`` was
accepted. Also: lines are the file's lines (none without a text, none for an environment
override, which is named instead); ``tenants: []`` runs none on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantwarden.config import loading as configfile
from grantwarden.policy import labels, regions


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> configfile.Loaded:
    path = tmp_path / "grantwarden.yaml"
    path.write_text(text)
    return configfile.load(path, environ=environ or {})


def problems_in(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The problem lines of ``text``, with the file's name shortened to grantwarden.yaml."""
    with pytest.raises(configfile.ConfigError) as caught:
        load_text(tmp_path, text, environ)
    return [line.replace(str(tmp_path / "grantwarden.yaml"), "grantwarden.yaml") for line in caught.value.lines()]


def tenant_text(name: str, *extra: str, client: str | None = None) -> str:
    lines = [
        f"  - name: {name}",
        f"    org_id: org-{name}",
        *(f"    {line}" for line in extra),
        f"    credentials: {{client_id: {client or 'client-' + name}, client_secret: {{env: SECRET}}}}",
    ]
    if not any(line.startswith(("region", "api_base_url", "parent")) for line in extra):
        lines.insert(2, "    region: us-east-1")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "grantwarden.yaml: the file is empty: list the orgs", id="empty"),
        pytest.param("# tenants come later\n", "grantwarden.yaml: the file is empty", id="only-a-comment"),
        pytest.param("server: {listen: '127.0.0.1:0'}\n", "grantwarden.yaml: no tenants: list the orgs", id="no-key"),
        pytest.param(
            "logging: {level: info}\ntenants:\n", "grantwarden.yaml: line 2: tenants: has no value", id="null"
        ),
    ],
)
def test_a_file_that_lists_no_tenants_is_refused_and_says_how_to_run_none(
    tmp_path: Path, text: str, expected: str
) -> None:
    problems = problems_in(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems
    assert problems[0].endswith("(write tenants: [] to run with none on purpose)")


def test_tenants_written_as_an_empty_list_run_none_on_purpose(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, "tenants: []\n")
    assert loaded.settings.tenants == []
    assert loaded.tenants_empty_on_purpose
    assert not load_text(tmp_path, "tenants:\n" + tenant_text("acme")).tenants_empty_on_purpose


def test_tenants_written_twice_is_refused_at_both_lines_not_read_as_the_last(tmp_path: Path) -> None:
    text = "tenants:\n" + tenant_text("acme") + "tenants: []\n"
    assert problems_in(tmp_path, text) == ["grantwarden.yaml: line 6: key tenants appears twice (first at line 1)"]


def test_a_key_written_twice_deep_in_a_tenant_names_file_line_and_key_path(tmp_path: Path) -> None:
    text = (
        "tenants:\n" + tenant_text("acme") + tenant_text("globex") + "  - name: initech\n"
        "    org_id: org-initech\n"
        "    region: us-east-1\n"
        "    credentials:\n"
        "      client_id: one\n"
        "      client_secret: {env: SECRET}\n"
        "      client_id: two\n"
    )
    assert problems_in(tmp_path, text) == [
        "grantwarden.yaml: line 16: tenants[2].credentials: key client_id appears twice (first at line 14)"
    ]


def test_a_repeated_key_and_the_other_problems_are_told_in_one_pass(tmp_path: Path) -> None:
    text = "tenants:\n" + tenant_text("acme", "probe_interval: soon", "probe_interval: 30s")
    text += tenant_text("globex", "region: mars-1")
    assert problems_in(tmp_path, text) == [
        "grantwarden.yaml: line 6: tenants[0]: key probe_interval appears twice (first at line 5)",
        "grantwarden.yaml: line 10: tenants[1].region: unknown region 'mars-1'; known: " + ", ".join(regions.API_HOSTS),
    ]


@pytest.mark.parametrize("written", ["off", "Off", "OFF", "false", "no", "'off'", '"off"'])
def test_regrant_mode_off_is_off_however_yaml_reads_it(tmp_path: Path, written: str) -> None:
    text = f"defaults:\n  regrant: {{mode: {written}}}\ntenants:\n" + tenant_text("acme")
    assert load_text(tmp_path, text).settings.tenants[0].regrant.mode is labels.RegrantMode.OFF


def test_a_defaults_error_is_reported_once_not_once_per_tenant(tmp_path: Path) -> None:
    text = "defaults:\n  regrant: {mode: yolo}\ntenants:\n" + "".join(tenant_text(f"t{i}") for i in range(200))
    assert problems_in(tmp_path, text) == [
        "grantwarden.yaml: line 2: defaults.regrant.mode: Input should be 'off', 'reissue' or 'remediate'"
    ]


def test_an_unknown_top_level_key_hides_no_other_problem(tmp_path: Path) -> None:
    text = (
        "colour: blue\n"
        "blueprints:\n"
        "  core: {probes: [token], colur: red}\n"
        "defaults:\n"
        "  regrant: {mode: yolo}\n"
        "tenants:\n" + tenant_text("acme", "regrant: {moed: off}")
    )
    assert problems_in(tmp_path, text) == [
        "grantwarden.yaml: line 1: colour: unknown setting (check its spelling and indentation)",
        "grantwarden.yaml: line 3: blueprints.core.colur: unknown setting (check its spelling and indentation)",
        "grantwarden.yaml: line 5: defaults.regrant.mode: Input should be 'off', 'reissue' or 'remediate'",
        "grantwarden.yaml: line 10: tenants[0].regrant.moed: unknown setting (check its spelling and indentation)",
    ]


@pytest.mark.parametrize(
    ("hosts", "given"),
    [
        pytest.param(("api_base_url: http://127.0.0.1:8089",), "api_base_url", id="api"),
        pytest.param(("login_base_url: http://127.0.0.1:8089",), "login_base_url", id="login"),
        pytest.param(
            ("api_base_url: http://127.0.0.1:8089", "login_base_url: http://127.0.0.1:8089"),
            "api_base_url and login_base_url",
            id="both-urls",
        ),
    ],
)
def test_region_together_with_base_urls_is_refused_saying_which_to_keep(
    tmp_path: Path, hosts: tuple[str, ...], given: str
) -> None:
    text = "tenants:\n" + tenant_text("acme", "region: us-east-1", *hosts)
    assert problems_in(tmp_path, text) == [
        f"grantwarden.yaml: line 2: tenants[0]: region is given with {given}: give region for Genesys Cloud's own "
        "hosts, or api_base_url and login_base_url for another host (the simulator, a proxy), not both"
    ]


def test_an_environment_override_is_named_as_the_place_of_its_problem(tmp_path: Path) -> None:
    text = "tenants:\n" + tenant_text("acme")
    assert problems_in(tmp_path, text, {"GRANTWARDEN_DEFAULTS__REGRANT__MODE": "yolo"}) == [
        "grantwarden.yaml: defaults.regrant.mode: Input should be 'off', 'reissue' or 'remediate' "
        "(set by a GRANTWARDEN_ environment variable)"
    ]


def test_problems_of_a_mapping_never_read_from_text_have_no_line() -> None:
    raw = {"tenants": [{"name": "acme", "org_id": "o", "region": "mars-1"}]}
    with pytest.raises(configfile.ConfigError) as caught:
        configfile.load_mapping(raw, source="gw.yaml", environ={})
    assert [problem.path for problem in caught.value.problems] == ["tenants[0].region", "tenants[0].credentials"]
    assert all(problem.line is None for problem in caught.value.problems)


def test_a_repeat_inside_a_replaced_section_keeps_its_list_index(tmp_path: Path) -> None:
    text = "tenants:\n  - name: a\n    credentials: {client_id: x, client_id: y}\ntenants:\n"
    assert problems_in(tmp_path, text) == [
        "grantwarden.yaml: line 3: tenants[0].credentials: key client_id appears twice (first at line 3)",
        "grantwarden.yaml: line 4: tenants: has no value: list the tenants under it (write tenants: [] to run "
        "with none on purpose)",
        "grantwarden.yaml: line 4: key tenants appears twice (first at line 1)",
    ]
