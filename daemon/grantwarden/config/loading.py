"""Reading a configuration file: YAML, environment overrides, tenant inheritance, clear errors.

The steps, in order: read and parse the YAML (syntax errors keep their line and column); merge
``GRANTWARDEN_X__Y`` environment variables over it (pydantic-settings' own parsing); resolve each
tenant's ``parent`` chain and fill what is still missing from ``defaults`` (``inheritance``);
validate the result against ``models.Settings``. Every problem of the file is found in that one
pass and becomes one line ``FILE: line N: path: what is wrong``, each once, at the path the
user wrote (a wrong ``defaults`` value once at ``defaults.…``, not at every tenant); a key
written twice in one mapping is a problem too. Never a traceback, and never a secret's value:
pydantic's ``input_value`` is left out of every message. A file must say which tenants it
means: no ``tenants`` (an empty file, say) is an error, and ``tenants: []`` runs none on purpose.

A file of 10,000 tenants must load in about a second (at start-up, and in the worker thread of a
SIGHUP reload), so: libyaml reads it where it agrees with the pure-Python reader (``yamlfile``);
the parsed document is never copied whole (nothing here changes it in place: merging builds new
dicts along the changed paths only); no full garbage collection runs meanwhile; and the line of
each problem is looked up (the text composed again) only when there are problems.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pydantic

from grantwarden.config import cautions, environment, inheritance, reporting, yamlfile, yamlkeys
from grantwarden.config import models as settings_mod
from grantwarden.config.secretrefs import SecretUnavailableError

MAX_CONFIG_BYTES = 16 * 1024 * 1024
_NO_FULL_PASSES = 2**31 - 1  # a generation-2 threshold never reached
NONE_ON_PURPOSE = "write tenants: [] to run with none on purpose"
_BY_ENVIRONMENT = " (set by a GRANTWARDEN_ environment variable)"
Located = tuple[Any, ...]


class Problem(NamedTuple):
    path: str
    """Where inside the file (``tenants[3].credentials``); empty for the file as a whole."""
    why: str
    line: int | None = None
    """The line it is written on, when the file was read from text and holds the path."""


class ConfigError(Exception):
    """An invalid configuration: one ``FILE: line N: path: problem`` line per problem."""

    def __init__(self, source: str, problems: Sequence[Problem | tuple[str, str]]) -> None:
        self.source = source
        self.problems = [problem if isinstance(problem, Problem) else Problem(*problem) for problem in problems]
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [
            ": ".join([self.source, *([f"line {p.line}"] if p.line else []), *([p.path] if p.path else []), p.why])
            for p in self.problems
        ]


@dataclasses.dataclass(frozen=True)
class Loaded:
    settings: settings_mod.Settings
    source: str
    warnings: tuple[str, ...]
    """Lines ``FILE: path: what`` worth telling about a valid file (literal secrets, shared clients)."""
    tenants_empty_on_purpose: bool = False
    """The file says ``tenants: []``: running with no tenant is meant. A file that would run none
    otherwise is refused, so a reload that removes every tenant is meant only when this is True."""
    shared_clients: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Each ``credentials.client_id`` that several tenants use: their names, in file order."""

    def sharing_client_with(self, name: str) -> tuple[str, ...]:
        """The other tenants that use tenant ``name``'s OAuth client (empty when none does)."""
        tenant = self.settings.tenant(name)
        if tenant is None:
            return ()
        return tuple(other for other in self.shared_clients.get(tenant.credentials.client_id, ()) if other != name)


def load(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read, merge, inherit and validate; raises ``ConfigError``."""
    source = str(path)
    with collector_paused():
        text = _read_text(Path(path), source)
        try:
            document = yamlfile.read(text)
        except yamlfile.UnreadableError as exc:
            raise ConfigError(source, [(exc.where, exc.why)]) from None
        return _load(document.data, source, environ, document.repeats, text)


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
    """``load`` of a document already read (problems without line numbers)."""
    return _load(raw, source, environ)


def _load(
    raw: Any,
    source: str,
    environ: Mapping[str, str] | None,
    repeats: Sequence[yamlkeys.Repeat] = (),
    text: str | None = None,
) -> Loaded:
    if raw is None:
        raise ConfigError(
            source, [("", f"the file is empty: list the orgs to keep authorised under tenants ({NONE_ON_PURPOSE})")]
        )
    if not isinstance(raw, dict):
        raise ConfigError(source, [("", "the top level must be a mapping (server, defaults, tenants, ...)")])
    try:
        overrides = environment.overrides(environ)
    except environment.UnreadableError as exc:
        raise ConfigError("environment", exc.problems) from None
    merged = inheritance.deep_merge(raw, overrides)
    fields = settings_mod.Settings.model_fields
    problems: list[tuple[Located, str]] = [((key,), reporting.UNKNOWN) for key in merged if key not in fields]
    tenants = _tenant_list(merged, problems)
    resolved, family = inheritance.resolve(tenants, merged.get("defaults"), merged.get("blueprints"), problems)
    data = {key: value for key, value in merged.items() if key in fields} | {"tenants": resolved}
    cfg = _validated(data, family, problems)
    if cfg is None or problems or repeats:
        raise _error(source, problems, repeats, merged, overrides, text)
    shared = cautions.shared_clients(cfg)
    warnings = cautions.literal_secrets(cfg, source) + cautions.shared_client_warnings(cfg, shared, source)
    on_purpose = merged.get("tenants") == [] and not cfg.tenants
    return Loaded(cfg, source, tuple(warnings), tenants_empty_on_purpose=on_purpose, shared_clients=shared)


def _validated(
    data: dict[str, Any], family: inheritance.Family, problems: list[tuple[Located, str]]
) -> settings_mod.Settings | None:
    """The settings, or None with their problems added to ``problems``. A problem of the whole
    (the model's check of names and blueprints) is left out when the loader has told it already."""
    try:
        return settings_mod.Settings(**data)
    except pydantic.ValidationError as exc:
        found = reporting.from_validation(exc, data, family)
        problems += [(path, why) for path, why in found if path or not problems]
        return None


def _tenant_list(merged: dict[str, Any], problems: list[tuple[Located, str]]) -> list[Any]:
    """The tenants to resolve; none (and a problem) when the file does not list them."""
    if "tenants" not in merged:
        problems.append(((), f"no tenants: list the orgs to keep authorised under tenants ({NONE_ON_PURPOSE})"))
    elif merged["tenants"] is None:
        problems.append((("tenants",), f"has no value: list the tenants under it ({NONE_ON_PURPOSE})"))
    elif not isinstance(merged["tenants"], list):
        problems.append((("tenants",), "must be a list of tenants"))
    else:
        return merged["tenants"]
    return []


def _error(
    source: str,
    problems: list[tuple[Located, str]],
    repeats: Sequence[yamlkeys.Repeat],
    document: dict[str, Any],
    overrides: Mapping[str, Any],
    text: str | None,
) -> ConfigError:
    """Each problem once, with its line where the text holds its path (not where an environment
    variable set it), in the order of the file; then the repeated keys."""
    found = [
        (path, why + _BY_ENVIRONMENT if _overridden(path, overrides) else why)
        for path, why in reporting.unique(problems)
    ]
    located = [path for path, why in found if path and not why.endswith(_BY_ENVIRONMENT)]
    lines = yamlfile.lines(text, located) if text is not None and located else {}
    listed = [Problem(reporting.text(path, document), why, lines.get(path)) for path, why in found]
    for repeat in repeats:
        first, again = repeat.lines[0], repeat.lines[1]
        times = "twice" if len(repeat.lines) == 2 else f"{len(repeat.lines)} times"
        merged_in = "" if repeat.path is not None else ", in a mapping merged in with <<"
        why = f"key {reporting.key(repeat.key)} appears {times} (first at line {first}{merged_in})"
        listed.append(Problem(reporting.text(repeat.path, document), why, again))
    listed.sort(key=lambda problem: (problem.line is not None, problem.line or 0))
    return ConfigError(source, listed)


def _overridden(path: Located, overrides: Mapping[str, Any]) -> bool:
    """Whether a ``GRANTWARDEN_`` variable set the value at ``path`` (or a mapping above it)."""
    if not path or not overrides:
        return False
    node: Any = overrides
    for part in path:
        if not isinstance(node, Mapping):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


def resolve_secrets(loaded: Loaded, *, environ: Mapping[str, str]) -> None:
    """Check that every secret reference resolves now; raises ``ConfigError`` naming each path."""
    problems = []
    for path, ref in cautions.secret_refs(loaded.settings):
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            problems.append((path, str(exc)))
    if problems:
        raise ConfigError(loaded.source, problems)


def _read_text(path: Path, source: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read the file: {exc.strerror}")]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [("", f"the file is larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [("", f"not UTF-8 text (byte {exc.start})")]) from None


def config_path_from(argument: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """``--config`` wins; else ``GRANTWARDEN_CONFIG``."""
    return argument or (os.environ if environ is None else environ).get("GRANTWARDEN_CONFIG")
