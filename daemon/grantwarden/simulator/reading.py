"""Typed reading of scenario YAML with the path of every value, for one-line error messages.

A bad scenario file must end ``grantwarden simulate`` with exit code 2 and one line naming the
file, the path inside it and the problem (``demo.yaml: orgs.acme-eu.clients.x.roles[1]: unknown
role 'Foo'``), never a traceback. ``Reader`` checks types and keys and raises ``ScenarioError``;
``scenarios`` and ``scenario_orgs`` use it for every value they take from the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn


class ScenarioError(Exception):
    """An invalid scenario: ``FILE: path: problem``."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source, self.path, self.problem = source, path, problem
        super().__init__(f"{source}: {path}: {problem}" if path else f"{source}: {problem}")


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> NoReturn:
        raise ScenarioError(self.source, path, problem)

    def mapping(self, value: Any, path: str, *, allowed: Iterable[str] | None = None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            self.fail(path, "must be a mapping")
        if allowed is not None:
            known = set(allowed)
            for key in value:
                if key not in known:
                    self.fail(join(path, key), f"unknown key; expected one of {', '.join(sorted(known))}")
        return value

    def seq(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list")
        return value

    def text(self, value: Any, path: str, default: str | None = None) -> str:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
        return value

    def strings(self, value: Any, path: str) -> list[str]:
        return [self.text(item, join(path, i)) for i, item in enumerate(self.seq(value, path))]

    def number(self, value: Any, path: str, default: float | None = None, *, minimum: float = 0.0) -> float:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(path, f"must be a number of at least {minimum:g}")
        return float(value)

    def integer(self, value: Any, path: str, default: int | None = None, *, minimum: int = 1) -> int:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"must be a whole number of at least {minimum}")
        return value

    def optional_number(self, value: Any, path: str, *, minimum: float = 0.0) -> float | None:
        return None if value is None else self.number(value, path, minimum=minimum)

    def optional_integer(self, value: Any, path: str, *, minimum: int = 1) -> int | None:
        return None if value is None else self.integer(value, path, minimum=minimum)

    def flag(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
        return value

    def choice(self, value: Any, path: str, options: Iterable[str], default: str | None = None) -> str:
        choices = tuple(options)
        chosen = self.text(value, path, default)
        if chosen not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}")
        return chosen
