"""Configuration fuzzing: whatever a file says, loading ends in a valid config or a clear ConfigError.

Covers: ``configfile.load`` on random YAML documents, on the example file with a wrong-typed or
random value at every known key, with random strings for durations, secrets, regions and
names, with a key removed or an unknown one added, on random bytes and non-UTF-8 text, on
nesting a few hundred levels deep, on huge and non-finite numbers, on bounded YAML alias bombs
and with random ``GRANTWARDEN_`` environment overrides: it either returns a config whose
invariants hold (finite durations, unique names, known blueprints) or raises ``ConfigError``
whose every line names the file and a path inside it, is short, and never holds a literal
secret; never another exception. And ``python -m grantwarden validate-config`` on bad files exits 2
with a message on stderr and no traceback.

A key written twice in any mapping of the example (any depth, inside lists), read by either
YAML reader, is exactly one problem naming its line, the mapping's path and the key; any set of
mistakes at different places, with any number of tenants inheriting them, is reported in one
pass with each mistake once at the place it was written.

Cases once found broken stay as regression rows: deep nesting, 4300-digit integers, non-finite
durations, alias bombs under ``parent``/``blueprint``, deep JSON in the environment, non-string
and mis-cased top-level keys, keys that look like type names or carry line breaks.

``FUZZ_EXAMPLES=2000`` runs the Hypothesis properties longer than the suite's modest default.
"""

from __future__ import annotations

import copy
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grantwarden.config import loading as configfile
from grantwarden.config import models as settings_mod
from grantwarden.config import reporting

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "config" / "grantwarden.example.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
SECRET = "lit3ral-Secret-value-9f2c"  # a literal client secret: never in an error message
MAX_LINE = 2000  # characters: a problem line is read by a person, not scrolled through
WHOLE_FILE = (
    "the file is empty",
    "no tenants:",
    "cannot read the file",
    "the file is larger",
    "not UTF-8 text",
    "the top level must be a mapping",
    "nested too deeply to read",
    "a value too large to read",
)
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Key = str | int
TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}


def key_paths(node: Any, prefix: tuple[Key, ...] = ()) -> Iterator[tuple[Key, ...]]:
    """Every place in a document: each mapping key and each list index, outermost first."""
    items: Any = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from key_paths(child, (*prefix, key))


PATHS = sorted(key_paths(BASE), key=repr)
DURATIONS = [p for p in PATHS if p[-1] in ("probe_interval", "probe_timeout", "settle_timeout")]
NAMES = [p for p in PATHS if p[-1] in ("name", "parent", "blueprint", "org_id", "client_id", "division")]
SECRETS = [p for p in PATHS if p[-1] in ("client_secret", "admin_token")]
REGIONS = [p for p in PATHS if p[-1] in ("region", "listen", "redirect_uri", "path")]


def put(document: Any, path: tuple[Key, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def drop(document: Any, path: tuple[Key, ...]) -> Any:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return changed


SECRET_PATH = ("tenants", 0, "credentials", "client_secret")


def with_literal_secret(document: dict[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = put(document, SECRET_PATH, SECRET)
    return changed


def changed_with_secret(path: tuple[Key, ...], value: Any) -> dict[str, Any]:
    """The example with a literal secret, then ``value`` at ``path`` (inside the secret: no literal)."""
    start = BASE if path[: len(SECRET_PATH)] == SECRET_PATH else with_literal_secret(BASE)
    changed: dict[str, Any] = put(start, path, value)
    return changed


def dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def assert_reported(exc: configfile.ConfigError, source: str) -> None:
    """Every problem is one short line: the file, where in it, and what is wrong."""
    assert exc.problems, "a ConfigError without a problem"
    assert str(exc).splitlines() == exc.lines()
    assert len(set(exc.lines())) == len(exc.lines()), f"a problem told twice: {exc.lines()}"
    for (where, why, at), line in zip(exc.problems, exc.lines(), strict=True):
        assert line.startswith(f"{source}: "), line
        assert why.strip(), line
        named = where or at is not None or why.startswith(WHOLE_FILE) or _names_a_variable(exc.source, why)
        assert named, f"no path in: {line}"
        assert "Traceback" not in line
        assert len(line.splitlines()) == 1, f"one problem, several lines: {line!r}"
        assert len(line) <= MAX_LINE, f"a {len(line)}-character problem line: {line[:200]}..."
        assert SECRET not in line


def _names_a_variable(source: str, why: str) -> bool:
    """An environment problem names the setting it came for (pydantic-settings' own words)."""
    return source == "environment" and re.search(r'field "[a-z_]+"', why) is not None


def assert_valid(cfg: settings_mod.Settings) -> None:
    """What the daemon relies on once a config loaded; each is a promise of the loader."""
    names = [t.name for t in cfg.tenants]
    assert len(names) == len(set(names))
    assert cfg.sharding.index is None or 0 <= cfg.sharding.index < cfg.sharding.count
    for tenant in cfg.tenants:
        assert tenant.blueprint in cfg.blueprints
        for seconds in (tenant.probe_interval, tenant.probe_timeout, tenant.regrant.settle_timeout):
            assert math.isfinite(seconds), f"{tenant.name}: duration {seconds}"
            assert seconds >= 0, f"{tenant.name}: duration {seconds}"
        assert tenant.probe_interval >= 1
        assert tenant.probe_timeout < tenant.probe_interval
        assert tenant.api_url.startswith(("http://", "https://"))
        assert tenant.login_url.startswith(("http://", "https://"))


def outcome(path: Path, environ: dict[str, str] | None = None) -> configfile.Loaded | configfile.ConfigError:
    """Load ``path``; any exception but ConfigError propagates and fails the test."""
    try:
        loaded = configfile.load(path, environ=environ or {})
    except configfile.ConfigError as exc:
        assert_reported(exc, exc.source if environ and exc.source == "environment" else str(path))
        return exc
    assert_valid(loaded.settings)
    return loaded


def write(tmp_path: Path, content: str | bytes) -> Path:
    target = tmp_path / "grantwarden.yaml"
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8", errors="surrogatepass")
    else:
        target.write_bytes(content)
    return target


# Strategies. Floats are finite here: non-finite numbers are pinned by explicit cases below.
texts = st.text(st.characters(codec="utf-8"), max_size=40)  # any text a UTF-8 file can hold
# Keys a person could plausibly write; the known path bugs (empty, capitalised, type-named or
# line-breaking keys) are pinned separately in test_every_key_keeps_its_place_in_the_path.
plain_keys = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp", "Lu", "Lt")), min_size=1, max_size=20
).filter(lambda key: key not in TYPE_TAGS and "[" not in key and not key[:1].isupper())
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.sampled_from(["", "30s", "500ms", "-5s", "us-east-1", "*", "home", "0.0.0.0:99999", "{env: X}", "null"])
)
keys = plain_keys | st.sampled_from(["server", "defaults", "tenants", "blueprints", "name", "region", "env", "file"])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
durations = st.from_regex(r"\A\s?-?\d{1,12}(\.\d{1,6})?\s?(ms|s|m|h|d|sec|)\s?\Z") | texts
secrets = (
    texts
    | st.fixed_dictionaries({"env": texts})
    | st.fixed_dictionaries({"file": texts})
    | st.fixed_dictionaries({"env": texts, "file": texts})
    | st.dictionaries(st.sampled_from(["env", "file", "literal", "value"]), values, max_size=3)
)


@FUZZ
@given(document=values)
def test_any_yaml_document_loads_or_is_reported_with_file_and_path(tmp_path: Path, document: Any) -> None:
    outcome(write(tmp_path, dump(document)))


@FUZZ
@given(document=st.dictionaries(st.sampled_from([*BASE, "minting", "logging", "state_dir", "extra"]), values))
def test_random_sections_under_the_known_top_level_keys_load_or_are_reported(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    outcome(write(tmp_path, dump(document)))


@FUZZ
@given(path=st.sampled_from(PATHS), value=values)
def test_any_value_at_any_known_key_loads_or_is_reported_with_a_path_and_no_secret(
    tmp_path: Path, path: tuple[Key, ...], value: Any
) -> None:
    outcome(write(tmp_path, dump(changed_with_secret(path, value))))


@FUZZ
@given(
    change=st.one_of(
        st.tuples(st.sampled_from(DURATIONS), durations),
        st.tuples(st.sampled_from(NAMES), texts),
        st.tuples(st.sampled_from(SECRETS), secrets),
        st.tuples(st.sampled_from(REGIONS), texts),
    )
)
def test_random_strings_for_durations_names_secrets_and_regions_load_or_are_reported(
    tmp_path: Path, change: tuple[tuple[Key, ...], Any]
) -> None:
    path, value = change
    outcome(write(tmp_path, dump(changed_with_secret(path, value))))


@FUZZ
@given(path=st.sampled_from(PATHS), unknown=plain_keys)
def test_a_missing_key_or_an_unknown_one_loads_or_is_reported(
    tmp_path: Path, path: tuple[Key, ...], unknown: str
) -> None:
    outcome(write(tmp_path, dump(drop(BASE, path))))
    parent = path[:-1]
    node: Any = BASE
    for key in parent:
        node = node[key]
    if isinstance(node, dict) and unknown not in node:
        outcome(write(tmp_path, dump(put(BASE, (*parent, unknown), 1))))


def top_level_key_not_a_string(body: bytes) -> bool:
    """The TypeError bug pinned in test_a_top_level_key_that_is_not_a_string_is_reported."""
    try:
        document = yaml.safe_load(body)
    except (yaml.YAMLError, ValueError, RecursionError):
        return False
    return isinstance(document, dict) and not all(isinstance(key, str) for key in document)


@FUZZ
@given(body=st.binary(max_size=300))
def test_random_bytes_are_a_yaml_or_encoding_problem_never_a_crash(tmp_path: Path, body: bytes) -> None:
    assume(not top_level_key_not_a_string(body))
    outcome(write(tmp_path, body))


@FUZZ
@given(position=st.integers(min_value=0, max_value=len(EXAMPLE.read_bytes())), byte=st.integers(0x80, 0xFF))
def test_one_invalid_utf8_byte_anywhere_is_reported_as_not_utf8(tmp_path: Path, position: int, byte: int) -> None:
    text = EXAMPLE.read_bytes()
    data = text[:position] + bytes([byte]) + b"\n" + text[position:]
    # The first undecodable byte is the inserted one, or (inserted inside a multi-byte character,
    # whose lead byte it may complete) one of its neighbours: the report names that first byte.
    with pytest.raises(UnicodeDecodeError) as undecodable:
        data.decode("utf-8")
    assert position - 3 <= undecodable.value.start <= position + 1
    result = outcome(write(tmp_path, data))
    assert isinstance(result, configfile.ConfigError)
    assert result.problems == [configfile.Problem("", f"not UTF-8 text (byte {undecodable.value.start})")]


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    depth=st.integers(min_value=1, max_value=200),
    kind=st.sampled_from(["list", "map"]),
)
def test_nesting_two_hundred_levels_deep_anywhere_is_reported(
    tmp_path: Path, path: tuple[Key, ...], depth: int, kind: str
) -> None:
    nested = "[" * depth + "1" + "]" * depth if kind == "list" else "{a: " * depth + "1" + "}" * depth
    text = dump(put(BASE, path, "@NESTED@")).replace("'@NESTED@'", nested).replace("@NESTED@", nested)
    outcome(write(tmp_path, text))


ENV_NAMES = [
    "GRANTWARDEN_SHARDING__COUNT",
    "GRANTWARDEN_SHARDING__INDEX",
    "GRANTWARDEN_SERVER__LISTEN",
    "GRANTWARDEN_DEFAULTS__PROBE_INTERVAL",
    "GRANTWARDEN_DEFAULTS__REGRANT__MODE",
    "GRANTWARDEN_TENANTS",
    "GRANTWARDEN_BLUEPRINTS",
    "GRANTWARDEN_LOGGING",
    "GRANTWARDEN_STATE_DIR",
    "GRANTWARDEN_SERVER",
]
env_values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@FUZZ
@given(environ=st.dictionaries(st.sampled_from(ENV_NAMES), env_values | st.sampled_from(['{"a": 1}', "[]", "2"])))
def test_random_environment_overrides_load_or_are_reported(tmp_path: Path, environ: dict[str, str]) -> None:
    outcome(write(tmp_path, dump(with_literal_secret(BASE))), environ)


def bomb(levels: int, width: int = 9) -> str:
    """A billion-laughs document head: anchor ``a{levels}`` refers to ``width**levels`` strings."""
    lines = [f"x0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


BOMB_PLACES = [
    pytest.param("tenants: *a5", id="tenants"),
    pytest.param("tenants: [{name: *a5}]", id="tenant-name"),
    pytest.param("blueprints: {x: {probes: *a5}}", id="probes"),
    pytest.param("blueprints: {x: {grants: {roles: *a5}}}", id="grant-roles"),
    pytest.param("server: {listen: *a5, admin_token: *a5}", id="server"),
    pytest.param("defaults: {probe_interval: *a5, refresh: *a5}", id="defaults"),
    pytest.param("tenants: [{name: a, org_id: b, region: *a5, credentials: {client_id: c, client_secret: *a5}}]"),
    pytest.param(
        "tenants: [{name: a, parent: *a5}]",
        id="parent",
    ),
    pytest.param(
        "blueprints: {x: {}, y: {}}\ntenants: [{name: a, blueprint: *a5}]",
        id="blueprint",
    ),
]


@pytest.mark.parametrize("place", BOMB_PLACES)
def test_a_yaml_alias_bomb_is_reported_in_short_lines(tmp_path: Path, place: str) -> None:
    result = outcome(write(tmp_path, bomb(5) + place))
    assert isinstance(result, configfile.ConfigError)


def huge_digits(count: int) -> str:
    return "1" + "0" * (count - 1)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("sharding: {count: " + huge_digits(4000) + "}", id="4000-digit-int"),
        pytest.param("defaults: {probe_interval: " + huge_digits(300) + "}", id="300-digit-duration"),
        pytest.param("minting: {burst: -" + huge_digits(100) + "}", id="negative-100-digit-int"),
        pytest.param("defaults: {regrant: {max_per_hour: 1.0e400}}", id="float-overflow"),
        pytest.param(
            "sharding: {count: " + huge_digits(5000) + "}",
            id="5000-digit-int",
        ),
    ],
)
def test_huge_numbers_are_reported_not_crashed_on(tmp_path: Path, text: str) -> None:
    outcome(write(tmp_path, text))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("probe_interval", ".nan", id="nan-interval"),
        pytest.param("probe_interval", ".inf", id="inf-interval"),
        pytest.param("probe_interval", huge_digits(400) + "s", id="400-digit-string-is-inf"),
        pytest.param("probe_timeout", ".nan", id="nan-timeout"),
        pytest.param("probe_interval", "-.inf", id="minus-inf-interval"),
    ],
)
def test_a_non_finite_duration_is_refused(tmp_path: Path, field: str, value: str) -> None:
    result = outcome(write(tmp_path, dump(put(BASE, ("defaults", field), "@V@")).replace("'@V@'", value)))
    assert isinstance(result, configfile.ConfigError)
    assert any(problem.path == f"defaults.{field}" for problem in result.problems), result.lines()


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(300, id="300"),
        pytest.param(1000, id="1000"),
        pytest.param(20_000, id="20000"),
    ],
)
def test_deep_nesting_is_reported_not_crashed_on(tmp_path: Path, depth: int) -> None:
    outcome(write(tmp_path, "tenants: " + "[" * depth + "]" * depth))


def test_deeply_nested_json_in_an_environment_variable_is_reported(tmp_path: Path) -> None:
    outcome(write(tmp_path, dump(BASE)), {"GRANTWARDEN_BLUEPRINTS": '{"a": ' * 5000 + "1" + "}" * 5000})


def test_every_line_of_a_many_problem_file_names_the_file_and_a_path(tmp_path: Path) -> None:
    broken = put(with_literal_secret(BASE), ("tenants", 1, "region"), "mars-north-1")
    broken = put(broken, ("defaults", "probe_timeout"), "ten seconds")
    broken = put(broken, ("tenants", 2, "credentials", "redirect_uri"), 42)
    result = outcome(write(tmp_path, dump(broken)))
    assert isinstance(result, configfile.ConfigError)
    wheres = [problem.path for problem in result.problems]
    assert "defaults.probe_timeout" in wheres
    assert all(re.match(r"^(defaults|tenants\[\d\])", where) for where in wheres), wheres


@pytest.mark.parametrize("text", ["1: x", "null: x", "true: {}", "2027-01-15: x"])
def test_a_top_level_key_that_is_not_a_string_is_reported(tmp_path: Path, text: str) -> None:
    result = outcome(write(tmp_path, text + "\n"))
    assert isinstance(result, configfile.ConfigError)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("server: {listen: 1}", "server.listen", id="plain"),
        pytest.param("server: {Listen: x}", "server.Listen", id="capitalised"),
        pytest.param("server: {str: x}", "server.str", id="type-name"),
        pytest.param("server: {'': x}", 'server.""', id="empty"),
        pytest.param("blueprints: {'core[1]': {probes: [nope]}}", 'blueprints."core[1]".probes', id="bracket"),
        pytest.param(
            "Tenants: []",
            "Tenants",
            id="capitalised-top-level",
        ),
    ],
)
def test_every_key_keeps_its_place_in_the_path(tmp_path: Path, text: str, where: str) -> None:
    result = outcome(write(tmp_path, text + "\n"))
    assert isinstance(result, configfile.ConfigError)
    assert [problem for problem in result.problems if problem.path.startswith(where)], result.lines()


def test_a_key_with_a_line_break_cannot_forge_a_second_problem_line(tmp_path: Path) -> None:
    forged = 'server: {"listen\\nother.yaml: server.admin_token: forged": 1}\ntenants: []\n'
    result = outcome(write(tmp_path, forged))
    assert isinstance(result, configfile.ConfigError)
    assert len(str(result).splitlines()) == len(result.problems) == 1


def validate_config(path: Path) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GRANTWARDEN_")}
    return subprocess.run(
        [sys.executable, "-m", "grantwarden", "validate-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=environ,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", id="binary"),
        pytest.param(dump(put(BASE, ("tenants", 0, "credentials"), [1, {"x": None}])), id="wrong-type"),
        pytest.param("tenants:\n  - name: a\n   org_id: b\n", id="yaml-syntax"),
        pytest.param(bomb(5) + "tenants: *a5\n", id="alias-bomb"),
        pytest.param("\ufeff" + dump(put(BASE, ("defaults", "probe_interval"), "soon")), id="bom-and-bad-duration"),
        pytest.param(
            "tenants: " + "[" * 3000 + "]" * 3000,
            id="deep-nesting",
        ),
    ],
)
def test_validate_config_exits_2_with_a_message_and_no_traceback(tmp_path: Path, content: str | bytes) -> None:
    result = validate_config(write(tmp_path, content))
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.strip()
    assert all(line.startswith(str(tmp_path / "grantwarden.yaml")) for line in result.stderr.splitlines())


def node_at(document: Any, path: tuple[Key, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


MAPPINGS = [path for path in [(), *PATHS] if isinstance(node_at(BASE, path), dict) and node_at(BASE, path)]
MARKER = "zz-written-again"
PURE_READER_ONLY = "# a tab\t(libyaml and the pure reader may differ: the pure reader reads this file)\n"


@FUZZ
@given(mapping=st.sampled_from(MAPPINGS), data=st.data(), pure_only=st.booleans())
def test_a_key_written_twice_anywhere_is_one_problem_at_its_line_and_path(
    tmp_path: Path, mapping: tuple[Key, ...], data: st.DataObject, pure_only: bool
) -> None:
    """The example with one key of one mapping written again (with the same value, so that
    nothing else is wrong), last in its mapping."""
    key = data.draw(st.sampled_from(sorted(node_at(BASE, mapping))))
    text = dump(put(BASE, (*mapping, MARKER), node_at(BASE, (*mapping, key))))
    lines = text.splitlines()
    again = next(number for number, line in enumerate(lines, 1) if MARKER in line)
    text = text.replace(f"{MARKER}:", f"{key}:") + (PURE_READER_ONLY if pure_only else "")
    first = first_line_of(key, lines, again)
    result = outcome(write(tmp_path, text))
    assert isinstance(result, configfile.ConfigError)
    where = reporting.text(mapping, BASE)
    expected = f"key {reporting.key(key)} appears twice (first at line {first})"
    assert result.problems == [configfile.Problem(where, expected, again)], result.lines()


def depth_of(line: str) -> int:
    return len(line) - len(line.lstrip(" -"))


def first_line_of(key: Key, lines: list[str], again: int) -> int:
    """Where block-style ``lines`` first write ``key`` in the mapping that line ``again`` ends:
    upwards from it, at its depth (a list item's ``- `` counts as depth), up to the mapping's start."""
    depth, first = depth_of(lines[again - 1]), again
    for number in range(again - 1, 0, -1):
        line = lines[number - 1]
        if depth_of(line) < depth:
            break
        if depth_of(line) == depth and line[depth:].startswith(f"{key}:"):
            first = number
        if depth_of(line) == depth and line.lstrip(" ").startswith("- "):
            break
    return first


def child(number: int) -> dict[str, Any]:
    """Another tenant inheriting from acme, as acme-eu does."""
    return {
        "name": f"acme-child-{number}",
        "parent": "acme",
        "org_id": f"00000000-0000-4000-8000-{number:012d}",
        "region": "eu-west-1",
        "credentials": {"client_id": f"child-client-{number}", "client_secret": {"env": "CHILD_SECRET"}},
    }


MISTAKES: dict[str, tuple[tuple[Key, ...], Any]] = {
    "colour": (("colour",), "blue"),
    "defaults.regrant.mode": (("defaults", "regrant", "mode"), "yolo"),
    "defaults.refresh.colour": (("defaults", "refresh", "colour"), 1),
    "blueprints.messaging-core.grants.colour": (("blueprints", "messaging-core", "grants", "colour"), 1),
    "tenants[0].regrant.mode": (("tenants", 0, "regrant"), {"mode": "yolo"}),
    "tenants[1].colour": (("tenants", 1, "colour"), 1),
    "tenants[2].region": (("tenants", 2, "region"), "mars-1"),
    "tenants[0]": (("tenants", 0, "api_base_url"), "http://127.0.0.1:1"),
    "server.listen": (("server", "listen"), "nowhere"),
    "tenants[0].probe_interval": (("tenants", 0, "probe_interval"), "0.5s"),
}


@FUZZ
@given(
    mistakes=st.sets(st.sampled_from(sorted(MISTAKES)), min_size=1),
    children=st.integers(min_value=0, max_value=30),
)
def test_every_mistake_is_told_once_at_its_place_however_many_tenants_inherit_it(
    tmp_path: Path, mistakes: set[str], children: int
) -> None:
    document = copy.deepcopy(BASE)
    document["tenants"] += [child(number) for number in range(children)]
    for name in mistakes:
        path, value = MISTAKES[name]
        document = put(document, path, value)
    result = outcome(write(tmp_path, dump(document)))
    assert isinstance(result, configfile.ConfigError)
    assert sorted(problem.path for problem in result.problems) == sorted(mistakes), result.lines()
    assert all(problem.line is not None for problem in result.problems), result.lines()
