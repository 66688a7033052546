"""Reading a configuration file: YAML, environment overrides, tenant inheritance, clear errors.

The steps, in order: read and parse the YAML (syntax errors keep their line and column); merge
``GRANTWARDEN_X__Y`` environment variables over it (pydantic-settings' own parsing); resolve each
tenant's ``parent`` chain and fill what is still missing from ``defaults``; validate the result
against ``settings.Settings``. Every problem becomes one line ``FILE: path: what is wrong``
(``tenants[3].credentials.client_secret``); never a traceback, and never a secret's value, since
pydantic's ``input_value`` is left out of every message.

A file of 10,000 tenants must load in about a second (at start-up, and in the worker thread of a
SIGHUP reload), so: libyaml reads it where it agrees with the pure-Python reader (``yamlfile``);
the parsed document is never copied whole (nothing here changes it in place: merging builds new
dicts along the changed paths only); and no full garbage collection runs meanwhile.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import pydantic_settings

from grantwarden.config import models as settings_mod
from grantwarden.config import yamlfile
from grantwarden.config.secretrefs import SecretRef, SecretUnavailableError

MAX_CONFIG_BYTES = 16 * 1024 * 1024
_NO_FULL_PASSES = 2**31 - 1  # a generation-2 threshold never reached
INHERITED = ("blueprint", "probe_interval", "probe_timeout", "probe_concurrency", "refresh", "regrant")
HOSTS = ("region", "api_base_url", "login_base_url")
FROM_DEFAULTS = ("probe_interval", "probe_timeout", "probe_concurrency", "refresh", "regrant")


class ConfigError(Exception):
    """An invalid configuration: one ``FILE: path: problem`` line per problem."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {path}: {why}" if path else f"{self.source}: {why}" for path, why in self.problems]


@dataclasses.dataclass(frozen=True)
class Loaded:
    settings: settings_mod.Settings
    source: str
    warnings: tuple[str, ...]


def load(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read, merge, inherit and validate; raises ``ConfigError``."""
    source = str(path)
    with collector_paused():
        raw = _read_yaml(Path(path), source)
        return load_mapping(raw, source=source, environ=environ)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No full garbage collection while a file loads. Its million new objects, all alive until
    the end, set off full passes that walk them again and again: 60 % of a 10,000-tenant load.
    And a pass holds the interpreter lock throughout, so in the reload thread each stalled the
    event loop for up to a second. Young collections go on (each walks a few hundred objects).
    Whoever paused first resumes: nested and concurrent pauses never leave full passes off. The
    reload also holds the pause until it has frozen what it loaded (``heap.freeze``)."""
    young, middle, old = gc.get_threshold()
    if old == _NO_FULL_PASSES:  # another load has paused them, and resumes them
        yield
        return
    gc.set_threshold(young, middle, _NO_FULL_PASSES)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


def load_mapping(raw: Any, *, source: str, environ: Mapping[str, str] | None = None) -> Loaded:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, [("", "the top level must be a mapping (server, defaults, tenants, ...)")])
    unknown = [key for key in raw if key not in settings_mod.Settings.model_fields]
    if unknown:
        raise ConfigError(
            source, [(_key(key), "unknown setting (check its spelling and indentation)") for key in unknown]
        )
    merged = _deep_merge(raw, _environment_overrides(environ))
    merged["tenants"] = _inherit(merged, source)
    try:
        loaded = settings_mod.Settings(**merged)
    except pydantic.ValidationError as exc:
        raise ConfigError(source, _problems(exc, merged)) from None
    return Loaded(loaded, source, tuple(_literal_secret_warnings(loaded, source)))


def resolve_secrets(loaded: Loaded, *, environ: Mapping[str, str] | None = None) -> None:
    """Check that every secret reference resolves now; raises ``ConfigError`` naming each path."""
    problems = []
    for path, ref in _secret_refs(loaded.settings):
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            problems.append((path, str(exc)))
    if problems:
        raise ConfigError(loaded.source, problems)


def _read_yaml(path: Path, source: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read the file: {exc.strerror}")]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [("", f"the file is larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [("", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        return yamlfile.parse(text)
    except yamlfile.UnreadableError as exc:
        raise ConfigError(source, [(exc.where, exc.why)]) from None


def _environment_overrides(environ: Mapping[str, str] | None) -> dict[str, Any]:
    env_source = pydantic_settings.EnvSettingsSource(
        settings_mod.Settings,
        env_prefix="GRANTWARDEN_",
        env_nested_delimiter="__",
        case_sensitive=False,
    )
    # Only GRANTWARDEN_ variables can override anything; the rest (10,000 tenants' secrets, say)
    # would each be looked at once per setting by pydantic-settings for nothing.
    variables = os.environ if environ is None else environ
    env_source.env_vars = {
        lowered: value for key, value in variables.items() if (lowered := key.lower()).startswith("grantwarden_")
    }
    try:
        return dict(env_source())
    except pydantic_settings.SettingsError as exc:
        raise ConfigError("environment", [("", str(exc).split("\n")[0])]) from None
    except (RecursionError, ValueError):
        raise ConfigError("environment", _unreadable_variables(env_source.env_vars)) from None


def _unreadable_variables(variables: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """Which GRANTWARDEN_ variables hold JSON too deep or too large to read, by name."""
    problems = []
    for name, value in variables.items():
        if not name.startswith("grantwarden_") or not value or value[:1] not in "[{":
            continue
        try:
            json.loads(value)
        except (RecursionError, ValueError):
            field = name.removeprefix("grantwarden_").split("__")[0]
            why = f'parsing field "{field}" from {name.upper()}: JSON nested too deeply or too large to read'
            problems.append(("", why))
    return problems or [("", "a GRANTWARDEN_ variable holds JSON nested too deeply or too large to read")]


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` in new dicts; neither is changed, and the parts of ``base`` that
    ``override`` leaves alone are shared, not copied (a 10,000-tenant list would cost 0.5 s)."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _inherit(merged: dict[str, Any], source: str) -> list[Any]:
    """Resolve ``parent`` chains, then fill from ``defaults``; raw dicts in, raw dicts out."""
    tenants = merged.get("tenants") or []
    if not isinstance(tenants, list):
        raise ConfigError(source, [("tenants", "must be a list of tenants")])
    by_name: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for index, tenant in enumerate(tenants):
        if not isinstance(tenant, dict):
            problems.append((f"tenants[{index}]", "must be a mapping with name, org_id, credentials, ..."))
            continue
        name = tenant.get("name")
        if isinstance(name, str) and name in by_name:
            problems.append((f"tenants[{index}].name", f"{_show(name)} is already used by tenants[{by_name[name]}]"))
        elif isinstance(name, str):
            by_name[name] = index
    if problems:
        raise ConfigError(source, problems)
    raw_defaults = merged.get("defaults")
    defaults: dict[str, Any] = raw_defaults if isinstance(raw_defaults, dict) else {}
    resolved = [_resolve(index, tenants, by_name, defaults, problems) for index in range(len(tenants))]
    _choose_blueprints(resolved, merged.get("blueprints"), problems)
    if problems:
        raise ConfigError(source, problems)
    return resolved


def _resolve(
    index: int,
    tenants: list[dict[str, Any]],
    by_name: dict[str, int],
    defaults: dict[str, Any],
    problems: list[tuple[str, str]],
) -> dict[str, Any]:
    result = dict(tenants[index])
    for ancestor in _parent_chain(index, tenants, by_name, problems):
        _take_from(tenants[ancestor], result, INHERITED)
        if not any(key in result for key in HOSTS):
            result.update({k: tenants[ancestor][k] for k in HOSTS if k in tenants[ancestor]})
    _take_from(defaults, result, FROM_DEFAULTS)
    for key in FROM_DEFAULTS:
        if key not in result:
            value = settings_mod.Defaults.model_fields[key].default  # a frozen model or a number
            result[key] = value.model_dump() if isinstance(value, pydantic.BaseModel) else value
    return result


def _take_from(source: Mapping[str, Any], result: dict[str, Any], keys: Sequence[str]) -> None:
    """Copy ``keys`` missing in ``result`` from ``source``; nested mappings merge, ``result`` wins.
    What a tenant inherits is its own copy: no two tenants share a mutable part."""
    for key in keys:
        if key not in source:
            continue
        if key not in result:
            result[key] = copy.deepcopy(source[key])
        elif isinstance(result[key], dict) and isinstance(source[key], dict):
            result[key] = _deep_merge(copy.deepcopy(source[key]), result[key])


def _choose_blueprints(tenants: list[dict[str, Any]], blueprints: Any, problems: list[tuple[str, str]]) -> None:
    """A tenant without a blueprint takes the only one there is; a named one must exist."""
    names = list(blueprints) if isinstance(blueprints, dict) else ["default"]
    for index, tenant in enumerate(tenants):
        name = tenant.get("blueprint")
        if name is None and len(names) == 1:
            tenant["blueprint"] = names[0]
        elif name is None:
            problems.append((f"tenants[{index}].blueprint", f"required: choose one of {', '.join(names)}"))
        elif name not in names:
            known = ", ".join(_show(n) for n in names[:20])
            problems.append((f"tenants[{index}].blueprint", f"unknown blueprint {_show(name)}; defined: {known}"))


def _parent_chain(
    index: int, tenants: list[dict[str, Any]], by_name: dict[str, int], problems: list[tuple[str, str]]
) -> list[int]:
    chain: list[int] = []
    current = index
    while (parent := tenants[current].get("parent")) is not None:
        if not isinstance(parent, str) or parent not in by_name:
            problems.append((f"tenants[{current}].parent", f"unknown parent tenant {_show(parent)}"))
            return chain
        ancestor = by_name[parent]
        if ancestor == index or ancestor in chain:
            problems.append((f"tenants[{index}].parent", f"inheritance cycle through {parent!r}"))
            return chain
        chain.append(ancestor)
        current = ancestor
    return chain


def _problems(exc: pydantic.ValidationError, data: Any) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = error["loc"]
        path = _format_loc(loc[:-1], data) if error["type"] == "missing" else _format_loc(loc, data)
        if error["type"] == "missing":  # the last part is the field that is not there
            path = f"{path}.{_key(loc[-1])}" if path else _key(loc[-1])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check its spelling and indentation)"
        seen.setdefault(path, message[:500])
    return list(seen.items())


def _format_loc(loc: Sequence[int | str], data: Any) -> str:
    """``tenants[3].credentials.client_secret``: the loc walked through the input itself, so a
    part that is no key or index there (a union member's tag, such as ``str``) is left out."""
    text = ""
    for part in loc:
        if isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data):
            text, data = f"{text}[{part}]", data[part]
        elif isinstance(data, dict) and part in data:
            text = f"{text}.{_key(part)}" if text else _key(part)
            data = data[part]
    return text


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: object) -> str:
    """A key as it goes into a problem line: plain keys bare, anything else quoted (one line)."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return key
    return json.dumps(key if isinstance(key, str) else str(key))[:80]


def _show(value: object) -> str:
    """A value as it goes into a problem line: short strings quoted, anything else by its type."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return f"a {type(value).__name__}"


def _secret_refs(loaded: settings_mod.Settings) -> list[tuple[str, SecretRef]]:
    refs: list[tuple[str, SecretRef]] = []
    if loaded.server.admin_token is not None:
        refs.append(("server.admin_token", loaded.server.admin_token))
    for index, tenant in enumerate(loaded.tenants):
        refs.append((f"tenants[{index}].credentials.client_secret", tenant.credentials.client_secret))
        if tenant.admin_credentials is not None:
            refs.append((f"tenants[{index}].admin_credentials.client_secret", tenant.admin_credentials.client_secret))
    return refs


def _literal_secret_warnings(loaded: settings_mod.Settings, source: str) -> list[str]:
    return [
        f"{source}: {path}: a literal secret; prefer {{env: NAME}} or {{file: PATH}}"
        for path, ref in _secret_refs(loaded)
        if ref.is_literal
    ]


def config_path_from(argument: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """``--config`` wins; else ``GRANTWARDEN_CONFIG``."""
    return argument or (os.environ if environ is None else environ).get("GRANTWARDEN_CONFIG")
